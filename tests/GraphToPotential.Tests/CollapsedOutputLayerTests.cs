using System.Globalization;
using System.Text.Json;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The output layer integrated out exactly: its log density against the N × N Gaussian written out, its gradients
/// against finite differences, its conditional mean against S Φᵀ C⁻¹ r, and NUTS on σ alone plus exact conditional
/// draws of the weights against the blog's linear-regression posterior.
/// </summary>
public class CollapsedOutputLayerTests
{
    private const int N = 7, H = 3;

    private static (double[] Hidden, double[] Y, double[] M, double[] S) Example()
    {
        var hidden = Graphs.Random(N * H, 11);
        var y = Graphs.Random(N, 12, 2.0);
        return (hidden, y, [0.1, -0.2, 0.3, 0.05], [1.0, 0.5, 2.0, 1.5]);
    }

    /// <summary>C = σ² I + Φ S Φᵀ written out, row-major N × N, with Φ = [h, 1].</summary>
    private static double[] Covariance(double[] hidden, double[] s, double sigma)
    {
        double Phi(int n, int j) => j < H ? hidden[n * H + j] : 1.0;
        var c = new double[N * N];
        for (int a = 0; a < N; a++)
            for (int b = 0; b < N; b++)
            {
                double v = a == b ? sigma * sigma : 0;
                for (int j = 0; j <= H; j++) v += Phi(a, j) * s[j] * Phi(b, j);
                c[a * N + b] = v;
            }
        return c;
    }

    private static double[] SolveSpd(double[] c, double[] b, int n)
    {
        var l = DenseMetric.Cholesky(c, n)!;
        var x = new double[n];
        for (int i = 0; i < n; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= l[i * n + k] * x[k];
            x[i] = s / l[i * n + i];
        }
        for (int i = n - 1; i >= 0; i--)
        {
            double s = x[i];
            for (int k = i + 1; k < n; k++) s -= l[k * n + i] * x[k];
            x[i] = s / l[i * n + i];
        }
        return x;
    }

    [Fact]
    public void Log_density_is_the_marginal_gaussian_written_out()
    {
        var (hidden, y, m, s) = Example();
        double logSigma = Math.Log(0.7);
        var layer = new CollapsedOutputLayer(y, m, s);
        double value = layer.LogLikelihood(hidden, logSigma, [], out _);

        var c = Covariance(hidden, s, 0.7);
        var l = DenseMetric.Cholesky(c, N)!;
        double logDet = 0;
        for (int i = 0; i < N; i++) logDet += 2 * Math.Log(l[i * N + i]);
        var r = new double[N];
        for (int n = 0; n < N; n++)
        {
            r[n] = y[n] - m[H];
            for (int j = 0; j < H; j++) r[n] -= hidden[n * H + j] * m[j];
        }
        var cInvR = SolveSpd(c, r, N);
        double expected = -0.5 * N * Math.Log(2 * Math.PI) - 0.5 * logDet - 0.5 * r.Zip(cInvR, (a, b) => a * b).Sum();
        Assert.Equal(expected, value, 1e-10);

        // The conditional mean is m + S Φᵀ C⁻¹ r.
        var mean = new double[H + 1];
        Assert.True(layer.ConditionalMean(hidden, logSigma, mean));
        for (int j = 0; j <= H; j++)
        {
            double e = m[j];
            for (int n = 0; n < N; n++) e += s[j] * (j < H ? hidden[n * H + j] : 1.0) * cInvR[n];
            Assert.Equal(e, mean[j], 1e-10);
        }
    }

    [Fact]
    public void Gradients_match_finite_differences()
    {
        var (hidden, y, m, s) = Example();
        double logSigma = Math.Log(0.7);
        var layer = new CollapsedOutputLayer(y, m, s);
        var dHidden = new double[N * H];
        layer.LogLikelihood(hidden, logSigma, dHidden, out double dLogSigma);
        const double h = 1e-6;
        for (int i = 0; i < N * H; i++)
        {
            var plus = (double[])hidden.Clone();
            var minus = (double[])hidden.Clone();
            plus[i] += h;
            minus[i] -= h;
            double fd = (layer.LogLikelihood(plus, logSigma, [], out _) - layer.LogLikelihood(minus, logSigma, [], out _)) / (2 * h);
            Assert.Equal(fd, dHidden[i], 1e-6 * Math.Max(1, Math.Abs(fd)));
        }
        double fdSigma = (layer.LogLikelihood(hidden, logSigma + h, [], out _) - layer.LogLikelihood(hidden, logSigma - h, [], out _)) / (2 * h);
        Assert.Equal(fdSigma, dLogSigma, 1e-6 * Math.Max(1, Math.Abs(fdSigma)));
    }

