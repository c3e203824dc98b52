using System.Runtime.ExceptionServices;

namespace Bnn.Onnx.Nuts;

/// <summary>
/// Gathers one log-density request from every running chain into a single batched call. A chain's thread submits
/// its position and waits; the last of the running chains to submit evaluates the whole batch (rows in chain order,
/// split into calls of at most <see cref="IBatchedLogDensity.MaxBatch"/>) and wakes the others. A chain that has
/// finished leaves, and is masked out of later batches.
/// </summary>
internal sealed class LockstepCoordinator
{
    private readonly IBatchedLogDensity _density;
    private readonly int _d, _chains;
    private readonly double[] _positions, _gradients, _logDensities;
    private readonly double[] _packedPositions, _packedGradients, _packedLogDensities;
    private readonly bool[] _submitted, _active;
    private readonly object _lock = new();
    private int _activeCount, _pending;
    private long _generation;
    private Exception? _error;

    public LockstepCoordinator(IBatchedLogDensity density, int chains)
    {
        if (density.MaxBatch < 1) throw new ArgumentException("a batched density must accept at least one position per call");
        _density = density;
        _d = density.Dimension;
        _chains = chains;
        _positions = new double[chains * _d];
        _gradients = new double[chains * _d];
        _logDensities = new double[chains];
        _packedPositions = new double[chains * _d];
        _packedGradients = new double[chains * _d];
        _packedLogDensities = new double[chains];
        _submitted = new bool[chains];
        _active = Enumerable.Repeat(true, chains).ToArray();
        _activeCount = chains;
    }

    public int Dimension => _d;

    /// <summary>Number of batched calls made so far.</summary>
    public long Batches => _generation;

    public double Evaluate(int chain, ReadOnlySpan<double> position, Span<double> gradient)
    {
        lock (_lock)
        {
            if (_error is not null) ExceptionDispatchInfo.Capture(_error).Throw();
            position.CopyTo(_positions.AsSpan(chain * _d, _d));
            _submitted[chain] = true;
            _pending++;
            long generation = _generation;
            if (_pending == _activeCount) EvaluateBatch();
            else
                while (_generation == generation && _error is null) Monitor.Wait(_lock);
            if (_error is not null) ExceptionDispatchInfo.Capture(_error).Throw();
            _gradients.AsSpan(chain * _d, _d).CopyTo(gradient);
            return _logDensities[chain];
        }
    }

    /// <summary>The chain will submit no more positions (it finished, failed or was cancelled).</summary>
    public void Leave(int chain)
    {
        lock (_lock)
        {
            if (!_active[chain]) return;
            _active[chain] = false;
            _activeCount--;
            if (_pending > 0 && _pending == _activeCount) EvaluateBatch();
        }
    }

    private void EvaluateBatch()
    {
        try
        {
            if (_pending == _chains)
            {
                Call(_positions, _logDensities, _gradients, _chains);
            }
            else
            {
                int k = 0;
                for (int c = 0; c < _chains; c++)
                {
                    if (!_submitted[c]) continue;
                    _positions.AsSpan(c * _d, _d).CopyTo(_packedPositions.AsSpan(k * _d, _d));
                    k++;
                }
                Call(_packedPositions, _packedLogDensities, _packedGradients, k);
                k = 0;
                for (int c = 0; c < _chains; c++)
                {
                    if (!_submitted[c]) continue;
                    _packedGradients.AsSpan(k * _d, _d).CopyTo(_gradients.AsSpan(c * _d, _d));
                    _logDensities[c] = _packedLogDensities[k];
                    k++;
                }
            }
        }
        catch (Exception ex)
        {
            _error = ex;
        }
        Array.Clear(_submitted);
        _pending = 0;
        _generation++;
        Monitor.PulseAll(_lock);
    }

    private void Call(double[] positions, double[] logDensities, double[] gradients, int count)
    {
        int max = _density.MaxBatch;
        for (int start = 0; start < count; start += max)
        {
            int n = Math.Min(max, count - start);
            _density.LogDensityAndGradient(n, positions.AsSpan(start * _d, n * _d),
                logDensities.AsSpan(start, n), gradients.AsSpan(start * _d, n * _d));
        }
    }
}
