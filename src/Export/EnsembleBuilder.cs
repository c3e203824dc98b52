using System.Globalization;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.Export;

/// <summary>The observation model the network's output parameterises.</summary>
internal enum EnsembleLikelihood
{
    /// <summary>y ~ Normal(f(x), σ): the output is the mean.</summary>
    Normal,

    /// <summary>y ~ Bernoulli(p): the output is a logit, or p itself when the graph ends in Sigmoid.</summary>
    Bernoulli,

    /// <summary>y ~ Categorical(p): the output holds logits (last axis), or p when the graph ends in Softmax.</summary>
    Categorical,
}

/// <summary>Settings of <see cref="EnsembleBuilder.Build"/>.</summary>
/// <param name="Likelihood">How the output is read (mean, logit, logits).</param>
/// <param name="ElementType">Float or Double: the type of the weights and of the computation.</param>
/// <param name="FixedSigma">σ of a normal likelihood when the layout holds no <c>sigma</c> block.</param>
/// <param name="Metadata">Extra <c>metadata_props</c> (seed, thinning, …), written after the builder's own.</param>
internal sealed record EnsembleOptions(
    EnsembleLikelihood Likelihood,
    ElementType ElementType = ElementType.Float,
    double? FixedSigma = null,
    IReadOnlyDictionary<string, string>? Metadata = null);

/// <summary>
/// Builds ONE ONNX graph that evaluates every posterior member at once: each parameter is stacked along a leading
/// member axis S and every layer runs as a batched MatMul / broadcast op (feature-major, [S,out,in] × [S,in,N]), so one session
/// and one kernel per layer serve all members.
/// <para>
/// Outputs: <c>members</c> [S, batch, …] (the mean for <see cref="EnsembleLikelihood.Normal"/>, probabilities
/// otherwise), <c>mean</c> [batch, …] = E_s, and <c>std</c> [batch, …]: for Normal the predictive standard
/// deviation with noise, sqrt(Var_s[μ_s] + E_s[σ_s²]) (population variance over the S members, so it is the exact
/// standard deviation of the equally weighted mixture), otherwise the standard deviation of the probabilities.
/// The per-member σ is stored as the initializer <see cref="SigmaInitializer"/> [S, 1, …, 1].
/// </para>
/// <para>Written as opset 17, IR version 8. Supported: the <see cref="OpStage.Ensemble"/> column of
/// <see cref="OpCapabilities"/> (see <see cref="SupportedOps"/>); anything else raises
/// <see cref="NotSupportedException"/> naming the operator and node.</para>
/// </summary>
internal static class EnsembleBuilder
{
    public const int Opset = 17;
    public const long IrVersion = 8;
    public const string MembersOutput = "members";
    public const string MeanOutput = "mean";
    public const string StdOutput = "std";
    public const string SigmaInitializer = "bnn_member_sigma";

    /// <summary>Metadata key of the likelihood the members' outputs parameterise (read back by <see cref="EnsembleSession"/>).</summary>
    public const string LikelihoodKey = "bnn.likelihood";

    /// <summary>Metadata key of the member count S.</summary>
    public const string MembersKey = "bnn.members";

    /// <summary>Elementwise in their first input (Clip's bounds are scalars): shape and layout pass through.</summary>
    private static readonly HashSet<string> Unary =
    [
        "Relu", "Sigmoid", "Tanh", "Softplus", "Softsign", "Elu", "Selu", "LeakyRelu", "HardSigmoid", "HardSwish", "Celu", "Shrink", "ThresholdedRelu", "Exp", "Log", "Abs",
        "Neg", "Sqrt", "Erf", "Clip", "Cast",
    ];

    /// <summary>Numpy-broadcasting binary operators.</summary>
    private static readonly HashSet<string> Binary = ["Add", "Sub", "Mul", "Div", "Pow", "Less"];

    /// <summary>Numpy-broadcasting operators of any number of inputs, written pairwise.</summary>
    private static readonly HashSet<string> Variadic = ["Sum", "Max", "Min"];

    /// <summary>Operators whose form (axes or bounds as attribute or input, default axis) depends on the opset: always rewritten, never copied.</summary>
    private static readonly HashSet<string> OpsetForms =
        ["Clip", "Softmax", "LogSoftmax", "Squeeze", "Unsqueeze", "ReduceSum", "ReduceMean", "ReduceMax"];

    /// <summary>The operators the builder rewrites: the <see cref="OpStage.Ensemble"/> column of <see cref="OpCapabilities"/>.</summary>
    public static IReadOnlySet<string> SupportedOps => OpCapabilities.OpsFor(OpStage.Ensemble);

    /// <summary>
    /// Builds the ensemble for <paramref name="members"/> (constrained draws in <paramref name="layout"/> order).
    /// Parameters of <paramref name="graph"/> are matched to layout blocks by <see cref="ParameterBlock.Source"/>;
    /// parameters the layout does not hold keep their trained values.
    /// </summary>
    public static ModelProto Build(OnnxGraph graph, ParameterLayout layout, IReadOnlyList<double[]> members, EnsembleOptions options)
    {
        if (members.Count == 0) throw new ArgumentException("the ensemble needs at least one member");
        foreach (var m in members)
            if (m.Length != layout.Dimension)
                throw new ArgumentException($"a member has {m.Length} values, the layout has {layout.Dimension}");
        if (options.ElementType is not (ElementType.Float or ElementType.Double))
            throw new ArgumentException($"ensemble element type must be float or double, not {options.ElementType}");
        if (graph.Outputs.Count == 0) throw new InvalidDataException("the model has no outputs");

        var writer = new GraphWriter(graph, layout, members, options);
        return writer.Build();
    }

