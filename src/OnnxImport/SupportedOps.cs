namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// The default-domain (ai.onnx) operators the importer accepts, in both their attribute and input forms across
/// opsets 9 to 23. <c>Constant</c> is folded into tensors and <c>Dropout</c> is rewritten to <c>Identity</c>,
/// so neither reaches a backend. The comparison and selection ops (<c>Less</c>, <c>Where</c>, <c>Min</c>,
/// <c>Max</c>, <c>Sum</c>, <c>Abs</c>, <c>CastLike</c>, <c>ReduceMax</c>) are the ones ONNX's own function
/// decompositions of the activations use.
/// </summary>
public static class SupportedOps
{
    private static readonly string[] Names =
    [
        "Abs", "Add", "BatchNormalization", "Cast", "CastLike", "Clip", "Concat", "Constant", "Div", "Dropout",
        "Elu", "Erf", "Exp", "Flatten", "Gelu", "Gemm", "HardSigmoid", "Identity", "LeakyRelu", "Less", "Log",
        "LogSoftmax", "MatMul", "Max", "Min", "Mul", "Neg", "Pow", "ReduceMax", "ReduceMean", "ReduceSum", "Relu",
        "Reshape", "Selu", "Sigmoid", "Softmax", "Softplus", "Softsign", "Sqrt", "Squeeze", "Sub", "Sum", "Tanh",
        "Transpose", "Unsqueeze", "Where",
    ];

    /// <summary>Supported op types (case-sensitive, as ONNX spells them).</summary>
    public static IReadOnlySet<string> All { get; } = new SortedSet<string>(Names, StringComparer.Ordinal);

    /// <summary>True when <paramref name="opType"/> in the default domain is supported.</summary>
    public static bool Contains(string opType) => All.Contains(opType);

    /// <summary>The supported ops as one comma-separated line, for error messages.</summary>
    public static string Listing => string.Join(", ", All);
}
