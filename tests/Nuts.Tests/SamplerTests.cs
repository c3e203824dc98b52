using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

public class SamplerTests
{
    internal static (SamplingResult Result, InMemoryDrawSink Draws) Sample(Func<int, ILogDensity> density, int d, SamplerOptions options,
        ParameterLayout? layout = null)
    {
        var names = layout?.ScalarNames() ?? Enumerable.Range(0, d).Select(i => $"theta[{i}]").ToArray();
        var sink = new InMemoryDrawSink(names, options.Chains, options.Draws);
        var result = Sampler.Run(options, density, layout, sink);
        return (result, sink);
    }

    /// <summary>|mean − truth| &lt; 4 MCSE and |sd − truth| &lt; 4 MCSE(sd) for every coordinate.</summary>
    /// <summary>
    /// The blog's linear regression against its exact posterior (<c>linreg_exact.json</c>): each of alpha, beta and
    /// sigma has its mean within 4 MCSE, its sd within 10%, R-hat below 1.01 and bulk- and tail-ESS above 400.
    /// </summary>
    internal static void AssertMatchesExact(InMemoryDrawSink draws, System.Text.Json.JsonElement exact)
    {
        foreach (var name in new[] { "alpha", "beta", "sigma" })
        {
            var row = PosteriorSummary.Summarize(name, draws.Column(name));
            double mean = exact.GetProperty(name).GetProperty("mean").GetDouble();
            double sd = exact.GetProperty(name).GetProperty("sd").GetDouble();
            Assert.True(Math.Abs(row.Mean - mean) < 4 * row.McseMean, $"{name}: mean {row.Mean} vs exact {mean} (MCSE {row.McseMean})");
            Assert.True(Math.Abs(row.Sd - sd) < 0.1 * sd, $"{name}: sd {row.Sd} vs exact {sd}");
            Assert.True(row.Rhat < 1.01 && row.EssBulk > 400 && row.EssTail > 400, $"{name}: {row}");
        }
    }

    internal static void AssertMoments(InMemoryDrawSink draws, IReadOnlyList<string> names, double[] mean, double[] sd)
    {
        for (int i = 0; i < names.Count; i++)
        {
            var row = PosteriorSummary.Summarize(names[i], draws.Column(names[i]));
            Assert.True(Math.Abs(row.Mean - mean[i]) < 4 * row.McseMean,
                $"{names[i]}: mean {row.Mean} vs {mean[i]} (MCSE {row.McseMean})");
            Assert.True(Math.Abs(row.Sd - sd[i]) < 4 * row.McseSd,
                $"{names[i]}: sd {row.Sd} vs {sd[i]} (MCSE {row.McseSd})");
            Assert.True(row.Rhat < 1.01, $"{names[i]}: R-hat {row.Rhat}");
        }
    }

    [Theory]
    [InlineData(1)]
    [InlineData(10)]
    [InlineData(100)]
    public void Iid_normal_moments_within_MCSE(int d)
    {
        var options = new SamplerOptions { Chains = 4, Warmup = 500, Draws = 1000, Seed = (ulong)(100 + d) };
        var (result, draws) = Sample(_ => DiagonalGaussian.Standard(d), d, options);
        Assert.False(result.Interrupted);
        Assert.Equal(0, result.Divergences);
        var names = draws.Variables.Take(d).ToArray();
        AssertMoments(draws, names, new double[d], Enumerable.Repeat(1.0, d).ToArray());
        // Warmup learnt a unit metric and a step size giving about the target acceptance.
        foreach (var chain in result.Chains)
        {
            Assert.All(chain.InverseMassDiagonal, v => Assert.InRange(v, 0.5, 2.0));
            Assert.InRange(chain.MeanAcceptStat, 0.7, 0.95);
            Assert.True(chain.Ebfmi > 0.3, $"E-BFMI {chain.Ebfmi}");
        }
        Assert.Empty(result.Warnings());
    }

    [Fact]
    public void Ill_conditioned_diagonal_gaussian_with_diagonal_metric()
    {
        double[] sd = [0.01, 0.03, 0.1, 0.3, 1, 3, 10, 30, 100, 300];
        double[] mean = sd.Select((s, i) => i * s).ToArray();
        var options = new SamplerOptions { Chains = 4, Warmup = 1000, Draws = 1000, Seed = 7 };
        var (result, draws) = Sample(_ => new DiagonalGaussian(mean, sd), sd.Length, options);
        Assert.Equal(0, result.Divergences);
        AssertMoments(draws, draws.Variables.Take(sd.Length).ToArray(), mean, sd);
        // The adapted inverse metric tracks the variances (within a factor 2 across a 10⁹ range).
        foreach (var chain in result.Chains)
            for (int i = 0; i < sd.Length; i++)
                Assert.InRange(chain.InverseMassDiagonal[i] / (sd[i] * sd[i]), 0.5, 2.0);
        Assert.All(result.Chains, c => Assert.True(c.TreeDepthSaturations == 0));
    }

