namespace Bnn.Onnx.OnnxImport;

/// <summary>The stages an ONNX operator passes through, from the file to the exported ensemble.</summary>
[Flags]
internal enum OpStage
{
    None = 0,

    /// <summary><c>bnn import</c>: the importer accepts the op.</summary>
    Import = 1,

    /// <summary>The compiled CPU backend (<c>--backend cpu</c>) evaluates it and its gradient.</summary>
    CompiledBackend = 2,

    /// <summary>The TorchSharp backend (<c>--backend torch</c>) evaluates it and its gradient.</summary>
    TorchBackend = 4,

    /// <summary><c>bnn export</c> writes it into the ensemble (every member at once, parameters stacked along a member axis).</summary>
    Ensemble = 8,

    /// <summary><c>bnn export --member-files</c>: each member's file is the source model with that draw's weights, so ONNX Runtime runs the op as written.</summary>
    MemberFiles = 16,

    /// <summary>Both sampling backends.</summary>
    Backends = CompiledBackend | TorchBackend,

    /// <summary>Every stage.</summary>
    All = Import | Backends | Ensemble | MemberFiles,
}

/// <summary>
/// A limit on an operator in some stages: the sentence users read and, where a node's attributes decide it, the
/// check (null when only shapes decide, which the stage itself reports when it builds).
/// </summary>
/// <param name="Stages">The stages the limit applies to.</param>
/// <param name="Text">The limit as one phrase (<c>approximate is none or tanh</c>).</param>
/// <param name="Holds">True when the node meets the limit, given the graph's default-domain opset.</param>
internal sealed record OpCondition(OpStage Stages, string Text, Func<Node, long, bool>? Holds = null);

/// <summary>One operator of the default ONNX domain and the stages that support it.</summary>
/// <param name="Op">The op type as ONNX spells it.</param>
/// <param name="Stages">The stages that support it.</param>
/// <param name="ImportedAs">
/// What the importer turns the op into, when later stages never see it (<c>Constant</c> is folded into a tensor,
/// <c>Dropout</c> becomes <c>Identity</c>); null when the node reaches the backends as written.
/// </param>
/// <param name="Conditions">Limits in some stages.</param>
internal sealed record OpCapability(string Op, OpStage Stages, string? ImportedAs = null, IReadOnlyList<OpCondition>? Conditions = null)
{
    /// <summary>True when every stage in <paramref name="stage"/> supports the op.</summary>
    public bool Supports(OpStage stage) => (Stages & stage) == stage;

    /// <summary>The limits that apply in <paramref name="stage"/>.</summary>
    public IEnumerable<OpCondition> ConditionsFor(OpStage stage) => (Conditions ?? []).Where(c => (c.Stages & stage) != 0);
}

/// <summary>An op the importer takes only as part of an exporter's pattern that it rewrites into ops of the table.</summary>
/// <param name="Op">The op type as ONNX spells it.</param>
/// <param name="Pattern">The patterns, as users name the layer (<c>PyTorch's Softshrink and Hardshrink</c>).</param>
/// <param name="ImportedAs">What the pattern becomes.</param>
internal sealed record OpPattern(string Op, string Pattern, string ImportedAs);

/// <summary>
/// The one table of which ONNX operators each stage supports: the importer, the compiled and TorchSharp backends,
/// the ensemble and the member files read it, and <c>bnn import</c> shows it for a model before anyone samples.
/// Forms follow https://onnx.ai/onnx/operators/ across opsets 9 to 23 (attribute and input forms of axes, bounds and
/// shapes). The comparison and selection ops (<c>Less</c>, <c>Where</c>, <c>Min</c>, <c>Max</c>, <c>Sum</c>,
/// <c>Abs</c>, <c>CastLike</c>, <c>ReduceMax</c>) are the ones ONNX's own function decompositions of the
/// activations use. An op absent from the table is refused by the importer, so no later stage names one.
/// </summary>
internal static class OpCapabilities
{
    private const OpStage Every = OpStage.All;
    private const OpStage NoCompiled = OpStage.All & ~OpStage.CompiledBackend;
    private const OpStage Running = OpStage.Backends | OpStage.Ensemble;

    private static readonly OpCondition GeluApproximation = new(Running, "approximate is none or tanh",
        (node, _) => (node.GetString("approximate") ?? "none") is "none" or "tanh");

