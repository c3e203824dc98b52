namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// A model split into a frozen part and a sampled part (the head) by a <see cref="ParameterSelection"/>: the nodes
/// that depend on no sampled parameter are frozen, and ONNX Runtime evaluates them once per data row; the tensor
/// where they meet the sampled part is the <see cref="Feature"/>. The sampled part becomes a graph of its own
/// (<see cref="Head"/>) whose input is that tensor, so only its ops need a sampling backend; any op ONNX Runtime runs
/// may appear in the frozen part (Conv, pooling, attention, Shape/Gather/Slice, …). This is last-layer Bayes
/// (Kristiadi et al. 2020, "Being Bayesian, even just a bit, fixes overconfidence in ReLU networks") generalised to
/// any set of trailing layers.
/// </summary>
/// <remarks>
/// Import the model with <see cref="ImportOptions.AcceptAnyOp"/> so that the frozen part may hold any op. Bad
/// selections are <see cref="ArgumentException"/>s with one line: a pattern that matches no weight, a sampled weight
/// upstream of an op the sampling backends cannot differentiate, nothing left to sample, or a sampled part that
/// reads more than one tensor from the frozen part.
/// </remarks>
internal sealed class HeadCut
{
    private HeadCut(OnnxGraph graph, ParameterSelection selection, IReadOnlyList<Parameter> sampled, IReadOnlyList<string> frozenWeights,
        long frozenValues, IReadOnlyList<Node> frozenNodes, IReadOnlyList<Node> sampledNodes, string feature)
    {
        FrozenValues = frozenValues;
        Graph = graph;
        Selection = selection;
        Sampled = sampled;
        FrozenWeights = frozenWeights;
        FrozenNodes = frozenNodes;
        SampledNodes = sampledNodes;
        Feature = feature;
    }

    /// <summary>The whole model.</summary>
    public OnnxGraph Graph { get; }

    public ParameterSelection Selection { get; }

    /// <summary>The parameters the posterior is placed over, in the graph's order.</summary>
    public IReadOnlyList<Parameter> Sampled { get; }

    /// <summary>Every stored weight held at its trained value: frozen parameters, and weights of layers no backend samples (Conv, …).</summary>
    public IReadOnlyList<string> FrozenWeights { get; }

    /// <summary>How many values <see cref="FrozenWeights"/> hold.</summary>
    public long FrozenValues { get; }

    /// <summary>The frozen nodes the feature tensor needs, in graph order; empty when the head reads the model input itself.</summary>
    public IReadOnlyList<Node> FrozenNodes { get; }

    /// <summary>The nodes that depend on a sampled parameter, in graph order.</summary>
    public IReadOnlyList<Node> SampledNodes { get; }

    /// <summary>The one tensor the sampled part reads from the frozen part (or the model input when nothing before the head is frozen).</summary>
    public string Feature { get; }

    /// <summary>True when ONNX Runtime must compute the feature (some node is frozen before the head).</summary>
    public bool HasFrozenPart => FrozenNodes.Count > 0;

