namespace Bnn.Onnx.Nuts;

/// <summary>Which Euclidean metric (mass matrix M) the sampler adapts and uses.</summary>
internal enum MetricKind
{
    /// <summary>Diagonal M⁻¹ (Stan's <c>diag_e</c>, the default).</summary>
    Diagonal,

    /// <summary>Dense M⁻¹ (Stan's <c>dense_e</c>).</summary>
    Dense,

    /// <summary>
    /// Low-rank plus diagonal M⁻¹ (<see cref="LowRankMetric"/>) learnt from draws and gradients by minimising the
    /// Fisher divergence (nutpie's <c>low_rank</c> adaptation, <see cref="LowRankFisherEstimator"/>).
    /// </summary>
    LowRank,
}