    /// <summary>
    /// Null when <paramref name="graph"/> can be written as an ensemble, else one line naming the node: the
    /// <see cref="OpCapabilities"/> verdict on every node, then a one-member ensemble at the file's own weights is
    /// built, which finds what only shapes rule out.
    /// </summary>
    public static string? Unsupported(OnnxGraph graph)
    {
        if (OpCapabilities.Unsupported(graph, OpStage.Ensemble) is string reason) return reason;
        var layout = ParameterLayout.FromShapes(graph.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName)));
        var member = graph.Parameters.SelectMany(p => p.Values).ToArray();
        try
        {
            Build(graph, layout, [member], new EnsembleOptions(EnsembleLikelihood.Normal, FixedSigma: 1));
            return null;
        }
        catch (Exception e) when (e is NotSupportedException or InvalidDataException or ArgumentException)
        {
            return e.Message;
        }
    }

    /// <summary>
    /// A value of the rewritten graph: its name, whether it carries the member axis, and its rank without it.
    /// <see cref="Transposed"/> marks a stacked rank-2 value held feature-major, [S, features, batch], instead of
    /// [S, batch, features]: layers then run as [S,out,in] × [S,in,batch] and a bias broadcasts along the contiguous
    /// batch axis, which ONNX Runtime does far faster than along a short feature axis. Values return to the source
    /// layout (<c>Materialize</c>) before any operator that is not elementwise or a matrix product, and at the output.
    /// <see cref="Shape"/> is the per-member shape when it is known whatever the batch (parameters, constants and what
    /// Transpose, Reshape, Flatten, Squeeze, Unsqueeze, Concat and elementwise operators make of them), so a weight
    /// reshaped on its way to a layer is reshaped per member; null otherwise.
    /// </summary>
    private readonly record struct Value(string Name, bool Stacked, int Rank, bool Transposed = false, int[]? Shape = null);

    private sealed class GraphWriter
    {
        private readonly OnnxGraph _graph;
        private readonly ParameterLayout _layout;
        private readonly IReadOnlyList<double[]> _members;
        private readonly EnsembleOptions _options;
        private readonly ElementType _type;
        private readonly GraphProto _out = new() { Name = "bnn_ensemble" };
        private readonly Dictionary<string, Value> _values = new();
        private readonly Dictionary<string, Parameter> _parameters;
        private readonly Dictionary<string, ParameterBlock> _blocks;
        private readonly HashSet<string> _emitted = new();
        private readonly Dictionary<string, ParameterBlock> _stackedBlock = new(); // stacked initializer -> its block
        private readonly Dictionary<string, (ElementType Type, int[] Shape, double[] Data)> _constant = new(); // unstacked initializer -> its values
        private readonly Dictionary<string, string> _materialized = new(); // feature-major value -> its batch-major copy
        private readonly Dictionary<string, string> _transposeOf = new(); // stacked rank-2 Transpose output -> its input
        private readonly Dictionary<string, string> _featureMajor = new(); // computed value -> its feature-major copy
        private int _counter;

        public GraphWriter(OnnxGraph graph, ParameterLayout layout, IReadOnlyList<double[]> members, EnsembleOptions options)
        {
            _graph = graph;
            _layout = layout;
            _members = members;
            _options = options;
            _type = options.ElementType;
            _parameters = graph.Parameters.ToDictionary(p => p.OnnxName);
            _blocks = layout.Blocks.Where(b => b.Source is not null).ToDictionary(b => b.Source!);
            foreach (var b in _blocks.Values)
            {
                if (!_parameters.TryGetValue(b.Source!, out var p))
                    throw new ArgumentException($"parameter '{b.Name}' (ONNX '{b.Source}') is not in the model");
                if (p.Size != b.Size)
                    throw new ArgumentException($"parameter '{b.Name}' has {b.Size} values in the draws but {p.Size} in the model");
            }
        }

        private int S => _members.Count;

        public ModelProto Build()
        {
            foreach (var input in _graph.Inputs)
            {
                _out.Input.Add(ValueInfo(input.Name, input.ElementType, input.Shape));
                string name = input.Name;
                if (input.ElementType is ElementType.Float or ElementType.Double or ElementType.Float16 && input.ElementType != _type)
                    name = Emit("Cast", [name], [Attr("to", (long)_type)]);
                _values[input.Name] = new Value(name, false, input.Shape.Count);
            }

            foreach (var node in _graph.Nodes)
            {
                Rewrite(node);
            }

            var source = _graph.Outputs[0];
            var output = Materialize(Get(source.Name, null));
            if (!output.Stacked)
                throw new NotSupportedException($"output '{source.Name}' does not depend on any sampled parameter");
            AddOutputs(source, output);
            PruneUnusedInitializers();

            var model = new ModelProto
            {
                IrVersion = IrVersion,
                ProducerName = "bnn",
                ProducerVersion = typeof(EnsembleBuilder).Assembly.GetName().Version?.ToString() ?? "0",
                Graph = _out,
                DocString = $"Posterior ensemble of {S} members over '{_graph.Producer}' model {_graph.Sha256}",
            };
            model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = Opset });
            AddMetadata(model, "bnn.source_sha256", _graph.Sha256);
            AddMetadata(model, MembersKey, S.ToString(CultureInfo.InvariantCulture));
            AddMetadata(model, LikelihoodKey, _options.Likelihood.ToString().ToLowerInvariant());
            AddMetadata(model, "bnn.source_output", source.Name);
            if (_options.Metadata is not null)
                foreach (var (k, v) in _options.Metadata) AddMetadata(model, k, v);
            return model;
        }

        /// <summary>
        /// Drops nodes whose outputs nothing reads (e.g. a Transpose of a weight whose untransposed form a
        /// feature-major product used instead), then initializers no node reads (a weight used only pre-transposed).
        /// </summary>
        private void PruneUnusedInitializers()
        {
            var outputs = _out.Output.Select(o => o.Name).ToHashSet();
            for (bool removed = true; removed;)
            {
                var read = _out.Node.SelectMany(n => n.Input).Concat(outputs).ToHashSet();
                var dead = _out.Node.Where(n => !n.Output.Any(read.Contains)).ToList();
                foreach (var n in dead) _out.Node.Remove(n);
                removed = dead.Count > 0;
            }

            var used = _out.Node.SelectMany(n => n.Input).ToHashSet();
            var unused = _out.Initializer.Where(t => !used.Contains(t.Name)).ToList();
            foreach (var t in unused) _out.Initializer.Remove(t);
        }

        private static void AddMetadata(ModelProto model, string key, string value)
        {
            var existing = model.MetadataProps.FirstOrDefault(e => e.Key == key);
            if (existing is not null) existing.Value = value;
            else model.MetadataProps.Add(new StringStringEntryProto { Key = key, Value = value });
        }

        private void AddOutputs(ValueInfo source, Value output)
        {
            string members = output.Name;
            // Members are probabilities: the graph's own head (the rule sampling used) is kept, else one is added.
            var reading = _options.Likelihood switch
            {
                EnsembleLikelihood.Bernoulli => OutputReading.Logit,
                EnsembleLikelihood.Categorical => OutputReading.ClassLogits,
                _ => OutputReading.Value,
            };
            var (head, _) = OutputHeads.Detect(_graph, reading);
            switch (_options.Likelihood)
            {
                case EnsembleLikelihood.Bernoulli when head != OutputHead.Sigmoid:
                    members = Emit("Sigmoid", [members]);
                    break;
                case EnsembleLikelihood.Categorical when head == OutputHead.LogSoftmax:
                    members = Emit("Exp", [members]);
                    break;
                case EnsembleLikelihood.Categorical when head != OutputHead.Softmax:
                    members = Emit("Softmax", [members], [Attr("axis", -1L)]);
                    break;
            }
            _out.Node.Add(Node("Identity", [members], [MembersOutput], []));

            var mean = Emit("ReduceMean", [MembersOutput], [Attr("axes", new long[] { 0 }), Attr("keepdims", 0L)], MeanOutput);
            var diff = Emit("Sub", [MembersOutput, mean]);
            var variance = Emit("ReduceMean", [Emit("Mul", [diff, diff])], [Attr("axes", new long[] { 0 }), Attr("keepdims", 0L)]);
            if (_options.Likelihood == EnsembleLikelihood.Normal)
            {
                var sigma = SigmaValues(output.Rank);
                var noise = Emit("ReduceMean", [Emit("Mul", [sigma, sigma])], [Attr("axes", new long[] { 0 }), Attr("keepdims", 0L)]);
                variance = Emit("Add", [variance, noise]);
            }
            Emit("Sqrt", [variance], [], StdOutput);

            var dims = source.Shape;
            _out.Output.Add(ValueInfo(MembersOutput, _type, [Dimension.Fixed(S), .. dims], output.Rank >= 0));
            _out.Output.Add(ValueInfo(MeanOutput, _type, dims, output.Rank >= 0));
            _out.Output.Add(ValueInfo(StdOutput, _type, dims, output.Rank >= 0));
        }

        /// <summary>σ of each member as an initializer [S, 1, …, 1] (or [S, 1, …, k] for a per-output σ).</summary>
        private string SigmaValues(int rank)
        {
            if (rank < 1) throw new NotSupportedException("the output rank is unknown; cannot add the noise term");
            var block = _layout.Find(NoiseScale.Name);
            double[] values;
            int k;
            if (block is not null)
            {
                k = block.Size;
                values = new double[S * k];
                for (int s = 0; s < S; s++) _members[s].AsSpan(block.Offset, k).CopyTo(values.AsSpan(s * k, k));
            }
            else if (_options.FixedSigma is double fixedSigma)
            {
                k = 1;
                values = Enumerable.Repeat(fixedSigma, S).ToArray();
            }
            else
            {
                throw new ArgumentException("a normal likelihood needs σ: the draws hold no 'sigma' and no fixed σ was given");
            }
            var dims = new long[rank + 1];
            Array.Fill(dims, 1L);
            dims[0] = S;
            dims[^1] = k == 1 ? 1 : k;
            _out.Initializer.Add(OnnxTensors.Create(SigmaInitializer, _type, dims, values));
            return SigmaInitializer;
        }

        private void Rewrite(Node node)
        {
            string where = $"{node.OpType} node '{node.Name}'";
            if (OpCapabilities.Unsupported(node, _graph.Opset, OpStage.Ensemble) is string reason)
                throw new NotSupportedException(reason);
            string op = node.OpType;

            if (op is "Identity" or "Dropout")
            {
                _values[node.Outputs[0]] = Get(node.Inputs[0], where);
                return;
            }

            var inputs = node.Inputs.Select((n, i) => n.Length == 0 ? (Value?)null : Get(n, where)).ToArray();
            bool stacked = inputs.Any(v => v is { Stacked: true });
            // Only elementwise operators, matrix products and Concat take feature-major values; everything else sees the source layout.
            if (!(Unary.Contains(op) || Binary.Contains(op) || Variadic.Contains(op) || op is "MatMul" or "Gemm" or "Gelu" or "Where" or "CastLike" or "Concat"))
                inputs = inputs.Select(v => v is Value x ? Materialize(x) : (Value?)null).ToArray();

            if (Unary.Contains(op))
            {
                // Elementwise in the first input; Clip's min/max are scalars, which broadcast against any rank.
                if (stacked && inputs.Skip(1).Any(v => v is { Stacked: true }))
                    throw new NotSupportedException($"{where}: sampled bounds are not supported");
                var x0 = inputs[0]!.Value;
                string y = UnaryOp(node, inputs.Select(v => v?.Name ?? "").ToArray(), where);
                Set(node, y, x0.Stacked, x0.Rank, x0.Transposed, x0.Shape);
                return;
            }

            if (!stacked && !OpsetForms.Contains(op) && op is not ("Gelu" or "BatchNormalization"))
            {
                // Member-independent: copy the node as is (its form is the same at opset 17).
                var outs = node.Outputs.Select(_ => Fresh(op)).ToArray();
                _out.Node.Add(Node(op, inputs.Select(v => v?.Name ?? "").ToArray(), outs, node.Attributes.Values.Select(ToProto)));
                for (int i = 0; i < outs.Length; i++)
                    _values[node.Outputs[i]] = new Value(outs[i], false, i == 0 ? OutputRank(node, inputs) : -1);
                return;
            }

            switch (op)
            {
                case var _ when Binary.Contains(op):
                {
                    if (inputs.Length != 2) throw new NotSupportedException($"{where}: only two inputs are supported");
                    _values[node.Outputs[0]] = Elementwise(op, inputs[0]!.Value, inputs[1]!.Value, where);
                    return;
                }
                case var _ when Variadic.Contains(op):
                {
                    // Sum, Max and Min of any number of inputs, pairwise (numpy broadcasting is associative).
                    string pairwise = op == "Sum" ? "Add" : op;
                    var y = inputs[0]!.Value;
                    foreach (var next in inputs.Skip(1)) y = Elementwise(pairwise, y, next!.Value, where);
                    _values[node.Outputs[0]] = y;
                    return;
                }
                case "Where":
                {
                    _values[node.Outputs[0]] = Select(inputs[0]!.Value, inputs[1]!.Value, inputs[2]!.Value, where);
                    return;
                }
                case "CastLike":
                {
                    // The output has the first input's shape and layout and the second's element type.
                    var x = inputs[0]!.Value;
                    var target = inputs[1]!.Value;
                    Set(node, Emit("CastLike", [x.Name, target.Name]), x.Stacked, x.Rank, x.Transposed, x.Shape);
                    return;
                }
                case "MatMul":
                {
                    var a = inputs[0]!.Value;
                    var b = inputs[1]!.Value;
                    if (FeatureMajorProduct(a, b))
                    {
                        // yᵀ = bᵀ · aᵀ: [S,out,in] × [S or 1, in, batch]
                        _values[node.Outputs[0]] = new Value(Emit("MatMul", [FeatureMajorOperand(b), FeatureMajorOperand(a)]), true, 2, true);
                        return;
                    }
                    Set(node, MatMul(Materialize(a), Materialize(b), where, out int rank), true, rank);
                    return;
                }
                case "Gemm":
                {
                    var a = inputs[0]!.Value;
                    bool transA = node.GetInt("transA", 0) != 0, transB = node.GetInt("transB", 0) != 0;
                    Value y;
                    if (!transA && FeatureMajorProduct(a, inputs[1]!.Value))
                    {
                        // (A·B')ᵀ = B'ᵀ · Aᵀ, and B'ᵀ is B itself when transB = 1.
                        y = new Value(Emit("MatMul", [transB ? inputs[1]!.Value.Name : FeatureMajorOperand(inputs[1]!.Value), FeatureMajorOperand(a)]), true, 2, true);
                    }
                    else
                    {
                        a = Materialize(a);
                        if (transA) a = Transpose(a, where);
                        var b = transB ? TransposedWeight(node.Inputs[1], Materialize(inputs[1]!.Value), where) : Materialize(inputs[1]!.Value);
                        y = new Value(MatMul(a, b, where, out _), true, 2);
                    }
                    double alpha = node.GetFloat("alpha", 1.0), beta = node.GetFloat("beta", 1.0);
                    if (alpha != 1.0) y = Elementwise("Mul", y, Scalar(alpha), where);
                    if (inputs.Length > 2 && inputs[2] is Value c)
                    {
                        if (beta != 1.0) c = Elementwise("Mul", c, Scalar(beta), where);
                        y = Elementwise("Add", y, c, where);
                    }
                    _values[node.Outputs[0]] = y;
                    return;
                }
                case "Concat":
                {
                    _values[node.Outputs[0]] = Concat(node, inputs.Select(v => v!.Value).ToArray(), where);
                    return;
                }
                case "Softmax" or "LogSoftmax":
                {
                    var x = inputs[0]!.Value;
                    long axis = node.GetInt("axis", _graph.Opset >= 13 ? -1 : 1);
                    if (x.Rank < 0) throw new NotSupportedException($"{where}: the input rank must be known");
                    if (axis < 0) axis += x.Rank;
                    // Before opset 13 the input is coerced to 2-D at the axis; that equals a softmax over one axis only for the last.
                    if (_graph.Opset < 13 && axis != x.Rank - 1)
                        throw new NotSupportedException($"{where}: before opset 13 only the last axis is supported (axis {axis}, rank {x.Rank})");
                    Set(node, Emit(op, [x.Name], [Attr("axis", axis + (x.Stacked ? 1 : 0))]), x.Stacked, x.Rank);
                    return;
                }
                case "ReduceSum" or "ReduceMean" or "ReduceMax":
                {
                    _values[node.Outputs[0]] = Reduce(node, inputs, where);
                    return;
                }
                case "Gelu":
                {
                    // Gelu is opset 20: written out. exact: x·Φ(x) = 0.5·x·(1 + erf(x/√2)); tanh: 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
                    var x = inputs[0]!.Value;
                    string inner;
                    if (node.GetString("approximate") == "tanh")
                    {
                        var cube = Emit("Mul", [x.Name, Emit("Mul", [x.Name, x.Name])]);
                        var poly = Emit("Add", [x.Name, Emit("Mul", [cube, Scalar(0.044715).Name])]);
                        inner = Emit("Tanh", [Emit("Mul", [poly, Scalar(Math.Sqrt(2 / Math.PI)).Name])]);
                    }
                    else
                    {
                        inner = Erf(Emit("Mul", [x.Name, Scalar(1 / Math.Sqrt(2)).Name]));
                    }
                    var half = Emit("Mul", [x.Name, Scalar(0.5).Name]);
                    Set(node, Emit("Mul", [half, Emit("Add", [inner, Scalar(1).Name])]), x.Stacked, x.Rank, x.Transposed, x.Shape);
                    return;
                }
                case "Flatten":
                {
                    var x = inputs[0]!.Value;
                    long axis = node.GetInt("axis", 1);
                    if (axis < 0 && x.Rank >= 0) axis += x.Rank;
                    if (x.Shape is int[] known)
                    {
                        // A tensor of known shape (a weight on its way to a layer): [S, ∏ dims before axis, ∏ dims from axis].
                        int outer = known.Take((int)axis).Aggregate(1, (p, d) => p * d);
                        int inner = known.Skip((int)axis).Aggregate(1, (p, d) => p * d);
                        Set(node, Emit("Reshape", [x.Name, Int64Constant([0, outer, inner])]), true, 2, shape: [outer, inner]);
                        return;
                    }
                    long[] shape = axis switch
                    {
                        0 => [0, 1, -1],
                        1 => [0, 0, -1],
                        _ => throw new NotSupportedException($"{where}: Flatten with axis {axis} is supported only around the batch axis (0 or 1)"),
                    };
                    Set(node, Emit("Reshape", [x.Name, Int64Constant(shape)]), true, 2);
                    return;
                }
                case "Reshape":
                {
                    var x = inputs[0]!.Value;
                    var shape = ConstantInts(node.Inputs[1], where);
                    if (node.GetInt("allowzero", 0) != 0 && shape.Contains(0))
                        throw new NotSupportedException($"{where}: allowzero with a zero dimension is not supported");
                    Set(node, Emit("Reshape", [x.Name, Int64Constant([0, .. shape])]), true, shape.Length, shape: ReshapedShape(x.Shape, shape));
                    return;
                }
                case "Transpose":
                {
                    var x = inputs[0]!.Value;
                    var perm = node.GetInts("perm")?.ToArray();
                    if (perm is null)
                    {
                        if (x.Rank < 0) throw new NotSupportedException($"{where}: Transpose without perm needs a known rank");
                        perm = Enumerable.Range(0, x.Rank).Reverse().Select(i => (long)i).ToArray();
                    }
                    int[]? permuted = x.Shape is int[] s && s.Length == perm.Length ? perm.Select(p => s[p]).ToArray() : null;
                    string y = Emit("Transpose", [x.Name], [Attr("perm", new long[] { 0 }.Concat(perm.Select(p => p + 1)).ToArray())]);
                    if (perm is [1, 0]) _transposeOf[y] = x.Name;
                    Set(node, y, true, x.Rank, shape: permuted);
                    return;
                }
                case "Unsqueeze" or "Squeeze":
                {
                    var x = inputs[0]!.Value;
                    long[]? axes = node.GetInts("axes")?.ToArray() ?? (node.InputOrNull(1) is string a ? ConstantInts(a, where) : null);
                    if (axes is null && op == "Squeeze" && x.Shape is int[] known)
                        axes = Enumerable.Range(0, known.Length).Where(i => known[i] == 1).Select(i => (long)i).ToArray();
                    if (axes is null)
                    {
                        if (x.Stacked) throw new NotSupportedException($"{where}: Squeeze without axes is ambiguous once members are stacked");
                        Set(node, Emit(op, [x.Name]), false, -1);
                        return;
                    }
                    int outRank = x.Rank < 0 ? -1 : op == "Unsqueeze" ? x.Rank + axes.Length : x.Rank - axes.Length;
                    int refRank = op == "Unsqueeze" ? outRank : x.Rank;
                    if (axes.Any(ax => ax < 0) && refRank < 0) throw new NotSupportedException($"{where}: negative axes need a known rank");
                    axes = axes.Select(ax => ax < 0 ? ax + refRank : ax).ToArray();
                    int[]? shape = x.Shape is int[] s ? SqueezedShape(s, axes, op == "Unsqueeze") : null;
                    if (x.Stacked) axes = axes.Select(ax => ax + 1).ToArray();
                    Set(node, Emit(op, [x.Name, Int64Constant(axes)]), x.Stacked, outRank, shape: shape);
                    return;
                }
                case "BatchNormalization":
                {
                    // Inference form, written out: y = (x − mean) / √(var + ε) · scale + B, per channel (axis 1).
                    if (node.Outputs.Count(o => o.Length > 0) > 1 || node.GetInt("training_mode", 0) != 0)
                        throw new NotSupportedException($"{where}: only inference-mode BatchNormalization is supported");
                    var x = inputs[0]!.Value;
                    if (x.Rank < 2) throw new NotSupportedException($"{where}: input rank must be known and at least 2");
                    Value Channel(Value v) => v.Rank == 1 && x.Rank > 2
                        ? new Value(Emit("Reshape", [v.Name, Int64Constant(v.Stacked
                            ? [0, -1, .. Enumerable.Repeat(1L, x.Rank - 2)]
                            : [-1, .. Enumerable.Repeat(1L, x.Rank - 2)])]), v.Stacked, x.Rank - 1)
                        : v;
                    var scale = Channel(inputs[1]!.Value);
                    var bias = Channel(inputs[2]!.Value);
                    var mean = Channel(inputs[3]!.Value);
                    var variance = Channel(inputs[4]!.Value);
                    double epsilon = node.GetFloat("epsilon", 1e-5);
                    var std = new Value(Emit("Sqrt", [BinaryOp("Add", variance, Scalar(epsilon), where, out _)]), variance.Stacked, variance.Rank);
                    var centred = new Value(BinaryOp("Sub", x, mean, where, out int r), x.Stacked || mean.Stacked, r);
                    var normalised = new Value(BinaryOp("Div", centred, std, where, out r), centred.Stacked || std.Stacked, r);
                    var scaled = new Value(BinaryOp("Mul", normalised, scale, where, out r), normalised.Stacked || scale.Stacked, r);
                    var result = new Value(BinaryOp("Add", scaled, bias, where, out r), scaled.Stacked || bias.Stacked, r);
                    Set(node, result.Name, result.Stacked, x.Rank);
                    return;
                }
                default:
                    throw new NotSupportedException($"{where}: operator {op} has no rewrite in the ensemble builder");
            }
        }

        private int OutputRank(Node node, Value?[] inputs)
        {
            int r0 = inputs.Length > 0 && inputs[0] is Value v ? v.Rank : -1;
            return node.OpType switch
            {
                "Reshape" => node.InputOrNull(1) is string shape && _graph.Constants.TryGetValue(shape, out var t) ? t.Size : -1,
                var op when Unary.Contains(op) || op is "Transpose" or "Concat" or "CastLike" => r0,
                var op when Binary.Contains(op) || Variadic.Contains(op) || op == "Where" =>
                    inputs.Any(i => i is null or { Rank: < 0 }) ? -1 : inputs.Max(i => i!.Value.Rank),
                "MatMul" or "Gemm" or "Flatten" => 2,
                _ => -1,
            };
        }

        private void Set(Node node, string name, bool stacked, int rank, bool transposed = false, int[]? shape = null) =>
            _values[node.Outputs[0]] = new Value(name, stacked, rank, transposed, shape);

        /// <summary>The shape after Reshape to <paramref name="target"/> (0 copies a dimension, −1 takes the rest); null when the input shape is unknown.</summary>
        private static int[]? ReshapedShape(int[]? shape, long[] target)
        {
            if (shape is null) return null;
            var result = target.Select((t, i) => t == 0 && i < shape.Length ? shape[i] : (int)t).ToArray();
            int infer = Array.IndexOf(result, -1);
            if (infer >= 0)
            {
                int known = result.Where((d, i) => i != infer).Aggregate(1, (p, d) => p * d);
                result[infer] = known == 0 ? 0 : shape.Aggregate(1, (p, d) => p * d) / known;
            }
            return result;
        }

        /// <summary>The shape after Unsqueeze (unit axes at <paramref name="axes"/> of the output) or Squeeze (<paramref name="axes"/> of the input removed).</summary>
        private static int[] SqueezedShape(int[] shape, long[] axes, bool unsqueeze)
        {
            if (!unsqueeze) return shape.Where((_, i) => !axes.Contains(i)).ToArray();
            var result = new List<int>(shape);
            foreach (long ax in axes.Order()) result.Insert((int)ax, 1);
            return result.ToArray();
        }

        /// <summary>
        /// Where(condition, a, b) with numpy broadcasting of all three. With a feature-major operand and every rank ≤ 2,
        /// all three go feature-major; otherwise they return to the source layout and stacked ones line up their member axes.
        /// </summary>
        private Value Select(Value condition, Value a, Value b, string where)
        {
            Value[] operands = [condition, a, b];
            bool stacked = operands.Any(v => v.Stacked);
            if (operands.Any(v => v.Transposed) && operands.All(v => v.Rank is >= 0 and <= 2))
                return new Value(Emit("Where", operands.Select(FeatureMajorOperand).ToArray()), true, 2, true);
            operands = operands.Select(Materialize).ToArray();
            if (operands.Any(v => v.Rank < 0)) throw new NotSupportedException($"{where}: operand ranks must be known");
            int rank = operands.Max(v => v.Rank);
            return new Value(Emit("Where", operands.Select(v => Lift(v, rank)).ToArray()), stacked, rank);
        }

        /// <summary>
        /// Concat along one axis. Member-independent inputs are repeated along the member axis (Expand to [S, 1, …])
        /// so all inputs have it. A feature-major input of a rank-2 concatenation along the features keeps the result
        /// feature-major: the inputs are joined as [S, features, batch] along axis 1.
        /// </summary>
        private Value Concat(Node node, Value[] inputs, string where)
        {
            int rank = inputs[0].Rank;
            if (rank < 0 || inputs.Any(v => v.Rank != rank)) throw new NotSupportedException($"{where}: input ranks must be known and equal");
            long axis = node.GetInt("axis", 1);
            if (axis < 0) axis += rank;
            bool stacked = inputs.Any(v => v.Stacked);
            if (rank == 2 && axis == 1 && inputs.Any(v => v.Transposed))
            {
                var parts = inputs.Select(v => Repeated(FeatureMajorOperand(v), v.Stacked)).ToArray();
                return new Value(Emit("Concat", parts, [Attr("axis", 1L)]), true, 2, true);
            }
            var names = inputs.Select(Materialize).Select(v => stacked ? Repeated(v.Name, v.Stacked) : v.Name).ToArray();
            int[]? shape = inputs.All(v => v.Shape is not null)
                ? inputs[0].Shape!.Select((d, i) => i == axis ? inputs.Sum(v => v.Shape![i]) : d).ToArray()
                : null;
            return new Value(Emit("Concat", names, [Attr("axis", axis + (stacked ? 1 : 0))]), stacked, rank, false, shape);
        }

        /// <summary>A member-independent value with a member axis in front, repeated S times; a stacked value as is.</summary>
        private string Repeated(string name, bool stacked)
        {
            if (stacked) return name;
            var unit = Emit("Unsqueeze", [name, Int64Constant([0])]);
            var shape = Emit("Concat", [Int64Constant([S]), Emit("Shape", [unit], [Attr("start", 1L)])], [Attr("axis", 0L)]);
            return Emit("Expand", [unit, shape]);
        }

        /// <summary>
        /// ReduceSum, ReduceMean and ReduceMax with their axes in either form (attribute before opsets 13 / 18, input
        /// after), written in the opset-17 forms: ReduceSum takes axes as an input, the others as an attribute. With
        /// stacked members the axes move one place right; reducing over every axis leaves the member axis alone.
        /// </summary>
        private Value Reduce(Node node, Value?[] inputs, string where)
        {
            var x = inputs[0]!.Value;
            string op = node.OpType;
            long[]? axes = node.GetInts("axes")?.ToArray() ?? (node.InputOrNull(1) is string a ? ConstantInts(a, where) : null);
            bool keep = node.GetInt("keepdims", 1) != 0;
            if (axes is { Length: 0 } && node.GetInt("noop_with_empty_axes", 0) != 0) return x;
            if (axes is null or { Length: 0 })
            {
                if (x.Rank < 0) throw new NotSupportedException($"{where}: reducing every axis needs a known rank");
                axes = Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray();
            }
            if (axes.Any(ax => ax < 0) && x.Rank < 0) throw new NotSupportedException($"{where}: negative axes need a known rank");
            axes = axes.Select(ax => ax < 0 ? ax + x.Rank : ax).Distinct().ToArray();
            int rank = x.Rank < 0 ? -1 : keep ? x.Rank : x.Rank - axes.Length;
            var shifted = axes.Select(ax => ax + (x.Stacked ? 1 : 0)).ToArray();
            string y = op == "ReduceSum"
                ? Emit(op, [x.Name, Int64Constant(shifted)], [Attr("keepdims", keep ? 1L : 0L)])
                : Emit(op, [x.Name], [Attr("axes", shifted), Attr("keepdims", keep ? 1L : 0L)]);
            return new Value(y, x.Stacked, rank);
        }

        /// <summary>
        /// softplus(x) = max(x, 0) + log1p(e^−|x|), written as Relu(x) − Log(Sigmoid(|x|)) for float ensembles:
        /// ONNX Runtime's Softplus kernel is scalar (about 11 ns an element on the benchmark machine) while these four
        /// are vectorised (about 2.5 ns together), and Sigmoid(|x|) ∈ [½, 1) never underflows. In float, absolute error ≤ 6e-7
        /// over [−10⁴, 10⁴], as ONNX Runtime's own Softplus (tested); in double it is the only form, since ONNX Runtime
        /// has no double Softplus kernel.
        /// </summary>
        private string Softplus(string x)
        {
            var logSigmoid = Emit("Log", [Emit("Sigmoid", [Emit("Abs", [x])])]);
            return Emit("Sub", [Emit("Relu", [x]), logSigmoid]);
        }

        /// <summary>
        /// log σ(z) = −softplus(−z), written as Log(Sigmoid(|z|)) − Relu(−z): PyTorch exports <c>nn.LogSigmoid</c> as
        /// Log(Sigmoid(z)), and ONNX Runtime's float Sigmoid clamps z to [−18, 18], so Log of it is wrong by |z| − 18
        /// below −18, while Sigmoid(|z|) ∈ [½, 1) needs no clamp.
        /// </summary>
        private string LogSigmoid(string z) =>
            Emit("Sub", [Emit("Log", [Emit("Sigmoid", [Emit("Abs", [z])])]), Emit("Relu", [Emit("Neg", [z])])]);

        /// <summary>The input of the Sigmoid node that produces <paramref name="value"/> in the source graph; null when another node (or none) does.</summary>
        private string? SigmoidInput(string value)
        {
            _sigmoidInputs ??= _graph.Nodes.Where(n => n.OpType == "Sigmoid" && n.Inputs.Count == 1 && n.Outputs.Count == 1)
                .ToDictionary(n => n.Outputs[0], n => n.Inputs[0], StringComparer.Ordinal);
            return _sigmoidInputs.GetValueOrDefault(value);
        }

        private Dictionary<string, string>? _sigmoidInputs;

        /// <summary>
        /// An elementwise operator of the source graph. Softplus is always written out (<see cref="Softplus"/>); Clip's
        /// bounds, attributes before opset 11, become inputs. ONNX Runtime's CPU provider has float-only kernels for
        /// Softplus, Softsign, Elu, Selu, HardSigmoid, HardSwish, Celu, ThresholdedRelu and Erf, so a float64 ensemble writes all but Erf out in double
        /// from operators it has and runs Erf in float32 between two Casts (it has no short exact form).
        /// </summary>
        private string UnaryOp(Node node, string[] inputs, string where)
        {
            string op = node.OpType, x = inputs[0];
            if (op == "Softplus") return Softplus(x);
            if (op == "Log" && SigmoidInput(node.Inputs[0]) is { } z) return LogSigmoid(Get(z, where).Name);
            if (op == "Clip" && _graph.Opset < 11)
            {
                string Bound(string name, double fallback) =>
                    node.Attributes.ContainsKey(name) ? Scalar(node.GetFloat(name, fallback)).Name : "";
                return Emit("Clip", [x, Bound("min", double.NegativeInfinity), Bound("max", double.PositiveInfinity)]);
            }
            var attrs = node.Attributes.Values.Select(ToProto).ToList();
            if (_type != ElementType.Double) return Emit(op, inputs, attrs);
            switch (op)
            {
                case "Softsign":
                    return Emit("Div", [x, Emit("Add", [Emit("Abs", [x]), Scalar(1).Name])]);
                case "Elu":
                    return Elu(x, node.GetFloat("alpha", 1.0), gamma: 1.0);
                case "Selu":
                    return Elu(x, node.GetFloat("alpha", 1.67326319217681884765625), node.GetFloat("gamma", 1.05070102214813232421875));
                case "HardSigmoid":
                {
                    var affine = Emit("Add", [Emit("Mul", [x, Scalar(node.GetFloat("alpha", 0.2)).Name]), Scalar(node.GetFloat("beta", 0.5)).Name]);
                    return Emit("Clip", [affine, Scalar(0).Name, Scalar(1).Name]);
                }
                case "HardSwish":
                {
                    var gate = Emit("Add", [Emit("Mul", [x, Scalar(1.0 / 6).Name]), Scalar(0.5).Name]);
                    return Emit("Mul", [x, Emit("Clip", [gate, Scalar(0).Name, Scalar(1).Name])]);
                }
                case "Celu":
                {
                    // α·elu(x/α) with elu's α = 1.
                    double alpha = node.GetFloat("alpha", 1.0);
                    return Elu(Emit("Div", [x, Scalar(alpha).Name]), alpha: 1.0, gamma: alpha);
                }
                case "ThresholdedRelu":
                {
                    var above = Emit("Cast", [Emit("Greater", [x, Scalar(node.GetFloat("alpha", 1.0)).Name])], [Attr("to", (long)ElementType.Double)]);
                    return Emit("Mul", [x, above]);
                }
                case "Erf":
                    return Erf(x);
                default:
                    return Emit(op, inputs, attrs);
            }
        }

        /// <summary>γ·(max(x, 0) + α·(e^min(x, 0) − 1)): Elu (γ = 1) and Selu, exact in either sign.</summary>
        private string Elu(string x, double alpha, double gamma)
        {
            var negative = Emit("Mul", [Emit("Sub", [Emit("Exp", [Emit("Min", [x, Scalar(0).Name])]), Scalar(1).Name]), Scalar(alpha).Name]);
            var elu = Emit("Add", [Emit("Relu", [x]), negative]);
            return gamma == 1.0 ? elu : Emit("Mul", [elu, Scalar(gamma).Name]);
        }

        /// <summary>Erf; in a float64 ensemble computed in float32 (ONNX Runtime has no double kernel).</summary>
        private string Erf(string x) => _type != ElementType.Double
            ? Emit("Erf", [x])
            : Emit("Cast", [Emit("Erf", [Emit("Cast", [x], [Attr("to", (long)ElementType.Float)])])], [Attr("to", (long)ElementType.Double)]);

        /// <summary>Whether a·b runs feature-major: a rank-2 value that is feature-major or member-independent (the graph input) times a rank-2 b, one of them sampled.</summary>
        private static bool FeatureMajorProduct(Value a, Value b) =>
            a.Rank == 2 && b.Rank == 2 && (a.Stacked || b.Stacked) && (a.Transposed || !a.Stacked) && !b.Transposed;

        /// <summary>Row-major [rows, cols] <paramref name="source"/> into <paramref name="target"/> as [cols, rows].</summary>
        private static void TransposeInto(ReadOnlySpan<double> source, Span<double> target, int rows, int cols)
        {
            for (int i = 0; i < rows; i++)
                for (int j = 0; j < cols; j++) target[j * rows + i] = source[i * cols + j];
        }

        private static double[] Transposed(double[] data, int rows, int cols)
        {
            var t = new double[data.Length];
            TransposeInto(data, t, rows, cols);
            return t;
        }

        /// <summary>A feature-major value back in the source layout [S, batch, features]; other values unchanged.</summary>
        private Value Materialize(Value v)
        {
            if (!v.Transposed) return v;
            if (!_materialized.TryGetValue(v.Name, out var name))
                _materialized[v.Name] = name = Emit("Transpose", [v.Name], [Attr("perm", new long[] { 0, 2, 1 })]);
            return new Value(name, true, 2);
        }

        /// <summary>
        /// A numpy-broadcasting binary op. With a feature-major operand, operands of rank ≤ 2 are brought feature-major
        /// too (transposing the last two axes of both keeps broadcasting intact: a rank-1 [c] is [1,c], so [c,1]);
        /// anything else runs in the source layout.
        /// </summary>
        private Value Elementwise(string op, Value a, Value b, string where)
        {
            if (a.Transposed || b.Transposed)
            {
                if (a.Rank is >= 0 and <= 2 && b.Rank is >= 0 and <= 2)
                    return new Value(Emit(op, [FeatureMajorOperand(a), FeatureMajorOperand(b)]), true, 2, true);
                a = Materialize(a);
                b = Materialize(b);
            }
            var name = BinaryOp(op, a, b, where, out int rank);
            return new Value(name, a.Stacked || b.Stacked, rank, Shape: BroadcastShape(a.Shape, b.Shape));
        }

        /// <summary>
        /// A value of rank ≤ 2 in the feature-major form: [S,]c,1 for a rank-1 [S,]c, the last two axes swapped for
        /// rank 2 (so also bᵀ and aᵀ of a feature-major product a·b). Sampled and constant tensors are written
        /// pre-arranged; anything else gets an Unsqueeze or Transpose node.
        /// </summary>
        private string FeatureMajorOperand(Value v)
        {
            if (v.Transposed || v.Rank == 0 && !v.Stacked) return v.Name;
            if (v.Rank == 2 && _transposeOf.TryGetValue(v.Name, out var untransposed)) return untransposed; // (wᵀ)ᵀ = w
            if (v.Rank == 0) return Emit("Unsqueeze", [v.Name, Int64Constant([1, 2])]); // [S] → [S,1,1]
            if (v.Stacked && _stackedBlock.TryGetValue(v.Name, out var block))
                return v.Rank == 1 ? StackedInitializer(block, transposeLast: false, unitAxis: true) : StackedInitializer(block, transposeLast: true);
            if (!v.Stacked && _constant.TryGetValue(v.Name, out var c))
                return v.Rank == 1
                    ? ConstantInitializer($"bnn_{v.Name}_col", c.Type, [c.Shape[0], 1], c.Data)
                    : ConstantInitializer($"bnn_{v.Name}_T", c.Type, [c.Shape[1], c.Shape[0]], Transposed(c.Data, c.Shape[0], c.Shape[1]));
            if (_featureMajor.TryGetValue(v.Name, out var arranged)) return arranged;
            return _featureMajor[v.Name] = v.Rank == 1
                ? Emit("Unsqueeze", [v.Name, Int64Constant([v.Stacked ? 2 : 1])])
                : Emit("Transpose", [v.Name], [Attr("perm", v.Stacked ? new long[] { 0, 2, 1 } : [1, 0])]);
        }

        /// <summary>The rewritten value for a source value name: a graph input, a node output, a parameter or a constant.</summary>
        private Value Get(string name, string? where)
        {
            if (_values.TryGetValue(name, out var v)) return v;
            if (_blocks.TryGetValue(name, out var block))
            {
                v = new Value(StackedInitializer(block, transposeLast: false), true, block.Shape.Length, Shape: block.Shape);
            }
            else if (_parameters.TryGetValue(name, out var p))
            {
                v = new Value(ConstantInitializer(name, _type, p.Shape, p.Values), false, p.Shape.Length, Shape: p.Shape);
            }
            else if (_graph.Constants.TryGetValue(name, out var t))
            {
                var type = t.SourceType is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16 ? _type : t.SourceType;
                v = new Value(ConstantInitializer(name, type, t.Shape, t.Data), false, t.Shape.Length, Shape: t.Shape);
            }
            else
            {
                throw new InvalidDataException($"{where ?? "graph output"}: value '{name}' is not available (produced by an unsupported output?)");
            }
            _values[name] = v;
            return v;
        }

        /// <summary>[S, …shape] from the members' values of <paramref name="block"/>; with <paramref name="transposeLast"/> a rank-2 block becomes [S, cols, rows].</summary>
        private string StackedInitializer(ParameterBlock block, bool transposeLast, bool unitAxis = false)
        {
            string name = Unique(transposeLast ? block.Source + "_stacked_T" : unitAxis ? block.Source + "_stacked_col" : block.Source + "_stacked");
            if (!transposeLast && !unitAxis) _stackedBlock[name] = block;
            if (!_emitted.Add(name)) return name;
            int size = block.Size;
            var values = new double[S * size];
            long[] dims;
            if (transposeLast)
            {
                int rows = block.Shape[0], cols = block.Shape[1];
                for (int s = 0; s < S; s++) TransposeInto(_members[s].AsSpan(block.Offset, size), values.AsSpan(s * size, size), rows, cols);
                dims = [S, cols, rows];
            }
            else
            {
                for (int s = 0; s < S; s++) _members[s].AsSpan(block.Offset, size).CopyTo(values.AsSpan(s * size, size));
                dims = [S, .. block.Shape.Select(d => (long)d), .. unitAxis ? new long[] { 1 } : []];
            }
            _out.Initializer.Add(OnnxTensors.Create(name, _type, dims, values));
            return name;
        }

        private string ConstantInitializer(string sourceName, ElementType type, int[] shape, double[] data)
        {
            string name = Unique(sourceName);
            if (_emitted.Add(name))
            {
                _out.Initializer.Add(OnnxTensors.Create(name, type, shape.Select(d => (long)d), data));
                if (type is ElementType.Float or ElementType.Double) _constant[name] = (type, shape, data);
            }
            return name;
        }

        /// <summary>B of a Gemm with transB = 1: pre-transposed when it is a weight, else a Transpose node.</summary>
        private Value TransposedWeight(string sourceName, Value b, string where)
        {
            if (_blocks.TryGetValue(sourceName, out var block) && block.Shape.Length == 2)
                return new Value(StackedInitializer(block, transposeLast: true), true, 2);
            return Transpose(b, where);
        }

        private Value Transpose(Value v, string where)
        {
            if (v.Rank != 2) throw new NotSupportedException($"{where}: transposed Gemm operand must have rank 2");
            long[] perm = v.Stacked ? [0, 2, 1] : [1, 0];
            return new Value(Emit("Transpose", [v.Name], [Attr("perm", perm)]), v.Stacked, 2);
        }

        /// <summary>
        /// A numpy-broadcasting binary op. A stacked operand of lower rank gets unit axes after the member axis so
        /// the member axes line up; an unstacked operand broadcasts as is when its rank does not exceed the other's.
        /// </summary>
        private string BinaryOp(string op, Value a, Value b, string where, out int rank)
        {
            if (a.Rank < 0 || b.Rank < 0)
            {
                if (a.Stacked && b.Stacked || !(a.Stacked || b.Stacked)) { rank = -1; return Emit(op, [a.Name, b.Name]); }
                throw new NotSupportedException($"{where}: operand ranks must be known");
            }
            rank = Math.Max(a.Rank, b.Rank);
            return Emit(op, [Lift(a, rank), Lift(b, rank)]);
        }

        /// <summary>The numpy broadcast of two known shapes; null when either is unknown.</summary>
        private static int[]? BroadcastShape(int[]? a, int[]? b)
        {
            if (a is null || b is null) return null;
            int rank = Math.Max(a.Length, b.Length);
            var result = new int[rank];
            for (int i = 0; i < rank; i++)
            {
                int da = i < rank - a.Length ? 1 : a[i - (rank - a.Length)], db = i < rank - b.Length ? 1 : b[i - (rank - b.Length)];
                result[i] = da == 1 ? db : da;
            }
            return result;
        }

        /// <summary>Batched MatMul: [S,…,N,in] × [S,…,in,out]. Unstacked operands of rank above 2 get a unit member axis.</summary>
        private string MatMul(Value a, Value b, string where, out int rank)
        {
            if (!a.Stacked && !b.Stacked) { rank = Math.Max(a.Rank, b.Rank); return Emit("MatMul", [a.Name, b.Name]); }
            if (a.Rank < 2 || b.Rank < 2)
                throw new NotSupportedException($"{where}: MatMul with a rank-1 or unknown-rank operand is not supported once members are stacked");
            rank = Math.Max(a.Rank, b.Rank);
            string left = a.Stacked || a.Rank > 2 ? Lift(a, rank, forceStacked: true) : a.Name;
            string right = b.Stacked || b.Rank > 2 ? Lift(b, rank, forceStacked: true) : b.Name;
            return Emit("MatMul", [left, right]);
        }

        /// <summary>
        /// Brings a stacked value to rank <paramref name="target"/> + 1 by unit axes after the member axis; an unstacked
        /// value stays as is unless <paramref name="forceStacked"/>, which adds a unit member axis in front as well.
        /// </summary>
        private string Lift(Value v, int target, bool forceStacked = false)
        {
            if (!v.Stacked && !forceStacked) return v.Name;
            int missing = target - v.Rank;
            var axes = new List<long>();
            if (!v.Stacked) axes.Add(0);
            for (int i = 0; i < missing; i++) axes.Add(1 + i); // unit axes right after the member axis
            if (axes.Count == 0) return v.Name;
            return Emit("Unsqueeze", [v.Name, Int64Constant(axes.ToArray())]);
        }

        private Value Scalar(double value)
        {
            string name = Fresh("scalar");
            _out.Initializer.Add(OnnxTensors.Create(name, _type, [], [value]));
            return new Value(name, false, 0);
        }

        private string Int64Constant(long[] values)
        {
            string name = Fresh("ints");
            _out.Initializer.Add(OnnxTensors.Int64(name, values));
            return name;
        }

        private long[] ConstantInts(string name, string where)
        {
            if (_graph.Constants.TryGetValue(name, out var t)) return t.Data.Select(d => (long)d).ToArray();
            throw new NotSupportedException($"{where}: '{name}' must be a constant");
        }

        private string Unique(string name) => name.Length == 0 ? Fresh("value") : name;

        private string Fresh(string hint) => $"bnn_{hint}_{_counter++}";

        private string Emit(string op, string[] inputs, IEnumerable<AttributeProto>? attributes = null, string? output = null)
        {
            output ??= Fresh(op);
            _out.Node.Add(Node(op, inputs, [output], attributes ?? []));
            return output;
        }

        private NodeProto Node(string op, IEnumerable<string> inputs, IEnumerable<string> outputs, IEnumerable<AttributeProto> attributes)
        {
            var n = new NodeProto { OpType = op, Name = $"bnn_{op}_{_counter++}" };
            n.Input.AddRange(inputs);
            n.Output.AddRange(outputs);
            n.Attribute.AddRange(attributes);
            return n;
        }

        private static AttributeProto Attr(string name, long value) =>
            new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

        private static AttributeProto Attr(string name, long[] values)
        {
            var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
            a.Ints.AddRange(values);
            return a;
        }

        private AttributeProto ToProto(NodeAttribute a)
        {
            var p = new AttributeProto { Name = a.Name };
            switch (a.Kind)
            {
                case AttributeKind.Float: p.Type = AttributeProto.Types.AttributeType.Float; p.F = (float)a.Float; break;
                case AttributeKind.Int: p.Type = AttributeProto.Types.AttributeType.Int; p.I = a.Int; break;
                case AttributeKind.String: p.Type = AttributeProto.Types.AttributeType.String; p.S = Google.Protobuf.ByteString.CopyFromUtf8(a.String ?? ""); break;
                case AttributeKind.Floats: p.Type = AttributeProto.Types.AttributeType.Floats; p.Floats.AddRange(a.Floats!.Select(f => (float)f)); break;
                case AttributeKind.Ints: p.Type = AttributeProto.Types.AttributeType.Ints; p.Ints.AddRange(a.Ints!); break;
                case AttributeKind.Strings: p.Type = AttributeProto.Types.AttributeType.Strings; p.Strings.AddRange(a.Strings!.Select(Google.Protobuf.ByteString.CopyFromUtf8)); break;
                case AttributeKind.Tensor: p.Type = AttributeProto.Types.AttributeType.Tensor; p.T = OnnxTensors.Create(a.Tensor!.Name, a.Tensor.SourceType, a.Tensor.Shape.Select(d => (long)d), a.Tensor.Data); break;
                default: throw new NotSupportedException($"attribute '{a.Name}' of kind {a.Kind} cannot be carried into an ensemble");
            }
            // Cast to a float type follows the ensemble's element type.
            if (a.Name == "to" && a.Kind == AttributeKind.Int && (ElementType)a.Int is ElementType.Float or ElementType.Double or ElementType.Float16)
                p.I = (long)_type;
            return p;
        }

        private static ValueInfoProto ValueInfo(string name, ElementType type, IReadOnlyList<Dimension> dims, bool withShape = true)
        {
            var tensor = new TypeProto.Types.Tensor { ElemType = (int)type };
            if (withShape)
            {
                tensor.Shape = new TensorShapeProto();
                foreach (var d in dims)
                {
                    var dim = new TensorShapeProto.Types.Dimension();
                    if (d.Value is long v) dim.DimValue = v;
                    else if (d.Symbol is string sym) dim.DimParam = sym;
                    tensor.Shape.Dim.Add(dim);
                }
            }
            return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = tensor } };
        }
    }
}
