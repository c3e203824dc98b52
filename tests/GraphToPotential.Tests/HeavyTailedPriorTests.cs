using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The Student-t and Laplace priors (<c>--prior 'GLOB=student_t(NU,MEAN,SCALE)'</c>, <c>laplace(MEAN,SCALE)</c>):
/// parsing, log densities against closed forms written out here, gradients against finite differences, prior draws
/// and NUTS on the prior alone reproducing the distribution.
/// </summary>
public class HeavyTailedPriorTests
{
    /// <summary>Student-t CDF for ν = 4, closed form: ½ + (3/8)·τ·(1 − t²/(12(1 + t²/4))), τ = t/√(1 + t²/4).</summary>
    private static double StudentT4Cdf(double t)
    {
        double a = 1 + t * t / 4;
        return 0.5 + 0.375 * t / Math.Sqrt(a) * (1 - t * t / (12 * a));
    }

    private static double LaplaceCdf(double x, double mean, double b) =>
        x < mean ? 0.5 * Math.Exp((x - mean) / b) : 1 - 0.5 * Math.Exp(-(x - mean) / b);

    [Theory]
    [InlineData("normal(0,0.5)", "normal(0,0.5)")]
    [InlineData(" Student_T( 3 , 0.1, 2 ) ", "student_t(3,0.1,2)")]
    [InlineData("laplace(-1,0.25)", "laplace(-1,0.25)")]
    public void Priors_parse_and_print_back(string text, string printed)
    {
        Assert.Equal(printed, ScalarPrior.Parse(text).ToString());
        Assert.Equal(printed, ScalarPrior.Parse(printed).ToString());
    }

