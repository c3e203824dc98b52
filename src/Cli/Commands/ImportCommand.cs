using System.CommandLine;
using System.Globalization;
using System.Text;
using System.Text.Json;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;
using Spectre.Console;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>One stage of the workflow and whether it takes the model: a one-line reason when it does not.</summary>
/// <param name="Stage"><c>cpu</c>, <c>torch</c> (the sampling backends), <c>ensemble</c> or <c>member_files</c> (the exports).</param>
/// <param name="Command">The command that uses the stage.</param>
/// <param name="Reason">Null when the stage supports the model.</param>
internal sealed record StageSupport(string Stage, string Command, string? Reason)
{
    public bool Supported => Reason is null;
}

/// <summary>
/// <c>bnn import MODEL.onnx [--json]</c>: reads the model and shows what the posterior will be placed over:
/// producer, IR and opset, inputs and outputs, the op sequence, every parameter with its prior, and which sampling
/// backends and exports support the model (each backend's own check, and a trial build of the ensemble).
/// </summary>
internal static class ImportCommand
{
    /// <summary>The prior every weight gets unless told otherwise.</summary>
    public const string DefaultPrior = "Normal(0,1)";

    public static Command Create()
    {
        var model = new Argument<string>("model") { Description = "The ONNX model file (.onnx)." };
        var json = new Option<bool>("--json") { Description = "Print the import as one JSON object." };
        var (freeze, sample) = FrozenHeadOptions.Create();
        var command = new Command("import", "Read an ONNX model and list the parameters its posterior is placed over.");
        command.Arguments.Add(model);
        command.Options.Add(json);
        command.Options.Add(freeze);
        command.Options.Add(sample);
        command.SetAction(int (parseResult) =>
        {
            var selection = FrozenHead.Selection(parseResult.GetValue(freeze), parseResult.GetValue(sample));
            if (!selection.IsEverything)
            {
                var cut = CutReport.Create(parseResult.GetValue(model)!, selection);
                var headSupport = Support(cut.Head);
                if (parseResult.GetValue(json))
                    Console.Out.WriteLine(cut.ToJson(ToJson(cut.Head, headSupport)));
                else
                {
                    cut.Write(AnsiConsole.Console);
                    WriteReport(cut.Head, AnsiConsole.Console, headSupport);
                }
                return 0;
            }
            var graph = OnnxImporter.Import(parseResult.GetValue(model)!);
            var support = Support(graph);
            if (parseResult.GetValue(json))
                Console.Out.WriteLine(ToJson(graph, support));
            else
                WriteReport(graph, AnsiConsole.Console, support);
            return 0;
        });
        return command;
    }

    /// <summary>
    /// Whether each sampling backend of this build (<see cref="Backends.All"/>, by its own check of the graph) and each
    /// export (<see cref="EnsembleBuilder.Unsupported"/>, the member files' column of <see cref="OpCapabilities"/>)
    /// supports <paramref name="graph"/>, in that order.
    /// </summary>
    public static IReadOnlyList<StageSupport> Support(OnnxGraph graph)
    {
        graph = WithProbeSizes(graph);
        var stages = Backends.All.Select(b => new StageSupport(b.Name, $"bnn sample --backend {b.Name}", b.Unsupported(graph))).ToList();
        if (stages.All(s => s.Stage != "torch"))
            stages.Add(new StageSupport("torch", "bnn sample --backend torch", "this build has no TorchSharp backend"));
        stages.Add(new StageSupport("ensemble", "bnn export", EnsembleBuilder.Unsupported(graph)));
        stages.Add(new StageSupport("member_files", "bnn export --members-dir", OpCapabilities.Unsupported(graph, OpStage.MemberFiles)));
        return stages;
    }

    /// <summary>
    /// <c>{"inputs":[{"name","dtype","shape"}],"outputs":[…],"ops":[…],"parameters":[{"name","onnx_name","shape",
    /// "size","prior"}],"total_parameters":N,"support_checked_with":{"seq":3},"support":[{"stage","command","supported",
    /// "reason"}]}</c>; symbolic dimensions are strings, unknown ones <c>"?"</c>; <c>reason</c> is null where the stage
    /// supports the model; <c>support_checked_with</c> gives the size each symbolic non-batch input dimension had when
    /// support was checked (empty when there are none).
    /// </summary>
    public static string ToJson(OnnxGraph graph) => ToJson(graph, Support(graph));

