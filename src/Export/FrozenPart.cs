using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Bnn.Onnx.Export;

/// <summary>
/// The frozen part of a model (see <see cref="HeadCut"/>) as ONNX: the source model cut down to the nodes its feature
/// tensor needs, which ONNX Runtime evaluates (<see cref="FrozenPartSession"/>), and the ensemble that runs it once
/// in front of the stacked head (<see cref="BuildEnsemble"/>).
/// </summary>
internal static class FrozenPart
{
    /// <summary>Lowest and highest default-domain opset of a frozen part the ensemble (written at <see cref="EnsembleBuilder.Opset"/>) takes.</summary>
    public const int MinEnsembleOpset = 13;

    /// <summary>
    /// A copy of <paramref name="source"/> whose only output is <paramref name="feature"/>, holding just the nodes,
    /// initializers and inputs it needs (model-local functions and opsets as in the source).
    /// </summary>
    public static ModelProto Backbone(ModelProto source, string feature)
    {
        ArgumentNullException.ThrowIfNull(source);
        var model = source.Clone();
        var graph = model.Graph;
        var producer = new Dictionary<string, NodeProto>(StringComparer.Ordinal);
        foreach (var n in graph.Node)
            foreach (string o in n.Output)
                if (o.Length > 0) producer[o] = n;
        bool isInput = graph.Input.Any(i => i.Name == feature);
        if (!producer.ContainsKey(feature) && !isInput)
            throw new NotSupportedException(
                $"tensor '{feature}' is not a value of the model file (it exists only inside a layer the importer rewrote); cut before or after that layer");

        var needed = new HashSet<NodeProto>(ReferenceEqualityComparer.Instance);
        var read = new HashSet<string>(StringComparer.Ordinal);
        var stack = new Stack<string>([feature]);
        while (stack.Count > 0)
        {
            string value = stack.Pop();
            if (!read.Add(value) || !producer.TryGetValue(value, out var node) || !needed.Add(node)) continue;
            foreach (string i in node.Input)
                if (i.Length > 0) stack.Push(i);
            // Subgraphs (If, Loop, Scan) may read outer values by name.
            foreach (var a in node.Attribute)
                foreach (var g in a.G is null ? a.Graphs.ToList() : [.. a.Graphs, a.G])
                    foreach (var inner in g.Node)
                        foreach (string i in inner.Input)
                            if (i.Length > 0) stack.Push(i);
        }

        var kept = graph.Node.Where(needed.Contains).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(kept);
        var initializers = graph.Initializer.Where(t => read.Contains(t.Name)).ToList();
        graph.Initializer.Clear();
        graph.Initializer.AddRange(initializers);
        var inputs = graph.Input.Where(i => read.Contains(i.Name) && initializers.All(t => t.Name != i.Name)).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(inputs);
        graph.Output.Clear();
        graph.Output.Add(new ValueInfoProto { Name = feature });
        graph.ValueInfo.Clear();
        return model;
    }

    /// <summary>
    /// The ensemble of a model with a frozen part: the frozen part once, its feature tensor feeding the ensemble of
    /// <paramref name="head"/> (<see cref="EnsembleBuilder.Build"/>: parameters stacked along the member axis), so
    /// that serving cost grows with the head, not the backbone. Inputs are the source model's; outputs and metadata
    /// are the head ensemble's.
    /// </summary>
    /// <param name="source">The whole model file.</param>
    /// <param name="head">The sampled part (<see cref="HeadCut.Head"/>); its one input is the feature tensor.</param>
    public static ModelProto BuildEnsemble(ModelProto source, OnnxGraph head, ParameterLayout layout, IReadOnlyList<double[]> members, EnsembleOptions options)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentNullException.ThrowIfNull(head);
        string feature = head.Inputs.Count == 1 ? head.Inputs[0].Name : throw new ArgumentException("the head has one input, the feature tensor");
        long opset = source.OpsetImport.Where(o => o.Domain is "" or "ai.onnx").Select(o => o.Version).DefaultIfEmpty(1).Max();
        if (opset < MinEnsembleOpset || opset > EnsembleBuilder.Opset)
            throw new NotSupportedException(
                $"the frozen part is written at opset {opset}; the ensemble runs it at opset {EnsembleBuilder.Opset}, which keeps the meaning of ops from opset {MinEnsembleOpset} on: re-export the model at an opset from {MinEnsembleOpset} to {EnsembleBuilder.Opset} (member files work at any opset)");