    /// <summary>
    /// Splits <paramref name="graph"/>. Weights are the graph's parameters and its other floating tensors of more than
    /// one value (the weights of layers the importer does not sample, such as Conv kernels), by dotted name.
    /// </summary>
    public static HeadCut Create(OnnxGraph graph, ParameterSelection selection)
    {
        ArgumentNullException.ThrowIfNull(graph);
        ArgumentNullException.ThrowIfNull(selection);

        // Weights by dotted name: parameters, then stored floating tensors the importer keeps constant.
        var parameterValues = new HashSet<string>(graph.Parameters.Select(p => p.OnnxName), StringComparer.Ordinal);
        var otherWeights = graph.Constants.Values
            .Where(t => ElementTypes.IsFloating(t.SourceType) && t.Size > 1 && !parameterValues.Contains(t.Name))
            .Select(t => (Name: ParameterNames.Dotted(t.Name), Value: t.Name)).ToList();
        var weightNames = graph.Parameters.Select(p => p.Name).Concat(otherWeights.Select(w => w.Name)).ToList();

        foreach (var (option, patterns) in new[] { ("--freeze", selection.Freeze), ("--sample", selection.Sample) })
            foreach (string pattern in patterns)
                if (!weightNames.Any(n => ParameterSelection.Matches(pattern, n)))
                    throw new ArgumentException(
                        $"{option} '{pattern}' matches no weight of {Path.GetFileName(graph.SourcePath)} (weights: {Listing(weightNames)})");

        var consumers = graph.Nodes.SelectMany(n => n.Inputs.Where(i => i.Length > 0).Select(i => (Input: i, Node: n)))
            .ToLookup(x => x.Input, x => x.Node, StringComparer.Ordinal);
        if (selection.Sample.Count > 0)
        {
            foreach (var (name, value) in otherWeights)
                if (selection.IsSampled(name) && consumers[value].FirstOrDefault() is { } user)
                    throw new ArgumentException(
                        $"'{name}' is used by node '{user.Name}' ({user.OpType}), which the sampling backends cannot differentiate; it can only be frozen (narrow --sample)");
        }

        var sampled = graph.Parameters.Where(p => selection.IsSampled(p.Name)).ToList();
        if (sampled.Count == 0)
            throw new ArgumentException($"nothing left to sample: {selection} freezes every parameter of {Path.GetFileName(graph.SourcePath)}");

        // A node is sampled when some input is a sampled parameter or the output of a sampled node; the first sampled
        // parameter upstream of it names it in messages.
        var origin = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var p in sampled) origin[p.OnnxName] = p.Name;
        var sampledNodes = new List<Node>();
        var frozenNodes = new List<Node>();
        foreach (var node in graph.Nodes)
        {
            string? from = node.Inputs.Where(i => i.Length > 0).Select(i => origin.GetValueOrDefault(i)).FirstOrDefault(o => o is not null);
            if (from is null)
            {
                frozenNodes.Add(node);
                continue;
            }
            if (OpCapabilities.Unsupported(node, graph.Opset, OpStage.CompiledBackend) is not null
                && OpCapabilities.Unsupported(node, graph.Opset, OpStage.TorchBackend) is not null)
                throw new ArgumentException(
                    $"'{from}' is sampled, but node '{node.Name}' ({node.OpType}) after it is not differentiable by the sampling backends; freeze '{from}' too (sample only layers after that node)");
            sampledNodes.Add(node);
            foreach (string output in node.Outputs)
                if (output.Length > 0) origin[output] = from;
        }

        var output0 = graph.Outputs[0].Name;
        if (!origin.ContainsKey(output0))
            throw new ArgumentException($"output '{output0}' depends on no sampled parameter ({selection})");

        // The feature: what sampled nodes read that is neither a weight, a constant nor another sampled node's output.
        var frozenParameters = new HashSet<string>(graph.Parameters.Except(sampled).Select(p => p.OnnxName), StringComparer.Ordinal);
        List<string> Features() => sampledNodes.SelectMany(n => n.Inputs)
            .Where(i => i.Length > 0 && !origin.ContainsKey(i) && !graph.Constants.ContainsKey(i) && !frozenParameters.Contains(i))
            .Distinct(StringComparer.Ordinal).ToList();
        var features = Features();

        // Where the sampled part reads several frozen tensors (a PReLU rewritten as Relu(x) − a·Relu(−x) reads both
        // Relus), the frozen nodes behind them that a sampling backend runs move to the head, latest first, until one
        // tensor is left: the cut moves upstream, the model is the same.
        var position = graph.Nodes.Select((n, i) => (n, i)).ToDictionary(x => x.n, x => x.i);
        var producer = graph.Nodes.SelectMany(n => n.Outputs.Where(o => o.Length > 0).Select(o => (Output: o, Node: n)))
            .ToDictionary(x => x.Output, x => x.Node, StringComparer.Ordinal);
        while (features.Count > 1)
        {
            var movable = features.Select(f => producer.GetValueOrDefault(f)).OfType<Node>()
                .Where(n => OpCapabilities.Unsupported(n, graph.Opset, OpStage.CompiledBackend) is null
                            || OpCapabilities.Unsupported(n, graph.Opset, OpStage.TorchBackend) is null)
                .MaxBy(n => position[n]);
            if (movable is null) break;
            frozenNodes.Remove(movable);
            foreach (string output in movable.Outputs)
                if (output.Length > 0) origin[output] = origin.GetValueOrDefault(output) ?? sampled[0].Name;
            sampledNodes = graph.Nodes.Where(n => n == movable || sampledNodes.Contains(n)).ToList();
            features = Features();
        }
        if (features.Count != 1)
            throw new ArgumentException(features.Count == 0
                ? "the sampled part reads no data"
                : $"the sampled part reads {features.Count} tensors from the frozen part ({string.Join(", ", features)}); one is supported: sample fewer layers, those after a single tensor");

