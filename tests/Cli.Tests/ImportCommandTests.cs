using System.CommandLine;
using System.Text.Json;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary><c>bnn import</c>: the JSON shape the issue fixes, and exit code 2 for bad files.</summary>
public class ImportCommandTests
{
    private static string Models => Path.Combine(RepoRoot(), "models");

    private static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string source = "")
    {
        foreach (string start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(source) ?? "." })
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bnn.Onnx.sln not found");
    }

    [Fact]
    public void Json_has_exactly_the_documented_shape()
    {
        var graph = OnnxImporter.Import(Path.Combine(Models, "blog_mlp_pytorch.onnx"));

        using var json = JsonDocument.Parse(ImportCommand.ToJson(graph));
        var root = json.RootElement;

        Assert.Equal(["inputs", "outputs", "ops", "parameters", "total_parameters", "support_checked_with", "support"], root.EnumerateObject().Select(p => p.Name));
        var input = Assert.Single(root.GetProperty("inputs").EnumerateArray());
        Assert.Equal(["name", "dtype", "shape"], input.EnumerateObject().Select(p => p.Name));
        Assert.Equal("x", input.GetProperty("name").GetString());
        Assert.Equal("float32", input.GetProperty("dtype").GetString());
        var shape = input.GetProperty("shape").EnumerateArray().ToList();
        Assert.Equal(JsonValueKind.String, shape[0].ValueKind); // symbolic dimension as a string
        Assert.Equal("batch", shape[0].GetString());
        Assert.Equal(1, shape[1].GetInt32());
        Assert.Equal(["name", "dtype", "shape"], root.GetProperty("outputs")[0].EnumerateObject().Select(p => p.Name));
        Assert.Equal(["Gemm", "Softplus", "Gemm", "Softplus", "Gemm"], root.GetProperty("ops").EnumerateArray().Select(e => e.GetString()));

        var parameters = root.GetProperty("parameters").EnumerateArray().ToList();
        Assert.Equal(6, parameters.Count);
        Assert.All(parameters, p => Assert.Equal(["name", "onnx_name", "shape", "size", "prior"], p.EnumerateObject().Select(q => q.Name)));
        Assert.Equal("2.weight", parameters[2].GetProperty("name").GetString());
        Assert.Equal("2.weight", parameters[2].GetProperty("onnx_name").GetString());
        Assert.Equal([10, 5], parameters[2].GetProperty("shape").EnumerateArray().Select(e => e.GetInt32()));
        Assert.Equal(50, parameters[2].GetProperty("size").GetInt32());
        Assert.Equal("Normal(0,1)", parameters[2].GetProperty("prior").GetString());
        Assert.Equal(81, root.GetProperty("total_parameters").GetInt32());

        var support = root.GetProperty("support").EnumerateArray().ToList();
        Assert.All(support, p => Assert.Equal(["stage", "command", "supported", "reason"], p.EnumerateObject().Select(q => q.Name)));
        Assert.Equal(["cpu", "torch", "ensemble", "member_files"], support.Select(p => p.GetProperty("stage").GetString()));
        Assert.All(support, p => Assert.True(p.GetProperty("supported").GetBoolean()));
        Assert.All(support, p => Assert.Equal(JsonValueKind.Null, p.GetProperty("reason").ValueKind));
    }

    /// <summary>The skip-connection fixtures (Concat of a hidden layer and the input) sample on both backends and export both ways.</summary>
    [Theory]
    [InlineData("skip_regressor_op13.onnx")]
    [InlineData("skip_regressor_op17.onnx")]
    [InlineData("skip_classifier_op13.onnx")]
    [InlineData("skip_classifier_op17.onnx")]
    public void A_skip_connection_model_is_supported_by_every_backend_and_export(string file)
    {
        var graph = OnnxImporter.Import(Path.Combine(Models, file));
        Assert.Contains(graph.Nodes, n => n.OpType == "Concat");
        var support = ImportCommand.Support(graph);
        Assert.All(support, s => Assert.True(s.Supported, $"{s.Stage}: {s.Reason}"));
    }

    /// <summary>
    /// A sequence model (<c>x [batch, seq, 1]</c>): the size of <c>seq</c> comes only with the data, so support is
    /// checked at a probe size, which the report names; every stage supports it, as sampling and export do.
    /// </summary>
    [Fact]
    public void A_model_with_a_symbolic_sequence_dimension_is_checked_at_a_probe_size_and_says_so()
    {
        var graph = OnnxImporter.Import(Path.Combine(Models, "sequence_mean_pytorch.onnx"));
        var support = ImportCommand.Support(graph);
        Assert.All(support, s => Assert.True(s.Supported, $"{s.Stage}: {s.Reason}"));

        using var json = JsonDocument.Parse(ImportCommand.ToJson(graph, support));
        Assert.Equal(ImportCommand.ProbeSize, json.RootElement.GetProperty("support_checked_with").GetProperty("seq").GetInt32());

        var plain = OnnxImporter.Import(Path.Combine(Models, "blog_mlp_pytorch.onnx"));
        using var plainJson = JsonDocument.Parse(ImportCommand.ToJson(plain));
        Assert.Empty(plainJson.RootElement.GetProperty("support_checked_with").EnumerateObject());
    }

    /// <summary>
    /// A network with Where after its hidden layer: the TorchSharp backend and both exports take it, the compiled backend
    /// does not (its column of the capability table lacks Less and Where), and the import says so before anyone samples.
    /// </summary>
    [Fact]
    public void A_model_outside_one_backend_says_which_backend_and_why_in_text_and_json()
    {
        string folder = Directory.CreateTempSubdirectory("bnn-import-support-").FullName;
        try
        {
            string path = Path.Combine(folder, "where.onnx");
            File.WriteAllBytes(path, WhereModel().ToByteArray());
            var graph = OnnxImporter.Import(path);

            var support = ImportCommand.Support(graph).ToDictionary(s => s.Stage);
            Assert.False(support["cpu"].Supported);
            Assert.Contains("'negative' (Less)", support["cpu"].Reason);
            Assert.True(support["ensemble"].Supported, support["ensemble"].Reason);
            Assert.True(support["member_files"].Supported);
            Assert.True(support["torch"].Supported, support["torch"].Reason);

            using var json = JsonDocument.Parse(ImportCommand.ToJson(graph));
            var cpu = json.RootElement.GetProperty("support").EnumerateArray().Single(e => e.GetProperty("stage").GetString() == "cpu");
            Assert.False(cpu.GetProperty("supported").GetBoolean());
            Assert.Equal(support["cpu"].Reason, cpu.GetProperty("reason").GetString());

            var text = new StringWriter();
            var console = Spectre.Console.AnsiConsole.Create(new Spectre.Console.AnsiConsoleSettings
            {
                Ansi = Spectre.Console.AnsiSupport.No,
                ColorSystem = Spectre.Console.ColorSystemSupport.NoColors,
                Out = new Spectre.Console.AnsiConsoleOutput(text),
            });
            console.Profile.Width = 400;
            ImportCommand.WriteReport(graph, console);
            var lines = text.ToString().Split('\n').Select(l => l.Trim()).ToArray();
            Assert.Contains("supported by:", lines);
            Assert.Contains(lines, l => l.StartsWith("no  cpu") && l.Contains("(Less)"));
            Assert.Contains(lines, l => l.StartsWith("yes ensemble") && l.Contains("bnn export"));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }

    /// <summary>x [batch,2] → Gemm 2→3 → Where(Less(h, 0), 0, h) → Gemm 3→1 → y.</summary>
    private static ModelProto WhereModel()
    {
        static TensorProto Floats(string name, long[] dims, params float[] values)
        {
            var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
            t.Dims.AddRange(dims);
            t.FloatData.AddRange(values);
            return t;
        }
        static NodeProto Node(string op, string name, string[] inputs, string output, long transB = -1)
        {
            var n = new NodeProto { OpType = op, Name = name };
            n.Input.AddRange(inputs);
            n.Output.Add(output);
            if (transB >= 0) n.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = transB });
            return n;
        }
        static ValueInfoProto Info(string name, long width) => new()
        {
            Name = name,
            Type = new TypeProto
            {
                TensorType = new TypeProto.Types.Tensor
                {
                    ElemType = 1,
                    Shape = new TensorShapeProto { Dim = { new TensorShapeProto.Types.Dimension { DimParam = "batch" }, new TensorShapeProto.Types.Dimension { DimValue = width } } },
                },
            },
        };
        var g = new GraphProto { Name = "where" };
        g.Input.Add(Info("x", 2));
        g.Output.Add(Info("y", 1));
        g.Initializer.Add(Floats("fc.weight", [3, 2], 0.5f, -1, 1, 0.25f, -0.5f, 2));
        g.Initializer.Add(Floats("fc.bias", [3], 0.1f, 0, -0.1f));
        g.Initializer.Add(Floats("out.weight", [1, 3], 1, -1, 0.5f));
        g.Initializer.Add(Floats("out.bias", [1], 0.2f));
        g.Initializer.Add(Floats("zero", [], 0));
        g.Node.Add(Node("Gemm", "fc", ["x", "fc.weight", "fc.bias"], "h", transB: 1));
        g.Node.Add(Node("Less", "negative", ["h", "zero"], "m"));
        g.Node.Add(Node("Where", "relu_like", ["m", "zero", "h"], "a"));
        g.Node.Add(Node("Gemm", "out", ["a", "out.weight", "out.bias"], "y", transB: 1));
        var model = new ModelProto { IrVersion = 8, ProducerName = "bnn-tests", Graph = g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return model;
    }

    [Fact]
    public void Opaque_names_show_both_the_tree_name_and_the_onnx_name()
    {
        var graph = OnnxImporter.Import(Path.Combine(Models, "linreg_flax_matmul.onnx"));
        using var json = JsonDocument.Parse(ImportCommand.ToJson(graph));
        var first = json.RootElement.GetProperty("parameters")[0];
        Assert.Equal("layer0.weight", first.GetProperty("name").GetString());
        Assert.Equal("const_0", first.GetProperty("onnx_name").GetString());
    }

    [Fact]
    public void Good_model_exits_0_and_bad_files_exit_2()
    {
        var root = new RootCommand();
        root.Subcommands.Add(ImportCommand.Create());
        Assert.Equal(0, CliRunner.Run(root, ["import", Path.Combine(Models, "linreg_pytorch.onnx"), "--json"]));

        string folder = Directory.CreateTempSubdirectory("bnn-import-cli-").FullName;
        try
        {
            string notOnnx = Path.Combine(folder, "notes.onnx");
            File.WriteAllText(notOnnx, "not a model");
            string truncated = Path.Combine(folder, "cut.onnx");
            File.WriteAllBytes(truncated, File.ReadAllBytes(Path.Combine(Models, "blog_mlp_pytorch.onnx"))[..400]);

            Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(root, ["import", notOnnx]));
            Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(root, ["import", truncated, "--json"]));
            Assert.Equal(CliRunner.ExitBadInput, CliRunner.Run(root, ["import", Path.Combine(folder, "absent.onnx")]));
        }
        finally
        {
            Directory.Delete(folder, recursive: true);
        }
    }
}
