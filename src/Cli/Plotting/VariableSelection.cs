using System.Text.RegularExpressions;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// Which variables the trace and rank plots show: <c>lp__</c>, <c>sigma</c> when sampled, then either the
/// parameters matching <c>--vars</c> globs or the worst-mixing parameters (largest R-hat, then smallest ESS).
/// </summary>
internal static class VariableSelection
{
    /// <summary>Parameters shown by default besides <c>lp__</c> and <c>sigma</c>.</summary>
    public const int DefaultWorst = 4;

    /// <summary>At most this many panels are drawn (<c>bnn plot</c> says when <c>--vars</c> matches more).</summary>
    public const int MaxPanels = 16;

    /// <param name="memoryBudgetBytes">
    /// Without <paramref name="patterns"/>: how many bytes of columns the diagnostics of parameters that
    /// <c>summary.csv</c> does not list may read at once (default <see cref="SummaryMemory.BudgetBytes"/>).
    /// </param>
    public static IReadOnlyList<string> Select(RunDirectory run, IReadOnlyList<string> patterns, int worst = DefaultWorst,
        long? memoryBudgetBytes = null)
    {
        var names = run.ParameterNames;
        var chosen = new List<string> { "lp__" };
        if (names.Contains(NoiseScale.Name)) chosen.Add(NoiseScale.Name);

        if (patterns.Count > 0)
        {
            foreach (var pattern in patterns)
            {
                var regex = Glob(pattern);
                var matches = names.Append("lp__").Where(n => regex.IsMatch(n)).ToList();
                if (matches.Count == 0)
                    throw new UsageException($"--vars '{pattern}' matches no parameter (parameters: {Preview(names)})");
                foreach (var m in matches)
                    if (!chosen.Contains(m)) chosen.Add(m);
            }
            return chosen;
        }

        var parameters = names.Where(n => n != NoiseScale.Name).ToArray();
        var diagnostics = run.DiagnoseAll(parameters, memoryBudgetBytes ?? SummaryMemory.BudgetBytes);
        var candidates = parameters
            .Select((n, i) => (Name: n, Diagnostics: diagnostics[i]))
            .Where(c => double.IsFinite(c.Diagnostics.Rhat))
            .OrderByDescending(c => c.Diagnostics.Rhat)
            .ThenBy(c => Math.Min(c.Diagnostics.EssBulk, c.Diagnostics.EssTail))
            .Take(worst)
            .Select(c => c.Name);
        chosen.AddRange(candidates);
        return chosen;
    }

    /// <summary>A glob over a whole scalar name: <c>*</c> any run of characters, <c>?</c> one; brackets are literal.</summary>
    public static Regex Glob(string pattern) =>
        new("^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$", RegexOptions.CultureInvariant);

    private static string Preview(IReadOnlyList<string> names) =>
        names.Count <= 6 ? string.Join(", ", names) : string.Join(", ", names.Take(5)) + $", … {names.Count} in all";
}