    private static readonly OpCondition InferenceMode = new(Running, "inference mode (training_mode = 0)",
        (node, _) => node.GetInt("training_mode", 0) == 0);

    private static readonly OpCondition OneOutput = new(OpStage.Ensemble, "only the normalised output (no running statistics listed)",
        (node, _) => node.Outputs.Skip(1).All(o => o.Length == 0));

    private static readonly OpCondition NotAlongBatch = new(OpStage.CompiledBackend, "not along the batch axis");

    private static readonly OpCondition ConstantShape = new(Running, "the shape or axes are constants");

    private static readonly OpCondition LastAxisBeforeOpset13 = new(OpStage.Ensemble,
        "before opset 13 only over the last axis (the 2-D coercion is not written out)");

    private static readonly OpCondition FloatCast = new(OpStage.CompiledBackend, "casts to a floating type");

    private static readonly OpCondition FlattenAroundBatch = new(OpStage.Ensemble,
        "a value that depends on sampled weights flattens at axis 0 or 1");

    /// <summary>Every supported op, by name.</summary>
    public static IReadOnlyList<OpCapability> All { get; } =
    [
        new("Abs", Every),
        new("Add", Every),
        new("BatchNormalization", Every, Conditions: [InferenceMode, OneOutput]),
        new("Cast", Every, Conditions: [FloatCast]),
        new("Celu", Every),
        new("CastLike", NoCompiled),
        new("Clip", Every, Conditions: [new(OpStage.CompiledBackend, "bounds are constant scalars"),
            new(OpStage.Ensemble, "bounds do not depend on sampled weights")]),
        new("Concat", Every, Conditions: [NotAlongBatch]),
        new("Constant", Every, ImportedAs: "a constant tensor"),
        new("Div", Every),
        new("Dropout", Every, ImportedAs: "Identity", Conditions: [new(OpStage.Import, "the mask output is unused")]),
        new("Elu", Every),
        new("Erf", Every),
        new("Exp", Every),
        new("Flatten", Every, Conditions: [new(OpStage.CompiledBackend, "the batch axis is not mixed with others"), FlattenAroundBatch]),
        new("Gelu", Every, Conditions: [GeluApproximation]),
        new("Gemm", Every),
        new("HardSigmoid", Every),
        new("HardSwish", Every),
        new("Identity", Every),
        new("InstanceNormalization", Every, ImportedAs: "ReduceMean, Sub, Pow, Sqrt, Div over the axes after the channel, Mul by the scale and Add the bias",
            Conditions: [new(OpStage.Import, "the input's rank is known")]),
        new("LayerNormalization", Every, ImportedAs: "ReduceMean, Sub, Pow, Sqrt, Div, Mul by the scale and Add the bias",
            Conditions: [new(OpStage.Import, "a negative axis and only the normalised output used")]),
        new("LeakyRelu", Every),
        new("Less", NoCompiled),
        new("Log", Every),
        new("LogSoftmax", Every, Conditions: [NotAlongBatch, LastAxisBeforeOpset13]),
        new("MatMul", Every),
        new("Max", NoCompiled),
        new("Min", NoCompiled),
        new("Mish", Every, ImportedAs: "Mul(x, Tanh(Softplus(x)))"),
        new("Mul", Every),
        new("Neg", Every),
        new("Pow", Every),
        new("PRelu", Every, ImportedAs: "Relu(x) - slope * Relu(-x)"),
        new("ReduceMax", NoCompiled, Conditions: [ConstantShape]),
        new("ReduceMean", Every, Conditions: [ConstantShape, NotAlongBatch]),
        new("ReduceSum", Every, Conditions: [ConstantShape, NotAlongBatch]),
        new("Relu", Every),
        new("Reshape", Every, Conditions: [ConstantShape]),
        new("Selu", Every),
        new("Shrink", Every),
        new("Sigmoid", Every),
        new("Softmax", Every, Conditions: [NotAlongBatch, LastAxisBeforeOpset13]),
        new("Softplus", Every),
        new("Softsign", Every),
        new("Sqrt", Every),
        new("Squeeze", Every, Conditions: [ConstantShape, new(OpStage.Ensemble, "axes are given for a value computed from the data and sampled weights")]),
        new("Sub", Every),
        new("Sum", NoCompiled),
        new("Tanh", Every),
        new("ThresholdedRelu", Every),
        new("Transpose", Every),
        new("Unsqueeze", Every, Conditions: [ConstantShape]),
        new("Where", NoCompiled),
    ];

