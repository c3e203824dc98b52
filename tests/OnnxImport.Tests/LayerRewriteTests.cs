using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>
/// What the importer makes of the layers PyTorch 1.13 writes as patterns: Softshrink and Hardshrink (comparisons and
/// selections) become one Shrink node with the layer's λ; GroupNorm's InstanceNormalization becomes the ops every stage
/// runs and its Reshape back to Shape(x) gets a constant target, so no Shape, Gather or InstanceNormalization is left.
/// </summary>
public class LayerRewriteTests
{
    [Theory]
    [InlineData("softshrink_pytorch_op17.onnx", 0.5, 0.5)]
    [InlineData("hardshrink_pytorch_op17.onnx", 0.5, 0.0)]
    public void PyTorchs_shrink_patterns_import_as_one_Shrink(string file, double lambd, double bias)
    {
        var source = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.Model(file)));
        Assert.Contains(source.Graph.Node, n => n.OpType == "Greater");

        var graph = OnnxImporter.Import(TestPaths.Model(file));

        Assert.Equal(["Gemm", "Shrink", "Gemm"], graph.Nodes.Select(n => n.OpType));
        var shrink = graph.Nodes[1];
        Assert.Equal(lambd, shrink.GetFloat("lambd", double.NaN), 6);
        Assert.Equal(bias, shrink.GetFloat("bias", double.NaN), 6);
        Assert.Equal(graph.Nodes[0].Outputs[0], shrink.Inputs[0]);
    }

    [Fact]
    public void A_shrink_pattern_whose_comparison_feeds_another_node_is_not_rewritten_and_is_refused()
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(TestPaths.Model("hardshrink_pytorch_op17.onnx")));
        var greater = model.Graph.Node.First(n => n.OpType == "Greater");
        // The comparison also becomes a second graph output: the pattern's values are no longer its own.
        model.Graph.Output.Add(new ValueInfoProto { Name = greater.Output[0] });
        string path = Path.Combine(Path.GetTempPath(), $"bnn-shrink-{Environment.ProcessId}.onnx");
        File.WriteAllBytes(path, model.ToByteArray());
        try
        {
            var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(path));
            Assert.Contains("op 'Greater' is not supported yet", ex.Message);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void GroupNorm_imports_without_shape_arithmetic_and_with_its_weight_and_bias_sampled()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("groupnorm_mlp_op17.onnx"));

        Assert.DoesNotContain(graph.Nodes, n => n.OpType is "Shape" or "Gather" or "InstanceNormalization");
        Assert.All(graph.Nodes.Where(n => n.OpType == "Reshape"), n => Assert.True(graph.Constants.ContainsKey(n.Inputs[1]), n.Name));
        Assert.Equal([[8, 1], [8, 1]], graph.Parameters.Where(p => p.Name.StartsWith("layer1.", StringComparison.Ordinal)).Select(p => p.Shape));
        // The normalisation is over the axis after the channel: ReduceMean over axis 2 of [batch, 2, 4].
        Assert.All(graph.Nodes.Where(n => n.OpType == "ReduceMean"), n => Assert.Equal([2L], n.GetInts("axes")!));
    }
}
