using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The capability table is consistent (every op the importer accepts goes through sampling and export; every op a later
/// stage names can be reached) and the importer does what its column says.
/// </summary>
public class OpCapabilitiesTests
{
    private static IEnumerable<OpCapability> Imported => OpCapabilities.All.Where(c => c.Supports(OpStage.Import));

    [Fact]
    public void Given_the_table_Then_every_imported_op_samples_on_a_backend_and_exports_as_ensemble_and_member_files()
    {
        var stranded = Imported.Where(c => (c.Stages & OpStage.Backends) == 0 || !c.Supports(OpStage.Ensemble) || !c.Supports(OpStage.MemberFiles))
            .Select(c => $"{c.Op} ({c.Stages})").ToArray();
        Assert.True(stranded.Length == 0, "imported but not sampled and exported: " + string.Join(", ", stranded));
    }

    [Fact]
    public void Given_the_table_Then_every_op_a_later_stage_names_is_accepted_by_the_importer()
    {
        foreach (var stage in new[] { OpStage.CompiledBackend, OpStage.TorchBackend, OpStage.Ensemble, OpStage.MemberFiles })
        {
            var unreachable = OpCapabilities.OpsFor(stage).Where(op => !OpCapabilities.Supports(op, OpStage.Import)).ToArray();
            Assert.True(unreachable.Length == 0, $"{OpCapabilities.Describe(stage)} names ops the importer refuses: {string.Join(", ", unreachable)}");
        }
        Assert.Equal(OpCapabilities.All.Count, OpCapabilities.All.Select(c => c.Op).Distinct().Count());
        Assert.All(OpCapabilities.All, c => Assert.NotEqual(OpStage.None, c.Stages));
    }

    [Fact]
    public void Given_the_importers_list_Then_it_is_the_import_column()
    {
        Assert.Equal(Imported.Select(c => c.Op).Order(StringComparer.Ordinal).ToArray(), SupportedOps.All.ToArray());
        Assert.True(SupportedOps.Contains("Concat"));
        Assert.False(SupportedOps.Contains("Conv"));
        Assert.Null(OpCapabilities.Find("Conv"));
        Assert.Equal(string.Join(", ", SupportedOps.All), SupportedOps.Listing);
    }

    /// <summary>Each op of the import column, as the only node after a Gemm, imports; ops the importer rewrites do not reach the graph.</summary>
    [Fact]
    public void Given_a_one_node_model_of_every_imported_op_Then_it_imports_and_rewritten_ops_are_gone()
    {
        using var folder = new TempFolder();
        foreach (var capability in Imported)
        {
            var model = OneNode(capability.Op);
            var graph = OnnxImporter.Import(folder.Write(capability.Op + ".onnx", model));
            if (capability.ImportedAs is null)
                Assert.Contains(graph.Nodes, n => n.OpType == capability.Op);
            else
                Assert.DoesNotContain(graph.Nodes, n => n.OpType == capability.Op);
        }
        Assert.Contains(OnnxImporter.Import(folder.Write("dropout.onnx", OneNode("Dropout"))).Nodes, n => n.OpType == "Identity");
    }

    [Fact]
    public void Given_an_op_outside_the_table_Then_the_importer_refuses_it()
    {
        using var folder = new TempFolder();
        foreach (string op in new[] { "Conv", "GroupNormalization", "LpNormalization", "Shape", "Gather", "Greater", "Or" })
        {
            var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(folder.Write(op + ".onnx", OneNode(op))));
            Assert.Contains($"op '{op}' is not supported yet", ex.Message);
        }
    }

    /// <summary>The ops taken only inside a rewritten pattern are not in the table, and no stage sees them.</summary>
    [Fact]
    public void Given_the_pattern_ops_Then_they_are_outside_the_table_and_each_names_its_pattern()
    {
        Assert.NotEmpty(OpCapabilities.ImportPatterns);
        foreach (var pattern in OpCapabilities.ImportPatterns)
        {
            Assert.Null(OpCapabilities.Find(pattern.Op));
            Assert.False(SupportedOps.Contains(pattern.Op));
            Assert.Same(pattern, OpCapabilities.FindPattern(pattern.Op));
            Assert.False(string.IsNullOrWhiteSpace(pattern.Pattern));
        }
        Assert.Null(OpCapabilities.FindPattern("Conv"));
    }

    [Fact]
    public void Given_a_node_Then_attribute_limits_are_checked_per_stage()
    {
        var exact = GeluNode("none");
        var erf = GeluNode("erf");
        Assert.Null(OpCapabilities.Unsupported(exact, 20, OpStage.Ensemble));
        Assert.Null(OpCapabilities.Unsupported(GeluNode("tanh"), 20, OpStage.CompiledBackend));
        foreach (var stage in new[] { OpStage.CompiledBackend, OpStage.TorchBackend, OpStage.Ensemble })
            Assert.Contains("approximate is none or tanh", OpCapabilities.Unsupported(erf, 20, stage));
        var where = new Node("pick", "Where", "", ["c", "a", "b"], ["y"], new Dictionary<string, NodeAttribute>());
        Assert.Null(OpCapabilities.Unsupported(where, 17, OpStage.Ensemble));
        Assert.Contains("the compiled CPU backend", OpCapabilities.Unsupported(where, 17, OpStage.CompiledBackend));
        Assert.Contains("'pick' (Where)", OpCapabilities.Unsupported(where, 17, OpStage.CompiledBackend));
        var training = new Node("bn", "BatchNormalization", "", ["x", "s", "b", "m", "v"], ["y"],
            new Dictionary<string, NodeAttribute> { ["training_mode"] = new("training_mode", AttributeKind.Int, Int: 1) });
        Assert.Contains("inference mode", OpCapabilities.Unsupported(training, 15, OpStage.TorchBackend));
        Assert.Null(OpCapabilities.Unsupported(training with { Attributes = new Dictionary<string, NodeAttribute>() }, 15, OpStage.Ensemble));
        string? listed = OpCapabilities.Unsupported(training with { Attributes = new Dictionary<string, NodeAttribute>(), Outputs = ["y", "mean"] }, 9, OpStage.Ensemble);
        Assert.True(listed?.Contains("running statistics") == true, listed);
        var foreign = where with { Domain = "com.microsoft" };
        Assert.Contains("default ONNX domain", OpCapabilities.Unsupported(foreign, 17, OpStage.TorchBackend));
    }

    private static Node GeluNode(string approximate) => new("g", "Gelu", "", ["x"], ["y"],
        new Dictionary<string, NodeAttribute> { ["approximate"] = new("approximate", AttributeKind.String, String: approximate) });

    /// <summary>x [batch,2] → Gemm(w, b) → h → OP(h) → y: one node of the op under test (Constant feeds an Add).</summary>
    private static ModelProto OneNode(string op)
    {
        var g = new GraphProto { Name = "one_" + op };
        g.Input.Add(Value("x", "batch", 2));
        g.Output.Add(Value("y", "batch", 2));
        g.Initializer.Add(Floats("w", [2, 2], 1, 0, 0, 1));
        g.Initializer.Add(Floats("b", [2], 0.5f, -0.5f));
        g.Node.Add(Node("Gemm", "fc", ["x", "w", "b"], ["h"], Int("transB", 1)));
        if (op == "Constant")
        {
            var value = new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("k", [2], 1, 2) };
            g.Node.Add(Node("Constant", "k", [], ["k"], value));
            g.Node.Add(Node("Add", "add", ["h", "k"], ["y"]));
        }
        else if (op == "InstanceNormalization")
        {
            // [batch, 2] seen as [batch, 2, 1]: two channels of one position each.
            g.Initializer.Add(new TensorProto { Name = "shape3", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 3 }, Int64Data = { -1, 2, 1 } });
            g.Initializer.Add(new TensorProto { Name = "shape2", DataType = (int)TensorProto.Types.DataType.Int64, Dims = { 2 }, Int64Data = { -1, 2 } });
            g.Initializer.Add(Floats("s", [2], 0.9f, 1.1f));
            g.Initializer.Add(Floats("bb", [2], 0.1f, -0.1f));
            g.Node.Add(Node("Reshape", "to3", ["h", "shape3"], ["h3"]));
            g.Node.Add(Node(op, "under_test", ["h3", "s", "bb"], ["n3"]));
            g.Node.Add(Node("Reshape", "to2", ["n3", "shape2"], ["y"]));
        }
        else if (op is "LayerNormalization" or "PRelu")
        {
            g.Initializer.Add(Floats("s", [2], 0.9f, 1.1f));
            g.Node.Add(Node(op, "under_test", ["h", "s"], ["y"]));
        }
        else
        {
            g.Node.Add(Node(op, "under_test", ["h"], ["y"]));
        }
        return Model(g);
    }
}
