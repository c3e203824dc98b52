using BenchmarkDotNet.Attributes;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// The sampler's own cost per leapfrog step: NUTS transitions on a density whose gradient is nearly free
/// (iid standard normal), at the blog network's dimension (82) and larger. Time per transition over the
/// leapfrog steps it took gives the overhead per leapfrog, to set against a gradient's cost.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SamplerBenchmarks
{
    private NutsKernel _kernel = null!;
    private NutsParameters _parameters = null!;
    private NutsState _start = null!;

    [Params(82, 1000)]
    public int Dimension { get; set; }

    /// <summary>Leapfrog steps per <see cref="Transitions"/> call (fixed by the seed), printed in the setup.</summary>
    public long LeapfrogsPerCall { get; private set; }

    [GlobalSetup]
    public void Setup()
    {
        _kernel = new NutsKernel(new StandardNormal(Dimension), maxTreeDepth: 10);
        _parameters = new NutsParameters(0.05, EuclideanMetric.Unit(MetricKind.Diagonal, Dimension));
        _start = _kernel.Init(new double[Dimension]);
        var rng = new Rng(7);
        var state = _start;
        long steps = 0;
        for (int i = 0; i < 100; i++)
        {
            (state, var info) = _kernel.Step(rng, state, _parameters);
            steps += info.LeapfrogSteps;
        }
        LeapfrogsPerCall = steps;
        Console.WriteLine($"// d = {Dimension}: {steps} leapfrog steps per 100 transitions");
    }

    /// <summary>100 NUTS transitions with step size 0.05 (long trajectories, about 2^6 steps each).</summary>
    [Benchmark]
    public double Transitions()
    {
        var rng = new Rng(7);
        var state = _start;
        for (int i = 0; i < 100; i++) (state, _) = _kernel.Step(rng, state, _parameters);
        return state.LogDensity;
    }

    private sealed class StandardNormal(int dimension) : ILogDensity
    {
        public int Dimension => dimension;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            double lp = 0;
            for (int i = 0; i < position.Length; i++)
            {
                lp -= 0.5 * position[i] * position[i];
                gradient[i] = -position[i];
            }
            return lp;
        }
    }
}
