using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// How much memory the posterior summary of a draws file may hold: 512 MiB, or <c>BNN_SUMMARY_MEMORY_MB</c>
/// (a whole number of MiB) when set.
/// </summary>
internal static class SummaryMemory
{
    public const string EnvironmentVariable = "BNN_SUMMARY_MEMORY_MB";

    public static long BudgetBytes
    {
        get
        {
            var text = Environment.GetEnvironmentVariable(EnvironmentVariable);
            if (string.IsNullOrWhiteSpace(text)) return StreamedDrawTableOptions.DefaultMemoryBudgetBytes;
            if (!long.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out long mb) || mb < 1 || mb > (1L << 40))
                throw new UsageException($"{EnvironmentVariable}='{text}' is not a positive whole number of MiB");
            return mb << 20;
        }
    }
}

/// <summary>
/// A <c>draws.parquet</c> seen as a draw table for the summary, read in bounded memory (<see cref="StreamedDrawTable"/>):
/// the parameters, then either the file's sampler columns (<c>lp__</c> and the columns that feed Stan's warnings) or
/// columns kept in memory while sampling (<c>lp__</c> and the predictive means). Chains are cut to the shortest one
/// (an interrupted run). Parameter rows are thinned only when a single file column exceeds the memory budget
/// (<see cref="Thinning"/>, <see cref="Note"/>).
/// </summary>
internal sealed class ParquetDrawTable : IDrawTable
{
    private readonly StreamedDrawTable _file;
    private readonly IDrawTable? _memory;
    private readonly HashSet<string> _fromMemory;

    private ParquetDrawTable(StreamedDrawTable file, IDrawTable? memory, IReadOnlyList<string> memoryVariables)
    {
        _file = file;
        _memory = memory;
        _fromMemory = new HashSet<string>(memoryVariables, StringComparer.Ordinal);
        Variables = memory is null ? file.Variables : [.. file.Variables, .. memoryVariables];
        DrawsPerChain = file.DrawsPerChain;
    }

    /// <summary>
    /// <c>bnn summary</c>: parameters and sampler columns from the file, within <see cref="SummaryMemory.BudgetBytes"/>.
    /// A note goes to standard error when parameter rows are thinned.
    /// </summary>
    public static ParquetDrawTable Read(string path)
    {
        var table = Open(path, SummaryMemory.BudgetBytes);
        if (table.Note is { } note) Console.Error.WriteLine($"note: {note}");
        return table;
    }

    /// <summary>Parameters and sampler columns from the file, within <paramref name="memoryBudgetBytes"/>.</summary>
    public static ParquetDrawTable Open(string path, long memoryBudgetBytes) =>
        new(StreamedDrawTable.Open(path, new StreamedDrawTableOptions(memoryBudgetBytes)), null, []);

    /// <summary>
    /// A finished run: parameters from the file, then <paramref name="memoryVariables"/> (e.g. <c>lp__</c>, <c>mu[…]</c>)
    /// from <paramref name="memory"/>, all cut to the draws every chain holds in both.
    /// </summary>
    public static ParquetDrawTable ForRun(string path, IDrawTable memory, IReadOnlyList<string> memoryVariables, long memoryBudgetBytes)
    {
        var reader = ParquetDrawStreamReader.Open(path);
        var options = new StreamedDrawTableOptions(memoryBudgetBytes, Math.Min(reader.ShortestChain, memory.DrawsPerChain), SamplerColumns: false);
        return new ParquetDrawTable(new StreamedDrawTable(reader, options), memory, memoryVariables);
    }

    public IReadOnlyList<string> Variables { get; }
    public int Chains => _file.Chains;
    public int DrawsPerChain { get; }

    /// <summary>1, or k when the parameter rows use every k-th draw.</summary>
    public int Thinning => _file.Thinning;

    /// <summary>One line for the user when parameter rows are thinned; null otherwise.</summary>
    public string? Note => _file.Note;

    /// <summary>The file-backed part (batches, peak memory held).</summary>
    public StreamedDrawTable File => _file;

    public double[][] Column(string variable)
    {
        if (_memory is null || !_fromMemory.Contains(variable)) return _file.Column(variable);
        return _memory.Column(variable).Select(c => c.Length == DrawsPerChain ? c : c[..DrawsPerChain]).ToArray();
    }
}

/// <summary>
/// Two draw tables side by side (the draws file and the run's <c>predictive.csv</c>): the first table's variables,
/// then the second's, all cut to the draws every chain holds in both.
/// </summary>
internal sealed class JoinedDrawTable : IDrawTable
{
    private readonly IDrawTable _first, _second;
    private readonly HashSet<string> _fromSecond;

    public JoinedDrawTable(IDrawTable first, IDrawTable second)
    {
        if (first.Chains != second.Chains)
            throw new InvalidDataException($"the draws hold {first.Chains} chains but the predictive draws {second.Chains}");
        _first = first;
        _second = second;
        _fromSecond = new HashSet<string>(second.Variables.Where(v => !first.Variables.Contains(v)), StringComparer.Ordinal);
        Variables = [.. first.Variables, .. second.Variables.Where(_fromSecond.Contains)];
        DrawsPerChain = Math.Min(first.DrawsPerChain, second.DrawsPerChain);
    }

    public IReadOnlyList<string> Variables { get; }
    public int Chains => _first.Chains;
    public int DrawsPerChain { get; }

    /// <remarks>Columns longer than <see cref="DrawsPerChain"/> are cut; shorter ones (parameter rows thinned to fit
    /// the memory budget) are returned as they are.</remarks>
    public double[][] Column(string variable) =>
        (_fromSecond.Contains(variable) ? _second : _first).Column(variable)
            .Select(c => c.Length <= DrawsPerChain ? c : c[..DrawsPerChain]).ToArray();
}
