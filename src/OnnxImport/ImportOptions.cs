namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Limits the importer enforces before it allocates anything, and how it treats a fixed batch dimension.
/// The defaults admit any network small enough to sample with NUTS many times over.
/// </summary>
internal sealed record ImportOptions
{
    public static ImportOptions Default { get; } = new();

    /// <summary>Largest model file (and largest external data file) read, in bytes. Default 2 GiB.</summary>
    public long MaxFileBytes { get; init; } = 2L << 30;

    /// <summary>Most elements in one tensor (initializer, constant, external data). Default 2^27 (1 GiB as double).</summary>
    public long MaxTensorElements { get; init; } = 1L << 27;

    /// <summary>
    /// Most nodes expanded, Constants and function calls included, while model-local functions are inlined.
    /// Default 100 000. Inlining also stops once it has copied eight times the model's size (at least 4 MiB) of
    /// function bodies, so that nested calls cannot turn a small file into gigabytes.
    /// </summary>
    public int MaxNodes { get; init; } = 100_000;

    /// <summary>
    /// Deepest nesting of model-local function calls inlined. Default 16; values above
    /// <see cref="MaxSafeFunctionDepth"/> act as that (inlining recurses, and the stack must not overflow).
    /// </summary>
    public int MaxFunctionDepth { get; init; } = 16;

    /// <summary>The most <see cref="MaxFunctionDepth"/> can raise the nesting limit to.</summary>
    public const int MaxSafeFunctionDepth = 256;

    /// <summary>
    /// When the leading dimension of the data inputs was exported as a fixed number, report it as the symbol
    /// <c>batch</c> and rewrite Reshape shape constants that repeat it to -1 (see <see cref="OnnxGraph.ExportedBatchSize"/>).
    /// Default true.
    /// </summary>
    public bool FreeBatchDimension { get; init; } = true;

    /// <summary>
    /// Accept every default-domain op, not only those in <see cref="OpStage.Import"/>: for a model whose unsupported
    /// ops lie in a frozen part that ONNX Runtime evaluates (see <see cref="HeadCut"/>); the cut then checks that the
    /// sampled part is supported. Default false.
    /// </summary>
    public bool AcceptAnyOp { get; init; }
}
