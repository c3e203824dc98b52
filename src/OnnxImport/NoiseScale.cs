namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// σ, the noise scale of a normal likelihood: sampled as a parameter block of this name after the network's own
/// (stored as log σ), and so named in draws files, summaries, plots and ensembles. No network parameter may take it.
/// </summary>
internal static class NoiseScale
{
    /// <summary>The parameter block, summary row and draws column of σ.</summary>
    public const string Name = "sigma";
}