        string feature = features[0];
        var needed = Ancestors(frozenNodes, feature);
        var frozenWeights = graph.Parameters.Except(sampled).Select(p => p.Name).Concat(otherWeights.Select(w => w.Name)).ToList();
        long frozenValues = graph.Parameters.Except(sampled).Sum(p => (long)p.Size) + otherWeights.Sum(w => (long)graph.Constants[w.Value].Size);
        return new HeadCut(graph, selection, sampled, frozenWeights, frozenValues, frozenNodes.Where(needed.Contains).ToList(), sampledNodes, feature);
    }

    /// <summary>
    /// The sampled part as a graph: input <paramref name="feature"/> (the <see cref="Feature"/> tensor with its
    /// per-row shape after the batch axis), the sampled nodes, the sampled parameters, and the frozen parameters it
    /// reads as constants. When nothing before the head is frozen, <paramref name="feature"/> may be null: the model's
    /// own input is kept.
    /// </summary>
    public OnnxGraph Head(ValueInfo? feature = null)
    {
        // The model input when the head reads it directly; else the feature as computed by ONNX Runtime.
        var input = Graph.Inputs.FirstOrDefault(i => i.Name == Feature) ?? feature
            ?? throw new ArgumentException($"the head reads '{Feature}', whose shape must be given");
        if (input.Name != Feature) throw new ArgumentException($"the head's input is '{Feature}', not '{input.Name}'");

        var used = new HashSet<string>(SampledNodes.SelectMany(n => n.Inputs), StringComparer.Ordinal);
        var constants = Graph.Constants.Where(kv => used.Contains(kv.Key)).ToDictionary(kv => kv.Key, kv => kv.Value, StringComparer.Ordinal);
        foreach (var p in Graph.Parameters.Except(Sampled))
            if (used.Contains(p.OnnxName)) constants[p.OnnxName] = new Tensor(p.OnnxName, p.SourceType, p.Shape, p.Values);
        var produced = new HashSet<string>(SampledNodes.SelectMany(n => n.Outputs), StringComparer.Ordinal);

        return new OnnxGraph
        {
            Producer = Graph.Producer,
            ProducerVersion = Graph.ProducerVersion,
            IrVersion = Graph.IrVersion,
            Opsets = Graph.Opsets,
            Inputs = [input],
            Outputs = Graph.Outputs.Where(o => produced.Contains(o.Name)).ToList(),
            Nodes = SampledNodes,
            Parameters = Sampled,
            Constants = constants,
            Sha256 = Graph.Sha256,
            ExportedBatchSize = Graph.ExportedBatchSize,
            SourcePath = Graph.SourcePath,
        };
    }

    /// <summary>The frozen ops as one line, in graph order (<c>Conv → Relu → MaxPool → …</c>).</summary>
    public string FrozenOps => string.Join(" → ", FrozenNodes.Select(n => n.OpType));

    /// <summary>The nodes among <paramref name="nodes"/> that <paramref name="value"/> depends on.</summary>
    private static HashSet<Node> Ancestors(IReadOnlyList<Node> nodes, string value)
    {
        var producer = new Dictionary<string, Node>(StringComparer.Ordinal);
        foreach (var n in nodes)
            foreach (string o in n.Outputs)
                if (o.Length > 0) producer[o] = n;
        var result = new HashSet<Node>(ReferenceEqualityComparer.Instance);
        var stack = new Stack<string>([value]);
        while (stack.Count > 0)
        {
            if (!producer.TryGetValue(stack.Pop(), out var node) || !result.Add(node)) continue;
            foreach (string i in node.Inputs)
                if (i.Length > 0) stack.Push(i);
        }
        return result;
    }

    private static string Listing(IReadOnlyList<string> names) =>
        names.Count <= 12 ? string.Join(", ", names) : string.Join(", ", names.Take(12)) + $", … ({names.Count} in all)";
}