    /// <inheritdoc cref="ToJson(OnnxGraph)"/>
    public static string ToJson(OnnxGraph graph, IReadOnlyList<StageSupport> support)
    {
        using var buffer = new MemoryStream();
        using (var w = new Utf8JsonWriter(buffer))
        {
            w.WriteStartObject();
            WriteValues(w, "inputs", graph.Inputs);
            WriteValues(w, "outputs", graph.Outputs);
            w.WriteStartArray("ops");
            foreach (var node in graph.Nodes) w.WriteStringValue(node.OpType);
            w.WriteEndArray();
            w.WriteStartArray("parameters");
            foreach (var p in graph.Parameters)
            {
                w.WriteStartObject();
                w.WriteString("name", p.Name);
                w.WriteString("onnx_name", p.OnnxName);
                w.WriteStartArray("shape");
                foreach (int d in p.Shape) w.WriteNumberValue(d);
                w.WriteEndArray();
                w.WriteNumber("size", p.Size);
                w.WriteString("prior", DefaultPrior);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteNumber("total_parameters", graph.TotalParameters);
            w.WriteStartObject("support_checked_with");
            foreach (var (symbol, size) in ProbeSizes(graph)) w.WriteNumber(symbol, size);
            w.WriteEndObject();
            w.WriteStartArray("support");
            foreach (var stage in support)
            {
                w.WriteStartObject();
                w.WriteString("stage", stage.Stage);
                w.WriteString("command", stage.Command);
                w.WriteBoolean("supported", stage.Supported);
                if (stage.Reason is null) w.WriteNull("reason");
                else w.WriteString("reason", stage.Reason);
                w.WriteEndObject();
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        return Encoding.UTF8.GetString(buffer.ToArray());
    }

    private static void WriteValues(Utf8JsonWriter w, string property, IReadOnlyList<ValueInfo> values)
    {
        w.WriteStartArray(property);
        foreach (var v in values)
        {
            w.WriteStartObject();
            w.WriteString("name", v.Name);
            w.WriteString("dtype", ElementTypes.Name(v.ElementType));
            w.WriteStartArray("shape");
            foreach (var d in v.Shape)
            {
                if (d.Value is { } size) w.WriteNumberValue(size);
                else w.WriteStringValue(d.ToString());
            }
            w.WriteEndArray();
            w.WriteEndObject();
        }
        w.WriteEndArray();
    }

    /// <summary>The human-readable report.</summary>
    public static void WriteReport(OnnxGraph graph, IAnsiConsole console) => WriteReport(graph, console, Support(graph));

    /// <inheritdoc cref="WriteReport(OnnxGraph, IAnsiConsole)"/>
    public static void WriteReport(OnnxGraph graph, IAnsiConsole console, IReadOnlyList<StageSupport> support)
    {
        string producer = graph.Producer.Length == 0 ? "(unnamed producer)" : $"{graph.Producer} {graph.ProducerVersion}".Trim();
        string opsets = string.Join(", ", graph.Opsets.Select(o => o.Key.Length == 0 ? $"opset {o.Value}" : $"{o.Key} {o.Value}"));
        console.MarkupLine($"[bold]{Markup.Escape(graph.SourcePath)}[/]");
        console.MarkupLine($"producer [bold]{Markup.Escape(producer)}[/], IR {graph.IrVersion}, {Markup.Escape(opsets)}");
        if (graph.ExportedBatchSize is { } batch)
            console.MarkupLine($"[dim]batch dimension exported as {batch}; read as 'batch' (any number of rows)[/]");

        var io = new Table().Border(TableBorder.Rounded).AddColumns("", "name", "dtype", "shape");
        foreach (var v in graph.Inputs) io.AddRow("input", Markup.Escape(v.Name), ElementTypes.Name(v.ElementType), Markup.Escape(Shape(v)));
        foreach (var v in graph.Outputs) io.AddRow("output", Markup.Escape(v.Name), ElementTypes.Name(v.ElementType), Markup.Escape(Shape(v)));
        console.Write(io);

        console.MarkupLine($"ops ({graph.Nodes.Count}): {Markup.Escape(string.Join(" → ", graph.Nodes.Select(n => n.OpType)))}");

        var table = new Table().Border(TableBorder.Rounded).AddColumns("name", "ONNX name", "shape", "size", "prior");
        table.Columns[3].RightAligned();
        foreach (var p in graph.Parameters)
        {
            table.AddRow(Markup.Escape(p.Name), Markup.Escape(p.OnnxName), $"[[{string.Join(",", p.Shape)}]]",
                p.Size.ToString(CultureInfo.InvariantCulture), DefaultPrior);
        }
        table.AddRow("[bold]total[/]", "", "", $"[bold]{graph.TotalParameters.ToString(CultureInfo.InvariantCulture)}[/]", "");
        console.Write(table);

        var probe = ProbeSizes(graph);
        console.MarkupLine(probe.Count == 0 ? "supported by:"
            : $"supported by (checked with {Markup.Escape(string.Join(", ", probe.Select(kv => $"{kv.Key} = {kv.Value}")))}; eval, sample and predict take the size from the data or --input-shape):");
        foreach (var stage in support)
        {
            string verdict = stage.Supported ? "[green]yes[/]" : "[red]no[/] ";
            string reason = stage.Reason is null ? "" : $": {Markup.Escape(stage.Reason)}";
            console.MarkupLine($"  {verdict} {Markup.Escape(stage.Stage),-12} {Markup.Escape(stage.Command)}{reason}");
        }
    }

    private static string Shape(ValueInfo v) => $"[{string.Join(",", v.Shape)}]";

    /// <summary>The size given to each symbolic non-batch input dimension when checking support (eval, sample and predict take it from the data).</summary>
    public const int ProbeSize = 3;

    /// <summary>
    /// The symbolic non-batch dimensions of the data input (<c>seq</c> in <c>x [batch, seq, 1]</c>) with the size
    /// <see cref="ProbeSize"/> each, by name; empty when there are none. The stages' checks need static shapes, and
    /// the size a run uses comes only with its data.
    /// </summary>
    public static IReadOnlyDictionary<string, int> ProbeSizes(OnnxGraph graph) =>
        graph.Inputs.Count == 1
            ? graph.Inputs[0].Shape.Skip(1).Where(d => d.Value is null && d.Symbol is not null)
                .Select(d => d.Symbol!).Distinct().ToDictionary(s => s, _ => ProbeSize)
            : new Dictionary<string, int>();

    private static OnnxGraph WithProbeSizes(OnnxGraph graph)
    {
        var sizes = ProbeSizes(graph);
        if (sizes.Count == 0) return graph;
        var shape = InputShape.Resolve(graph.Inputs[0], sizes);
        return shape.SampleShape is null ? graph : shape.Bind(graph);
    }
}
