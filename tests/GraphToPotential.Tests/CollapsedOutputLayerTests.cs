using System.Globalization;
using System.Text.Json;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Xunit.Abstractions;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The output layer integrated out exactly: its log density against the N × N Gaussian written out, its gradients
/// against finite differences, its conditional mean against S Φᵀ C⁻¹ r, and NUTS on σ alone plus exact conditional
/// draws of the weights against the blog's linear-regression posterior.
/// </summary>
public class CollapsedOutputLayerTests(ITestOutputHelper output)
{
    private const int N = 7, H = 3;

    private static (double[] Hidden, double[] Y, double[] M, double[] S) Example() => Example(N, H);

    /// <summary>n rows of h activations; above the smallest size the prior means and variances vary per weight.</summary>
    private static (double[] Hidden, double[] Y, double[] M, double[] S) Example(int n, int h)
    {
        var hidden = Graphs.Random(n * h, 11);
        var y = Graphs.Random(n, 12, 2.0);
        if (n == N && h == H) return (hidden, y, [0.1, -0.2, 0.3, 0.05], [1.0, 0.5, 2.0, 1.5]);
        var m = Graphs.Random(h + 1, 13, 0.3);
        var s = Graphs.Random(h + 1, 14).Select(v => 0.5 + Math.Abs(v)).ToArray();
        return (hidden, y, m, s);
    }

