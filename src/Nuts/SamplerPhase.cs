namespace Bnn.Onnx.Nuts;

/// <summary>Where a chain is.</summary>
internal enum SamplerPhase
{
    Warmup,
    Sampling,
    Done,
}