    [Fact]
    public void Conditional_draws_have_the_conditional_mean_and_are_reproducible()
    {
        var (hidden, y, m, s) = Example();
        var layer = new CollapsedOutputLayer(y, m, s);
        var mean = new double[H + 1];
        layer.ConditionalMean(hidden, 0.0, mean);
        var sum = new double[H + 1];
        var w = new double[H + 1];
        var rng = new Rng(4);
        const int draws = 20000;
        for (int t = 0; t < draws; t++)
        {
            Assert.True(layer.DrawWeights(hidden, 0.0, rng, w));
            for (int j = 0; j <= H; j++) sum[j] += w[j];
        }
        for (int j = 0; j <= H; j++) Assert.Equal(mean[j], sum[j] / draws, 0.03);
        var a = new double[H + 1];
        var b = new double[H + 1];
        layer.DrawWeights(hidden, 0.0, new Rng(9), a);
        layer.DrawWeights(hidden, 0.0, new Rng(9), b);
        Assert.Equal(a, b);
    }

    /// <summary>
    /// The blog's linear regression with the line integrated out: NUTS samples u = log σ only
    /// (σ ~ LogNormal(0, 1) with its Jacobian: −u²/2), and each draw's (β, α) come from N(μ, A⁻¹).
    /// </summary>
    private sealed class CollapsedLinearRegression(CollapsedOutputLayer layer, double[] x) : ILogDensity
    {
        public int Dimension => 1;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            double u = position[0];
            double lp = layer.LogLikelihood(x, u, [], out double du) - 0.5 * u * u;
            gradient[0] = du - u;
            return lp;
        }
    }

    private sealed class LineDraws(CollapsedOutputLayer layer, double[] x, ulong seed) : IGeneratedQuantities
    {
        private readonly Rng _rng = new(seed);
        private readonly double[] _w = new double[2];
        public IReadOnlyList<string> Names => ["beta", "alpha"];

        public void Compute(ReadOnlySpan<double> position, Span<double> values)
        {
            layer.DrawWeights(x, position[0], _rng, _w);
            values[0] = _w[0];
            values[1] = _w[1];
        }
    }

    [SharedFact("reference/seed")]
    public void Blog_linear_regression_with_the_line_integrated_out_matches_the_exact_posterior()
    {
        string? dataPath = SharedFolder.File("reference/seed/data.csv"), exactPath = SharedFolder.File("reference/seed/linreg_exact.json");
        if (dataPath is null || exactPath is null) return;
        var lines = File.ReadAllLines(dataPath).Where(l => l.Length > 0).ToArray();
        var header = lines[0].Split(',');
        int ix = Array.IndexOf(header, "x"), iy = Array.IndexOf(header, "y");
        var rows = lines.Skip(1).Select(l => l.Split(',')).ToArray();
        var x = rows.Select(r => double.Parse(r[ix], CultureInfo.InvariantCulture)).ToArray();
        var y = rows.Select(r => double.Parse(r[iy], CultureInfo.InvariantCulture)).ToArray();
        var exact = JsonDocument.Parse(File.ReadAllText(exactPath)).RootElement;

        var options = new SamplerOptions { Chains = 4, Warmup = 500, Draws = 1000, Seed = 2021 };
        var layout = ParameterLayout.FromShapes([("sigma", [], BlockTransform.Log, null)]);
        var sink = new InMemoryDrawSink(["sigma"], options.Chains, options.Draws, ["beta", "alpha"]);
        var result = Sampler.Run(options, _ => new CollapsedLinearRegression(new CollapsedOutputLayer(y, [0, 0], [1, 1]), x), layout, sink,
            generatedQuantities: c => new LineDraws(new CollapsedOutputLayer(y, [0, 0], [1, 1]), x, 77 + (ulong)c));
        Assert.Equal(0, result.Divergences);
        foreach (var name in new[] { "alpha", "beta", "sigma" })
        {
            var row = PosteriorSummary.Summarize(name, sink.Column(name));
            double mean = exact.GetProperty(name).GetProperty("mean").GetDouble();
            double sd = exact.GetProperty(name).GetProperty("sd").GetDouble();
            Assert.True(Math.Abs(row.Mean - mean) < 4 * row.McseMean, $"{name}: mean {row.Mean} vs exact {mean} (MCSE {row.McseMean})");
            Assert.True(Math.Abs(row.Sd - sd) < 0.1 * sd, $"{name}: sd {row.Sd} vs exact {sd}");
        }
        // One parameter instead of three: a handful of leapfrog steps per draw.
        Assert.True(sink.Column("n_leapfrog__").SelectMany(c => c).Average() < 4);
    }
}
