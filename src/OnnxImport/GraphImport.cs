using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.OnnxImport;

/// <summary>One import of one model: inlining, constant folding, checks, sorting, parameter discovery.</summary>
internal sealed class GraphImport
{
    private const string BatchSymbol = "batch";

    private readonly ModelProto model;
    private readonly string file;
    private readonly string? directory;
    private readonly ImportOptions options;

    /// <summary>Initializers and folded Constant outputs, by value name (after renaming).</summary>
    private readonly Dictionary<string, Tensor> tensors = new(StringComparer.Ordinal);

    /// <summary>For values renamed while inlining a function: the name the function body gave them.</summary>
    private readonly Dictionary<string, string> originalNames = new(StringComparer.Ordinal);

    private readonly List<Node> nodes = [];
    private readonly Dictionary<(string Domain, string Name), FunctionProto> functions = [];
    private readonly HashSet<string> functionDomains = new(StringComparer.Ordinal);
    private readonly HashSet<string> usedPrefixes = new(StringComparer.Ordinal);

    /// <summary>For each prefix base, the suffix to try next, so that naming n calls alike costs O(n), not O(n²).</summary>
    private readonly Dictionary<string, int> nextPrefixSuffix = new(StringComparer.Ordinal);

    /// <summary>Nodes expanded so far, Constants and function calls included (bounded by MaxNodes).</summary>
    private int expandedNodes;

    /// <summary>
    /// Inlining copies a function body, its names lengthened by the call's prefix, once per call; nested calls
    /// multiply, so a file of kilobytes can ask for gigabytes. What was copied so far, in bytes, against a budget of
    /// <see cref="InlineBytesPerModelByte"/> times the model's size (at least <see cref="MinInlineBytes"/>).
    /// </summary>
    private long inlinedBytes;
    private long? inlineBudget;
    private const long InlineBytesPerModelByte = 8;
    private const long MinInlineBytes = 4L << 20;
    private readonly Dictionary<FunctionProto, (long Bytes, long Names)> bodySizes = new(ReferenceEqualityComparer.Instance);

    public GraphImport(ModelProto model, string file, string? directory, ImportOptions options)
    {
        this.model = model;
        this.file = file;
        this.directory = directory;
        this.options = options;
    }

    private sealed record Scope(string Prefix, Dictionary<string, string> Map, Dictionary<string, AttributeProto> CallerAttributes)
    {
        public static Scope Top { get; } = new("", [], []);

        public string Rename(string name) =>
            name.Length == 0 ? "" : Map.TryGetValue(name, out var mapped) ? mapped : Prefix.Length == 0 ? name : $"{Prefix}/{name}";
    }

    public OnnxGraph Build(string sha256)
    {
        var graph = model.Graph ?? throw new OnnxImportException($"{file}: not an ONNX model or truncated (no graph)");

        var opsets = new Dictionary<string, long>(StringComparer.Ordinal);
        foreach (var opset in model.OpsetImport)
            opsets[NormalizeDomain(opset.Domain)] = opset.Version;

        foreach (var function in model.Functions)
        {
            functions[(NormalizeDomain(function.Domain), function.Name)] = function;
            functionDomains.Add(NormalizeDomain(function.Domain));
        }

        foreach (var initializer in graph.Initializer)
        {
            string where = $"{file}: initializer '{initializer.Name}'";
            if (initializer.Name.Length == 0) throw new OnnxImportException($"{file}: an initializer has no name");
            if (tensors.ContainsKey(initializer.Name)) throw new OnnxImportException($"{where}: defined twice");
            tensors[initializer.Name] = TensorReader.Read(initializer, initializer.Name, directory, options, where);
        }

        // Opset-9 exporters list initializers among the inputs too: those are weights, not data.
        var inputs = graph.Input.Where(v => !tensors.ContainsKey(v.Name)).Select(v => ToValueInfo(v, "input")).ToList();
        var outputs = graph.Output.Select(v => ToValueInfo(v, "output")).ToList();

        foreach (var node in graph.Node)
            Expand(node, Scope.Top, depth: 0);

        var sorted = TopologicalSort(inputs, outputs);
        long defaultOpset = opsets.GetValueOrDefault("", 1);
        sorted = RewriteDropout(sorted, outputs);
        if (!options.AcceptAnyOp)
        {
            // A graph taken whole (a frozen backbone, cut later by name) keeps its nodes and tensors as written.
            sorted = UntieDeduplicatedTensors(sorted, outputs);
            sorted = FoldShapeComputations(sorted, inputs, outputs);
        }
        sorted = RewriteNormalisation(sorted, inputs, outputs, defaultOpset);
        if (!options.AcceptAnyOp)
        {
            sorted = RewriteShrink(sorted, outputs);
            RefuseUnmatchedPatterns(sorted);
        }

        var (parameters, parameterNames) = FindParameters(sorted);
        var constants = tensors.Where(kv => !parameterNames.Contains(kv.Key))
            .ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);

        long? exportedBatch = null;
        if (options.FreeBatchDimension)
            exportedBatch = FreeBatchDimension(inputs, outputs, sorted, constants);