    [Fact]
    public void Correlated_gaussian_with_dense_metric()
    {
        // Σ = AR(1)-type correlation 0.95 with scales 1..5: strongly correlated.
        int d = 5;
        var scale = new double[] { 1, 2, 3, 4, 5 };
        var cov = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                cov[i * d + j] = Math.Pow(0.95, Math.Abs(i - j)) * scale[i] * scale[j];
        var precision = Invert(cov, d);
        var mean = new double[] { 1, -1, 0, 2, -2 };
        var options = new SamplerOptions { Chains = 4, Warmup = 1000, Draws = 1000, Seed = 11, Metric = MetricKind.Dense };
        var (result, draws) = Sample(_ => new DenseGaussian(mean, precision), d, options);
        Assert.Equal(0, result.Divergences);
        AssertMoments(draws, draws.Variables.Take(d).ToArray(), mean, scale);
        // The dense metric learnt the covariance (correlations within 0.05), and NUTS needs few steps.
        foreach (var chain in result.Chains)
        {
            var m = chain.InverseMassDense!;
            Assert.InRange(m[0 * d + 1] / Math.Sqrt(m[0] * m[d + 1]), 0.90, 0.99);
        }
        var depth = draws.Column("treedepth__").SelectMany(c => c).Average();
        Assert.True(depth < 3.5, $"mean tree depth {depth} with a dense metric");
    }

    [SharedFact("reference/seed")]
    public void Blog_linear_regression_matches_exact_posterior()
    {
        var model = LinearRegression.FromSharedData();
        var exactPath = TestData.Shared("reference/seed/linreg_exact.json");
        if (model is null || exactPath is null) return; // ../shared/reference/seed absent
        var exact = TestData.Json(exactPath);
        var options = new SamplerOptions { Chains = 4, Warmup = 1000, Draws = 1000, Seed = 2021 };
        var (result, draws) = Sample(_ => LinearRegression.FromSharedData()!, 3, options, LinearRegression.Layout);
        Assert.False(result.Interrupted);
        Assert.Equal(0, result.Divergences);
        AssertMatchesExact(draws, exact);
        // The sink received σ, not log σ.
        Assert.True(draws.Column("sigma").SelectMany(c => c).All(v => v > 0));
    }

    [Fact]
    public void Same_seed_same_draws_whatever_the_parallelism_and_lockstep()
    {
        var options = new SamplerOptions { Chains = 3, Warmup = 150, Draws = 100, Seed = 42 };
        var sequential = Sample(_ => DiagonalGaussian.Standard(4), 4, options with { MaxParallelism = 1 }).Draws;
        var parallel = Sample(_ => DiagonalGaussian.Standard(4), 4, options with { MaxParallelism = 3 }).Draws;

        var batched = new BatchedAdapter(() => DiagonalGaussian.Standard(4), maxBatch: 2);
        var lockstepSink = new InMemoryDrawSink(sequential.Variables.Take(4).ToArray(), 3, 100);
        var lockstep = Sampler.RunLockstep(options, batched, null, lockstepSink);
        Assert.False(lockstep.Interrupted);

        foreach (var v in sequential.Variables)
        {
            var a = sequential.Column(v);
            var b = parallel.Column(v);
            var c = lockstepSink.Column(v);
            for (int chain = 0; chain < 3; chain++)
            {
                Assert.Equal(a[chain], b[chain]); // bit for bit
                Assert.Equal(a[chain], c[chain]);
            }
        }
        // Chains differ from each other, and another seed gives other draws.
        Assert.NotEqual(sequential.Column("theta[0]")[0], sequential.Column("theta[0]")[1]);
        var other = Sample(_ => DiagonalGaussian.Standard(4), 4, options with { Seed = 43 }).Draws;
        Assert.NotEqual(sequential.Column("theta[0]")[0], other.Column("theta[0]")[0]);
        // Lockstep batched the chains' gradient calls: fewer calls than gradient evaluations.
        long evaluations = lockstep.GradientEvaluationsWarmup + lockstep.GradientEvaluationsSampling;
        Assert.True(batched.Calls < evaluations, $"{batched.Calls} batched calls for {evaluations} evaluations");
    }

    [Fact]
    public void Non_finite_density_gives_divergences_not_exceptions()
    {
        var options = new SamplerOptions { Chains = 2, Warmup = 200, Draws = 300, Seed = 3 };
        var (result, draws) = Sample(_ => new NonFiniteBeyond(2, wall: 0.5), 2, options);
        Assert.False(result.Interrupted);
        Assert.True(result.Divergences > 0);
        Assert.True(draws.Column("theta[0]").SelectMany(c => c).All(v => v <= 0.5));
        Assert.Equal(result.Divergences, (int)draws.Column("divergent__").SelectMany(c => c).Sum());
        Assert.Contains(result.Warnings(), w => w.Contains("divergent transitions after warmup"));

        // The kernel alone: an absurd step size diverges at once, without throwing.
        var kernel = new NutsKernel(new NonFiniteBeyond(2, 0.5));
        var state = kernel.Init([0.0, 0.0]);
        var (next, info) = kernel.Step(new Rng(1), state, new NutsParameters(1e3, EuclideanMetric.Unit(MetricKind.Diagonal, 2)));
        Assert.True(info.Divergent);
        Assert.Equal(1, info.LeapfrogSteps);
        Assert.Equal(state.Position, next.Position);
    }

