using Bnn.Onnx.Nuts;
using static Bnn.Onnx.Tests.SamplerTests;

namespace Bnn.Onnx.Tests;

/// <summary>NUTS with the low-rank metric on targets whose answer is known.</summary>
public class LowRankSamplerTests
{
    private static SamplerOptions LowRank(ulong seed) =>
        new() { Chains = 4, Warmup = 1000, Draws = 1000, Seed = seed, Metric = MetricKind.LowRank };

    /// <summary>Σ = diag(s) R diag(s) with R an AR(1) correlation of coefficient ρ.</summary>
    private static double[] Ar1Covariance(double[] scale, double rho)
    {
        int d = scale.Length;
        var cov = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                cov[i * d + j] = Math.Pow(rho, Math.Abs(i - j)) * scale[i] * scale[j];
        return cov;
    }

    [Fact]
    public void Correlated_gaussian_moments_within_MCSE_and_short_trajectories()
    {
        int d = 5;
        double[] scale = [1, 2, 3, 4, 5];
        var precision = Invert(Ar1Covariance(scale, 0.95), d);
        double[] mean = [1, -1, 0, 2, -2];
        var (result, draws) = Sample(_ => new DenseGaussian(mean, precision), d, LowRank(11));
        Assert.Equal(0, result.Divergences);
        AssertMoments(draws, draws.Variables.Take(d).ToArray(), mean, scale);
        var depth = draws.Column("treedepth__").SelectMany(c => c).Average();
        Assert.True(depth < 3.5, $"mean tree depth {depth} with a low-rank metric");
    }

    [Fact]
    public void Ill_conditioned_correlated_gaussian_in_40_dimensions()
    {
        // Scales over 10⁴ and correlation 0.99 between neighbours: condition number ~10¹¹ for the unit metric.
        int d = 40;
        var scale = Enumerable.Range(0, d).Select(i => Math.Pow(10, -2 + 4.0 * i / (d - 1))).ToArray();
        var precision = Invert(Ar1Covariance(scale, 0.99), d);
        var mean = new double[d];
        var (result, draws) = Sample(_ => new DenseGaussian(mean, precision), d, LowRank(12));
        Assert.Equal(0, result.Divergences);
        AssertMoments(draws, draws.Variables.Take(d).ToArray(), mean, scale);

        // The diagonal metric needs far longer trajectories on the same target.
        var diagonal = Sample(_ => new DenseGaussian(mean, precision), d, LowRank(12) with { Metric = MetricKind.Diagonal }).Draws;
        double lowRankSteps = draws.Column("n_leapfrog__").SelectMany(c => c).Average();
        double diagonalSteps = diagonal.Column("n_leapfrog__").SelectMany(c => c).Average();
        Assert.True(lowRankSteps * 3 < diagonalSteps, $"leapfrog steps per draw: low-rank {lowRankSteps}, diagonal {diagonalSteps}");
    }

    [SharedFact("reference/seed")]
    public void Blog_linear_regression_matches_exact_posterior()
    {
        var exactPath = TestData.Shared("reference/seed/linreg_exact.json");
        if (LinearRegression.FromSharedData() is null || exactPath is null) return; // ../shared/reference/seed absent
        var exact = TestData.Json(exactPath);
        var (result, draws) = Sample(_ => LinearRegression.FromSharedData()!, 3, LowRank(2021), LinearRegression.Layout);
        Assert.False(result.Interrupted);
        Assert.Equal(0, result.Divergences);
        SamplerTests.AssertMatchesExact(draws, exact);
    }

    [Fact]
    public void Same_seed_same_draws_whatever_the_parallelism_and_lockstep()
    {
        int d = 6;
        var precision = Invert(Ar1Covariance([1, 1, 1, 1, 1, 1], 0.9), d);
        ILogDensity Target() => new DenseGaussian(new double[d], precision);
        var options = new SamplerOptions { Chains = 3, Warmup = 150, Draws = 100, Seed = 42, Metric = MetricKind.LowRank };
        var sequential = Sample(_ => Target(), d, options with { MaxParallelism = 1 }).Draws;
        var parallel = Sample(_ => Target(), d, options with { MaxParallelism = 3 }).Draws;
        var lockstepSink = new InMemoryDrawSink(sequential.Variables.Take(d).ToArray(), 3, 100);
        Sampler.RunLockstep(options, new BatchedAdapter(Target, maxBatch: 3), null, lockstepSink);
        foreach (var v in sequential.Variables)
            for (int chain = 0; chain < 3; chain++)
            {
                Assert.Equal(sequential.Column(v)[chain], parallel.Column(v)[chain]); // bit for bit
                Assert.Equal(sequential.Column(v)[chain], lockstepSink.Column(v)[chain]);
            }
        var other = Sample(_ => Target(), d, options with { Seed = 43 }).Draws;
        Assert.NotEqual(sequential.Column("theta[0]")[0], other.Column("theta[0]")[0]);
    }

    [Fact]
    public void Gradient_based_adaptation_is_refused_with_the_low_rank_metric()
    {
        var options = new SamplerOptions { Metric = MetricKind.LowRank, MetricAdaptation = MetricAdaptation.GradientBased };
        Assert.Throws<ArgumentException>(options.Validate);
    }
}
