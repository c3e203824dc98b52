namespace Bnn.Onnx.Nuts;

/// <summary>
/// An <see cref="IDrawSink"/> that keeps every draw in memory (parameters, the sampler columns and generated
/// quantities) and serves them as an <see cref="IDrawTable"/>. Thread-safe. Columns: parameter names, then
/// <see cref="SamplerStats.ColumnNames"/>, then the generated quantity names. If the run is interrupted, chains are
/// truncated to the shortest chain.
/// </summary>
internal sealed class InMemoryDrawSink : IDrawSink, IGeneratedQuantitySink, IDrawTable
{
    private readonly string[] _parameters, _generated, _variables;
    private readonly double[][][] _values; // [variable][chain][draw]
    private readonly int[] _written;
    private readonly Lock _lock = new();
    private int _drawsPerChain;

    public InMemoryDrawSink(IReadOnlyList<string> parameterNames, int chains, int draws, IReadOnlyList<string>? generatedNames = null)
    {
        _parameters = parameterNames.ToArray();
        _generated = generatedNames?.ToArray() ?? [];
        _variables = [.. _parameters, .. SamplerStats.ColumnNames, .. _generated];
        _values = _variables.Select(_ => Enumerable.Range(0, chains).Select(_ => new double[draws]).ToArray()).ToArray();
        _written = new int[chains];
        Chains = chains;
        _drawsPerChain = draws;
    }

    public IReadOnlyList<string> Variables => _variables;
    public int Chains { get; }
    public int DrawsPerChain => _drawsPerChain;
    public bool Completed { get; private set; }
    public bool Interrupted { get; private set; }

    public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained)
    {
        lock (_lock)
        {
            for (int i = 0; i < _parameters.Length; i++) _values[i][chain][draw] = constrained[i];
            int k = _parameters.Length;
            _values[k++][chain][draw] = stats.LogDensity;
            _values[k++][chain][draw] = stats.AcceptStat;
            _values[k++][chain][draw] = stats.StepSize;
            _values[k++][chain][draw] = stats.TreeDepth;
            _values[k++][chain][draw] = stats.LeapfrogSteps;
            _values[k++][chain][draw] = stats.Divergent ? 1 : 0;
            _values[k][chain][draw] = stats.Energy;
            _written[chain] = Math.Max(_written[chain], draw + 1);
        }
    }

    public void WriteGenerated(int chain, int draw, ReadOnlySpan<double> values)
    {
        lock (_lock)
        {
            int offset = _parameters.Length + SamplerStats.ColumnNames.Count;
            for (int i = 0; i < _generated.Length; i++) _values[offset + i][chain][draw] = values[i];
        }
    }

    public void Complete(bool interrupted)
    {
        lock (_lock)
        {
            Completed = true;
            Interrupted = interrupted;
            _drawsPerChain = _written.Length == 0 ? 0 : _written.Min();
        }
    }

    public double[][] Column(string variable)
    {
        int index = Array.IndexOf(_variables, variable);
        if (index < 0) throw new KeyNotFoundException($"no variable '{variable}' in the draws");
        lock (_lock)
            return _values[index].Select(c => c[.._drawsPerChain]).ToArray();
    }
}