    [Fact]
    public void Start_that_is_never_finite_throws_a_clear_error()
    {
        var options = new SamplerOptions { Chains = 2, Warmup = 10, Draws = 10, Seed = 3 };
        var sink = new InMemoryDrawSink(["a"], 2, 10);
        var ex = Assert.Throws<InvalidDataException>(() =>
            Sampler.Run(options, _ => new NonFiniteBeyond(1, wall: -100), null, sink));
        Assert.Contains("100 attempts", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
        Assert.True(sink.Completed && sink.Interrupted);
    }

    [Fact]
    public void Initial_positions_are_redrawn_until_finite()
    {
        int calls = 0;
        var start = Sampler.FindFiniteStart(new NonFiniteBeyond(1, wall: 0.0), new Rng(9),
            _ => [++calls < 5 ? 1.0 : -0.25]);
        Assert.Equal(5, calls);
        Assert.Equal(-0.25, start.Position[0]);
        Assert.Equal(-0.5 * 0.0625, start.LogDensity, 15);
    }

    [Fact]
    public void Cancellation_finishes_the_iteration_and_reports_interrupted()
    {
        using var cts = new CancellationTokenSource();
        var options = new SamplerOptions { Chains = 2, Warmup = 50, Draws = 100000, Seed = 5 };
        var sink = new CancellingSink(cts, afterDraws: 30);
        var result = Sampler.Run(options, _ => DiagonalGaussian.Standard(2), null, sink, cancellationToken: cts.Token);
        Assert.True(result.Interrupted);
        Assert.True(sink.Interrupted);
        Assert.All(result.Chains, c => Assert.True(c.DrawsCompleted < options.Draws));
        Assert.True(result.Chains.Sum(c => c.DrawsCompleted) >= 30);
    }

    private sealed class CancellingSink(CancellationTokenSource cts, int afterDraws) : IDrawSink
    {
        private int _count;
        public bool Interrupted;

        public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained)
        {
            if (++_count == afterDraws) cts.Cancel();
        }

        public void Complete(bool interrupted) => Interrupted = interrupted;
    }

    [Fact]
    public void Generated_quantities_reach_the_sink()
    {
        var options = new SamplerOptions { Chains = 2, Warmup = 100, Draws = 50, Seed = 8 };
        var sink = new InMemoryDrawSink(["a", "b"], 2, 50, ["sum"]);
        Sampler.Run(options, _ => DiagonalGaussian.Standard(2), null, sink, generatedQuantities: _ => new SumQuantity());
        var a = sink.Column("a");
        var b = sink.Column("b");
        var sum = sink.Column("sum");
        for (int c = 0; c < 2; c++)
            for (int i = 0; i < 50; i++)
                Assert.Equal(a[c][i] + b[c][i], sum[c][i]);
    }

    private sealed class SumQuantity : IGeneratedQuantities
    {
        public IReadOnlyList<string> Names => ["sum"];
        public void Compute(ReadOnlySpan<double> position, Span<double> values) => values[0] = position[0] + position[1];
    }

    [Fact]
    public void Gradient_based_metric_adaptation_learns_scales()
    {
        double[] sd = [0.1, 1, 10];
        var options = new SamplerOptions { Chains = 2, Warmup = 500, Draws = 500, Seed = 12, MetricAdaptation = MetricAdaptation.GradientBased };
        var (result, draws) = Sample(_ => new DiagonalGaussian(new double[3], sd), 3, options);
        Assert.Equal(0, result.Divergences);
        foreach (var chain in result.Chains)
            for (int i = 0; i < 3; i++)
                Assert.InRange(chain.InverseMassDiagonal[i] / (sd[i] * sd[i]), 0.5, 2.0);
        AssertMoments(draws, draws.Variables.Take(3).ToArray(), new double[3], sd);
    }

    internal static double[] Invert(double[] a, int n)
    {
        var m = (double[])a.Clone();
        var inv = new double[n * n];
        for (int i = 0; i < n; i++) inv[i * n + i] = 1;
        for (int col = 0; col < n; col++)
        {
            double pivot = m[col * n + col];
            for (int j = 0; j < n; j++) { m[col * n + j] /= pivot; inv[col * n + j] /= pivot; }
            for (int r = 0; r < n; r++)
            {
                if (r == col) continue;
                double f = m[r * n + col];
                for (int j = 0; j < n; j++) { m[r * n + j] -= f * m[col * n + j]; inv[r * n + j] -= f * inv[col * n + j]; }
            }
        }
        return inv;
    }
}
