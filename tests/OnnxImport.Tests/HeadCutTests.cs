using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <see cref="HeadCut"/> on the frozen-backbone fixtures (models/head/, made by models/make_head_fixtures.py) and on an MLP: which nodes are
/// frozen, which tensor the head reads, which parameters are sampled, and the one-line refusals.
/// </summary>
public class HeadCutTests
{
    private static readonly ImportOptions AnyOp = new() { AcceptAnyOp = true };

    private static OnnxGraph Import(string name) => OnnxImporter.Import(TestPaths.Model("head/" + name + ".onnx"), AnyOp);

    private static HeadCut Cut(string name, string[] freeze, string[]? sample = null) =>
        HeadCut.Create(Import(name), new ParameterSelection(freeze, sample ?? []));

    [Fact]
    public void The_cnn_freezes_its_convolutions_and_samples_the_dense_head()
    {
        var cut = Cut("digits_cnn_op13", ["conv*"]);

        Assert.Equal(["Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Flatten"], cut.FrozenNodes.Select(n => n.OpType));
        Assert.Equal(["Gemm", "Tanh", "Gemm"], cut.SampledNodes.Select(n => n.OpType));
        Assert.Equal(["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], cut.Sampled.Select(p => p.Name));
        Assert.Equal(["conv1.bias", "conv1.weight", "conv2.bias", "conv2.weight"], cut.FrozenWeights.Order());
        Assert.Equal(cut.FrozenNodes[^1].Outputs[0], cut.Feature);
        Assert.True(cut.HasFrozenPart);

        // --sample is the complement of --freeze.
        var complement = Cut("digits_cnn_op13", [], ["fc*"]);
        Assert.Equal(cut.Feature, complement.Feature);
        Assert.Equal(cut.Sampled.Select(p => p.Name), complement.Sampled.Select(p => p.Name));
        Assert.Equal(cut.FrozenNodes.Select(n => n.Name), complement.FrozenNodes.Select(n => n.Name));
    }

    [Fact]
    public void The_head_is_a_graph_of_its_own_reading_the_feature()
    {
        var cut = Cut("digits_cnn_op13", ["conv*"]);
        var feature = new ValueInfo(cut.Feature, ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(32)]);

        var head = cut.Head(feature);

        Assert.Equal(feature, Assert.Single(head.Inputs));
        Assert.Equal(cut.SampledNodes, head.Nodes);
        Assert.Equal(cut.Sampled, head.Parameters);
        Assert.Equal(354, head.TotalParameters);
        Assert.Null(OpCapabilities.Unsupported(head, OpStage.CompiledBackend));
        Assert.Null(OpCapabilities.Unsupported(head, OpStage.Ensemble));
        Assert.All(head.Nodes.SelectMany(n => n.Inputs).Where(i => i.Length > 0), i =>
            Assert.True(i == cut.Feature || head.FindParameter(i) is not null || head.Constants.ContainsKey(i)
                || head.Nodes.Any(n => n.Outputs.Contains(i)), $"'{i}' is not defined in the head"));
    }

    [Fact]
    public void The_transformer_freezes_attention_and_shape_ops_and_samples_the_classifier()
    {
        var cut = Cut("digits_transformer_op14", [], ["head.*"]);

        var frozenOps = cut.FrozenNodes.Select(n => n.OpType).ToHashSet();
        Assert.Superset(new HashSet<string> { "Shape", "Gather", "Slice", "Softmax", "MatMul", "ReduceMean", "Sqrt" }, frozenOps);
        Assert.Equal("ReduceMean", cut.FrozenNodes[^1].OpType); // the mean over tokens
        Assert.Equal(["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"], cut.Sampled.Select(p => p.Name));
        Assert.Contains("encoder.self_attn.out_proj.weight", cut.FrozenWeights);
        Assert.Equal(["Gemm", "Tanh", "Gemm"], cut.SampledNodes.Select(n => n.OpType));
    }

    [Fact]
    public void The_regressor_freezes_its_residual_layernorm_backbone()
    {
        var cut = Cut("diabetes_resnorm_op17", [], ["head.*"]);

        Assert.Equal("/norm/LayerNormalization_output_0", cut.Feature);
        Assert.Equal(["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"], cut.Sampled.Select(p => p.Name));
        Assert.Equal(["embed.weight", "embed.bias", "block.weight", "block.bias", "norm.weight", "norm.bias"], cut.FrozenWeights);
    }

    [Fact]
    public void Sampling_everything_leaves_the_graph_as_it_is()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("blog_mlp_pytorch.onnx"));

        var cut = HeadCut.Create(graph, new ParameterSelection([], ["*"]));
        var head = cut.Head();

