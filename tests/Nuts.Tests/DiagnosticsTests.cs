using System.Globalization;
using Bnn.Onnx.Nuts;
using Xunit.Abstractions;

namespace Bnn.Onnx.Tests;

public class DiagnosticsTests(ITestOutputHelper output)
{
    private static void AssertRelative(double expected, double actual, double tolerance, string what)
    {
        double rel = Math.Abs(actual - expected) / Math.Max(Math.Abs(expected), 1e-300);
        Assert.True(rel <= tolerance, $"{what}: expected {expected:R}, got {actual:R} (relative error {rel:E2})");
    }

    [SharedFact("reference/diagnostics")]
    public void Given_posterior_reference_draws_When_summarised_Then_matches_posterior_1_4_0_to_1e_8()
    {
        var draws = TestData.Shared("reference/diagnostics/draws.csv");
        var expectedCsv = TestData.Shared("reference/diagnostics/expected.csv");
        var expectedJson = TestData.Shared("reference/diagnostics/expected.json");
        if (draws is null || expectedCsv is null || expectedJson is null)
        {
            output.WriteLine("skipped: ../shared/reference/diagnostics not found");
            return;
        }
        var (variables, columns) = TestData.ReadLongDraws(draws);
        Assert.Equal(4, columns[0].Length);
        Assert.Equal(1000, columns[0][0].Length);

        var lines = File.ReadAllLines(expectedCsv);
        var header = lines[0].Split(',');
        var json = TestData.Json(expectedJson).GetProperty("values");
        int checkedValues = 0;
        foreach (var line in lines.Skip(1))
        {
            var f = line.Split(',');
            string variable = f[0];
            double E(string column) => double.Parse(f[Array.IndexOf(header, column)], CultureInfo.InvariantCulture);
            var x = columns[Array.IndexOf(variables, variable)];
            var row = PosteriorSummary.Summarize(variable, x);

            AssertRelative(E("rhat"), row.Rhat, 1e-8, $"{variable} rhat");
            AssertRelative(E("rhat_basic"), ConvergenceDiagnostics.RhatBasic(x), 1e-8, $"{variable} rhat_basic");
            AssertRelative(E("ess_bulk"), row.EssBulk, 1e-8, $"{variable} ess_bulk");
            AssertRelative(E("ess_tail"), row.EssTail, 1e-8, $"{variable} ess_tail");
            AssertRelative(E("ess_mean"), ConvergenceDiagnostics.EssMean(x), 1e-8, $"{variable} ess_mean");
            AssertRelative(E("ess_q05"), ConvergenceDiagnostics.EssQuantile(x, 0.05), 1e-8, $"{variable} ess_q05");
            AssertRelative(E("ess_q95"), ConvergenceDiagnostics.EssQuantile(x, 0.95), 1e-8, $"{variable} ess_q95");
            AssertRelative(E("ess_median"), ConvergenceDiagnostics.EssQuantile(x, 0.5), 1e-8, $"{variable} ess_median");
            AssertRelative(E("mcse_mean"), row.McseMean, 1e-8, $"{variable} mcse_mean");
            AssertRelative(E("mean"), row.Mean, 1e-8, $"{variable} mean");
            AssertRelative(E("sd"), row.Sd, 1e-8, $"{variable} sd");
            AssertRelative(E("q05"), row.Q5, 1e-8, $"{variable} q05");
            AssertRelative(E("q50"), row.Median, 1e-8, $"{variable} q50");
            AssertRelative(E("q95"), row.Q95, 1e-8, $"{variable} q95");
            // expected.json holds the same values (15 significant digits)
            AssertRelative(json.GetProperty(variable).GetProperty("rhat").GetDouble(), row.Rhat, 1e-8, $"{variable} rhat (json)");
            AssertRelative(json.GetProperty(variable).GetProperty("ess_bulk").GetDouble(), row.EssBulk, 1e-8, $"{variable} ess_bulk (json)");
            // posterior 1.4.0's own sd diagnostics (their definitions changed in later versions)
            AssertRelative(E("mcse_sd"), row.McseSd, 1e-8, $"{variable} mcse_sd");
            AssertRelative(E("ess_sd"), ConvergenceDiagnostics.EssSd(x), 1e-8, $"{variable} ess_sd");
            checkedValues++;
        }
        Assert.Equal(5, checkedValues);
    }

