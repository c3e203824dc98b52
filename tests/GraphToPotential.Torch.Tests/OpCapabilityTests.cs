using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>The TorchSharp backend runs what its column of <see cref="OpCapabilities"/> says.</summary>
public class OpCapabilityTests
{
    /// <summary>
    /// Every op of the TorchSharp column is exercised: by an ONNX conformance case whose ops the column holds, which
    /// then reproduces ONNX's recorded outputs, by a committed exporter fixture in models/ (imported, or as written, so
    /// that LayerNormalization and PRelu, which the importer rewrites, count through the PyTorch fixtures whose outputs
    /// <see cref="ModelTests"/> checks on TorchSharp), or (BatchNormalization and Dropout, which those cases lack) by
    /// the jax2onnx fixture, whose forward pass on TorchSharp equals the compiled backend's; ops no exporter writes by
    /// a hand-built layer.
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

        // The committed exporter fixtures in models/, whose TorchSharp forward reproduces the exporter's outputs (ModelTests).
        if (SharedData.RepositoryRoot is string repo)
            foreach (var file in Directory.GetFiles(Path.Combine(repo, "models"), "*.onnx"))
                covered.UnionWith(OnnxImporter.Import(file).Nodes.Select(n => n.OpType));

        string fixture = SharedData.Path("onnx", "jax2onnx", "my_callable.onnx");
        var source = OnnxImport.Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(fixture));
        foreach (var file in Directory.GetFiles(Path.Combine(SharedData.RepositoryRoot!, "models"), "*.onnx"))
            if (ModelTests.Recorded(file) is not null)
                covered.UnionWith(OnnxImport.Protobuf.ModelProto.Parser.ParseFrom(File.ReadAllBytes(file)).Graph.Node.Select(n => n.OpType));
        var missing = column.Where(op => !covered.Contains(op)).ToArray();
        Assert.Subset(source.Graph.Node.Select(n => n.OpType).Concat(HandBuilt).ToHashSet(), missing.ToHashSet());

        AssertTorchEqualsCompiled(OnnxImporter.Import(fixture), 3);
    }

    /// <summary>
    /// Ops no exporter here writes (PyTorch 1.13 decomposes its shrink activations, which the importer turns into
    /// Shrink, and writes Mish as Softplus·Tanh; ONNX's Mish op is opset 18), checked on a one-layer graph below and
    /// through the op recipes of the ensemble tests.
    /// </summary>
    private static readonly string[] HandBuilt = ["Shrink", "ThresholdedRelu", "Mish"];

    /// <summary>x [batch,2] → Gemm 2→4 → the op, with attributes away from the defaults: TorchSharp equals the compiled backend.</summary>
    [Theory]
    [InlineData("Shrink", "lambd", 0.3, "bias", 0.2)]
    [InlineData("Shrink", "lambd", 0.5, "bias", 0.0)]
    [InlineData("ThresholdedRelu", "alpha", 0.25, "", 0.0)]
    [InlineData("ThresholdedRelu", "alpha", 1.0, "", 0.0)]
    public void A_hand_built_layer_of_an_op_no_exporter_writes_runs_as_on_the_compiled_backend(string op, string name1, double value1, string name2, double value2)
    {
        var attributes = new Dictionary<string, NodeAttribute> { [name1] = new(name1, AttributeKind.Float, Float: value1) };
        if (name2.Length > 0) attributes[name2] = new(name2, AttributeKind.Float, Float: value2);
        var random = new Random(7);
        double[] Draw(int n) => Enumerable.Range(0, n).Select(_ => 2 * random.NextDouble() - 1).ToArray();
        var graph = new OnnxGraph
        {
            Producer = "test",
            ProducerVersion = "0",
            IrVersion = 8,
            Opsets = new Dictionary<string, long> { [""] = 17 },
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(2)])],
            Outputs = [new ValueInfo("y", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(4)])],
            Nodes =
            [
                new Node("fc", "Gemm", "", ["x", "W", "b"], ["h"], new Dictionary<string, NodeAttribute> { ["transB"] = new("transB", AttributeKind.Int, Int: 1) }),
                new Node("act", op, "", ["h"], ["y"], attributes),
            ],
            Parameters = [new Parameter("W", "W", [4, 2], Draw(8)), new Parameter("b", "b", [4], Draw(4))],
            Constants = new Dictionary<string, OnnxImport.Tensor>(),
            Sha256 = "",
        };
        AssertTorchEqualsCompiled(graph, 40);
    }

    private static void AssertTorchEqualsCompiled(OnnxGraph graph, int rows)
    {
        Assert.Null(new TorchBackend().Unsupported(graph));
        using var torch = new TorchBackend().CompileGraph(graph, BackendOptions.Default);
        using var compiled = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
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
