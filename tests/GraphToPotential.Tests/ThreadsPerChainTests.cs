using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// One chain's gradient on several threads: the rows' blocks and shards are fixed by the row count and the shards'
/// sums run in shard order, so the value, the gradient and the draws are the same bits on 1, 2 or 3 threads.
/// </summary>
public class ThreadsPerChainTests
{
    private static PosteriorModel Model(LikelihoodKind likelihood, int rows)
    {
        int outputs = likelihood == LikelihoodKind.Categorical ? 3 : 1;
        var graph = Mlp([4, 16, 9, outputs], "Tanh", 23);
        var rng = new Random(8);
        var features = Enumerable.Range(0, rows * 4).Select(_ => Normal(rng)).ToArray();
        var targets = likelihood == LikelihoodKind.Categorical
            ? Enumerable.Range(0, rows).Select(_ => (double)rng.Next(3)).ToArray()
            : Enumerable.Range(0, rows).Select(i => Math.Sin(features[4 * i]) + 0.3 * Normal(rng)).ToArray();
        return PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, likelihood), new DataSet(features, 4, targets));
    }

    /// <summary>Given a model of six blocks (the last one shorter), when its gradient runs on 1, 2 and 3 threads, then every value and gradient is identical bit for bit.</summary>
    [Theory]
    [InlineData(nameof(LikelihoodKind.Normal), nameof(ComputePrecision.Float64))]
    [InlineData(nameof(LikelihoodKind.Normal), nameof(ComputePrecision.Float32))]
    [InlineData(nameof(LikelihoodKind.Categorical), nameof(ComputePrecision.Float64))]
    [InlineData(nameof(LikelihoodKind.Categorical), nameof(ComputePrecision.Float32))]
    public void ValueAndGradientAreTheSameBitsOnAnyNumberOfThreads(string likelihoodName, string precisionName)
    {
        var likelihood = Enum.Parse<LikelihoodKind>(likelihoodName);
        var precision = Enum.Parse<ComputePrecision>(precisionName);
        var model = Model(likelihood, 5 * CompiledPotential<double>.BlockRows + 41);
        using var one = new CompiledBackend().CreatePotential(model, new BackendOptions(precision, "cpu", 1));
        using var two = new CompiledBackend().CreatePotential(model, new BackendOptions(precision, "cpu", 2));
        using var three = new CompiledBackend().CreatePotential(model, new BackendOptions(precision, "cpu", 3));
        var d1 = one.CreateLogDensity();
        var d2 = two.CreateLogDensity();
        var d3 = three.CreateLogDensity();
        Assert.Equal(2, d2 is CompiledLogDensity<double> c ? c.Threads : ((CompiledLogDensity<float>)d2).Threads);
        var rng = new Random(3);
        var start = model.PositionAtFileWeights(0.7);
        for (int trial = 0; trial < 20; trial++)
        {
            var position = start.Select(v => v + 0.2 * Normal(rng)).ToArray();
            var g1 = new double[position.Length];
            var g2 = new double[position.Length];
            var g3 = new double[position.Length];
            double lp1 = d1.LogDensityAndGradient(position, g1);
            double lp2 = d2.LogDensityAndGradient(position, g2);
            double lp3 = d3.LogDensityAndGradient(position, g3);
            Assert.Equal(BitConverter.DoubleToInt64Bits(lp1), BitConverter.DoubleToInt64Bits(lp2));
            Assert.Equal(BitConverter.DoubleToInt64Bits(lp1), BitConverter.DoubleToInt64Bits(lp3));
            Assert.Equal(g1.Select(BitConverter.DoubleToInt64Bits), g2.Select(BitConverter.DoubleToInt64Bits));
            Assert.Equal(g1.Select(BitConverter.DoubleToInt64Bits), g3.Select(BitConverter.DoubleToInt64Bits));
        }
        (d2 as IDisposable)?.Dispose();
        (d3 as IDisposable)?.Dispose();
    }

    /// <summary>Given the threaded density, then its gradient still matches finite differences (the shards add up to the whole posterior).</summary>
    [Fact]
    public void ThreadedGradientMatchesFiniteDifferences()
    {
        var model = Model(LikelihoodKind.Normal, 3 * CompiledPotential<double>.BlockRows + 5);
        using var potential = new CompiledBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float64, "cpu", 2));
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), model.PositionAtFileWeights(0.8), 1e-6);
    }

    /// <summary>Given the same seed, when two chains are sampled with 1 and with 2 threads per chain, then the draws are identical bit for bit.</summary>
    [Theory]
    [InlineData(nameof(ComputePrecision.Float64))]
    [InlineData(nameof(ComputePrecision.Float32))]
    public void DrawsAreTheSameBitsWithOneAndTwoThreadsPerChain(string precisionName)
    {
        var precision = Enum.Parse<ComputePrecision>(precisionName);
        var model = Model(LikelihoodKind.Normal, 2 * CompiledPotential<double>.BlockRows + 77);
        double[][] Draws(int threads)
        {
            using var potential = new CompiledBackend().CreatePotential(model, new BackendOptions(precision, "cpu", threads));
            var options = new SamplerOptions { Chains = 2, Warmup = 60, Draws = 40, Seed = 99, MaxTreeDepth = 6 };
            var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), options.Chains, options.Draws);
            Sampler.Run(options, _ => potential.CreateLogDensity(), model.Layout, sink);
            return model.Layout.ScalarNames().Select(name => sink.Column(name).SelectMany(chain => chain).ToArray()).ToArray();
        }
        var single = Draws(1);
        var threaded = Draws(2);
        Assert.Equal(single.Length, threaded.Length);
        for (int v = 0; v < single.Length; v++)
            Assert.Equal(single[v].Select(BitConverter.DoubleToInt64Bits), threaded[v].Select(BitConverter.DoubleToInt64Bits));
        Assert.True(single[0].Distinct().Count() > 10, "the chains moved");
    }
}