    [Theory]
    [InlineData("w=student_t(0,0,1)")]
    [InlineData("w=student_t(-2,0,1)")]
    [InlineData("w=student_t(3,0)")]
    [InlineData("w=student_t(inf,0,1)")]
    [InlineData("w=laplace(0,0)")]
    [InlineData("w=laplace(0,1,2)")]
    [InlineData("w=cauchy(0,1)")]
    [InlineData("w=normal(0,x)")]
    public void Bad_priors_are_one_line_argument_errors(string text)
    {
        var ex = Assert.Throws<ArgumentException>(() => PriorOverride.Parse(text));
        Assert.StartsWith("--prior", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Log_densities_match_closed_forms()
    {
        // ν = 1 is the Cauchy: p(x) = 1 / (π s (1 + z²)).
        var cauchy = new StudentTPrior(1, 0.5, 2);
        double z = (1.7 - 0.5) / 2;
        Assert.Equal(-Math.Log(Math.PI * 2 * (1 + z * z)), cauchy.LogDensity(1.7, out _), 13);
        // ν = 3: p(x) = 2 / (π √3 s (1 + z²/3)²).
        var t3 = new StudentTPrior(3, 0, 1);
        Assert.Equal(Math.Log(2 / (Math.PI * Math.Sqrt(3) * Math.Pow(1 + 0.49 / 3, 2))), t3.LogDensity(0.7, out _), 13);
        // ν = 4: the density integrates to 1 and to the closed-form CDF.
        Assert.Equal(1.0, Integrate(x => Math.Exp(new StudentTPrior(4, 0, 1).LogDensity(x, out _)), -400, 400), 4);
        Assert.Equal(StudentT4Cdf(0.8), Integrate(x => Math.Exp(new StudentTPrior(4, 0, 1).LogDensity(x, out _)), -400, 0.8), 4);
        // Laplace: −log 2b − |x − μ|/b.
        var laplace = new LaplacePrior(0.3, 0.4);
        Assert.Equal(-Math.Log(0.8) - 0.5 / 0.4, laplace.LogDensity(-0.2, out double dl), 14);
        Assert.Equal(1 / 0.4, dl, 14);
        // The normal's derivative.
        new NormalPrior(1, 2).LogDensity(0, out double dn);
        Assert.Equal(0.25, dn, 15);

        foreach (ScalarPrior prior in new ScalarPrior[] { cauchy, t3, new StudentTPrior(0.8, -1, 0.3), laplace })
            foreach (double x in new[] { -3.1, -0.45, 0.2, 2.9 })
            {
                const double h = 1e-6;
                prior.LogDensity(x, out double d);
                double fd = (prior.LogDensity(x + h, out _) - prior.LogDensity(x - h, out _)) / (2 * h);
                Assert.True(Math.Abs(d - fd) < 1e-7 * Math.Max(1, Math.Abs(fd)), $"{prior} at {x}: {d:R} vs {fd:R}");
            }
    }

    private static double Integrate(Func<double, double> f, double a, double b)
    {
        int n = 400_000;
        double h = (b - a) / n, sum = 0.5 * (f(a) + f(b));
        for (int i = 1; i < n; i++) sum += f(a + i * h);
        return sum * h;
    }

    [Fact]
    public void Model_log_prior_and_gradient_with_student_t_and_laplace_overrides()
    {
        var graph = PriorScalingTests.RoledMlp([3, 4, 2], "Tanh", 6);
        var rng = new Random(3);
        var data = new DataSet(Enumerable.Range(0, 30).Select(_ => Normal(rng)).ToArray(), 3, Enumerable.Range(0, 20).Select(_ => Normal(rng)).ToArray(), 2);
        var options = new PosteriorOptions(PriorOptions.Parse("fan-in", ["layer0.weight=student_t(3,0,0.5)", "*.bias=laplace(0.1,0.2)"]), LikelihoodKind.Normal, 0.7);
        var model = PosteriorModel.Create(graph, options, data);
        Assert.Equal(["student_t(3,0,0.5)", "laplace(0.1,0.2)", "normal(0,0.5)", "laplace(0.1,0.2)"], model.Priors.Select(p => p.ToString()));
        Assert.Null(model.Priors[0].Normal);

        var position = new double[model.Layout.Dimension];
        model.DrawFromPrior(() => Normal(rng), position);
        Assert.All(position, v => Assert.True(double.IsFinite(v)));
        double expected = 0;
        int offset = 0;
        foreach (var p in model.Priors.Zip(graph.Parameters))
        {
            for (int i = 0; i < p.Second.Size; i++) expected += p.First.Scalar.LogDensity(position[offset + i], out _);
            offset += p.Second.Size;
        }
        Assert.Equal(expected, model.LogPrior(position, []), 11);

        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);
    }

    [Fact]
    public void Prior_draws_follow_the_distribution()
    {
        // Draws by ScalarPrior.Draw (the chain starts), from normals only; checked against the CDFs at a few points.
        var rng = new Random(11);
        const int n = 40_000;
        var t4 = new StudentTPrior(4, 1, 0.5);
        var t08 = new StudentTPrior(0.8, 0, 1);         // shape below 1 in the Gamma draw
        var laplace = new LaplacePrior(-0.2, 0.3);
        var xs = Enumerable.Range(0, n).Select(_ => t4.Draw(() => Normal(rng))).ToArray();
        var ys = Enumerable.Range(0, n).Select(_ => t08.Draw(() => Normal(rng))).ToArray();
        var zs = Enumerable.Range(0, n).Select(_ => laplace.Draw(() => Normal(rng))).ToArray();
        double tol = 4 * Math.Sqrt(0.25 / n);
        foreach (double t in new[] { -1.0, 0.5, 2.0 })
            Assert.InRange(xs.Count(x => x <= 1 + 0.5 * t) / (double)n, StudentT4Cdf(t) - tol, StudentT4Cdf(t) + tol);
        // ν = 0.8: P(x ≤ 1) = 0.7345824 (scipy.stats.t(0.8).cdf(1)); here by integrating the density.
        double p1 = 0.5 + Integrate(x => Math.Exp(t08.LogDensity(x, out _)), 0, 1);
        Assert.Equal(0.7345824, p1, 4);
        Assert.InRange(ys.Count(y => y <= 1) / (double)n, p1 - tol, p1 + tol);
        foreach (double x in new[] { -0.8, -0.2, 0.1, 0.5 })
            Assert.InRange(zs.Count(z => z <= x) / (double)n, LaplaceCdf(x, -0.2, 0.3) - tol, LaplaceCdf(x, -0.2, 0.3) + tol);
    }

    /// <summary>log p(θ) alone: the posterior with no data.</summary>
    private sealed class PriorOnly(PosteriorModel model) : ILogDensity
    {
        public int Dimension => model.Layout.Dimension;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            gradient.Clear();
            return model.LogPrior(position, gradient);
        }
    }

    /// <summary>|mean of q − truth| &lt; 4 MCSE, with the MCSE from q's own effective sample size.</summary>
    private static void AssertExpectation(string what, double[][] q, double truth)
    {
        var row = PosteriorSummary.Summarize(what, q);
        Assert.True(Math.Abs(row.Mean - truth) < 4 * row.McseMean, $"{what}: {row.Mean:R} vs {truth:R} (MCSE {row.McseMean:R})");
    }

    private static double[][] Indicator(double[][] draws, double x) => draws.Select(c => c.Select(v => v <= x ? 1.0 : 0.0).ToArray()).ToArray();