        return new OnnxGraph
        {
            Producer = model.ProducerName,
            ProducerVersion = model.ProducerVersion,
            IrVersion = model.IrVersion,
            Opsets = opsets,
            Inputs = inputs,
            Outputs = outputs,
            Nodes = sorted,
            Parameters = parameters,
            Constants = constants,
            Sha256 = sha256,
            ExportedBatchSize = exportedBatch,
            SourcePath = file,
        };
    }

    private static string NormalizeDomain(string domain) => domain == "ai.onnx" ? "" : domain;

    private ValueInfo ToValueInfo(ValueInfoProto value, string kind)
    {
        if (value.Type is { ValueCase: not TypeProto.ValueOneofCase.TensorType and not TypeProto.ValueOneofCase.None })
            throw new OnnxImportException($"{file}: graph {kind} '{value.Name}' is a {value.Type.ValueCase}, not a tensor");
        var tensorType = value.Type?.TensorType;
        var shape = tensorType?.Shape?.Dim.Select(d => d.ValueCase switch
        {
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimValue => Dimension.Fixed(d.DimValue),
            TensorShapeProto.Types.Dimension.ValueOneofCase.DimParam when d.DimParam.Length > 0 => Dimension.Symbolic(d.DimParam),
            _ => Dimension.Unknown,
        }).ToList() ?? [];
        return new ValueInfo(value.Name, (ElementType)(tensorType?.ElemType ?? 0), shape);
    }

    // ---------------------------------------------------------------- inlining and folding

    private void Expand(NodeProto node, Scope scope, int depth)
    {
        string nodeName = scope.Prefix.Length == 0 ? node.Name : $"{scope.Prefix}/{node.Name}";
        string domain = NormalizeDomain(node.Domain);
        string where = $"{file}: node '{nodeName}' ({(domain.Length > 0 ? domain + "." : "")}{node.OpType})";
        if (++expandedNodes > options.MaxNodes)
            throw new OnnxImportException($"{file}: more than {options.MaxNodes} nodes (after inlining functions)");
        var attributes = ResolveAttributes(node, scope, where);

        if (functions.TryGetValue((domain, node.OpType), out var function))
        {
            Inline(node, function, nodeName, attributes, scope, depth, where);
            return;
        }
        if (domain.Length > 0)
        {
            throw functionDomains.Contains(domain)
                ? new OnnxImportException($"{where}: no function '{node.OpType}' in domain '{domain}'")
                : new OnnxImportException($"{where}: unknown domain '{domain}' (supported: the default ai.onnx domain and the model's own functions)");
        }
        if (node.OpType == "Constant")
        {
            FoldConstant(node, nodeName, attributes, scope, where);
            return;
        }
        if (!options.AcceptAnyOp && !SupportedOps.Contains(node.OpType) && OpCapabilities.FindPattern(node.OpType) is null)
            throw new OnnxImportException($"{where}: op '{node.OpType}' is not supported yet (supported: {SupportedOps.Listing})");

        var converted = new Dictionary<string, NodeAttribute>(StringComparer.Ordinal);
        foreach (var attribute in attributes)
            converted[attribute.Name] = ToNodeAttribute(attribute, where);
        nodes.Add(new Node(
            nodeName,
            node.OpType,
            "",
            node.Input.Select(scope.Rename).ToList(),
            node.Output.Select(scope.Rename).ToList(),
            converted));
    }

    /// <summary>Attributes with function-body references (<c>ref_attr_name</c>) replaced by the caller's values.</summary>
    private List<AttributeProto> ResolveAttributes(NodeProto node, Scope scope, string where)
    {
        var resolved = new List<AttributeProto>(node.Attribute.Count);
        foreach (var attribute in node.Attribute)
        {
            if (attribute.RefAttrName.Length == 0)
            {
                resolved.Add(attribute);
            }
            else if (scope.CallerAttributes.TryGetValue(attribute.RefAttrName, out var actual))
            {
                ChargeInlining(actual.CalculateSize(), where);
                var copy = actual.Clone();
                copy.Name = attribute.Name;
                resolved.Add(copy);
            }
            // A reference the caller does not set leaves the attribute at the op's default.
        }
        return resolved;
    }

    private void Inline(NodeProto call, FunctionProto function, string nodeName, List<AttributeProto> attributes, Scope scope, int depth, string where)
    {
        int maxDepth = Math.Min(options.MaxFunctionDepth, ImportOptions.MaxSafeFunctionDepth);
        if (depth >= maxDepth)
            throw new OnnxImportException($"{where}: functions nested deeper than {maxDepth} (recursive function?)");

        string prefixBase = nodeName.Length > 0 ? nodeName : function.Name;
        string prefix = prefixBase;
        int k = nextPrefixSuffix.GetValueOrDefault(prefixBase, 1);
        for (; !usedPrefixes.Add(prefix); k++)
            prefix = $"{prefixBase}_{k}";
        nextPrefixSuffix[prefixBase] = k;

        if (!bodySizes.TryGetValue(function, out var body))
            bodySizes[function] = body = (function.CalculateSize(), function.Node.Sum(n => 1L + n.Input.Count + n.Output.Count));
        ChargeInlining(body.Bytes + 2 * (prefix.Length + 1) * body.Names, where);

        var map = new Dictionary<string, string>(StringComparer.Ordinal);
        for (int i = 0; i < function.Input.Count; i++)
            map[function.Input[i]] = i < call.Input.Count ? scope.Rename(call.Input[i]) : "";
        for (int i = 0; i < function.Output.Count; i++)
            map[function.Output[i]] = i < call.Output.Count && call.Output[i].Length > 0
                ? scope.Rename(call.Output[i])
                : $"{prefix}/{function.Output[i]}";

        var callerAttributes = new Dictionary<string, AttributeProto>(StringComparer.Ordinal);
        foreach (var defaultValue in function.AttributeProto) callerAttributes[defaultValue.Name] = defaultValue;
        foreach (var attribute in attributes) callerAttributes[attribute.Name] = attribute;

        var inner = new Scope(prefix, map, callerAttributes);
        foreach (var bodyNode in function.Node)
        {
            foreach (string output in bodyNode.Output)
                if (output.Length > 0 && !map.ContainsKey(output)) originalNames[inner.Rename(output)] = output;
            Expand(bodyNode, inner, depth + 1);
        }
    }

    private void ChargeInlining(long bytes, string where)
    {
        inlineBudget ??= Math.Max(MinInlineBytes, InlineBytesPerModelByte * model.CalculateSize());
        inlinedBytes += bytes;
        if (inlinedBytes > inlineBudget)
            throw new OnnxImportException(
                $"{where}: inlining functions copies more than {inlineBudget} bytes ({InlineBytesPerModelByte} times the model's size); functions called too many times");
    }

    private void FoldConstant(NodeProto node, string nodeName, List<AttributeProto> attributes, Scope scope, string where)
    {
        if (node.Output.Count == 0 || node.Output[0].Length == 0)
            throw new OnnxImportException($"{where}: Constant has no output");
        string output = scope.Rename(node.Output[0]);
        if (attributes.Count != 1)
            throw new OnnxImportException($"{where}: Constant needs exactly one value attribute, found {attributes.Count}");
        var a = attributes[0];
        Tensor tensor = a.Name switch
        {
            "value" when a.T is not null => TensorReader.Read(a.T, output, directory, options, $"{where} tensor '{output}'"),
            "value_float" => new Tensor(output, ElementType.Float, [], [a.F]),
            "value_floats" => new Tensor(output, ElementType.Float, [a.Floats.Count], a.Floats.Select(f => (double)f).ToArray()),
            "value_int" => new Tensor(output, ElementType.Int64, [], [a.I]),
            "value_ints" => new Tensor(output, ElementType.Int64, [a.Ints.Count], a.Ints.Select(i => (double)i).ToArray()),
            "value_string" or "value_strings" => throw new OnnxImportException($"{where}: unsupported dtype STRING in Constant"),
            _ => throw new OnnxImportException($"{where}: unsupported Constant attribute '{a.Name}'"),
        };
        if (tensors.ContainsKey(output))
            throw new OnnxImportException($"{where}: value '{output}' is produced twice");
        tensors[output] = tensor with { Name = output };
        _ = nodeName;
    }

    private NodeAttribute ToNodeAttribute(AttributeProto a, string where)
    {
        var type = a.Type;
        if (type == AttributeProto.Types.AttributeType.Undefined)
        {
            // Files from before IR version 2 do not set the type: infer it from the field that is set.
            type = a.Floats.Count > 0 ? AttributeProto.Types.AttributeType.Floats
                : a.Ints.Count > 0 ? AttributeProto.Types.AttributeType.Ints
                : a.Strings.Count > 0 ? AttributeProto.Types.AttributeType.Strings
                : a.T is not null ? AttributeProto.Types.AttributeType.Tensor
                : a.G is not null ? AttributeProto.Types.AttributeType.Graph
                : !a.S.IsEmpty ? AttributeProto.Types.AttributeType.String
                : a.I != 0 ? AttributeProto.Types.AttributeType.Int
                : AttributeProto.Types.AttributeType.Float;
        }
        return type switch
        {
            AttributeProto.Types.AttributeType.Float => new NodeAttribute(a.Name, AttributeKind.Float, Float: a.F),
            AttributeProto.Types.AttributeType.Int => new NodeAttribute(a.Name, AttributeKind.Int, Int: a.I),
            AttributeProto.Types.AttributeType.String => new NodeAttribute(a.Name, AttributeKind.String, String: a.S.ToStringUtf8()),
            AttributeProto.Types.AttributeType.Tensor when a.T is not null => new NodeAttribute(a.Name, AttributeKind.Tensor,
                Tensor: TensorReader.Read(a.T, a.T.Name, directory, options, $"{where} attribute '{a.Name}'")),
            AttributeProto.Types.AttributeType.Floats => new NodeAttribute(a.Name, AttributeKind.Floats, Floats: a.Floats.Select(f => (double)f).ToArray()),
            AttributeProto.Types.AttributeType.Ints => new NodeAttribute(a.Name, AttributeKind.Ints, Ints: a.Ints.ToArray()),
            AttributeProto.Types.AttributeType.Strings => new NodeAttribute(a.Name, AttributeKind.Strings,
                Strings: a.Strings.Select(s => s.ToStringUtf8()).ToArray()),
            AttributeProto.Types.AttributeType.Graph => new NodeAttribute(a.Name, AttributeKind.Graph),
            _ => new NodeAttribute(a.Name, AttributeKind.Other),
        };
    }

    // ---------------------------------------------------------------- structure

    /// <summary>
    /// Kahn's algorithm, taking ready nodes in file order so that an already sorted graph keeps its order.
    /// Refuses values produced twice, inputs nothing produces, cycles and unproduced graph outputs.
    /// </summary>
    private List<Node> TopologicalSort(List<ValueInfo> inputs, List<ValueInfo> outputs)
    {
        var available = new HashSet<string>(inputs.Select(v => v.Name), StringComparer.Ordinal);
        available.UnionWith(tensors.Keys);
        var producer = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string output in nodes[i].Outputs)
            {
                if (output.Length == 0) continue;
                if (available.Contains(output) || !producer.TryAdd(output, i))
                    throw new OnnxImportException($"{file}: {Where(nodes[i])}: value '{output}' is produced twice");
            }
        }

        var dependents = new List<int>[nodes.Count];
        var pending = new int[nodes.Count];
        for (int i = 0; i < nodes.Count; i++)
        {
            dependents[i] = [];
        }
        for (int i = 0; i < nodes.Count; i++)
        {
            foreach (string input in nodes[i].Inputs.Distinct())
            {
                if (input.Length == 0 || available.Contains(input)) continue;
                if (!producer.TryGetValue(input, out int from))
                    throw new OnnxImportException(
                        $"{file}: {Where(nodes[i])}: input '{input}' is not produced by any node, graph input or initializer");
                dependents[from].Add(i);
                pending[i]++;
            }
        }

        var ready = new SortedSet<int>(Enumerable.Range(0, nodes.Count).Where(i => pending[i] == 0));
        var sorted = new List<Node>(nodes.Count);
        while (ready.Count > 0)
        {
            int next = ready.Min;
            ready.Remove(next);
            sorted.Add(nodes[next]);
            foreach (int d in dependents[next])
                if (--pending[d] == 0) ready.Add(d);
        }
        if (sorted.Count < nodes.Count)
        {
            var stuck = nodes[Enumerable.Range(0, nodes.Count).First(i => pending[i] > 0)];
            throw new OnnxImportException($"{file}: the graph has a cycle through {Where(stuck)}");
        }

        foreach (var output in outputs)
            if (!available.Contains(output.Name) && !producer.ContainsKey(output.Name))
                throw new OnnxImportException($"{file}: graph output '{output.Name}' is not produced by any node");
        return sorted;
    }

    private static string Where(Node node) => $"node '{node.Name}' ({node.OpType})";

    /// <summary>Dropout is the identity at inference: it becomes <c>Identity</c> of its data input.</summary>
    private List<Node> RewriteDropout(List<Node> sorted, List<ValueInfo> outputs)
    {
        var consumed = new HashSet<string>(sorted.SelectMany(n => n.Inputs), StringComparer.Ordinal);
        consumed.UnionWith(outputs.Select(o => o.Name));
        var result = new List<Node>(sorted.Count);
        foreach (var node in sorted)
        {
            if (node.OpType != "Dropout")
            {
                result.Add(node);
                continue;
            }
            if (node.Outputs.Count > 1 && node.Outputs[1].Length > 0 && consumed.Contains(node.Outputs[1]))
                throw new OnnxImportException($"{file}: {Where(node)}: the Dropout mask output '{node.Outputs[1]}' is used; only inference-mode Dropout is supported");
            if (node.Inputs.Count == 0 || node.Outputs.Count == 0)
                throw new OnnxImportException($"{file}: {Where(node)}: Dropout needs one input and one output");
            result.Add(new Node(node.Name, "Identity", "", [node.Inputs[0]], [node.Outputs[0]], new Dictionary<string, NodeAttribute>()));
        }
        return result;
    }

    /// <summary>
    /// The role of a sampled tensor at an input of a node that <see cref="RewriteNormalisation"/> wrote: the scale and
    /// bias of LayerNormalization and the slope of PRelu stay parameters whatever their size.
    /// </summary>
    private readonly Dictionary<(string Node, int Input), ParameterRole> rewrittenRoles = [];

    /// <summary>The most trailing axes one LayerNormalization may normalise over (its axis is at least −64).</summary>
    private const int MaxLayerNormAxes = 64;

    /// <summary>
    /// LayerNormalization becomes the ops every stage runs (ReduceMean, Sub, Pow, ReduceMean, Add ε, Sqrt, Div, Mul by
    /// the scale, Add the bias: PyTorch's own opset-13 form), and PRelu becomes Relu(x) − slope·Relu(−x). The scale,
    /// bias and slope stay sampled parameters whatever their size; the member files keep the ops as written.
    /// </summary>
    private List<Node> RewriteNormalisation(List<Node> sorted, List<ValueInfo> inputs, List<ValueInfo> outputs, long opset)
    {
        if (!sorted.Any(n => n.OpType is "LayerNormalization" or "PRelu" or "InstanceNormalization" or "Mish")) return sorted;
        IReadOnlyDictionary<string, IReadOnlyList<Dimension>?>? shapes = null;
        var consumed = new HashSet<string>(sorted.SelectMany(n => n.Inputs), StringComparer.Ordinal);
        consumed.UnionWith(outputs.Select(o => o.Name));
        var result = new List<Node>(sorted.Count);
        var none = new Dictionary<string, NodeAttribute>();
        string Scalar(string name, double value)
        {
            tensors[name] = new Tensor(name, ElementType.Float, [], [value]);
            return name;
        }
        foreach (var node in sorted)
        {
            string where = $"{file}: {Where(node)}";
            if (node.OpType == "PRelu")
            {
                if (node.Inputs.Count != 2 || node.Outputs.Count != 1)
                    throw new OnnxImportException($"{where}: PRelu needs two inputs and one output");
                string input = node.Inputs[0], output = node.Outputs[0], prefix = $"{node.Name}/prelu";
                result.Add(new Node($"{prefix}/Relu", "Relu", "", [input], [$"{output}/positive"], none));
                result.Add(new Node($"{prefix}/Neg", "Neg", "", [input], [$"{output}/negated"], none));
                result.Add(new Node($"{prefix}/Relu_1", "Relu", "", [$"{output}/negated"], [$"{output}/negative"], none));
                result.Add(new Node($"{prefix}/Mul", "Mul", "", [$"{output}/negative", node.Inputs[1]], [$"{output}/scaled"], none));
                result.Add(new Node($"{prefix}/Sub", "Sub", "", [$"{output}/positive", $"{output}/scaled"], [output], none));
                rewrittenRoles[($"{prefix}/Mul", 1)] = ParameterRole.Weight;
                continue;
            }
            if (node.OpType == "Mish")
            {
                // x · tanh(softplus(x)), ONNX's own definition (opset 18).
                if (node.Inputs.Count != 1 || node.Outputs.Count != 1)
                    throw new OnnxImportException($"{where}: Mish needs one input and one output");
                string input = node.Inputs[0], output = node.Outputs[0], prefix = $"{node.Name}/mish";
                result.Add(new Node($"{prefix}/Softplus", "Softplus", "", [input], [$"{output}/softplus"], none));
                result.Add(new Node($"{prefix}/Tanh", "Tanh", "", [$"{output}/softplus"], [$"{output}/tanh"], none));
                result.Add(new Node($"{prefix}/Mul", "Mul", "", [input, $"{output}/tanh"], [output], none));
                continue;
            }
            if (node.OpType == "InstanceNormalization")
            {
                shapes ??= InferShapes(sorted, inputs, outputs);
                result.AddRange(RewriteInstanceNormalization(node, shapes, opset, Scalar));
                continue;
            }
            if (node.OpType != "LayerNormalization")
            {
                result.Add(node);
                continue;
            }
            if (node.Inputs.Count < 2 || node.Inputs[1].Length == 0 || node.Outputs.Count == 0)
                throw new OnnxImportException($"{where}: LayerNormalization needs an input, a scale and an output");
            if (node.Outputs.Skip(1).Any(o => o.Length > 0 && consumed.Contains(o)))
                throw new OnnxImportException($"{where}: the LayerNormalization mean or inverse standard deviation output is used; only the normalised output is supported");
            long axis = node.GetInt("axis", -1);
            if (axis < -MaxLayerNormAxes)
                throw new OnnxImportException($"{where}: LayerNormalization axis {axis} normalises more than {MaxLayerNormAxes} axes");
            if (axis >= 0)
                throw new OnnxImportException($"{where}: LayerNormalization with a non-negative axis ({axis}) is not supported yet; export it with axis = -1 (the last axis)");
            string x = node.Inputs[0], y = node.Outputs[0], p = $"{node.Name}/layernorm";
            var axes = Enumerable.Range(0, (int)-axis).Select(i => axis + i).ToList();
            var (reduceAttributes, reduceInputs) = ReduceMeanAxes(y, axes, opset);
            bool bias = node.Inputs.Count > 2 && node.Inputs[2].Length > 0;
            string scaled = bias ? $"{y}/scaled" : y;
            result.Add(new Node($"{p}/ReduceMean", "ReduceMean", "", [x, .. reduceInputs], [$"{y}/mean"], reduceAttributes));
            result.Add(new Node($"{p}/Sub", "Sub", "", [x, $"{y}/mean"], [$"{y}/centred"], none));
            result.Add(new Node($"{p}/Pow", "Pow", "", [$"{y}/centred", Scalar($"{y}/two", 2)], [$"{y}/squared"], none));
            result.Add(new Node($"{p}/ReduceMean_1", "ReduceMean", "", [$"{y}/squared", .. reduceInputs], [$"{y}/variance"], reduceAttributes));
            result.Add(new Node($"{p}/Add", "Add", "", [$"{y}/variance", Scalar($"{y}/epsilon", node.GetFloat("epsilon", 1e-5))], [$"{y}/shifted"], none));
            result.Add(new Node($"{p}/Sqrt", "Sqrt", "", [$"{y}/shifted"], [$"{y}/deviation"], none));
            result.Add(new Node($"{p}/Div", "Div", "", [$"{y}/centred", $"{y}/deviation"], [$"{y}/normalised"], none));
            result.Add(new Node($"{p}/Mul", "Mul", "", [$"{y}/normalised", node.Inputs[1]], [scaled], none));
            rewrittenRoles[($"{p}/Mul", 1)] = ParameterRole.Weight;
            if (bias)
            {
                result.Add(new Node($"{p}/Add_1", "Add", "", [scaled, node.Inputs[2]], [y], none));
                rewrittenRoles[($"{p}/Add_1", 1)] = ParameterRole.Bias;
            }
        }
        return result;
    }

    /// <summary>
    /// PyTorch's exporter stores tensors of equal value once and writes the others as Identity of the first
    /// (<c>4.weight = Identity(1.weight)</c> for two LayerNorms still at their initial ones; a BatchNorm's running
    /// variance as Identity of its scale). Those are separate tensors of the network: an Identity of a stored tensor
    /// that something else also reads becomes a tensor of its own, a copy named after the Identity's output, so each
    /// is sampled on its own (or stays constant, for running statistics). A stored tensor that only the Identity
    /// reads is left as it is.
    /// </summary>
    private List<Node> UntieDeduplicatedTensors(List<Node> sorted, List<ValueInfo> outputs)
    {
        var readers = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in sorted)
            foreach (string input in node.Inputs.Distinct())
                if (tensors.ContainsKey(input)) readers[input] = readers.GetValueOrDefault(input) + 1;
        var graphOutputs = new HashSet<string>(outputs.Select(o => o.Name), StringComparer.Ordinal);
        var result = new List<Node>(sorted.Count);
        foreach (var node in sorted)
        {
            if (node is { OpType: "Identity", Inputs.Count: 1, Outputs.Count: 1 } && tensors.TryGetValue(node.Inputs[0], out var stored)
                && readers[node.Inputs[0]] > 1 && !graphOutputs.Contains(node.Outputs[0]) && !tensors.ContainsKey(node.Outputs[0]))
            {
                string name = node.Outputs[0];
                tensors[name] = stored with { Name = name, Data = (double[])stored.Data.Clone() };
                continue;
            }
            result.Add(node);
        }
        return result;
    }

    /// <summary>
    /// InstanceNormalization (PyTorch's GroupNorm and InstanceNorm write it) over the axes after the channel axis:
    /// ReduceMean, Sub, Pow, ReduceMean, Add ε, Sqrt, Div, then the per-channel scale and bias reshaped to
    /// <c>[C, 1, …]</c>. A constant scale of ones and a constant bias of zeros (what PyTorch writes for GroupNorm,
    /// whose own affine parameters follow as Mul and Add) are left out; any other scale or bias is a sampled parameter.
    /// </summary>
    /// <summary>
    /// How a ReduceMean over <paramref name="axes"/> (keepdims = 1) is written at <paramref name="opset"/>: the axes as an
    /// attribute before opset 18, as a constant second input named after <paramref name="output"/> from opset 18.
    /// </summary>
    private (Dictionary<string, NodeAttribute> Attributes, List<string> Inputs) ReduceMeanAxes(string output, List<long> axes, long opset)
    {
        var attributes = new Dictionary<string, NodeAttribute>(StringComparer.Ordinal)
        {
            ["keepdims"] = new NodeAttribute("keepdims", AttributeKind.Int, Int: 1),
        };
        var inputs = new List<string>();
        if (opset >= 18)
        {
            string axesName = $"{output}/axes";
            tensors[axesName] = new Tensor(axesName, ElementType.Int64, [axes.Count], axes.Select(a => (double)a).ToArray());
            inputs.Add(axesName);
        }
        else
        {
            attributes["axes"] = new NodeAttribute("axes", AttributeKind.Ints, Ints: axes);
        }
        return (attributes, inputs);
    }

    private List<Node> RewriteInstanceNormalization(Node node, IReadOnlyDictionary<string, IReadOnlyList<Dimension>?>? shapes, long opset,
        Func<string, double, string> scalar)
    {
        string where = $"{file}: {Where(node)}";
        if (node.Inputs.Count != 3 || node.Inputs.Any(i => i.Length == 0) || node.Outputs.Count != 1)
            throw new OnnxImportException($"{where}: InstanceNormalization needs an input, a scale, a bias and one output");
        string x = node.Inputs[0], y = node.Outputs[0], p = $"{node.Name}/instancenorm";
        if (shapes is null || !shapes.TryGetValue(x, out var shape) || shape is null)
        {
            if (options.AcceptAnyOp) return [node]; // a graph taken whole (a frozen backbone) keeps the op as written
            throw new OnnxImportException($"{where}: the rank of the InstanceNormalization input is not known; it is not supported yet in this form");
        }
        int rank = shape.Count;
        if (rank < 3)
            throw new OnnxImportException($"{where}: InstanceNormalization needs an input of rank 3 or more, [N, C, ...]; this one has rank {rank}");
        var none = new Dictionary<string, NodeAttribute>();
        var axes = Enumerable.Range(2, rank - 2).Select(a => (long)a).ToList();
        var (reduceAttributes, reduceInputs) = ReduceMeanAxes(y, axes, opset);
        bool Constant(string name, double value) => tensors.TryGetValue(name, out var t) && t.Data.All(v => v == value);
        bool scale = !Constant(node.Inputs[1], 1), bias = !Constant(node.Inputs[2], 0);
        string normalised = scale || bias ? $"{y}/normalised" : y;
        string channelShape = $"{y}/channel_shape";
        tensors[channelShape] = new Tensor(channelShape, ElementType.Int64, [rank - 1], [-1, .. Enumerable.Repeat(1.0, rank - 2)]);
        var result = new List<Node>
        {
            new($"{p}/ReduceMean", "ReduceMean", "", [x, .. reduceInputs], [$"{y}/mean"], reduceAttributes),
            new($"{p}/Sub", "Sub", "", [x, $"{y}/mean"], [$"{y}/centred"], none),
            new($"{p}/Pow", "Pow", "", [$"{y}/centred", scalar($"{y}/two", 2)], [$"{y}/squared"], none),
            new($"{p}/ReduceMean_1", "ReduceMean", "", [$"{y}/squared", .. reduceInputs], [$"{y}/variance"], reduceAttributes),
            new($"{p}/Add", "Add", "", [$"{y}/variance", scalar($"{y}/epsilon", node.GetFloat("epsilon", 1e-5))], [$"{y}/shifted"], none),
            new($"{p}/Sqrt", "Sqrt", "", [$"{y}/shifted"], [$"{y}/deviation"], none),
            new($"{p}/Div", "Div", "", [$"{y}/centred", $"{y}/deviation"], [normalised], none),
        };
        if (scale)
        {
            string scaled = bias ? $"{y}/scaled" : y;
            result.Add(new Node($"{p}/Reshape", "Reshape", "", [node.Inputs[1], channelShape], [$"{y}/scale"], none));
            result.Add(new Node($"{p}/Mul", "Mul", "", [normalised, $"{y}/scale"], [scaled], none));
            rewrittenRoles[($"{p}/Mul", 1)] = ParameterRole.Weight;
            normalised = scaled;
        }
        if (bias)
        {
            result.Add(new Node($"{p}/Reshape_1", "Reshape", "", [node.Inputs[2], channelShape], [$"{y}/bias"], none));
            result.Add(new Node($"{p}/Add_1", "Add", "", [normalised, $"{y}/bias"], [y], none));
            rewrittenRoles[($"{p}/Add_1", 1)] = ParameterRole.Bias;
        }
        return result;
    }

    /// <summary>Static shapes of the graph as imported so far (before parameters are found); null when inference fails.</summary>
    private IReadOnlyDictionary<string, IReadOnlyList<Dimension>?>? InferShapes(List<Node> sorted, List<ValueInfo> inputs, List<ValueInfo> outputs)
    {
        var provisional = new OnnxGraph
        {
            Producer = model.ProducerName,
            ProducerVersion = model.ProducerVersion,
            IrVersion = model.IrVersion,
            Opsets = new Dictionary<string, long>(),
            Inputs = inputs,
            Outputs = outputs,
            Nodes = sorted,
            Parameters = [],
            Constants = tensors,
            Sha256 = "",
        };
        try
        {
            return ShapeInference.Infer(provisional);
        }
        catch (InvalidDataException)
        {
            return null;
        }
    }

    /// <summary>
    /// A Reshape whose target shape is computed from the data's shape (Shape → Gather → Unsqueeze → Concat, or
    /// Shape alone: PyTorch writes this for <c>view(x.shape[0], …)</c> and around GroupNorm) gets a constant target
    /// when the inferred output shape is fixed except for one leading symbolic dimension (the batch, written −1).
    /// The shape arithmetic that no longer feeds anything is removed.
    /// </summary>
    private List<Node> FoldShapeComputations(List<Node> sorted, List<ValueInfo> inputs, List<ValueInfo> outputs)
    {
        if (!sorted.Any(n => n.OpType == "Shape")) return sorted;
        if (InferShapes(sorted, inputs, outputs) is not { } shapes) return sorted;
        var fromShape = new HashSet<string>(StringComparer.Ordinal);
        foreach (var node in sorted)
            if (node.OpType == "Shape" || node.OpType != "Reshape" && node.Inputs.Any(fromShape.Contains))
                fromShape.UnionWith(node.Outputs.Where(o => o.Length > 0));
        var result = new List<Node>(sorted.Count);
        foreach (var node in sorted)
        {
            if (node.OpType == "Reshape" && node.InputOrNull(1) is { } target && fromShape.Contains(target)
                && shapes.TryGetValue(node.Outputs[0], out var shape) && shape is { Count: > 0 }
                && (shape[0].Value is not null || shape[0].Symbol is not null) && shape.Skip(1).All(d => d.Value is not null))
            {
                string name = $"{node.Outputs[0]}/shape";
                double[] data = [shape[0].Value ?? -1, .. shape.Skip(1).Select(d => (double)d.Value!.Value)];
                tensors[name] = new Tensor(name, ElementType.Int64, [data.Length], data);
                result.Add(node with { Inputs = [node.Inputs[0], name] });
                continue;
            }
            result.Add(node);
        }
        // Remove shape arithmetic nothing reads any more, from the end.
        var consumed = new HashSet<string>(outputs.Select(o => o.Name), StringComparer.Ordinal);
        for (int i = result.Count - 1; i >= 0; i--)
        {
            var node = result[i];
            if (node.Outputs.All(fromShape.Contains) && !node.Outputs.Any(consumed.Contains))
            {
                result.RemoveAt(i);
                continue;
            }
            consumed.UnionWith(node.Inputs);
        }
        return result;
    }

    /// <summary>
    /// PyTorch's Softshrink and Hardshrink, which it exports as comparisons and selections, become the one ONNX op
    /// that is both, <c>Shrink</c> (x − bias above λ, x + bias below −λ, 0 between):
    /// Softshrink(λ) = Add(Where(Greater(x, λ), Sub(x, λ), 0), Where(Less(x, −λ), Add(x, λ), 0)) is Shrink(λ, bias λ);
    /// Hardshrink(λ) = Where(Or(Greater(x, λ), Less(x, −λ)), x, 0) (each comparison possibly Cast to bool) is
    /// Shrink(λ, bias 0). Matched only where the intermediate values feed nothing else.
    /// </summary>
    private List<Node> RewriteShrink(List<Node> sorted, List<ValueInfo> outputs)
    {
        if (!sorted.Any(n => n.OpType == "Greater")) return sorted;
        var producer = new Dictionary<string, Node>(StringComparer.Ordinal);
        var uses = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var node in sorted)
        {
            foreach (string o in node.Outputs) if (o.Length > 0) producer[o] = node;
            foreach (string i in node.Inputs) uses[i] = uses.GetValueOrDefault(i) + 1;
        }
        foreach (var o in outputs) uses[o.Name] = uses.GetValueOrDefault(o.Name) + 1;

        double? ScalarOf(string name) => tensors.TryGetValue(name, out var t) && t.Size == 1 ? t.Data[0] : null;
        Node? Private(string value, string op) =>
            producer.TryGetValue(value, out var n) && n.OpType == op && uses.GetValueOrDefault(value) == 1 ? n : null;
        Node? SkipBoolCast(string value) =>
            Private(value, "Cast") is { } cast && cast.GetInt("to", 0) == (long)ElementType.Bool ? Private(cast.Inputs[0], "Greater") ?? Private(cast.Inputs[0], "Less") : Private(value, "Greater") ?? Private(value, "Less");
        // x op c for a comparison node: (x, c).
        (string X, double C)? Compare(Node? n, string op) =>
            n is { Inputs.Count: 2 } && n.OpType == op && ScalarOf(n.Inputs[1]) is { } c ? (n.Inputs[0], c) : null;

        var removed = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var replaced = new Dictionary<Node, Node>(ReferenceEqualityComparer.Instance);
        foreach (var node in sorted)
        {
            string output = node.Outputs.Count == 1 ? node.Outputs[0] : "";
            if (node.OpType == "Where" && node.Inputs.Count == 3 && ScalarOf(node.Inputs[2]) == 0 && Private(node.Inputs[0], "Or") is { Inputs.Count: 2 } or)
            {
                var a = SkipBoolCast(or.Inputs[0]);
                var b = SkipBoolCast(or.Inputs[1]);
                var greater = Compare(a, "Greater") ?? Compare(b, "Greater");
                var less = Compare(a, "Less") ?? Compare(b, "Less");
                if (greater is { } g && less is { } l && g.X == l.X && l.C == -g.C && g.C >= 0 && node.Inputs[1] == g.X)
                {
                    replaced[node] = Shrink(node.Name, g.X, output, g.C, 0);
                    removed.UnionWith([or, a!, b!]);
                    foreach (string input in or.Inputs)
                        if (Private(input, "Cast") is { } cast) removed.Add(cast);
                }
                continue;
            }
            if (node.OpType == "Add" && node.Inputs.Count == 2
                && Private(node.Inputs[0], "Where") is { Inputs.Count: 3 } w1 && Private(node.Inputs[1], "Where") is { Inputs.Count: 3 } w2)
            {
                var (upper, lower) = Private(w1.Inputs[0], "Greater") is not null ? (w1, w2) : (w2, w1);
                var greaterNode = Private(upper.Inputs[0], "Greater");
                var lessNode = Private(lower.Inputs[0], "Less");
                var sub = Private(upper.Inputs[1], "Sub");
                var add = Private(lower.Inputs[1], "Add");
                if (Compare(greaterNode, "Greater") is { } g && Compare(lessNode, "Less") is { } l && sub is { Inputs.Count: 2 } && add is { Inputs.Count: 2 }
                    && g.X == l.X && l.C == -g.C && g.C >= 0 && ScalarOf(upper.Inputs[2]) == 0 && ScalarOf(lower.Inputs[2]) == 0
                    && sub.Inputs[0] == g.X && add.Inputs[0] == g.X && ScalarOf(sub.Inputs[1]) is { } bias && ScalarOf(add.Inputs[1]) == bias)
                {
                    replaced[node] = Shrink(node.Name, g.X, output, g.C, bias);
                    removed.UnionWith([upper, lower, greaterNode!, lessNode!, sub, add]);
                }
            }
        }
        if (replaced.Count == 0) return sorted;
        return sorted.Where(n => !removed.Contains(n)).Select(n => replaced.GetValueOrDefault(n, n)).ToList();

        static Node Shrink(string name, string x, string y, double lambd, double bias) => new($"{name}/shrink", "Shrink", "", [x], [y],
            new Dictionary<string, NodeAttribute>(StringComparer.Ordinal)
            {
                ["lambd"] = new NodeAttribute("lambd", AttributeKind.Float, Float: lambd),
                ["bias"] = new NodeAttribute("bias", AttributeKind.Float, Float: bias),
            });
    }

    /// <summary>An op the importer takes only inside a pattern it rewrites (<see cref="OpCapabilities.ImportPatterns"/>) that is left over.</summary>
    private void RefuseUnmatchedPatterns(List<Node> sorted)
    {
        foreach (var node in sorted)
            if (OpCapabilities.FindPattern(node.OpType) is { } pattern && !SupportedOps.Contains(node.OpType))
                throw new OnnxImportException(
                    $"{file}: {Where(node)}: op '{node.OpType}' is not supported yet outside {pattern.Pattern}");
    }

    // ---------------------------------------------------------------- parameters

    private sealed record Use(string ValueName, ParameterRole Role, WeightLayout Layout);

    /// <summary>A stored tensor as a node sees it: its name, and whether the nodes in between swap its last two axes.</summary>
    private readonly record struct TensorPath(string Name, bool Transposed);

    /// <summary>How many shape, cast and scaling nodes a weight may pass through on its way to its layer.</summary>
    private const int MaxPathNodes = 16;

    /// <summary>
    /// Parameters are floating-point tensors in a weight or bias position: Gemm B and C, a MatMul operand, the
    /// scale and bias of BatchNormalization, an Add/Sub operand added to a MatMul or Gemm result (a Dense
    /// layer's bias, on either side) or any Add/Sub/Mul operand with more than one element. A tensor reaches that
    /// position directly or through nodes that only rearrange, cast or scale it (see <see cref="Trace"/>); those
    /// nodes stay in the graph and run on every call, and the parameter is the tensor as stored. Everything else
    /// (integer tensors, running statistics, scalar activation constants such as GELU's √2) stays constant.
    /// </summary>
    private (List<Parameter> Parameters, HashSet<string> Names) FindParameters(List<Node> sorted)
    {
        var producerOp = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var node in sorted)
            foreach (string output in node.Outputs)
                if (output.Length > 0) producerOp[output] = node;

        var order = new List<(Use Use, int Layer)>();
        var seen = new HashSet<string>(StringComparer.Ordinal);
        var layerOfOutput = new Dictionary<string, int>(StringComparer.Ordinal);
        var layersWithBias = new HashSet<int>();
        int layerCount = 0;

        foreach (var node in sorted)
        {
            var uses = new List<Use>();
            for (int i = 0; i < node.Inputs.Count; i++)
            {
                if (Trace(node.Inputs[i], producerOp) is not { } path || !ElementTypes.IsFloating(tensors[path.Name].SourceType)) continue;
                var use = Classify(node, i, path, tensors[path.Name], producerOp);
                if (use is not null) uses.Add(use);
            }
            if (uses.Count == 0) continue;

            int layer = -1;
            if (node.OpType is "Add" or "Sub" && uses.All(u => u.Role == ParameterRole.Bias))
            {
                string? other = node.Inputs.FirstOrDefault(n => n.Length > 0 && Trace(n, producerOp) is null);
                if (other is not null && layerOfOutput.TryGetValue(other, out int previous) && !layersWithBias.Contains(previous))
                    layer = previous;
            }
            if (layer < 0) layer = layerCount++;
            foreach (string output in node.Outputs) layerOfOutput[output] = layer;
            foreach (var use in uses)
            {
                if (use.Role == ParameterRole.Bias) layersWithBias.Add(layer);
                if (seen.Add(use.ValueName)) order.Add((use, layer));
            }
        }

        var baseNames = BaseNames(order);
        var parameters = new List<Parameter>(order.Count);
        var taken = new HashSet<string>(StringComparer.Ordinal);
        var nextNameSuffix = new Dictionary<string, int>(StringComparer.Ordinal); // O(n) naming of n alike names
        for (int i = 0; i < order.Count; i++)
        {
            var (use, layer) = order[i];
            var tensor = tensors[use.ValueName];
            string baseName = baseNames[i];
            string name = baseName;
            int k = nextNameSuffix.GetValueOrDefault(baseName, 1);
            for (; !taken.Add(name); k++) name = $"{baseName}_{k}";
            nextNameSuffix[baseName] = k;
            parameters.Add(new Parameter(name, use.ValueName, tensor.Shape, tensor.Data)
            {
                Layer = layer,
                Role = use.Role,
                Layout = use.Layout,
                SourceType = tensor.SourceType,
            });
        }
        return (parameters, new HashSet<string>(order.Select(o => o.Use.ValueName), StringComparer.Ordinal));
    }

    /// <summary>
    /// The name of each parameter before duplicates are numbered. A meaningful ONNX name becomes its dotted path.
    /// An opaque one (<c>onnx::MatMul_18</c>) takes the prefix of its layer's partner when the layer has exactly one
    /// weight and one bias and the partner's name is meaningful (<c>0.bias</c> → <c>0.weight</c>), unless a
    /// meaningful name already says that; otherwise it becomes <c>layer{k}.weight</c> / <c>layer{k}.bias</c>.
    /// </summary>
    private List<string> BaseNames(List<(Use Use, int Layer)> order)
    {
        string Original(Use use) => originalNames.GetValueOrDefault(use.ValueName, use.ValueName);
        static string RoleWord(ParameterRole role) => role == ParameterRole.Bias ? "bias" : "weight";

        var meaningful = new HashSet<string>(StringComparer.Ordinal);
        foreach (var (use, _) in order)
            if (!ParameterNames.IsOpaque(Original(use))) meaningful.Add(ParameterNames.Dotted(use.ValueName));

        var byLayer = order.ToLookup(o => o.Layer, o => o.Use);
        var names = new List<string>(order.Count);
        foreach (var (use, layer) in order)
        {
            if (!ParameterNames.IsOpaque(Original(use)))
            {
                names.Add(ParameterNames.Dotted(use.ValueName));
                continue;
            }
            string? fromPartner = null;
            var members = byLayer[layer].ToList();
            if (members.Count == 2 && members.Count(u => u.Role == ParameterRole.Weight) == 1
                && members.Single(u => !ReferenceEquals(u, use)) is var partner && !ParameterNames.IsOpaque(Original(partner)))
            {
                string[] segments = ParameterNames.Split(ParameterNames.Dotted(partner.ValueName));
                string candidate = string.Join('.', segments[..^1].Append(RoleWord(use.Role)));
                if (!meaningful.Contains(candidate)) fromPartner = candidate;
            }
            names.Add(fromPartner ?? $"layer{layer}.{RoleWord(use.Role)}");
        }
        return names;
    }

    /// <summary>
    /// The stored tensor a value is, directly or through nodes that keep it a function of that tensor alone:
    /// Identity, a floating Cast (float16 weights cast up to float32 are still the weights), Transpose, Reshape,
    /// Flatten, Squeeze, Unsqueeze, and Mul or Div by a constant that keeps its shape (a one-element constant, or a
    /// smaller one that broadcasts into the stored tensor's shape). Null when the value is computed
    /// from data (or from more than one stored tensor).
    /// </summary>
    private TensorPath? Trace(string value, Dictionary<string, Node> producerOp)
    {
        bool transposed = false;
        for (int hops = 0; hops <= MaxPathNodes && value.Length > 0; hops++)
        {
            if (tensors.ContainsKey(value)) return new TensorPath(value, transposed);
            if (!producerOp.TryGetValue(value, out var producer) || PassedInput(producer) is not { } next) return null;
            if (producer.OpType == "Transpose" && SwapsLastTwoAxes(producer)) transposed = !transposed;
            value = next;
        }
        return null;
    }

    /// <summary>The input a node passes on unchanged up to shape, type or a constant factor; null for any other node.</summary>
    private string? PassedInput(Node node)
    {
        string? first = node.InputOrNull(0);
        switch (node.OpType)
        {
            case "Identity" or "Transpose" or "Reshape" or "Flatten" or "Squeeze" or "Unsqueeze":
                return first;
            case "Cast":
                return ElementTypes.IsFloating((ElementType)node.GetInt("to", 0)) ? first : null;
            case "Mul" when node.Inputs.Count == 2:
                return ScalesOther(node.InputOrNull(1), first) ? first
                    : ScalesOther(first, node.InputOrNull(1)) ? node.InputOrNull(1) : null;
            case "Div" when node.Inputs.Count == 2:
                return ScalesOther(node.InputOrNull(1), first) ? first : null;
            default:
                return null;
        }
    }

    /// <summary>
    /// True when <paramref name="factor"/> is a constant that scales <paramref name="other"/> without changing its
    /// shape: a one-element constant, or (when <paramref name="other"/> is itself a stored tensor) a smaller constant
    /// that broadcasts into its shape, such as a per-column scale.
    /// </summary>
    private bool ScalesOther(string? factor, string? other)
    {
        if (factor is null || other is null || !tensors.TryGetValue(factor, out var c)) return false;
        if (c.Size == 1) return true;
        if (!tensors.TryGetValue(other, out var w) || c.Size >= w.Size || c.Shape.Length > w.Shape.Length) return false;
        for (int i = 1; i <= c.Shape.Length; i++)
        {
            int cd = c.Shape[^i], wd = w.Shape[^i];
            if (cd != 1 && cd != wd) return false;
        }
        return true;
    }

    /// <summary>True when a Transpose exchanges the last two axes (its default, reversing, perm does for a matrix).</summary>
    private static bool SwapsLastTwoAxes(Node transpose)
    {
        var perm = transpose.GetInts("perm");
        if (perm is null) return true;
        int r = perm.Count;
        return r >= 2 && perm[r - 1] == r - 2 && perm[r - 2] == r - 1;
    }

    private Use? Classify(Node node, int index, TensorPath path, Tensor tensor, Dictionary<string, Node> producerOp)
    {
        string name = path.Name;
        bool matrix = tensor.Shape.Length == 2;
        // The stored layout: a Transpose on the way swaps what the node sees.
        WeightLayout Stored(bool outIn) => !matrix ? WeightLayout.NotAMatrix : outIn != path.Transposed ? WeightLayout.OutIn : WeightLayout.InOut;
        if (rewrittenRoles.TryGetValue((node.Name, index), out var rewritten))
            return new Use(name, rewritten, WeightLayout.NotAMatrix);
        switch (node.OpType)
        {
            case "Gemm":
                if (index == 1) return new Use(name, ParameterRole.Weight, Stored(node.GetInt("transB", 0) != 0));
                if (index == 2) return new Use(name, ParameterRole.Bias, WeightLayout.NotAMatrix);
                return null;
            case "MatMul":
                if (index == 1) return new Use(name, ParameterRole.Weight, Stored(outIn: false));
                if (index == 0) return new Use(name, ParameterRole.Weight, Stored(outIn: true));
                return null;
            case "BatchNormalization":
                if (index == 1) return new Use(name, ParameterRole.Weight, WeightLayout.NotAMatrix);
                if (index == 2) return new Use(name, ParameterRole.Bias, WeightLayout.NotAMatrix);
                return null; // input 3, 4: running mean and variance
            case "Add" or "Sub" or "Mul":
            {
                if (node.Inputs.Count != 2 || index > 1) return null;
                string other = node.Inputs[1 - index];
                if (Trace(other, producerOp) is not null) return null;
                bool afterLinear = producerOp.TryGetValue(other, out var source) && source.OpType is "MatMul" or "Gemm";
                bool vector = tensor.Shape.Length >= 1 && tensor.Size > 1;
                if (node.OpType == "Mul")
                    return vector ? new Use(name, ParameterRole.Weight, WeightLayout.NotAMatrix) : null;
                return afterLinear || vector ? new Use(name, ParameterRole.Bias, WeightLayout.NotAMatrix) : null;
            }
            default:
                return null;
        }
    }

    // ---------------------------------------------------------------- batch dimension

    /// <summary>
    /// When every data input of rank ≥ 2 starts with the same fixed size N, report that dimension (and the same
    /// leading N of the outputs) as <c>batch</c>, and rewrite Reshape shape constants that start with N (and have
    /// no other -1) to start with -1. Returns N, or null when nothing was fixed.
    /// </summary>
    private static long? FreeBatchDimension(List<ValueInfo> inputs, List<ValueInfo> outputs, List<Node> sorted, Dictionary<string, Tensor> constants)
    {
        var batched = inputs.Where(v => v.Shape.Count >= 2).ToList();
        if (batched.Count == 0 || batched.Any(v => v.Shape[0].Value is null)) return null;
        long n = batched[0].Shape[0].Value!.Value;
        if (n <= 0 || batched.Any(v => v.Shape[0].Value != n)) return null;

        static ValueInfo Free(ValueInfo v) => v with { Shape = [Dimension.Symbolic(BatchSymbol), .. v.Shape.Skip(1)] };
        for (int i = 0; i < inputs.Count; i++)
            if (inputs[i].Shape.Count >= 2) inputs[i] = Free(inputs[i]);
        for (int i = 0; i < outputs.Count; i++)
            if (outputs[i].Shape.Count >= 1 && outputs[i].Shape[0].Value == n) outputs[i] = Free(outputs[i]);

        foreach (var node in sorted)
        {
            if (node.OpType != "Reshape" || node.InputOrNull(1) is not { } shapeName) continue;
            if (!constants.TryGetValue(shapeName, out var shape) || shape.Data.Length == 0) continue;
            if (shape.Data[0] != n || shape.Data.Skip(1).Contains(-1)) continue;
            double[] data = (double[])shape.Data.Clone();
            data[0] = -1;
            constants[shapeName] = shape with { Data = data };
        }
        return n;
    }
}
