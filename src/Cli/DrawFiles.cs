using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli;

/// <summary>
/// A <c>draws.parquet</c> seen as a draw table for the summary: the parameters, then <c>lp__</c> and the other
/// sampler columns (which feed Stan's warnings). Chains are cut to the shortest one (an interrupted run).
/// </summary>
public sealed class ParquetDrawTable : IDrawTable
{
    private readonly DrawsTable _draws;

    public ParquetDrawTable(DrawsTable draws)
    {
        _draws = draws;
        var stats = SamplerStats.ColumnNames;
        Variables = [.. draws.ColumnNames.Where(n => !stats.Contains(n)), .. stats];
        DrawsPerChain = draws.DrawCounts.Count == 0 ? 0 : draws.DrawCounts.Min();
    }

    public static ParquetDrawTable Read(string path) => new(ParquetDrawReader.Read(path));

    public IReadOnlyList<string> Variables { get; }
    public int Chains => _draws.Chains;
    public int DrawsPerChain { get; }

    public double[][] Column(string variable) =>
        _draws.Column(variable).Select(c => c.Length == DrawsPerChain ? c : c[..DrawsPerChain]).ToArray();
}
