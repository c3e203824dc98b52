using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>Real exports (../shared/onnx) and the committed fixtures (models/) import with the right tree.</summary>
public class ImportModelsTests
{
    private static readonly string[] BlogMlpNames = ["0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"];
    private static readonly int[][] BlogMlpTorchShapes = [[5, 1], [5], [10, 5], [10], [1, 10], [1]];
    private static readonly int[][] BlogMlpFlaxShapes = [[1, 5], [5], [5, 10], [10], [10, 1], [1]];

    private static OnnxGraph Shared(string relative) => OnnxImporter.Import(Path.Combine(TestPaths.SharedOnnx, relative));

    private static void AssertParameters(OnnxGraph graph, string[] names, int[][] shapes)
    {
        Assert.Equal(names, graph.Parameters.Select(p => p.Name));
        Assert.Equal(shapes.Length, graph.Parameters.Count);
        for (int i = 0; i < shapes.Length; i++)
        {
            Assert.Equal(shapes[i], graph.Parameters[i].Shape);
            Assert.Equal(shapes[i].Aggregate(1, (a, b) => a * b), graph.Parameters[i].Values.Length);
        }
    }

    private static void AssertMatchesExpected(OnnxGraph graph, string inputCsv, string outputCsv, double tolerance = 2e-5)
    {
        var x = Csv.ReadRows(inputCsv);
        var expected = Csv.ReadRows(outputCsv);
        var actual = ReferenceForward.Run(graph, x);
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
        {
            Assert.Equal(expected[r].Length, actual[r].Length);
            for (int c = 0; c < expected[r].Length; c++)
                Assert.True(Math.Abs(expected[r][c] - actual[r][c]) <= tolerance * (1 + Math.Abs(expected[r][c])),
                    $"row {r} col {c}: expected {expected[r][c]}, got {actual[r][c]}");
        }
    }

