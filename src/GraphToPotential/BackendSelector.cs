using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>The <c>--backend</c> choice.</summary>
internal enum BackendKind
{
    /// <summary>The compiled CPU backend when it covers every op of the graph, TorchSharp otherwise.</summary>
    Auto,

    /// <summary>The compiled CPU backend.</summary>
    Cpu,

    /// <summary>TorchSharp.</summary>
    Torch,
}

/// <summary>
/// Picks a backend for <c>--backend auto|cpu|torch</c>. The caller passes the factories it has (the CLI passes
/// the compiled backend and the TorchSharp one; this assembly does not reference TorchSharp).
/// </summary>
internal static class BackendSelector
{
    public static BackendKind Parse(string text) => text.Trim().ToLowerInvariant() switch
    {
        "auto" => BackendKind.Auto,
        "cpu" or "compiled" => BackendKind.Cpu,
        "torch" or "torchsharp" => BackendKind.Torch,
        _ => throw new ArgumentException($"--backend '{text}': expected auto, cpu or torch"),
    };

    /// <summary>
    /// The factory for <paramref name="kind"/>: by name (<c>cpu</c>, <c>torch</c>) for an explicit choice, else the first of
    /// <paramref name="factories"/> (in the order given: pass cpu first) that covers every op of <paramref name="graph"/>.
    /// Throws a one-line <see cref="NotSupportedException"/> when none does, or <see cref="ArgumentException"/> when the named backend is not available.
    /// An explicit choice is returned even when it does not cover the graph: creating the potential then reports the op.
    /// </summary>
    public static IPotentialBackendFactory Select(BackendKind kind, OnnxGraph graph, IReadOnlyList<IPotentialBackendFactory> factories)
    {
        if (kind != BackendKind.Auto)
        {
            string name = kind == BackendKind.Cpu ? "cpu" : "torch";
            return factories.FirstOrDefault(f => f.Name == name)
                ?? throw new ArgumentException(kind == BackendKind.Torch
                    ? "--backend torch: this build of bnn has no TorchSharp backend (the bnn tool package leaves it out; a build from source has it, and -p:BnnWithoutTorch=false packs a tool with it)"
                    : $"--backend {name}: this build has no {name} backend");
        }

        var reasons = new List<string>();
        foreach (var f in factories)
        {
            string? reason = f.Unsupported(graph);
            if (reason is null) return f;
            reasons.Add($"{f.Name}: {reason}");
        }
        throw new NotSupportedException($"no backend covers this graph ({string.Join("; ", reasons)})");
    }
}
