namespace Bnn.Onnx.Nuts;

/// <summary>
/// Diagnostics of one NUTS transition, with Stan's meanings: <c>accept_stat__</c> (mean Metropolis acceptance
/// probability over the new trajectory states), <c>treedepth__</c>, <c>n_leapfrog__</c>, <c>divergent__</c>
/// (the energy error exceeded the limit or was not finite) and <c>energy__</c> (H at the selected state).
/// </summary>
internal readonly record struct NutsInfo(double AcceptStat, int TreeDepth, int LeapfrogSteps, bool Divergent, double Energy);