    /// <summary>
    /// Ops the importer accepts only inside a pattern it rewrites away (no later stage sees them); anywhere else the
    /// import stops with a message that names the op.
    /// </summary>
    public static IReadOnlyList<OpPattern> ImportPatterns { get; } =
    [
        new("Greater", "PyTorch's Softshrink and Hardshrink (Greater, Less, Where)", "Shrink"),
        new("Or", "PyTorch's Hardshrink (Or of Greater and Less)", "Shrink"),
        new("Shape", "a Reshape target computed from a value's shape whose size is fixed apart from the batch", "a constant Reshape target"),
        new("Gather", "a Reshape target computed from a value's shape whose size is fixed apart from the batch", "a constant Reshape target"),
    ];

    /// <summary>The pattern entry for <paramref name="opType"/>, or null when the op is not taken inside a rewritten pattern.</summary>
    public static OpPattern? FindPattern(string opType) => ImportPatterns.FirstOrDefault(p => p.Op == opType);

    private static readonly Dictionary<string, OpCapability> ByName = All.ToDictionary(c => c.Op, StringComparer.Ordinal);

    private static readonly Dictionary<OpStage, IReadOnlySet<string>> ByStage = new();

    /// <summary>The entry for <paramref name="opType"/> (default domain, case-sensitive), or null when no stage supports it.</summary>
    public static OpCapability? Find(string opType) => ByName.GetValueOrDefault(opType);

    /// <summary>True when <paramref name="opType"/> is supported in every stage of <paramref name="stage"/>.</summary>
    public static bool Supports(string opType, OpStage stage) => Find(opType)?.Supports(stage) == true;

    /// <summary>The ops supported in <paramref name="stage"/>, sorted.</summary>
    public static IReadOnlySet<string> OpsFor(OpStage stage)
    {
        lock (ByStage)
        {
            if (!ByStage.TryGetValue(stage, out var set))
                ByStage[stage] = set = new SortedSet<string>(All.Where(c => c.Supports(stage)).Select(c => c.Op), StringComparer.Ordinal);
            return set;
        }
    }

    /// <summary>The ops of <paramref name="stage"/> as one comma-separated line, for error messages.</summary>
    public static string Listing(OpStage stage) => string.Join(", ", OpsFor(stage));

    /// <summary>
    /// Null when <paramref name="stage"/> supports <paramref name="node"/> as far as its op and attributes tell,
    /// else one line naming the node, the op and the limit. Shapes can still rule a node out when the stage builds.
    /// </summary>
    public static string? Unsupported(Node node, long opset, OpStage stage)
    {
        string where = $"node '{node.Name}' ({node.OpType})";
        if (node.Domain is not ("" or "ai.onnx"))
            return $"node '{node.Name}' ({node.Domain}.{node.OpType}): ops outside the default ONNX domain are not supported";
        var capability = Find(node.OpType);
        if (capability is null || !capability.Supports(stage))
            return $"{where}: not supported by {Describe(stage)} (supported: {Listing(stage)})";
        foreach (var condition in capability.ConditionsFor(stage))
            if (condition.Holds is { } holds && !holds(node, opset))
                return $"{where}: {Describe(stage)} needs {condition.Text}";
        return null;
    }

    /// <summary>The first node of <paramref name="graph"/> that <paramref name="stage"/> does not support, as one line; null when none.</summary>
    public static string? Unsupported(OnnxGraph graph, OpStage stage) =>
        graph.Nodes.Select(n => Unsupported(n, graph.Opset, stage)).FirstOrDefault(reason => reason is not null);

    /// <summary>The stage as users name it (<c>the compiled CPU backend</c>, <c>the ensemble</c>, …).</summary>
    public static string Describe(OpStage stage) => stage switch
    {
        OpStage.Import => "the importer",
        OpStage.CompiledBackend => "the compiled CPU backend",
        OpStage.TorchBackend => "the TorchSharp backend",
        OpStage.Ensemble => "the ensemble",
        OpStage.MemberFiles => "the member files",
        _ => $"stages {stage}",
    };
}
