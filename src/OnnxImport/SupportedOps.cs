namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// The default-domain (ai.onnx) operators the importer accepts: the <see cref="OpStage.Import"/> column of
/// <see cref="OpCapabilities"/>. <c>Constant</c> is folded into tensors and <c>Dropout</c> is rewritten to
/// <c>Identity</c>, so neither reaches a backend.
/// </summary>
internal static class SupportedOps
{
    /// <summary>Supported op types (case-sensitive, as ONNX spells them).</summary>
    public static IReadOnlySet<string> All => OpCapabilities.OpsFor(OpStage.Import);

    /// <summary>True when <paramref name="opType"/> in the default domain is supported.</summary>
    public static bool Contains(string opType) => OpCapabilities.Supports(opType, OpStage.Import);

    /// <summary>The supported ops as one comma-separated line, for error messages.</summary>
    public static string Listing => OpCapabilities.Listing(OpStage.Import);
}
