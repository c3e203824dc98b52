using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Export;

/// <summary>
/// How a run split its model (<see cref="HeadCut"/>), in <c>run.json</c>: the patterns, the frozen part's ops, the
/// feature tensor the sampled head reads, and the sampled parameters. Export and evaluation rebuild the head from it.
/// </summary>
/// <param name="Freeze">The <c>--freeze</c> patterns.</param>
/// <param name="Sample">The <c>--sample</c> patterns.</param>
/// <param name="FrozenOps">The op of every frozen node the feature needs, in graph order (empty: nothing before the head is frozen).</param>
/// <param name="FrozenWeights">The weights held at their trained values, by dotted name.</param>
/// <param name="Feature">The tensor the head reads: a value computed by ONNX Runtime, or the model input.</param>
/// <param name="FeatureShape">The feature's shape after the batch axis.</param>
/// <param name="FeatureType">The feature's element type (<c>float32</c> or <c>float64</c>).</param>
/// <param name="SampledParameters">The parameters the draws hold, by dotted name.</param>
/// <param name="FeatureSeconds">Wall time ONNX Runtime took to compute the features of the training rows.</param>
internal sealed record FrozenPartRecord(
    IReadOnlyList<string> Freeze,
    IReadOnlyList<string> Sample,
    IReadOnlyList<string> FrozenOps,
    IReadOnlyList<string> FrozenWeights,
    string Feature,
    IReadOnlyList<int> FeatureShape,
    string FeatureType,
    IReadOnlyList<string> SampledParameters,
    double FeatureSeconds)
{
    /// <summary>The patterns as a selection.</summary>
    public ParameterSelection Selection => new(Freeze, Sample);

    /// <summary>The feature as the head graph's input: [batch, <see cref="FeatureShape"/>…].</summary>
    public ValueInfo FeatureInput => new(Feature, FeatureType == "float64" ? ElementType.Double : ElementType.Float,
        [Dimension.Symbolic("batch"), .. FeatureShape.Select(d => Dimension.Fixed(d))]);
}