        var ensemble = EnsembleBuilder.Build(head, layout, members, options);
        var backbone = Backbone(source, feature);
        var graph = ensemble.Graph;

        // Names the head ensemble uses; a backbone value of the same name (other than the feature itself) is renamed.
        var taken = new HashSet<string>(graph.Node.SelectMany(n => n.Output).Concat(graph.Initializer.Select(t => t.Name)), StringComparer.Ordinal);
        var renamed = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (string name in backbone.Graph.Node.SelectMany(n => n.Output).Concat(backbone.Graph.Initializer.Select(t => t.Name)))
        {
            if (name.Length == 0 || name == feature || !taken.Contains(name)) continue;
            string fresh = "bnn_frozen/" + name;
            for (int k = 1; taken.Contains(fresh); k++) fresh = $"bnn_frozen/{name}_{k}";
            renamed[name] = fresh;
            taken.Add(fresh);
        }
        string Rename(string name) => renamed.GetValueOrDefault(name, name);
        foreach (var n in backbone.Graph.Node)
        {
            for (int i = 0; i < n.Input.Count; i++) n.Input[i] = Rename(n.Input[i]);
            for (int i = 0; i < n.Output.Count; i++) n.Output[i] = Rename(n.Output[i]);
        }
        foreach (var t in backbone.Graph.Initializer) t.Name = Rename(t.Name);

        // The feature becomes an inner value: the backbone computes it, the head ensemble reads it.
        var headInputs = graph.Input.Where(i => i.Name != feature).ToList();
        graph.Input.Clear();
        graph.Input.AddRange(backbone.Graph.Input.Concat(headInputs));
        var nodes = backbone.Graph.Node.Concat(graph.Node).ToList();
        graph.Node.Clear();
        graph.Node.AddRange(nodes);
        graph.Initializer.AddRange(backbone.Graph.Initializer);

        ensemble.IrVersion = Math.Max(ensemble.IrVersion, source.IrVersion);
        foreach (var o in source.OpsetImport.Where(o => o.Domain is not ("" or "ai.onnx")))
            if (ensemble.OpsetImport.All(e => e.Domain != o.Domain)) ensemble.OpsetImport.Add(o.Clone());
        ensemble.Functions.AddRange(source.Functions.Select(f => f.Clone()));
        ensemble.MetadataProps.Add(new StringStringEntryProto { Key = "bnn.frozen_feature", Value = feature });
        ensemble.DocString += $"; frozen part computed once, feature '{feature}'";
        return ensemble;
    }
}

/// <summary>
/// ONNX Runtime running a model's frozen part (<see cref="FrozenPart.Backbone"/>) on data rows, in batches, into its
/// feature tensor. The features of a run are held in memory as float64; at most <see cref="MaxFeatureBytes"/>.
/// Holds an <see cref="InferenceSession"/>: dispose it.
/// </summary>
internal sealed class FrozenPartSession : IDisposable
{
    /// <summary>Largest feature table held, in bytes of float64 (1 GiB: 134 million values, e.g. a million rows of 128 features).</summary>
    public const long MaxFeatureBytes = 1L << 30;

    /// <summary>Rows per ONNX Runtime call.</summary>
    public const int BatchRows = 256;

    private readonly InferenceSession _session;
    private readonly string _feature;