        Assert.False(cut.HasFrozenPart);
        Assert.Empty(cut.FrozenWeights);
        Assert.Equal(graph.Inputs, head.Inputs);
        Assert.Equal(graph.Nodes, head.Nodes);
        Assert.Equal(graph.Parameters, head.Parameters);
        Assert.Equal(graph.Outputs, head.Outputs);
    }

    [Fact]
    public void Freezing_the_first_layer_of_an_mlp_makes_it_the_frozen_part()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("blog_mlp_pytorch.onnx"));

        var cut = HeadCut.Create(graph, new ParameterSelection(["0.*"], []));
        var head = cut.Head(new ValueInfo(cut.Feature, ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(5)]));

        Assert.Equal(["Gemm", "Softplus"], cut.FrozenNodes.Select(n => n.OpType));
        Assert.Equal(["2.weight", "2.bias", "4.weight", "4.bias"], head.Parameters.Select(p => p.Name));
        Assert.Equal(81 - 10, head.TotalParameters);
    }

    [Fact]
    public void A_cut_between_two_frozen_tensors_moves_upstream_to_one()
    {
        // Given a PReLU network whose PReLU the importer writes as Relu(x) − a·Relu(−x): freezing the first layer leaves
        // the slope's Mul reading one Relu and the Sub the other
        var graph = OnnxImporter.Import(TestPaths.Model("prelu_channel_op17.onnx"));

        var cut = HeadCut.Create(graph, new ParameterSelection(["0.*"], []));

        // Then the parameter-free Relu and Neg nodes join the head, and the head reads the first layer's one output
        Assert.Equal(["Gemm"], cut.FrozenNodes.Select(n => n.OpType));
        Assert.Equal(cut.FrozenNodes[0].Outputs[0], cut.Feature);
        Assert.Equal(["Relu", "Neg", "Relu", "Mul", "Sub", "Gemm"], cut.SampledNodes.Select(n => n.OpType));
        Assert.Equal(["1.weight", "2.weight", "2.bias"], cut.Sampled.Select(p => p.Name));
    }

    [Fact]
    public void A_frozen_parameter_inside_the_head_becomes_a_constant()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("blog_mlp_pytorch.onnx"));

        var cut = HeadCut.Create(graph, new ParameterSelection(["4.bias"], []));
        var head = cut.Head();

        Assert.False(cut.HasFrozenPart);
        Assert.DoesNotContain(head.Parameters, p => p.Name == "4.bias");
        var bias = graph.FindParameter("4.bias")!;
        Assert.Equal(bias.Values, head.Constants[bias.OnnxName].Data);
    }

    [Theory]
    [InlineData("digits_cnn_op13", new[] { "nothing*" }, new string[0],
        "--freeze 'nothing*' matches no weight of digits_cnn_op13.onnx (weights: fc1.weight, fc1.bias, fc2.weight, fc2.bias, conv1.weight, conv1.bias, conv2.weight, conv2.bias)")]
    [InlineData("digits_cnn_op13", new string[0], new[] { "fc9*" },
        "--sample 'fc9*' matches no weight of digits_cnn_op13.onnx (weights: fc1.weight, fc1.bias, fc2.weight, fc2.bias, conv1.weight, conv1.bias, conv2.weight, conv2.bias)")]
    [InlineData("digits_cnn_op13", new[] { "*" }, new string[0],
        "nothing left to sample: --freeze '*' freezes every parameter of digits_cnn_op13.onnx")]
    [InlineData("digits_cnn_op13", new string[0], new[] { "conv1.*" },
        "'conv1.weight' is used by node '/conv1/Conv' (Conv), which the sampling backends cannot differentiate; it can only be frozen (narrow --sample)")]
    [InlineData("digits_transformer_op14", new[] { "embed.*" }, new string[0],
        "'position' is sampled, but node '/encoder/self_attn/Shape' (Shape) after it is not differentiable by the sampling backends; freeze 'position' too (sample only layers after that node)")]
    public void Bad_selections_are_refused_in_one_line(string model, string[] freeze, string[] sample, string message)
    {
        var ex = Assert.Throws<ArgumentException>(() => Cut(model, freeze, sample));
        Assert.Equal(message, ex.Message);
    }

    [Fact]
    public void Without_a_selection_the_importer_still_refuses_ops_no_backend_runs()
    {
        var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(TestPaths.Model("head/digits_cnn_op13.onnx")));
        Assert.Contains("op 'Conv' is not supported yet", ex.Message);
    }

    [Theory]
    [InlineData("conv*", "conv1.weight", true)]
    [InlineData("conv*", "fc1.weight", false)]
    [InlineData("encoder.*.weight", "encoder.self_attn.out_proj.weight", true)]
    [InlineData("fc?.bias", "fc1.bias", true)]
    [InlineData("fc?.bias", "fc10.bias", false)]
    public void Patterns_are_whole_name_globs(string pattern, string name, bool matches) =>
        Assert.Equal(matches, ParameterSelection.Matches(pattern, name));
}
