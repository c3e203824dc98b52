namespace Bnn.Onnx.Nuts;

/// <summary>A draw table held in memory: <c>values[variable][chain][draw]</c>.</summary>
internal sealed class InMemoryDrawTable : IDrawTable
{
    private readonly Dictionary<string, double[][]> _columns;

    public InMemoryDrawTable(IReadOnlyList<string> variables, IReadOnlyList<double[][]> columns)
    {
        if (variables.Count != columns.Count) throw new ArgumentException("one column per variable");
        Variables = variables.ToArray();
        _columns = new Dictionary<string, double[][]>(StringComparer.Ordinal);
        for (int i = 0; i < variables.Count; i++)
            if (!_columns.TryAdd(variables[i], columns[i]))
                throw new InvalidDataException($"variable '{variables[i]}' appears twice");
        Chains = columns.Count > 0 ? columns[0].Length : 0;
        DrawsPerChain = Chains > 0 ? columns[0][0].Length : 0;
        foreach (var c in columns)
            if (c.Length != Chains || c.Any(chain => chain.Length != DrawsPerChain))
                throw new ArgumentException("every column must have the same number of chains and draws");
    }

    public IReadOnlyList<string> Variables { get; }
    public int Chains { get; }
    public int DrawsPerChain { get; }

    public double[][] Column(string variable) =>
        _columns.TryGetValue(variable, out var c) ? c : throw new KeyNotFoundException($"no variable '{variable}' in the draws");
}