    public FrozenPartSession(ModelProto source, string feature)
    {
        _feature = feature;
        var backbone = FrozenPart.Backbone(source, feature);
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR, IntraOpNumThreads = 1 };
        try
        {
            _session = new InferenceSession(backbone.ToByteArray(), options);
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"ONNX Runtime cannot run the frozen part up to '{feature}': {ex.Message}");
        }
        if (_session.InputNames.Count != 1)
            throw new NotSupportedException($"the frozen part reads {_session.InputNames.Count} inputs; one data input is supported");
        InputName = _session.InputNames[0];
        InputType = _session.InputMetadata[InputName].ElementDataType;
        if (InputType is not (TensorElementType.Float or TensorElementType.Double))
            throw new NotSupportedException($"input '{InputName}' has element type {InputType}; the frozen part is fed float or double");
    }

    public string InputName { get; }
    public TensorElementType InputType { get; }

    /// <summary>
    /// The feature tensor for <paramref name="rows"/> samples stored row-major in <paramref name="inputs"/>, each of
    /// shape <paramref name="sampleShape"/>: row-major values, the feature's shape after the batch axis, and its element type.
    /// The table is refused after the first batch, before it is allocated, when it would exceed <paramref name="maxBytes"/>.
    /// </summary>
    public (double[] Values, int[] SampleShape, ElementType Type) Compute(ReadOnlySpan<double> inputs, int rows, IReadOnlyList<int> sampleShape,
        long maxBytes = MaxFeatureBytes)
    {
        int size = sampleShape.Aggregate(1, (a, b) => checked(a * b));
        if (inputs.Length != (long)rows * size) throw new ArgumentException($"{inputs.Length} input values for {rows} rows of {size}");
        double[]? values = null;
        int[] featureShape = [];
        var type = ElementType.Float;
        int width = 0;
        for (int first = 0; first < rows; first += BatchRows)
        {
            int count = Math.Min(BatchRows, rows - first);
            var (batch, shape, batchType) = Run(inputs.Slice(first * size, count * size), count, sampleShape);
            if (values is null)
            {
                featureShape = shape;
                type = batchType;
                width = shape.Aggregate(1, (a, b) => checked(a * b));
                long bytes = (long)rows * width * sizeof(double);
                if (bytes > maxBytes)
                    throw new NotSupportedException(
                        $"the features of '{_feature}' for {rows} rows take {bytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} bytes ({width} values per row as float64), over the limit of {maxBytes.ToString("N0", System.Globalization.CultureInfo.InvariantCulture)} held in memory; use fewer rows or cut later in the network");
                values = new double[(long)rows * width];
            }
            else if (!shape.SequenceEqual(featureShape))
            {
                throw new InvalidDataException($"feature '{_feature}' has shape [{string.Join(",", shape)}] in one batch, [{string.Join(",", featureShape)}] in another");
            }
            batch.CopyTo(values.AsSpan(first * width, count * width));
        }
        return (values ?? [], featureShape, type);
    }

    private (double[] Values, int[] SampleShape, ElementType Type) Run(ReadOnlySpan<double> inputs, int rows, IReadOnlyList<int> sampleShape)
    {
        long[] shape = [rows, .. sampleShape.Select(d => (long)d)];
        using var input = InputType == TensorElementType.Float
            ? OrtValue.CreateTensorValueFromMemory(inputs.ToArray().Select(v => (float)v).ToArray(), shape)
            : OrtValue.CreateTensorValueFromMemory(inputs.ToArray(), shape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [InputName], [input], [_feature]);
        var info = outputs[0].GetTensorTypeAndShape();
        if (info.Shape.Length == 0 || info.Shape[0] != rows)
            throw new NotSupportedException($"feature '{_feature}' [{string.Join(",", info.Shape)}] has no batch axis of {rows} rows first");
        int[] featureShape = info.Shape.Skip(1).Select(d => checked((int)d)).ToArray();
        return info.ElementDataType switch
        {
            TensorElementType.Float => (outputs[0].GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray(), featureShape, ElementType.Float),
            TensorElementType.Double => (outputs[0].GetTensorDataAsSpan<double>().ToArray(), featureShape, ElementType.Double),
            var other => throw new NotSupportedException($"feature '{_feature}' has element type {other}; the sampled part reads float or double"),
        };
    }

    public void Dispose() => _session.Dispose();
}
