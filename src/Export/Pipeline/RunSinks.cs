using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Sends every draw to the draws file and keeps, in memory, only what the summary needs beyond it:
/// the sampler columns and the predictive quantities (a few values per draw, whatever the network's size).
/// </summary>
internal sealed class TeeSink(IDrawSink file, InMemoryDrawSink memory) : IDrawSink, IGeneratedQuantitySink
{
    public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained)
    {
        file.Write(chain, draw, stats, constrained);
        memory.Write(chain, draw, stats, constrained);
    }

    public void WriteGenerated(int chain, int draw, ReadOnlySpan<double> values) => memory.WriteGenerated(chain, draw, values);

    public void Complete(bool interrupted)
    {
        try
        {
            file.Complete(interrupted);
        }
        finally
        {
            memory.Complete(interrupted);
        }
    }
}

/// <summary>
/// The posterior predictive mean f(x; θ) at a fixed set of inputs, computed at every draw (<c>mu[i]</c>, or
/// <c>mu[i,k]</c> for several outputs). One instance per chain: it owns its compiled forward program. The network
/// runs at the model's w (<see cref="PosteriorModel.NetworkParameters"/>: a hierarchical prior's z times its scale).
/// </summary>
internal sealed class PredictiveMean(IGraphFunction forward, double[] inputs, int rows, int outputWidth, PosteriorModel model,
    IReadOnlyList<string> names) : IGeneratedQuantities
{
    private readonly double[] _parameters = new double[model.ParameterDimension];

    public IReadOnlyList<string> Names => names;

    public void Compute(ReadOnlySpan<double> position, Span<double> values)
    {
        model.NetworkParameters(position, _parameters);
        forward.Forward(_parameters, inputs, rows, values[..(rows * outputWidth)]);
    }

    public static string[] NamesFor(IReadOnlyList<int> rowIndices, int outputWidth) => outputWidth == 1
        ? rowIndices.Select(i => $"mu[{i}]").ToArray()
        : rowIndices.SelectMany(i => Enumerable.Range(0, outputWidth).Select(k => $"mu[{i},{k}]")).ToArray();
}