    [Theory]
    [InlineData(0.975, 1.959963984540054)]
    [InlineData(0.5, 0.0)]
    [InlineData(0.025, -1.959963984540054)]
    [InlineData(1e-10, -6.361340902404056)]
    [InlineData(0.9999, 3.719016485455709)]
    public void NormalQuantile_matches_R_qnorm(double p, double expected)
    {
        double q = ConvergenceDiagnostics.NormalQuantile(p);
        Assert.True(Math.Abs(q - expected) <= 1e-15 * Math.Max(1, Math.Abs(expected)) * 4, $"qnorm({p}) = {q:R}, expected {expected:R}");
    }

    [Fact]
    public void Quantile_is_R_type_7()
    {
        double[] x = [3, 1, 4, 1, 5, 9, 2, 6];
        // R: quantile(c(3,1,4,1,5,9,2,6), c(0.05, 0.5, 0.95)) = 1.00 3.50 7.95
        Assert.Equal(1.0, ConvergenceDiagnostics.Quantile(x, 0.05), 12);
        Assert.Equal(3.5, ConvergenceDiagnostics.Quantile(x, 0.5), 12);
        Assert.Equal(7.95, ConvergenceDiagnostics.Quantile(x, 0.95), 12);
    }

    [Fact]
    public void Autocovariance_matches_direct_sum()
    {
        var rng = new Rng(5);
        foreach (int n in new[] { 7, 175, 350, 499, 500, 1001 })
        {
            var x = Enumerable.Range(0, n).Select(_ => rng.NextNormal()).ToArray();
            var ac = ConvergenceDiagnostics.Autocovariance(x);
            double mean = x.Average();
            for (int k = 0; k < Math.Min(n, 20); k++)
            {
                double s = 0;
                for (int t = 0; t + k < n; t++) s += (x[t] - mean) * (x[t + k] - mean);
                double expected = s / n; // posterior 1.4.0: normalised by lag 0, whatever the FFT's padding
                Assert.True(Math.Abs(ac[k] - expected) <= 1e-12 * Math.Abs(ac[0]), $"n={n} lag {k}: {ac[k]} vs {expected}");
            }
        }
    }

    [Fact]
    public void Constant_or_nonfinite_draws_give_NaN_not_exceptions()
    {
        var constant = new[] { new double[100], new double[100] };
        Assert.True(double.IsNaN(ConvergenceDiagnostics.Rhat(constant)));
        Assert.True(double.IsNaN(ConvergenceDiagnostics.EssBulk(constant)));
        var withNaN = new[] { Enumerable.Range(0, 100).Select(i => (double)i).ToArray(), Enumerable.Range(0, 100).Select(i => i == 3 ? double.NaN : i).ToArray() };
        Assert.True(double.IsNaN(ConvergenceDiagnostics.EssTail(withNaN)));
        var row = PosteriorSummary.Summarize("c", constant);
        Assert.Equal(0.0, row.Mean);
        Assert.True(double.IsNaN(row.Rhat));
    }

    [Fact]
    public void Ebfmi_of_iid_energies_is_about_2_and_of_a_random_walk_is_small()
    {
        var rng = new Rng(11);
        var iid = Enumerable.Range(0, 4000).Select(_ => rng.NextNormal()).ToArray();
        Assert.InRange(ConvergenceDiagnostics.Ebfmi(iid), 1.8, 2.2);
        var walk = new double[4000];
        for (int i = 1; i < walk.Length; i++) walk[i] = walk[i - 1] + rng.NextNormal();
        Assert.True(ConvergenceDiagnostics.Ebfmi(walk) < 0.3);
    }
}
