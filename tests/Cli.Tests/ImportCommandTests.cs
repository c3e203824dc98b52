using System.CommandLine;
using System.Text.Json;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.OnnxImport;

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

        Assert.Equal(["inputs", "outputs", "ops", "parameters", "total_parameters"], root.EnumerateObject().Select(p => p.Name));
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
