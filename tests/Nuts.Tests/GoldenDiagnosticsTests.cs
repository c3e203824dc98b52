using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Every summary column against posterior 1.4.0 on the golden set in <c>Golden/</c> (made by <c>Golden/make_golden.R</c>):
/// 1 to 4 chains, split lengths that are and are not 2·3·5-smooth, odd lengths, ties, near-constant draws and a
/// chain that never moves.
/// </summary>
public class GoldenDiagnosticsTests
{
    private const double Tolerance = 1e-8;

    private static string GoldenDirectory => Path.Combine(AppContext.BaseDirectory, "Golden");

    private static IEnumerable<string> CaseNames() =>
        Directory.GetFiles(GoldenDirectory, "expected_*.csv").Select(p => Path.GetFileNameWithoutExtension(p)["expected_".Length..])
            .Order(StringComparer.Ordinal);

    public static TheoryData<string> Cases() => new(CaseNames());

    [Fact]
    public void Golden_set_holds_every_case_of_make_golden_R()
    {
        Assert.Equal(["1x203", "2x10", "3x701", "3x999", "4x1000", "4x350", "4x99"], CaseNames());
    }

    [Theory]
    [MemberData(nameof(Cases))]
    public void Given_golden_draws_When_summarised_Then_every_column_matches_posterior_1_4_0(string name)
    {
        var (variables, draws) = TestData.ReadLongDraws(Path.Combine(GoldenDirectory, $"draws_{name}.csv"));
        var expected = File.ReadAllLines(Path.Combine(GoldenDirectory, $"expected_{name}.csv"));
        var header = expected[0].Split(',');
        var failures = new List<string>();
        int compared = 0;
        foreach (var line in expected.Skip(1))
        {
            var fields = line.Split(',');
            string variable = fields[0];
            var x = draws[Array.IndexOf(variables, variable)];
            var row = PosteriorSummary.Summarize(variable, x);
            var actual = new Dictionary<string, double>
            {
                ["mean"] = row.Mean,
                ["sd"] = row.Sd,
                ["median"] = row.Median,
                ["q5"] = row.Q5,
                ["q50"] = ConvergenceDiagnostics.Quantile(x.SelectMany(c => c).ToArray(), 0.5),
                ["q95"] = row.Q95,
                ["mcse_mean"] = row.McseMean,
                ["mcse_sd"] = row.McseSd,
                ["ess_bulk"] = row.EssBulk,
                ["ess_tail"] = row.EssTail,
                ["rhat"] = row.Rhat,
                ["rhat_basic"] = ConvergenceDiagnostics.RhatBasic(x),
                ["ess_mean"] = ConvergenceDiagnostics.EssMean(x),
                ["ess_sd"] = ConvergenceDiagnostics.EssSd(x),
                ["ess_q05"] = ConvergenceDiagnostics.EssQuantile(x, 0.05),
                ["ess_median"] = ConvergenceDiagnostics.EssQuantile(x, 0.5),
                ["ess_q95"] = ConvergenceDiagnostics.EssQuantile(x, 0.95),
            };
            Assert.Equal(header.Skip(1).Order(), actual.Keys.Order());
            for (int j = 1; j < header.Length; j++)
            {
                double e = TestData.ParseR(fields[j]), a = actual[header[j]];
                bool ok = double.IsNaN(e) ? double.IsNaN(a) : Math.Abs(a - e) <= Tolerance * Math.Abs(e);
                if (!ok) failures.Add($"{variable} {header[j]}: posterior {e:R}, ours {a:R} (relative error {Math.Abs(a - e) / Math.Abs(e):E2})");
                compared++;
            }
        }
        Assert.True(failures.Count == 0, $"{failures.Count} of {compared} values differ:\n" + string.Join('\n', failures));
        Assert.Equal(9 * 17, compared);
    }
}
