using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>When a run is called failed (nearly every transition diverged) and when it is not.</summary>
public class SamplingFailureTests
{
    private static ChainResult Chain(int warmupDone, int drawsDone, int warmupDivergences, int divergences) =>
        new(0, [0.0], 1e-9, [1.0], null, 0, 0, 0, 0, warmupDone, drawsDone, warmupDivergences, divergences, 0, double.NaN, 0);

    private static SamplingResult Result(params ChainResult[] chains) => new(new SamplerOptions(), chains, false, 0, 0, 0);

    [Fact]
    public void GivenNearlyAllPostWarmupTransitionsDivergent_ThenTheRunIsFailedWithADiagnosis()
    {
        var result = Result(Chain(100, 1000, 100, 999), Chain(100, 1000, 90, 950));
        var failure = result.Failure();
        Assert.NotNull(failure);
        Assert.Equal(1949, failure.DivergentTransitions);
        Assert.Equal(2000, failure.Transitions);
        Assert.True(failure.PostWarmup);
        Assert.Equal([1e-9, 1e-9], failure.StepSizes);
    }

    [Fact]
    public void GivenAFewDivergences_ThenTheRunIsNotFailed()
    {
        Assert.Null(Result(Chain(1000, 1000, 30, 140), Chain(1000, 1000, 3, 0)).Failure());
        Assert.Null(Result(Chain(1000, 1000, 0, 899)).Failure()); // just under 90%
    }

    [Fact]
    public void GivenAWarmupOnlyRunThatAlwaysDiverged_ThenTheRunIsFailed()
    {
        var failure = Result(Chain(200, 0, 195, 0)).Failure();
        Assert.NotNull(failure);
        Assert.False(failure.PostWarmup);
        Assert.Equal((195, 200), (failure.DivergentTransitions, failure.Transitions));
        Assert.Null(Result(Chain(200, 0, 10, 0)).Failure());
        Assert.Null(Result(Chain(0, 0, 0, 0)).Failure()); // nothing ran (interrupted at once)
    }

    [Fact]
    public void GivenADensityThatDivergesEverywhereButItsStart_WhenSampled_ThenTheResultIsFailed()
    {
        var options = new SamplerOptions { Chains = 2, Warmup = 20, Draws = 50, Seed = 3 };
        var result = Sampler.Run(options, _ => new Cliff(), null, new InMemoryDrawSink(["x"], 2, 50),
            initialPosition: (_, _) => [0.0]);
        Assert.Equal(100, result.Divergences);
        Assert.NotNull(result.Failure());
    }

    /// <summary>Finite at exactly 0 and NaN anywhere else: every trajectory diverges at its first step.</summary>
    private sealed class Cliff : ILogDensity
    {
        public int Dimension => 1;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            gradient[0] = 0;
            return position[0] == 0 ? 0 : double.NaN;
        }
    }
}
