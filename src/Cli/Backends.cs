using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;

namespace Bnn.Onnx.Cli;

/// <summary>The log-density backends this build offers, in the order <c>--backend auto</c> tries them.</summary>
public static class Backends
{
    public static IReadOnlyList<IPotentialBackendFactory> All { get; } = [new CompiledBackend(), new TorchBackend()];
}