    /// <summary>C = σ² I + Φ S Φᵀ written out, row-major N × N, with Φ = [h, 1].</summary>
    private static double[] Covariance(double[] hidden, double[] s, double sigma, int n = N, int h = H)
    {
        double Phi(int row, int j) => j < h ? hidden[row * h + j] : 1.0;
        var c = new double[n * n];
        for (int a = 0; a < n; a++)
            for (int b = 0; b < n; b++)
            {
                double v = a == b ? sigma * sigma : 0;
                for (int j = 0; j <= h; j++) v += Phi(a, j) * s[j] * Phi(b, j);
                c[a * n + b] = v;
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

    /// <summary>
    /// Given a layer of H hidden units on N rows (the smallest size, and one with several of the matrix kernels' tiles
    /// of rows and of weights plus their scalar tails), when the collapsed log likelihood and the conditional mean are
    /// evaluated, then they equal the marginal Gaussian and m + S Φᵀ C⁻¹ r written out with the N × N covariance.
    /// </summary>
    [Theory]
    [InlineData(N, H)]
    [InlineData(61, 13)]
    public void Log_density_is_the_marginal_gaussian_written_out(int rows, int width)
    {
        var (hidden, y, m, s) = Example(rows, width);
        int N = rows, H = width;
        double logSigma = Math.Log(0.7);
        var layer = new CollapsedOutputLayer(y, m, s);
        double value = layer.LogLikelihood(hidden, logSigma, [], out _);

        var c = Covariance(hidden, s, 0.7, N, H);
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

    /// <summary>Given the same two sizes, when the collapsed log likelihood's gradients are evaluated, then they match
    /// central finite differences in every activation and in log σ.</summary>
    [Theory]
    [InlineData(N, H)]
    [InlineData(61, 13)]
    public void Gradients_match_finite_differences(int rows, int width)
    {
        var (hidden, y, m, s) = Example(rows, width);
        int N = rows, H = width;
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

    /// <summary>
    /// Given a 2→4 tanh→3 tanh→1 network with its output layer integrated out and 450 rows (three blocks of rows in the
    /// compiled engine, so the backward pass runs forward again on the first block), when the compiled log density is
    /// evaluated in float64, then it equals the reference (the cut graph's activations through
    /// <see cref="PosteriorModel.LogLikelihood"/> plus the prior) and its gradient matches finite differences, σ included.
    /// </summary>
    [Fact]
    public void Compiled_integrated_density_matches_the_reference_and_finite_differences_over_several_blocks()
    {
        const int rows = 450;
        var graph = Graphs.Mlp([2, 4, 3, 1], "Tanh", 5);
        var x = Graphs.Random(rows * 2, 21);
        var y = Graphs.Random(rows, 22);
        var model = PosteriorModel.CreateIntegrated(graph, new PosteriorOptions(PriorOptions.Default), new DataSet(x, 2, y));
        Assert.Equal(["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "sigma"], model.Layout.Blocks.Select(b => b.Name));
        using var potential = new Bnn.Onnx.GraphToPotential.CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var density = potential.CreateLogDensity();
        var position = Graphs.Random(model.Layout.Dimension, 23, 0.7);
        var gradient = new double[position.Length];
        double value = density.LogDensityAndGradient(position, gradient);

        var hidden = new double[rows * 3];
        potential.Predict(position, x, rows, hidden);
        double reference = model.LogLikelihood(hidden, model.LogSigma(position), new double[hidden.Length], out _) + model.LogPrior(position, []);
        Assert.Equal(reference, value, 1e-9 * Math.Abs(reference));

        const double h = 1e-6;
        for (int i = 0; i < position.Length; i++)
        {
            var plus = (double[])position.Clone();
            var minus = (double[])position.Clone();
            plus[i] += h;
            minus[i] -= h;
            var scratch = new double[position.Length];
            double fd = (density.LogDensityAndGradient(plus, scratch) - density.LogDensityAndGradient(minus, scratch)) / (2 * h);
            Assert.True(Math.Abs(fd - gradient[i]) < 1e-5 * Math.Max(1, Math.Abs(fd)), $"{model.Layout.ScalarNames()[i]}: analytic {gradient[i]}, finite difference {fd}");
        }
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

    /// <summary>1→2→1 tanh on 20 points: x, y, and the hidden activations h = tanh(W₁ x + b₁) at θ = (W₁, b₁).</summary>
    private static readonly double[] NetX = Enumerable.Range(0, 20).Select(i => -2.0 + 4.0 * i / 19).ToArray();
    private static readonly double[] NetY = NetX.Select((v, i) => Math.Sin(1.5 * v) + 0.3 * Graphs.Random(20, 5)[i]).ToArray();

    private static void Hidden(ReadOnlySpan<double> theta, double[] h)
    {
        for (int n = 0; n < NetX.Length; n++)
            for (int j = 0; j < 2; j++) h[n * 2 + j] = Math.Tanh(theta[j] * NetX[n] + theta[2 + j]);
    }

    /// <summary>The full posterior over (W₁[2], b₁[2], w₂[2], b₂, log σ), N(0, 1) priors, σ ~ LogNormal(0, 1).</summary>
    private sealed class FullNetwork : ILogDensity
    {
        private readonly double[] _h = new double[40];
        public int Dimension => 8;

        public double LogDensityAndGradient(ReadOnlySpan<double> q, Span<double> g)
        {
            Hidden(q, _h);
            double u = q[7], invVar = Math.Exp(-2 * u), lp = 0, sumR2 = 0;
            for (int i = 0; i < 8; i++)
            {
                lp -= 0.5 * q[i] * q[i];
                g[i] = -q[i];
            }
            for (int n = 0; n < NetX.Length; n++)
            {
                double f = q[4] * _h[2 * n] + q[5] * _h[2 * n + 1] + q[6];
                double r = NetY[n] - f, dr = r * invVar;
                sumR2 += r * r;
                for (int j = 0; j < 2; j++)
                {
                    double dz = dr * q[4 + j] * (1 - _h[2 * n + j] * _h[2 * n + j]);
                    g[j] += dz * NetX[n];
                    g[2 + j] += dz;
                    g[4 + j] += dr * _h[2 * n + j];
                }
                g[6] += dr;
            }
            lp += -NetX.Length * u - 0.5 * sumR2 * invVar;
            g[7] += -NetX.Length + sumR2 * invVar;
            return lp;
        }
    }

    /// <summary>The same posterior with the output layer integrated out: (W₁[2], b₁[2], log σ).</summary>
    private sealed class CollapsedNetwork : ILogDensity
    {
        private readonly CollapsedOutputLayer _layer = new(NetY, [0, 0, 0], [1, 1, 1]);
        private readonly double[] _h = new double[40], _dh = new double[40];
        public int Dimension => 5;

        public double LogDensityAndGradient(ReadOnlySpan<double> q, Span<double> g)
        {
            Hidden(q, _h);
            double lp = _layer.LogLikelihood(_h, q[4], _dh, out double du);
            for (int i = 0; i < 5; i++)
            {
                lp -= 0.5 * q[i] * q[i];
                g[i] = -q[i];
            }
            g[4] += du;
            for (int n = 0; n < NetX.Length; n++)
                for (int j = 0; j < 2; j++)
                {
                    double dz = _dh[2 * n + j] * (1 - _h[2 * n + j] * _h[2 * n + j]);
                    g[j] += dz * NetX[n];
                    g[2 + j] += dz;
                }
            return lp;
        }
    }

    private static readonly double[] Probes = [-1.5, 0.0, 1.5];

    /// <summary>Predictive means at the probes from (W₁, b₁) and output weights (w₂, b₂).</summary>
    private static void Predict(ReadOnlySpan<double> theta, ReadOnlySpan<double> output, Span<double> values)
    {
        for (int k = 0; k < Probes.Length; k++)
        {
            double f = output[2];
            for (int j = 0; j < 2; j++) f += output[j] * Math.Tanh(theta[j] * Probes[k] + theta[2 + j]);
            values[k] = f;
        }
    }

    private sealed class FullPredictions : IGeneratedQuantities
    {
        public IReadOnlyList<string> Names => ["f1", "f2", "f3"];
        public void Compute(ReadOnlySpan<double> q, Span<double> values) => Predict(q, q.Slice(4, 3), values);
    }

    private sealed class CollapsedPredictions(ulong seed) : IGeneratedQuantities
    {
        private readonly CollapsedOutputLayer _layer = new(NetY, [0, 0, 0], [1, 1, 1]);
        private readonly Rng _rng = new(seed);
        private readonly double[] _h = new double[40], _w = new double[3];
        public IReadOnlyList<string> Names => ["f1", "f2", "f3"];

        public void Compute(ReadOnlySpan<double> q, Span<double> values)
        {
            Hidden(q, _h);
            _layer.DrawWeights(_h, q[4], _rng, _w);
            Predict(q, _w, values);
        }
    }

    [Fact]
    public void Collapsed_and_full_posteriors_of_a_small_network_agree_within_MCSE()
    {
        var options = new SamplerOptions { Chains = 4, Warmup = 1000, Draws = 1000, Seed = 8 };
        string[] fullNames = ["w1[0]", "w1[1]", "b1[0]", "b1[1]", "w2[0]", "w2[1]", "b2", "sigma"];
        var sigmaLast = (string[] names) => ParameterLayout.FromShapes(names.Select((n, i) =>
            (n, Array.Empty<int>(), i == names.Length - 1 ? BlockTransform.Log : BlockTransform.Identity, (string?)null)).ToList());
        var full = new InMemoryDrawSink(fullNames, 4, 1000, ["f1", "f2", "f3"]);
        var fullResult = Sampler.Run(options, _ => new FullNetwork(), sigmaLast(fullNames), full, generatedQuantities: _ => new FullPredictions());
        string[] collapsedNames = ["w1[0]", "w1[1]", "b1[0]", "b1[1]", "sigma"];
        var collapsed = new InMemoryDrawSink(collapsedNames, 4, 1000, ["f1", "f2", "f3"]);
        var collapsedResult = Sampler.Run(options, _ => new CollapsedNetwork(), sigmaLast(collapsedNames), collapsed,
            generatedQuantities: c => new CollapsedPredictions(100 + (ulong)c));

        foreach (var name in new[] { "sigma", "f1", "f2", "f3" })
        {
            var a = PosteriorSummary.Summarize(name, full.Column(name));
            var b = PosteriorSummary.Summarize(name, collapsed.Column(name));
            double se = Math.Sqrt(a.McseMean * a.McseMean + b.McseMean * b.McseMean);
            Assert.True(Math.Abs(a.Mean - b.Mean) < 4 * se, $"{name}: full {a.Mean} (MCSE {a.McseMean}) vs collapsed {b.Mean} (MCSE {b.McseMean})");
            double seSd = Math.Sqrt(a.McseSd * a.McseSd + b.McseSd * b.McseSd);
            Assert.True(Math.Abs(a.Sd - b.Sd) < 4 * seSd, $"{name}: sd full {a.Sd} vs collapsed {b.Sd}");
            Assert.True(a.Rhat < 1.02 && b.Rhat < 1.02, $"{name}: R-hat full {a.Rhat}, collapsed {b.Rhat}");
            // Reported, not asserted: bulk-ESS per 1,000 gradients (warmup included) of each form.
            long fullGradients = fullResult.GradientEvaluationsWarmup + fullResult.GradientEvaluationsSampling;
            long collapsedGradients = collapsedResult.GradientEvaluationsWarmup + collapsedResult.GradientEvaluationsSampling;
            output.WriteLine($"{name}: bulk-ESS per 1k gradients full {1000 * a.EssBulk / fullGradients:F2} ({fullGradients:N0} gradients), " +
                $"collapsed {1000 * b.EssBulk / collapsedGradients:F2} ({collapsedGradients:N0} gradients)");
        }
    }
}
