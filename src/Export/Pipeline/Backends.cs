using System.Reflection;
using Bnn.Onnx.GraphToPotential;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// The log-density backends present, in the order <c>--backend auto</c> tries them: the compiled CPU engine, which
/// ships with the library, then the TorchSharp backend when its assembly is present. The library does not reference
/// TorchSharp; the backend is found by assembly and type name (<see cref="TorchAssembly"/>), so an application (or
/// the <c>bnn</c> tool, which references it) gets it by referencing <c>Bnn.Onnx.GraphToPotential.Torch</c>, and a
/// build without it has the compiled engine only. This is the one place that knows how the backend is found.
/// </summary>
internal static class Backends
{
    /// <summary>The TorchSharp backend's assembly.</summary>
    public const string TorchAssembly = "Bnn.Onnx.GraphToPotential.Torch";

    /// <summary>The TorchSharp backend's factory type, in <see cref="TorchAssembly"/>.</summary>
    public const string TorchFactoryType = "Bnn.Onnx.GraphToPotential.Torch.TorchBackend";

    private static readonly Lazy<IReadOnlyList<IPotentialBackendFactory>> _all = new(Discover);

    /// <summary>The backends present: <see cref="CompiledBackend"/>, then the TorchSharp backend when it loads.</summary>
    public static IReadOnlyList<IPotentialBackendFactory> All => _all.Value;

    private static IReadOnlyList<IPotentialBackendFactory> Discover()
    {
        var torch = LoadTorch();
        return torch is null ? [new CompiledBackend()] : [new CompiledBackend(), torch];
    }

    private static IPotentialBackendFactory? LoadTorch()
    {
        Assembly assembly;
        try
        {
            assembly = Assembly.Load(new AssemblyName(TorchAssembly));
        }
        catch (Exception ex) when (ex is FileNotFoundException or FileLoadException or BadImageFormatException)
        {
            return null; // not part of this build
        }
        var type = assembly.GetType(TorchFactoryType, throwOnError: true)!;
        return (IPotentialBackendFactory)Activator.CreateInstance(type, nonPublic: true)!;
    }
}
