using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;
using Spectre.Console;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// What <c>bnn import MODEL --freeze …</c> shows: the frozen part's ops (run by ONNX Runtime), the feature tensor
/// with the shape ONNX Runtime gives it on one row of zeros, and the sampled head as a model of its own.
/// </summary>
internal sealed class CutReport
{
    private CutReport(HeadCut cut, OnnxGraph head, ValueInfo feature, IReadOnlyDictionary<string, int> probe)
    {
        Cut = cut;
        Head = head;
        Feature = feature;
        Probe = probe;
    }

    public HeadCut Cut { get; }

    /// <summary>The sampled part as a graph; its input is the feature tensor.</summary>
    public OnnxGraph Head { get; }

    public ValueInfo Feature { get; }

    /// <summary>The sizes symbolic input dimensions had when the feature's shape was found.</summary>
    public IReadOnlyDictionary<string, int> Probe { get; }

    /// <summary>Imports and cuts <paramref name="modelPath"/>; runs the frozen part on one row of zeros for the feature's shape.</summary>
    public static CutReport Create(string modelPath, ParameterSelection selection)
    {
        var graph = FrozenHead.Import(modelPath, selection);
        var probe = ImportCommand.ProbeSizes(graph);
        if (probe.Count > 0) graph = InputShape.Resolve(graph.Inputs[0], probe).Bind(graph);
        var cut = FrozenHead.Cut(graph, selection);
        if (!cut.HasFrozenPart)
        {
            var head = cut.Head();
            return new CutReport(cut, head, head.Inputs[0], probe);
        }
        var input = graph.Inputs.Count == 1 ? graph.Inputs[0]
            : throw new NotSupportedException($"{modelPath}: the frozen part reads {graph.Inputs.Count} inputs; one data input is supported");
        if (input.Shape.Skip(1).Any(d => d.Value is null))
            throw new NotSupportedException($"{modelPath}: input '{input.Name}' has dimensions of unknown size besides the batch");
        int[] sampleShape = input.Shape.Skip(1).Select(d => checked((int)d.Value!.Value)).ToArray();
        var zeros = new double[sampleShape.Aggregate(1, (a, b) => checked(a * b))];
        var (_, _, record) = FrozenHead.Split(cut, modelPath, zeros, 1, sampleShape);
        var feature = record.FeatureInput;
        return new CutReport(cut, cut.Head(feature), feature, probe);
    }

    /// <summary>The cut, before the head's own report.</summary>
    public void Write(IAnsiConsole console)
    {
        console.MarkupLine($"[bold]{Markup.Escape(Cut.Graph.SourcePath)}[/] cut by {Markup.Escape(Cut.Selection.ToString())}");
        if (Cut.HasFrozenPart)
        {
            string ops = Cut.FrozenNodes.Count <= 20 ? Cut.FrozenOps : FrozenHead.Ops(Cut);
            console.MarkupLine($"frozen part, run once per row by ONNX Runtime ({Cut.FrozenNodes.Count} nodes): {Markup.Escape(ops)}");
        }
        else
        {
            console.MarkupLine("frozen part: none before the head (it reads the model input)");
        }
        console.MarkupLine($"frozen weights ({Cut.FrozenWeights.Count} tensors, {Cut.FrozenValues.ToString(CultureInfo.InvariantCulture)} values at their trained values, no prior): {Markup.Escape(string.Join(", ", Cut.FrozenWeights))}");
        console.MarkupLine($"feature tensor: {Markup.Escape(Feature.Name)} {ElementTypes.Name(Feature.ElementType)} [[{Markup.Escape(string.Join(",", Feature.Shape))}]]" +
            (Probe.Count > 0 ? $" (with {Markup.Escape(string.Join(", ", Probe.Select(kv => $"{kv.Key} = {kv.Value}")))})" : ""));
        console.MarkupLine($"sampled part ({Head.Nodes.Count} nodes, {Head.TotalParameters.ToString(CultureInfo.InvariantCulture)} parameter values), as the backends and exports see it:");
    }

    /// <summary>The head's import JSON (<paramref name="headJson"/>) with a <c>cut</c> object added.</summary>
    public string ToJson(string headJson)
    {
        var root = JsonNode.Parse(headJson)!.AsObject();
        root["cut"] = new JsonObject
        {
            ["freeze"] = new JsonArray(Cut.Selection.Freeze.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
            ["sample"] = new JsonArray(Cut.Selection.Sample.Select(p => (JsonNode?)JsonValue.Create(p)).ToArray()),
            ["frozen_ops"] = new JsonArray(Cut.FrozenNodes.Select(n => (JsonNode?)JsonValue.Create(n.OpType)).ToArray()),
            ["frozen_runs_on"] = "onnxruntime",
            ["frozen_weights"] = new JsonArray(Cut.FrozenWeights.Select(w => (JsonNode?)JsonValue.Create(w)).ToArray()),
            ["feature"] = new JsonObject
            {
                ["name"] = Feature.Name,
                ["dtype"] = ElementTypes.Name(Feature.ElementType),
                ["shape"] = new JsonArray(Feature.Shape.Select(d => d.Value is { } v ? (JsonNode?)JsonValue.Create(v) : JsonValue.Create(d.ToString())).ToArray()),
            },
            ["sampled_parameters"] = new JsonArray(Cut.Sampled.Select(p => (JsonNode?)JsonValue.Create(p.Name)).ToArray()),
            ["frozen_values"] = Cut.FrozenValues,
        };
        return root.ToJsonString(new JsonSerializerOptions { WriteIndented = false });
    }
}
