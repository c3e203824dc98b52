using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Watches a run while it samples: receives each chain's progress and runs the sampling call itself, so a display
/// (the CLI's live table) can refresh around it.
/// </summary>
internal interface ISamplingMonitor : IProgress<ChainProgress>
{
    /// <summary>Runs <paramref name="sampling"/> and returns its result.</summary>
    T Run<T>(Func<T> sampling);
}

/// <summary>A monitor that forwards progress to an optional <see cref="IProgress{T}"/> and runs the sampling as it is.</summary>
internal sealed class SilentMonitor(IProgress<ChainProgress>? progress = null) : ISamplingMonitor
{
    public static SilentMonitor Instance { get; } = new();

    public void Report(ChainProgress value) => progress?.Report(value);

    public T Run<T>(Func<T> sampling) => sampling();
}