    [SharedFact]
    public void Blog_softplus_mlp_from_pytorch_has_81_parameters_in_out_in_layout()
    {
        var graph = Shared("pytorch/bnn_softplus_op17.onnx");

        AssertParameters(graph, BlogMlpNames, BlogMlpTorchShapes);
        Assert.Equal(81, graph.TotalParameters);
        Assert.Equal(["Gemm", "Softplus", "Gemm", "Softplus", "Gemm"], graph.Nodes.Select(n => n.OpType));
        Assert.Equal("pytorch", graph.Producer);
        Assert.Equal(17, graph.Opset);
        Assert.Equal(8, graph.IrVersion);
        Assert.Equal("x", Assert.Single(graph.Inputs).Name);
        Assert.Equal(["batch", "1"], graph.Inputs[0].Shape.Select(d => d.ToString()));
        Assert.Null(graph.ExportedBatchSize);
        Assert.All(graph.Parameters.Where(p => p.Role == ParameterRole.Weight), p => Assert.Equal(WeightLayout.OutIn, p.Layout));
        Assert.Equal([0, 0, 1, 1, 2, 2], graph.Parameters.Select(p => p.Layer));
        Assert.Empty(graph.Constants);
        Assert.Matches("^[0-9a-f]{64}$", graph.Sha256);
        AssertMatchesExpected(graph, Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_softplus.input.csv"),
            Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_softplus.output.csv"));
    }

    [SharedFact]
    public void Flax_style_file_gets_layer_names_and_in_out_layout_with_the_same_function()
    {
        var graph = Shared("flax-style/flax_dense_softplus_style_ir8_op17.onnx");

        AssertParameters(graph, ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"],
            BlogMlpFlaxShapes);
        Assert.Equal(["const_0", "const_1", "const_2", "const_3", "const_4", "const_5"], graph.Parameters.Select(p => p.OnnxName));
        Assert.Equal(81, graph.TotalParameters);
        Assert.All(graph.Parameters.Where(p => p.Role == ParameterRole.Weight), p => Assert.Equal(WeightLayout.InOut, p.Layout));

        // Same weights as the PyTorch export, transposed.
        var torch = Shared("pytorch/bnn_softplus_op17.onnx");
        var w = torch.Parameters[2];
        var k = graph.Parameters[2];
        for (int o = 0; o < 10; o++)
            for (int i = 0; i < 5; i++) Assert.Equal(w.Values[o * 5 + i], k.Values[i * 10 + o]);
        AssertMatchesExpected(graph, Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_softplus.input.csv"),
            Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_softplus.output.csv"));
    }

    [SharedFact]
    public void Tanh_softmax_and_nested_pytorch_exports_keep_their_dotted_names()
    {
        var tanh = Shared("pytorch/bnn_tanh_op13.onnx");
        AssertParameters(tanh, BlogMlpNames, BlogMlpTorchShapes);
        Assert.Equal(13, tanh.Opset);
        AssertMatchesExpected(tanh, Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_tanh.input.csv"),
            Path.Combine(TestPaths.SharedOnnx, "pytorch/bnn_tanh.output.csv"));

        var clf = Shared("pytorch/clf_softmax_op17.onnx");
        AssertParameters(clf, ["0.weight", "0.bias", "2.weight", "2.bias"], [[16, 2], [16], [2, 16], [2]]);
        Assert.Equal("Softmax", clf.Nodes[^1].OpType);
        AssertMatchesExpected(clf, Path.Combine(TestPaths.SharedOnnx, "pytorch/clf_softmax.input.csv"),
            Path.Combine(TestPaths.SharedOnnx, "pytorch/clf_softmax.output.csv"));

        var nested = Shared("pytorch/nested_encoder_head_op17.onnx");
        AssertParameters(nested, ["encoder.0.weight", "encoder.0.bias", "encoder.2.weight", "encoder.2.bias", "head.weight", "head.bias"],
            [[8, 3], [8], [8, 8], [8], [2, 8], [2]]);
        Assert.Equal(8 * 3 + 8 + 64 + 8 + 16 + 2, nested.TotalParameters);
        Assert.Equal("features", nested.Inputs[0].Name);
        AssertMatchesExpected(nested, Path.Combine(TestPaths.SharedOnnx, "pytorch/nested_encoder_head.input.csv"),
            Path.Combine(TestPaths.SharedOnnx, "pytorch/nested_encoder_head.output.csv"));
    }

    [SharedFact]
    public void Jax2onnx_callable_separates_batchnorm_statistics_and_replaces_dropout()
    {
        var graph = Shared("jax2onnx/my_callable.onnx");

        Assert.Equal(["Gemm", "BatchNormalization", "Identity", "Gelu", "Gemm"], graph.Nodes.Select(n => n.OpType));
        AssertParameters(graph, ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"],
            [[30, 20], [20], [20], [20], [20, 10], [10]]);
        Assert.Equal(["const_0", "const_1", "const_2", "const_3", "const_6", "const_7"], graph.Parameters.Select(p => p.OnnxName));
        Assert.Equal(600 + 20 + 20 + 20 + 200 + 10, graph.TotalParameters);
        // Running mean and variance are constants, as are Dropout's ratio and training flag.
        Assert.Contains("const_4", graph.Constants.Keys);
        Assert.Contains("const_5", graph.Constants.Keys);
        Assert.Equal(ElementType.Bool, graph.Constants["training_0"].SourceType);
        Assert.Equal(21, graph.Opset);
        Assert.Equal(11, graph.IrVersion);
        Assert.Equal(["B", "30"], graph.Inputs[0].Shape.Select(d => d.ToString()));
        var identity = graph.Nodes[2];
        Assert.Equal("node_Dropout_2", identity.Name);
        Assert.Equal(["BatchNormalization_0"], identity.Inputs);
        Assert.Equal("tanh", graph.Nodes[3].GetString("approximate"));
    }

    [SharedFact]
    public void Jax2onnx_functions_are_inlined_with_their_constant_weights_as_parameters()
    {
        var graph = Shared("jax2onnx/model_with_function.onnx");

        Assert.Equal(2, graph.Opsets.Count);
        string[] block = ["Gemm", "Gelu", "BatchNormalization", "Gemm", "Gelu"];
        Assert.Equal(block.Concat(block), graph.Nodes.Select(n => n.OpType));
        Assert.Equal(12, graph.Parameters.Count);
        Assert.Equal(Enumerable.Range(0, 6).SelectMany(k => new[] { $"layer{k}.weight", $"layer{k}.bias" }),
            graph.Parameters.Select(p => p.Name));
        Assert.Equal(2 * (2 * (256 * 256 + 256) + 2 * 256), graph.TotalParameters);
        Assert.Equal(4, graph.Constants.Count); // the two blocks' running means and variances
        Assert.All(graph.Constants.Values, t => Assert.Equal([256], t.Shape));

        // Intermediate values renamed per call, so the two bodies do not collide.
        Assert.Equal("_MLPBlock_1_0/const_val_0", graph.Parameters[0].OnnxName);
        Assert.Equal("_MLPBlock_2_0/const_val_0", graph.Parameters[6].OnnxName);
        Assert.Equal(["in_0", "_MLPBlock_1_0/const_val_0", "_MLPBlock_1_0/const_val_1"], graph.Nodes[0].Inputs);
        Assert.Equal("v_0", graph.Nodes[4].Outputs[0]);
        Assert.Equal("v_0", graph.Nodes[5].Inputs[0]);
        Assert.Equal("v_1", graph.Nodes[9].Outputs[0]);
        var allOutputs = graph.Nodes.SelectMany(n => n.Outputs).ToList();
        Assert.Equal(allOutputs.Count, allOutputs.Distinct().Count());

        // Exported with a fixed batch of 100: read as 'batch'.
        Assert.Equal(100, graph.ExportedBatchSize);
        Assert.Equal(["batch", "256"], graph.Inputs[0].Shape.Select(d => d.ToString()));
        Assert.Equal(["batch", "256"], graph.Outputs[0].Shape.Select(d => d.ToString()));

        var fixedBatch = OnnxImporter.Import(Path.Combine(TestPaths.SharedOnnx, "jax2onnx/model_with_function.onnx"),
            new ImportOptions { FreeBatchDimension = false });
        Assert.Null(fixedBatch.ExportedBatchSize);
        Assert.Equal(["100", "256"], fixedBatch.Inputs[0].Shape.Select(d => d.ToString()));
    }

    public static TheoryData<string, string[], int> Fixtures => new()
    {
        { "blog_mlp_pytorch", BlogMlpNames, 81 },
        { "blog_mlp_pytorch_opset9", BlogMlpNames, 81 },
        { "blog_mlp_flax_gemm", ["params.Dense_0.kernel", "params.Dense_0.bias", "params.Dense_1.kernel", "params.Dense_1.bias",
            "params.Dense_2.kernel", "params.Dense_2.bias"], 81 },
        { "blog_mlp_flax_matmul", ["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias"], 81 },
        { "linreg_pytorch", ["weight", "bias"], 2 },
        { "linreg_flax_gemm", ["params.Dense_0.kernel", "params.Dense_0.bias"], 2 },
        { "linreg_flax_matmul", ["layer0.weight", "layer0.bias"], 2 },
        { "binary_logit_pytorch", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 2 * 8 + 8 + 8 + 1 },
        { "multiclass_logits_pytorch", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 4 * 16 + 16 + 48 + 3 },
        { "multiclass_softmax_pytorch", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 4 * 16 + 16 + 48 + 3 },
        { "regression8_tanh_pytorch", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "regression8_relu_pytorch", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "noisy3_tanh_pytorch", ["0.weight", "0.bias", "2.weight", "2.bias"], 3 * 16 + 16 + 16 + 1 },
        { "external_data_pytorch", ["0.weight", "0.bias", "2.weight", "2.bias"], 5 + 5 + 5 + 1 },
        { "float16_weights", ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], 5 + 5 + 5 + 1 },
        { "step_mlp_op13_folded", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "step_mlp_op13_unfolded", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "step_mlp_op17_folded", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "step_mlp_op17_unfolded", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 8 * 16 + 16 + 16 + 1 },
        { "weight_paths_pytorch", ["w1", "b1", "w2", "b2"], 128 + 16 + 16 + 1 },
        { "skip_regressor_op13", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 6 + 6 + 7 + 1 },
        { "skip_regressor_op17", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 6 + 6 + 7 + 1 },
        { "skip_classifier_op13", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 4 * 8 + 8 + 12 * 3 + 3 },
        { "skip_classifier_op17", ["hidden.weight", "hidden.bias", "out.weight", "out.bias"], 4 * 8 + 8 + 12 * 3 + 3 },
        { "hardswish_pytorch_op13", ["0.weight", "0.bias", "2.weight", "2.bias"], 8 + 8 + 8 + 1 },
        { "hardswish_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 8 + 8 + 8 + 1 },
        { "celu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 8 + 8 + 8 + 1 },
        { "layernorm_mlp_op17", ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"], 4 * 16 + 16 + 16 + 16 + 16 + 1 },
        { "layernorm_nobias_op17", ["0.weight", "0.bias", "1.weight", "3.weight", "3.bias"], 4 * 8 + 8 + 8 + 8 + 1 },
        { "prelu_shared_op13", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"], 4 * 8 + 8 + 1 + 8 + 1 },
        { "prelu_shared_op17", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"], 4 * 8 + 8 + 1 + 8 + 1 },
        { "prelu_channel_op13", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"], 4 * 8 + 8 + 8 + 8 + 1 },
        { "prelu_channel_op17", ["0.weight", "0.bias", "1.weight", "2.weight", "2.bias"], 4 * 8 + 8 + 8 + 8 + 1 },
        // Every torch.nn activation, the normalisation layers and the composite blocks (make_activation_fixtures.py, make_layer_fixtures.py).
        { "batchnorm_classifier_op17", ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"], 163 },
        { "elu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "gelu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "gelu_tanh_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "groupnorm_mlp_op17", ["0.weight", "0.bias", "layer1.weight", "layer1.bias", "3.weight", "3.bias"], 65 },
        { "hardshrink_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "hardsigmoid_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "hardtanh_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "layernorm_mlp_op13", ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias"], 129 },
        { "layernorm_noaffine_op13", ["0.weight", "0.bias", "3.weight", "3.bias"], 49 },
        { "leakyrelu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "logsigmoid_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "logsoftmax_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "mish_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "prelu_skip_op17", ["embed.weight", "embed.bias", "act1.weight", "block.weight", "block.bias", "act2.weight", "head.weight", "head.bias"], 137 },
        { "relu6_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "relu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "residual_layernorm_gelu_op13", ["embed.weight", "embed.bias", "norm.weight", "norm.bias", "block.weight", "block.bias", "final_norm.weight", "final_norm.bias", "head.weight", "head.bias"], 433 },
        { "residual_layernorm_gelu_op17", ["embed.weight", "embed.bias", "norm.weight", "norm.bias", "block.weight", "block.bias", "final_norm.weight", "final_norm.bias", "head.weight", "head.bias"], 433 },
        { "rmsnorm_mlp_op17", ["0.weight", "0.bias", "1.weight", "3.weight", "3.bias"], 57 },
        { "rrelu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "selu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "sigmoid_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "silu_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "softmax_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "softplus_beta_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "softplus_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "softshrink_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "softsign_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        // At its initial weights: equal tensors the exporter stored once are separate parameters again.
        { "untrained_norms_op13", ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias", "5.weight", "5.bias", "6.weight", "6.bias"], 4 * 8 + 8 + 8 + 8 + 64 + 8 + 8 + 8 + 8 + 8 + 8 + 1 },
        { "untrained_norms_op17", ["0.weight", "0.bias", "1.weight", "1.bias", "3.weight", "3.bias", "4.weight", "4.bias", "5.weight", "5.bias", "6.weight", "6.bias"], 4 * 8 + 8 + 8 + 8 + 64 + 8 + 8 + 8 + 8 + 8 + 8 + 1 },
        { "structure_mlp_op17", ["layer0.weight", "out.weight", "out.bias"], 41 },
        { "tanh_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
        { "tanhshrink_pytorch_op17", ["0.weight", "0.bias", "2.weight", "2.bias"], 25 },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Fixture_imports_with_its_names_and_reproduces_its_expected_outputs(string name, string[] parameterNames, int total)
    {
        var graph = OnnxImporter.Import(TestPaths.Model(name + ".onnx"));

        Assert.Equal(parameterNames, graph.Parameters.Select(p => p.Name));
        Assert.Equal(total, graph.TotalParameters);
        var input = Assert.Single(graph.Inputs);
        Assert.Equal(2, input.Shape.Count);
        Assert.NotNull(input.Shape[0].Symbol);
        Assert.All(graph.Parameters, p => Assert.Equal(p.Shape.Aggregate(1, (a, b) => a * b), p.Size));
        AssertMatchesExpected(graph, TestPaths.Model(name + ".input.csv"), TestPaths.Model(name + ".output.csv"));
    }

    /// <summary>Fixtures whose input has a symbolic non-batch dimension, checked on their own below.</summary>
    private static readonly string[] SequenceFixtures = ["sequence_mean_pytorch"];

    /// <summary>
    /// Frozen-backbone fixtures (models/head/, made by models/make_head_fixtures.py): their backbones hold ops only ONNX Runtime runs,
    /// so they live apart from the models every stage takes whole, and import
    /// with <see cref="ImportOptions.AcceptAnyOp"/> and are cut by --freeze (HeadCutTests, FrozenPartTests); here, the names and counts
    /// of the parameters the importer finds in them.
    /// </summary>
    public static TheoryData<string, string[], int> HeadFixtures => new()
    {
        { "digits_cnn_op13", ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"], 32 * 8 + 8 + 8 * 10 + 10 },
        { "digits_transformer_op14", ["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"], 16 * 8 + 8 + 8 * 10 + 10 },
        { "diabetes_resnorm_op17", ["embed.weight", "embed.bias", "block.weight", "block.bias", "norm.weight", "norm.bias",
            "head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"], 10 * 16 + 16 + 16 * 16 + 16 + 16 + 16 + 16 * 8 + 8 + 8 + 1 },
    };

    [Theory]
    [MemberData(nameof(HeadFixtures))]
    public void Head_fixture_imports_with_any_op_and_its_sampled_layers_named(string name, string[] sampledLayerNames, int total)
    {
        var graph = OnnxImporter.Import(TestPaths.Model("head/" + name + ".onnx"), new ImportOptions { AcceptAnyOp = true });

        Assert.Equal(sampledLayerNames.Order(), graph.Parameters.Select(p => p.Name).Where(sampledLayerNames.Contains).Order());
        Assert.Equal(total, graph.Parameters.Where(p => sampledLayerNames.Contains(p.Name)).Sum(p => p.Size));
        Assert.True(File.Exists(TestPaths.Model("head/" + name + ".input.csv")) && File.Exists(TestPaths.Model("head/" + name + ".output.csv")));
    }

    [Fact]
    public void Every_committed_model_is_covered_by_the_fixture_list()
    {
        var onnxFiles = Directory.GetFiles(TestPaths.Models, "*.onnx").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(Fixtures.Select(row => (string)row[0]).Concat(SequenceFixtures).Order(), onnxFiles);
        var headFiles = Directory.GetFiles(Path.Combine(TestPaths.Models, "head"), "*.onnx").Select(Path.GetFileNameWithoutExtension).Order();
        Assert.Equal(HeadFixtures.Select(row => (string)row[0]).Order(), headFiles);
    }

    [Fact]
    public void Sequence_fixture_imports_with_a_symbolic_sequence_dimension()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("sequence_mean_pytorch.onnx"));

        var input = Assert.Single(graph.Inputs);
        Assert.Equal([Dimension.Symbolic("batch"), Dimension.Symbolic("seq"), Dimension.Fixed(1)], input.Shape);
        Assert.Equal([Dimension.Symbolic("batch"), Dimension.Fixed(1)], Assert.Single(graph.Outputs).Shape);
        Assert.Equal(["MatMul", "Add", "Tanh", "ReduceMean", "Gemm"], graph.Nodes.Select(n => n.OpType));
        Assert.Equal(["onnx::MatMul_11", "step.bias", "head.weight", "head.bias"], graph.Parameters.Select(p => p.OnnxName));
        Assert.Equal(["step.weight", "step.bias", "head.weight", "head.bias"], graph.Parameters.Select(p => p.Name));
        Assert.Equal([[1, 4], [4], [1, 4], [1]], graph.Parameters.Select(p => p.Shape));
        Assert.Equal(13, graph.TotalParameters);
        Assert.Equal(["t0", "t1", "t2", "t3", "t4", "y"], File.ReadLines(TestPaths.Model("sequence_data.csv")).First().Split(','));
        Assert.Equal(80, File.ReadLines(TestPaths.Model("sequence_data.csv")).Skip(1).Count(l => l.Length > 0));
    }

    [Fact]
    public void Pytorch_and_flax_layouts_of_the_blog_mlp_hold_the_same_weights_transposed()
    {
        var torch = OnnxImporter.Import(TestPaths.Model("blog_mlp_pytorch.onnx"));
        foreach (var flaxName in new[] { "blog_mlp_flax_gemm", "blog_mlp_flax_matmul" })
        {
            var flax = OnnxImporter.Import(TestPaths.Model(flaxName + ".onnx"));
            for (int i = 0; i < 6; i++)
            {
                var t = torch.Parameters[i];
                var f = flax.Parameters[i];
                Assert.Equal(t.Role, f.Role);
                Assert.Equal(t.Layer, f.Layer);
                if (t.Shape.Length == 1)
                {
                    Assert.Equal(t.Values, f.Values);
                    continue;
                }
                Assert.Equal(WeightLayout.OutIn, t.Layout);
                Assert.Equal(WeightLayout.InOut, f.Layout);
                Assert.Equal([t.Shape[1], t.Shape[0]], f.Shape);
                for (int o = 0; o < t.Shape[0]; o++)
                    for (int j = 0; j < t.Shape[1]; j++) Assert.Equal(t.Values[o * t.Shape[1] + j], f.Values[j * t.Shape[0] + o]);
            }
        }
    }

    [Fact]
    public void Opset9_export_lists_initializers_as_inputs_but_only_data_is_an_input()
    {
        var model = OnnxImporter.ReadModel(TestPaths.Model("blog_mlp_pytorch_opset9.onnx"));
        Assert.Equal(7, model.Graph.Input.Count);

        var graph = OnnxImporter.Import(TestPaths.Model("blog_mlp_pytorch_opset9.onnx"));
        Assert.Equal("x", Assert.Single(graph.Inputs).Name);
        Assert.Equal(9, graph.Opset);
    }

    [Fact]
    public void Float16_weights_become_double_parameters_seen_through_their_cast()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("float16_weights.onnx"));

        Assert.All(graph.Parameters, p => Assert.Equal(ElementType.Float16, p.SourceType));
        Assert.Equal(WeightLayout.OutIn, graph.Parameters[0].Layout);
        Assert.Equal(["Cast", "Cast", "Cast", "Cast", "Gemm", "Tanh", "Gemm"], graph.Nodes.Select(n => n.OpType));
        // float16 has 11 significant bits: every value is an exact multiple of a power of two.
        Assert.All(graph.Parameters.SelectMany(p => p.Values), v => Assert.Equal(v, (double)(Half)v));
    }

    [Fact]
    public void Linear_regression_parameters_are_the_trained_alpha_and_beta()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("linreg_pytorch.onnx"));
        // Least squares on the blog data: beta ≈ 1.24, alpha ≈ 0.29.
        Assert.Equal(1.24, graph.FindParameter("weight")!.Values[0], 2);
        Assert.Equal(0.29, graph.FindParameter("bias")!.Values[0], 2);
        Assert.Equal(["Gemm"], graph.Nodes.Select(n => n.OpType));
    }

    [Fact]
    public void Data_tables_have_a_header()
    {
        string[] blog = File.ReadAllLines(TestPaths.Model("blog_data.csv"));
        Assert.Equal("x,eps,y", blog[0]);
        Assert.Equal(101, blog.Length);

        Assert.Equal("x1,x2,y", File.ReadLines(TestPaths.Model("binary_data.csv")).First());
        Assert.Equal("x1,x2,x3,x4,y", File.ReadLines(TestPaths.Model("multiclass_data.csv")).First());
        Assert.Equal(["0", "1", "2"], File.ReadLines(TestPaths.Model("multiclass_data.csv")).Skip(1)
            .Select(l => l.Split(',')[^1]).Distinct().Order());
    }

    [SharedFact("reference/seed/data.csv")]
    public void The_blog_data_is_the_reference_copy() =>
        Assert.Equal(File.ReadAllText(Path.Combine(TestPaths.Shared, "reference/seed/data.csv")), File.ReadAllText(TestPaths.Model("blog_data.csv")));
}
