namespace Bnn.Onnx.OnnxImport;

/// <summary>ONNX element types (TensorProto.DataType values) that the importer recognises.</summary>
internal enum ElementType
{
    Undefined = 0,
    Float = 1,
    UInt8 = 2,
    Int8 = 3,
    UInt16 = 4,
    Int16 = 5,
    Int32 = 6,
    Int64 = 7,
    String = 8,
    Bool = 9,
    Float16 = 10,
    Double = 11,
    UInt32 = 12,
    UInt64 = 13,
    BFloat16 = 16,
}

/// <summary>One dimension of a declared shape: a fixed size, a symbolic name (<c>batch</c>), or unknown.</summary>
internal readonly record struct Dimension(long? Value, string? Symbol)
{
    public static Dimension Fixed(long value) => new(value, null);
    public static Dimension Symbolic(string symbol) => new(null, symbol);
    public static Dimension Unknown => new(null, null);

    /// <summary>The size, the symbol, or <c>?</c>.</summary>
    public override string ToString() => Value?.ToString(System.Globalization.CultureInfo.InvariantCulture) ?? Symbol ?? "?";
}

/// <summary>A graph input or output as declared in the file.</summary>
internal sealed record ValueInfo(string Name, ElementType ElementType, IReadOnlyList<Dimension> Shape);

/// <summary>
/// A constant tensor, row-major. Every numeric type is held as double (floating types convert exactly;
/// integers are exact up to 2^53, which covers shapes, axes and class labels).
/// </summary>
internal sealed record Tensor(string Name, ElementType SourceType, int[] Shape, double[] Data)
{
    public int Size => Data.Length;
}

/// <summary>The kinds of node attribute (AttributeProto.AttributeType).</summary>
internal enum AttributeKind { Float, Int, String, Tensor, Floats, Ints, Strings, Graph, Other }

/// <summary>A node attribute, already resolved (function-body attribute references are substituted).</summary>
internal sealed record NodeAttribute(
    string Name,
    AttributeKind Kind,
    double Float = 0,
    long Int = 0,
    string? String = null,
    Tensor? Tensor = null,
    IReadOnlyList<double>? Floats = null,
    IReadOnlyList<long>? Ints = null,
    IReadOnlyList<string>? Strings = null);