    [Fact]
    public void Nuts_on_the_prior_alone_reproduces_student_t_and_laplace()
    {
        var graph = PriorScalingTests.RoledMlp([2, 2], "Relu", 1);
        var options = new PosteriorOptions(PriorOptions.Parse("1", ["layer0.weight=student_t(4,1,0.5)", "layer0.bias=laplace(-0.2,0.3)"]), LikelihoodKind.Normal, 1.0);
        var model = PosteriorModel.Create(graph, options, new DataSet([0.0, 0.0], 2, [0.0, 0.0], 2));
        var sampler = new SamplerOptions { Chains = 4, Warmup = 500, Draws = 2000, Seed = 7 };
        var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), sampler.Chains, sampler.Draws);
        var result = Sampler.Run(sampler, _ => new PriorOnly(model), model.Layout, sink);
        Assert.Equal(0, result.Divergences);

        var w = sink.Column("layer0.weight[1,0]");
        AssertExpectation("layer0.weight[1,0]", w, 1.0);
        foreach (double t in new[] { -1.0, 0.5, 2.0 })
            AssertExpectation($"P(w ≤ {1 + 0.5 * t})", Indicator(w, 1 + 0.5 * t), StudentT4Cdf(t));
        var b = sink.Column("layer0.bias[0]");
        AssertExpectation("layer0.bias[0]", b, -0.2);
        AssertExpectation("|b + 0.2|", b.Select(c => c.Select(v => Math.Abs(v + 0.2)).ToArray()).ToArray(), 0.3);
        foreach (double x in new[] { -0.8, 0.1, 0.5 })
            AssertExpectation($"P(b ≤ {x})", Indicator(b, x), LaplaceCdf(x, -0.2, 0.3));
    }

    /// <summary>
    /// Simulation-based calibration (Talts et al. 2018), as <see cref="HierarchicalPriorSbcTests"/> does for the
    /// hierarchical prior: f(x) = w·x + b with w [1,3] ~ student_t(4, 0, 1) (drawn by hand as z/√(χ²₄/4)) and
    /// b ~ laplace(0, 1) (a difference of two Exponential(1) draws −log U), σ = 0.5 fixed, 5 rows; the ranks of the true
    /// values among thinned posterior draws must be uniform. Power, measured with this seed: the model's priors at
    /// scale 0.6 instead of 1 give the weight's ranks χ² = 32.5, failing.
    /// </summary>
    [Fact]
    public void Sbc_ranks_are_uniform_under_student_t_and_laplace_priors()
    {
        const int replications = 200, thin = 4, kept = 49, bins = 10, inputs = 3, rows = 5;
        const double sigma = 0.5, chiSquareCritical = 27.877, meanRankZCritical = 3.29;   // χ²₉ and |z| at p = 0.001
        var graph = PriorScalingTests.RoledMlp([inputs, 1], "Relu", 1);
        var x = Graphs.Random(rows * inputs, 5);
        var options = new PosteriorOptions(PriorOptions.Parse("1", ["layer0.weight=student_t(4,0,1)", "layer0.bias=laplace(0,1)"]), LikelihoodKind.Normal, sigma);
        var rng = new Random(314);
        string[] quantities = ["layer0.weight[0,0]", "layer0.weight[0,2]", "layer0.bias[0]"];
        var counts = quantities.Select(_ => new int[bins]).ToArray();
        var rankSums = new double[quantities.Length];
        for (int r = 0; r < replications; r++)
        {
            var w = Enumerable.Range(0, inputs).Select(_ =>
            {
                double z = Normal(rng), chi2 = Enumerable.Range(0, 4).Sum(_ => Math.Pow(Normal(rng), 2));
                return z / Math.Sqrt(chi2 / 4);
            }).ToArray();
            double b = -Math.Log(1 - rng.NextDouble()) + Math.Log(1 - rng.NextDouble());
            var y = new double[rows];
            for (int n = 0; n < rows; n++)
            {
                y[n] = b + sigma * Normal(rng);
                for (int j = 0; j < inputs; j++) y[n] += w[j] * x[inputs * n + j];
            }
            double[] truth = [w[0], w[2], b];

            var model = PosteriorModel.Create(graph, options, new DataSet(x, inputs, y));
            using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
            var sampler = new SamplerOptions { Chains = 1, Warmup = 200, Draws = kept * thin, Seed = (ulong)(500 + r) };
            var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), sampler.Chains, sampler.Draws);
            Sampler.Run(sampler, _ => potential.CreateLogDensity(), model.Layout, sink);
            for (int q = 0; q < quantities.Length; q++)
            {
                var draws = sink.Column(quantities[q])[0];
                int rank = 0;
                for (int d = thin - 1; d < draws.Length; d += thin)
                    if (draws[d] < truth[q]) rank++;
                counts[q][rank * bins / (kept + 1)]++;
                rankSums[q] += (rank + 0.5) / (kept + 1);
            }
        }
        double expected = (double)replications / bins;
        for (int q = 0; q < quantities.Length; q++)
        {
            double chi2 = counts[q].Sum(k => (k - expected) * (k - expected) / expected);
            double z = (rankSums[q] / replications - 0.5) / Math.Sqrt(1.0 / 12 / replications);
            string histogram = $"{quantities[q]}: rank histogram [{string.Join(", ", counts[q])}], χ² = {chi2:F1}, mean-rank z = {z:F2}";
            Assert.True(chi2 < chiSquareCritical, histogram);
            Assert.True(Math.Abs(z) < meanRankZCritical, histogram);
        }
    }
}
