using System.CommandLine;

namespace Bnn.Onnx.Cli.Sampling;

/// <summary>
/// The <c>--freeze PATTERN</c> and <c>--sample PATTERN</c> options (a Bayesian head on any model; see
/// <see cref="FrozenHead"/> for what they do).
/// </summary>
internal static class FrozenHeadOptions
{
    /// <summary>The two options, for <c>bnn import</c>, <c>bnn sample</c> and every command that samples.</summary>
    public static (Option<string[]> Freeze, Option<string[]> Sample) Create() =>
    (
        new Option<string[]>("--freeze")
        {
            Description = "Hold the weights whose dotted name matches this glob at their trained values, with no prior (repeatable; e.g. 'conv*'). " +
                "The part of the network that depends on no sampled weight is evaluated once by ONNX Runtime; any op it runs may appear there.",
            AllowMultipleArgumentsPerToken = false,
        },
        new Option<string[]>("--sample")
        {
            Description = "Sample only the weights whose dotted name matches this glob (repeatable; e.g. 'fc*'); every other weight is frozen.",
            AllowMultipleArgumentsPerToken = false,
        }
    );

}
