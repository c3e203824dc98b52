namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>One confidence bin of a reliability diagram.</summary>
/// <param name="Lower">The bin holds rows with top-class confidence c in (Lower, Upper] (the first bin also c = 0).</param>
/// <param name="Upper">See <paramref name="Lower"/>.</param>
/// <param name="Count">Rows in the bin.</param>
/// <param name="Confidence">Their mean top-class confidence (NaN when the bin is empty).</param>
/// <param name="Accuracy">The fraction of them whose top class is the label (NaN when the bin is empty).</param>
internal sealed record ReliabilityBin(double Lower, double Upper, int Count, double Confidence, double Accuracy);
