using Bnn.Onnx.GraphToPotential;
#if BNN_TORCH
using Bnn.Onnx.GraphToPotential.Torch;
#endif

namespace Bnn.Onnx.Cli;

/// <summary>The log-density backends this build offers, in the order <c>--backend auto</c> tries them.</summary>
public static class Backends
{
#if BNN_TORCH
    public static IReadOnlyList<IPotentialBackendFactory> All { get; } = [new CompiledBackend(), new TorchBackend()];
#else
    public static IReadOnlyList<IPotentialBackendFactory> All { get; } = [new CompiledBackend()];
#endif
}
