namespace Bnn.Onnx.Nuts;

/// <summary>
/// Stan's windowed adaptation schedule (<c>windowed_adaptation</c>), default 75 / 25 doubling / 50:
/// <code>
///  |&lt;- init buffer -&gt;|&lt;- w -&gt;|&lt;-- 2w --&gt;|&lt;---- 4w (stretched to the end) ----&gt;|&lt;- term buffer -&gt;|
///   step size only     metric windows, step size restarted after each         step size only
/// </code>
/// With fewer than 20 warmup iterations only the step size adapts; when the buffers and the first window do not
/// fit, they become 15% / 75% / 10% of the warmup.
/// </summary>
internal sealed class WindowedAdaptationSchedule
{
    private readonly int _numWarmup, _initBuffer, _termBuffer;
    private int _windowSize, _nextWindowEnd, _counter;

    public WindowedAdaptationSchedule(int numWarmup, int initBuffer = 75, int termBuffer = 50, int baseWindow = 25)
    {
        if (numWarmup < 20)
        {
            // No metric adaptation; mirrors Stan, whose window parameters then stay zero.
            _numWarmup = 0;
            _initBuffer = 0;
            _termBuffer = 0;
            _windowSize = 0;
            _nextWindowEnd = -1;
            return;
        }
        if (initBuffer + baseWindow + termBuffer > numWarmup)
        {
            initBuffer = (int)(0.15 * numWarmup);
            termBuffer = (int)(0.1 * numWarmup);
            baseWindow = numWarmup - (initBuffer + termBuffer);
        }
        _numWarmup = numWarmup;
        _initBuffer = initBuffer;
        _termBuffer = termBuffer;
        _windowSize = baseWindow;
        _nextWindowEnd = initBuffer + baseWindow - 1;
    }

    /// <summary>0-based warmup iteration the schedule is at.</summary>
    public int Iteration => _counter;

    /// <summary>Whether the current iteration's draw feeds the metric estimate (Stan's <c>adaptation_window</c>).</summary>
    public bool InWindow => _counter >= _initBuffer && _counter < _numWarmup - _termBuffer && _counter != _numWarmup;

    /// <summary>Whether the current iteration closes a metric window (Stan's <c>end_adaptation_window</c>).</summary>
    public bool IsWindowEnd => _counter == _nextWindowEnd && _counter != _numWarmup;

    /// <summary>Moves to the next iteration; call once per warmup iteration, after <see cref="InWindow"/>/<see cref="IsWindowEnd"/>.</summary>
    public void Advance()
    {
        if (IsWindowEnd) ComputeNextWindow();
        ++_counter;
    }

    private void ComputeNextWindow()
    {
        int lastEnd = _numWarmup - _termBuffer - 1;
        if (_nextWindowEnd == lastEnd) return;
        _windowSize *= 2;
        _nextWindowEnd = _counter + _windowSize;
        if (_nextWindowEnd != lastEnd)
        {
            // Stretch this window to the end if the one after it would not fit.
            int nextBoundary = _nextWindowEnd + 2 * _windowSize;
            if (nextBoundary >= _numWarmup - _termBuffer) _nextWindowEnd = lastEnd;
        }
    }

    /// <summary>The (start, end) iteration of each metric window, for display and tests.</summary>
    public static IReadOnlyList<(int Start, int End)> Windows(int numWarmup, int initBuffer = 75, int termBuffer = 50, int baseWindow = 25)
    {
        var s = new WindowedAdaptationSchedule(numWarmup, initBuffer, termBuffer, baseWindow);
        var list = new List<(int, int)>();
        int start = -1;
        for (int i = 0; i < numWarmup; i++)
        {
            if (s.InWindow && start < 0) start = i;
            if (s.IsWindowEnd)
            {
                list.Add((start, i));
                start = -1;
            }
            s.Advance();
        }
        return list;
    }
}
