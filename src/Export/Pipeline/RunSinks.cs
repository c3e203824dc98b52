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

/// <summary>
/// With the output layer integrated out (<see cref="PosteriorModel.Integrated"/>), the full draw at every saved
/// transition: the output layer's weights drawn from their exact conditional given the sampled hidden parameters and σ
/// (<see cref="CollapsedOutputLayer.DrawWeights"/>, on the chain's own stream), every parameter in the full layout's
/// order (<see cref="IntegratedOutput.Full"/>, constrained), then the predictive means of the full network at those
/// weights. One instance per chain: it owns its compiled forward programs.
/// </summary>
/// <param name="hidden">The cut graph (final hidden activations), or null when the output layer reads the data input itself.</param>
/// <param name="network">The full network, for the predictive means (null when there are none).</param>
internal sealed class IntegratedOutputDraws(PosteriorModel model, IGraphFunction? hidden, IGraphFunction? network,
    double[] predictiveInputs, int predictiveRows, IReadOnlyList<string> predictiveNames) : IGeneratedQuantities
{
    private readonly IntegratedOutput _integrated = model.Integrated!;
    private readonly CollapsedOutputLayer _layer = model.Integrated!.CreateLayer(model.Data.Targets);
    private readonly double[] _hiddenParameters = new double[model.ParameterDimension];
    private readonly double[] _phi = new double[model.Data.Rows * model.Integrated!.HiddenWidth];
    private readonly double[] _weights = new double[model.Integrated!.HiddenWidth + 1];
    private readonly double[] _fullPosition = new double[model.Integrated!.Full.Layout.Dimension];
    private readonly double[] _fullParameters = new double[model.Integrated!.Full.ParameterDimension];

    /// <summary>Values per draw that belong to the draws file (the full layout); the predictive means follow.</summary>
    public int ParameterCount => _fullPosition.Length;

    public IReadOnlyList<string> Names { get; } = [.. model.Integrated!.Full.Layout.ScalarNames(), .. predictiveNames];

    public void Compute(ReadOnlySpan<double> position, Span<double> values) =>
        throw new InvalidOperationException("the output layer's weights are drawn: call Compute with the chain's random stream");

    public void Compute(ReadOnlySpan<double> position, Rng rng, Span<double> values)
    {
        model.NetworkParameters(position, _hiddenParameters);
        if (hidden is null) model.Data.Features.AsSpan(0, _phi.Length).CopyTo(_phi);
        else hidden.Forward(_hiddenParameters, model.Data.Features, model.Data.Rows, _phi);
        if (!_layer.DrawWeights(_phi, model.LogSigma(position), rng, _weights))
            throw new InvalidOperationException("the output layer's conditional is not positive definite at a saved draw");
        _integrated.Expand(position, _weights, _fullPosition);
        var full = _integrated.Full;
        full.Layout.Constrain(_fullPosition, values[..ParameterCount]);
        if (network is null || predictiveRows == 0) return;
        full.NetworkParameters(_fullPosition, _fullParameters);
        network.Forward(_fullParameters, predictiveInputs, predictiveRows, values.Slice(ParameterCount, predictiveNames.Count));
    }
}

/// <summary>
/// Puts the full draw of <see cref="IntegratedOutputDraws"/> where the sampled one would go: the sampler's columns
/// from <see cref="Write"/> and the parameters and predictive means from <see cref="WriteGenerated"/>, which the
/// driver calls next for the same (chain, draw) under the same lock.
/// </summary>
internal sealed class IntegratedOutputSink(IDrawSink inner, int parameterCount) : IDrawSink, IGeneratedQuantitySink
{
    private SamplerStats _stats;

    public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained) => _stats = stats;

    public void WriteGenerated(int chain, int draw, ReadOnlySpan<double> values)
    {
        inner.Write(chain, draw, _stats, values[..parameterCount]);
        if (inner is IGeneratedQuantitySink g && values.Length > parameterCount) g.WriteGenerated(chain, draw, values[parameterCount..]);
    }

    public void Complete(bool interrupted) => inner.Complete(interrupted);
}
