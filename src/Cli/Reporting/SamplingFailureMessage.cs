using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Reporting;

/// <summary>What <c>bnn sample</c> says when a run failed: the divergence count, the adapted step sizes and the options to try.</summary>
internal static class SamplingFailureMessage
{
    public static string Describe(SamplingFailure failure)
    {
        var stepSizes = string.Join(", ", failure.StepSizes.Select(s => s.ToString("G3", CultureInfo.InvariantCulture)));
        return string.Create(CultureInfo.InvariantCulture,
            $"sampling failed: {failure.DivergentTransitions:N0} of {failure.Transitions:N0} {(failure.PostWarmup ? "post-warmup" : "warmup")} transitions diverged ") +
               $"(adapted step sizes {stepSizes}); the sampler could not move from its starting points. " +
               "Try --init onnx (start at the trained weights) or --init uniform, a longer --warmup, a higher --target-accept, " +
               "a smaller --prior-scale, or standardise the data.";
    }
}
