namespace Bnn.Onnx.Nuts;

/// <summary>What one chain did.</summary>
/// <param name="StepSize">ε after warmup.</param>
/// <param name="InverseMassDiagonal">diag(M⁻¹) after warmup.</param>
/// <param name="InverseMassDense">M⁻¹ row-major for a dense metric, else null.</param>
/// <param name="Ebfmi">Energy Bayesian fraction of missing information over the draws (mean of squared energy
/// differences over the energy variance, as ArviZ and CmdStanPy compute it); NaN with fewer than 2 draws.</param>
internal sealed record ChainResult(
    int Chain,
    double[] InitialPosition,
    double StepSize,
    double[] InverseMassDiagonal,
    double[]? InverseMassDense,
    long GradientEvaluationsWarmup,
    long GradientEvaluationsSampling,
    double WarmupSeconds,
    double SamplingSeconds,
    int WarmupIterationsCompleted,
    int DrawsCompleted,
    int WarmupDivergences,
    int Divergences,
    int TreeDepthSaturations,
    double Ebfmi,
    double MeanAcceptStat);
