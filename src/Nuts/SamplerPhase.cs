namespace Bnn.Onnx.Nuts;

/// <summary>Where a chain is.</summary>
public enum SamplerPhase
{
    Warmup,
    Sampling,
    Done,
}
