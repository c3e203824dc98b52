namespace Bnn.Onnx.Nuts;

/// <summary>A run in which nearly every transition diverged (<see cref="SamplingResult.Failure"/>).</summary>
/// <param name="DivergentTransitions">Divergent transitions among <paramref name="Transitions"/>.</param>
/// <param name="Transitions">Post-warmup transitions, or warmup transitions when there were no post-warmup draws.</param>
/// <param name="PostWarmup">Whether the counts are of post-warmup transitions.</param>
/// <param name="StepSizes">Each chain's step size after warmup.</param>
internal sealed record SamplingFailure(long DivergentTransitions, long Transitions, bool PostWarmup, IReadOnlyList<double> StepSizes);
