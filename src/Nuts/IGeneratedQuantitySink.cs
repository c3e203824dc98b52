namespace Bnn.Onnx.Nuts;

/// <summary>
/// Optionally implemented by an <see cref="IDrawSink"/> that also stores generated quantities; the driver calls
/// <see cref="WriteGenerated"/> right after <see cref="IDrawSink.Write"/> for the same (chain, draw).
/// </summary>
internal interface IGeneratedQuantitySink
{
    void WriteGenerated(int chain, int draw, ReadOnlySpan<double> values);
}
