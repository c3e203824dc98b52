namespace Bnn.Onnx.Nuts;

/// <summary>
/// Per-draw sampler diagnostics, with Stan's names and meanings:
/// <c>lp__</c> (log density at the draw, up to a constant, Jacobian included), <c>accept_stat__</c>,
/// <c>stepsize__</c>, <c>treedepth__</c>, <c>n_leapfrog__</c>, <c>divergent__</c>, <c>energy__</c> (the Hamiltonian).
/// </summary>
internal readonly record struct SamplerStats(
    double LogDensity,
    double AcceptStat,
    double StepSize,
    int TreeDepth,
    int LeapfrogSteps,
    bool Divergent,
    double Energy)
{
    /// <summary>The column names, in the order draws files store them.</summary>
    public static readonly IReadOnlyList<string> ColumnNames =
        ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__"];
}