/// <summary>
/// One operator application. Inputs and outputs are value names in the graph's single namespace;
/// an empty input name means the optional input is absent.
/// </summary>
internal sealed record Node(
    string Name,
    string OpType,
    string Domain,
    IReadOnlyList<string> Inputs,
    IReadOnlyList<string> Outputs,
    IReadOnlyDictionary<string, NodeAttribute> Attributes)
{
    public long GetInt(string name, long fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Int ? a.Int : fallback;

    public double GetFloat(string name, double fallback) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Float ? a.Float : fallback;

    public IReadOnlyList<long>? GetInts(string name) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.Ints ? a.Ints : null;

    public string? GetString(string name) =>
        Attributes.TryGetValue(name, out var a) && a.Kind == AttributeKind.String ? a.String : null;

    /// <summary>The input at <paramref name="index"/>, or null when absent or empty.</summary>
    public string? InputOrNull(int index) =>
        index < Inputs.Count && Inputs[index].Length > 0 ? Inputs[index] : null;
}

/// <summary>
/// A weight or bias the posterior is placed over. <see cref="Name"/> is the dotted tree name used everywhere
/// (<c>encoder.0.weight</c>, <c>params.Dense_0.kernel</c>, or <c>layer0.weight</c> for opaque ONNX names);
/// <see cref="OnnxName"/> is the value name in the graph, which nodes refer to.
/// </summary>
internal sealed record Parameter(string Name, string OnnxName, int[] Shape, double[] Values)
{
    public int Size => Values.Length;

    /// <summary>Index of the layer (parameterised node, in graph order) that first uses this parameter.</summary>
    public int Layer { get; init; }

    /// <summary>What the parameter does in its layer: a weight (Gemm B, MatMul operand, scale) or a bias.</summary>
    public ParameterRole Role { get; init; }

    /// <summary>How a weight matrix is laid out: PyTorch <c>[out,in]</c> or Flax <c>[in,out]</c>.</summary>
    public WeightLayout Layout { get; init; }

    /// <summary>The ONNX element type the values were stored as (float32, float16, …).</summary>
    public ElementType SourceType { get; init; } = ElementType.Float;
}

/// <summary>What a parameter does in the layer that uses it.</summary>
internal enum ParameterRole { Weight, Bias }

/// <summary>
/// Layout of a weight matrix. <see cref="OutIn"/> is PyTorch's <c>nn.Linear</c> (<c>[out,in]</c>, Gemm transB=1);
/// <see cref="InOut"/> is Flax's <c>Dense</c> kernel (<c>[in,out]</c>, Gemm transB=0 or MatMul).
/// <see cref="NotAMatrix"/> for biases, scales and other vectors.
/// </summary>
internal enum WeightLayout { NotAMatrix, OutIn, InOut }

/// <summary>
/// An imported ONNX model: a topologically sorted node list over one value namespace, with
/// model-local functions inlined and <c>Constant</c> nodes folded into <see cref="Constants"/>.
/// Every node input is either a graph input, a parameter's <see cref="Parameter.OnnxName"/>, a constant,
/// or an output of an earlier node.
/// </summary>
internal sealed class OnnxGraph
{
    public required string Producer { get; init; }
    public required string ProducerVersion { get; init; }
    public required long IrVersion { get; init; }

    /// <summary>Opset version per domain ("" is the default ai.onnx domain).</summary>
    public required IReadOnlyDictionary<string, long> Opsets { get; init; }

    /// <summary>Data inputs (initializers that are also listed as inputs are not among them).</summary>
    public required IReadOnlyList<ValueInfo> Inputs { get; init; }
    public required IReadOnlyList<ValueInfo> Outputs { get; init; }
    public required IReadOnlyList<Node> Nodes { get; init; }

    /// <summary>Parameters in the order the graph first uses them.</summary>
    public required IReadOnlyList<Parameter> Parameters { get; init; }

    /// <summary>Non-parameter tensors (shapes, axes, running statistics, activation constants) by value name.</summary>
    public required IReadOnlyDictionary<string, Tensor> Constants { get; init; }

    /// <summary>Lower-case hex SHA-256 of the model file's bytes.</summary>
    public required string Sha256 { get; init; }

    /// <summary>The default-domain opset version.</summary>
    public long Opset => Opsets.TryGetValue("", out var v) ? v : Opsets.TryGetValue("ai.onnx", out var w) ? w : 0;

    public int TotalParameters => Parameters.Sum(p => p.Size);

    /// <summary>
    /// The batch size baked into the file when the exporter wrote the leading input dimension as a fixed number
    /// (jax2onnx traces with a concrete batch). The importer then reports that dimension as the symbol
    /// <c>batch</c> and rewrites Reshape shape constants that repeat this number to -1, so the graph takes any
    /// number of rows. Null when the file already declared a symbolic batch dimension (or
    /// <see cref="ImportOptions.FreeBatchDimension"/> is off).
    /// </summary>
    public long? ExportedBatchSize { get; init; }

    /// <summary>The path the model was read from.</summary>
    public string SourcePath { get; init; } = "";

    /// <summary>Looks up a parameter by its dotted name or its ONNX value name.</summary>
    public Parameter? FindParameter(string name) =>
        Parameters.FirstOrDefault(p => p.Name == name) ?? Parameters.FirstOrDefault(p => p.OnnxName == name);
}

/// <summary>Names of element types as users of NumPy / JAX / PyTorch write them.</summary>
internal static class ElementTypes
{
    /// <summary><c>float32</c>, <c>float64</c>, <c>float16</c>, <c>bfloat16</c>, <c>int64</c>, <c>bool</c>, …</summary>
    public static string Name(ElementType type) => type switch
    {
        ElementType.Float => "float32",
        ElementType.Double => "float64",
        ElementType.Float16 => "float16",
        ElementType.BFloat16 => "bfloat16",
        ElementType.UInt8 => "uint8",
        ElementType.Int8 => "int8",
        ElementType.UInt16 => "uint16",
        ElementType.Int16 => "int16",
        ElementType.Int32 => "int32",
        ElementType.Int64 => "int64",
        ElementType.UInt32 => "uint32",
        ElementType.UInt64 => "uint64",
        ElementType.Bool => "bool",
        ElementType.String => "string",
        ElementType.Undefined => "undefined",
        _ => OnnxTypeName((int)type),
    };

    /// <summary>True for float32, float64, float16 and bfloat16.</summary>
    public static bool IsFloating(ElementType type) =>
        type is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16;

    /// <summary>The ONNX spelling (<c>FLOAT8E4M3FN</c>, <c>COMPLEX64</c>, …) of a TensorProto.DataType value.</summary>
    public static string OnnxTypeName(int dataType) =>
        Enum.IsDefined(typeof(Protobuf.TensorProto.Types.DataType), dataType)
            ? ((Protobuf.TensorProto.Types.DataType)dataType).ToString().ToUpperInvariant()
            : $"data type {dataType}";
}
