using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>The TorchSharp backend runs what its column of <see cref="OpCapabilities"/> says.</summary>
public class OpCapabilityTests
{
    /// <summary>
    /// Every op of the TorchSharp column is exercised: by an ONNX conformance case whose ops the column holds, which
    /// then reproduces ONNX's recorded outputs, or (BatchNormalization and Dropout, which those cases lack) by the
    /// jax2onnx fixture, whose forward pass on TorchSharp equals the compiled backend's, or (LayerNormalization and
    /// PRelu) by the PyTorch fixtures in models/, whose outputs <see cref="ModelTests"/> checks on TorchSharp.
    /// </summary>
    [SharedFact]
    public void Every_op_of_the_TorchSharp_column_runs_an_ONNX_conformance_case_or_a_fixture()
    {
        var column = OpCapabilities.OpsFor(OpStage.TorchBackend);
        var covered = new HashSet<string>();
        foreach (var line in File.ReadLines(SharedData.Path("onnx", "conformance", "INDEX.tsv")).Skip(1))
        {
            var fields = line.Split('\t');
            if (fields.Length < 5) continue;
            var ops = fields[4].Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries);
            if (!ops.All(column.Contains)) continue;
            ConformanceTests.Check(fields[1], ComputePrecision.Float64);
            covered.UnionWith(ops);
        }

        string fixture = SharedData.Path("onnx", "jax2onnx", "my_callable.onnx");
        var source = OnnxImport.Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture));
        foreach (var file in Directory.GetFiles(Path.Combine(SharedData.RepositoryRoot!, "models"), "*.onnx"))
            if (ModelTests.Recorded(file) is not null)
                covered.UnionWith(OnnxImport.Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(file)).Graph.Node.Select(n => n.OpType));
        var missing = column.Where(op => !covered.Contains(op)).ToArray();
        Assert.Subset(source.Graph.Node.Select(n => n.OpType).ToHashSet(), missing.ToHashSet());

        var graph = OnnxImporter.Import(fixture);
        Assert.Null(new TorchBackend().Unsupported(graph));
        using var torch = new TorchBackend().CompileGraph(graph, BackendOptions.Default);
        using var compiled = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        const int rows = 3;
        var random = new Random(4);
        var inputs = Enumerable.Range(0, rows * torch.InputWidth).Select(_ => 2 * random.NextDouble() - 1).ToArray();
        var parameters = graph.Parameters.SelectMany(p => p.Values).ToArray();
        var yTorch = new double[rows * torch.OutputWidth];
        var yCompiled = new double[rows * compiled.OutputWidth];
        torch.Forward(parameters, inputs, rows, yTorch);
        compiled.Forward(parameters, inputs, rows, yCompiled);
        for (int i = 0; i < yTorch.Length; i++)
            Assert.True(Math.Abs(yTorch[i] - yCompiled[i]) <= 1e-9 * Math.Max(1, Math.Abs(yCompiled[i])), $"output {i}: torch {yTorch[i]:R}, compiled {yCompiled[i]:R}");
    }
}
