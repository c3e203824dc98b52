using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary><see cref="SamplerOptions.ChainIds"/>: a subset of a run's chains draws exactly what those chains draw in the full run.</summary>
public class ChainIdsTests
{
    private static InMemoryDrawSink Run(SamplerOptions options, bool lockstep)
    {
        var sink = new InMemoryDrawSink(["a", "b"], options.Chains, options.Draws);
        if (lockstep)
            Sampler.RunLockstep(options, new BatchedAdapter(() => new DiagonalGaussian([1, -2], [0.5, 3]), options.Chains), null, sink);
        else
            Sampler.Run(options, _ => new DiagonalGaussian([1, -2], [0.5, 3]), null, sink);
        return sink;
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void A_subset_of_chains_reproduces_the_full_run_bit_for_bit(bool lockstep)
    {
        var full = Run(new SamplerOptions { Chains = 4, Warmup = 100, Draws = 50, Seed = 17 }, lockstep);
        var part = Run(new SamplerOptions { Chains = 2, Warmup = 100, Draws = 50, Seed = 17, ChainIds = [3, 1] }, lockstep);
        foreach (var name in full.Variables)
        {
            Assert.Equal(full.Column(name)[3], part.Column(name)[0]);
            Assert.Equal(full.Column(name)[1], part.Column(name)[1]);
        }
    }

    [Fact]
    public void Chain_ids_must_be_one_distinct_id_per_chain()
    {
        Assert.Throws<ArgumentException>(() => new SamplerOptions { Chains = 2, ChainIds = [1] }.Validate());
        Assert.Throws<ArgumentException>(() => new SamplerOptions { Chains = 2, ChainIds = [1, 1] }.Validate());
        Assert.Throws<ArgumentException>(() => new SamplerOptions { Chains = 1, ChainIds = [-1] }.Validate());
        new SamplerOptions { Chains = 2, ChainIds = [5, 0] }.Validate();
    }
}
