using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// LayerNormalization, PRelu, every torch.nn activation and the normalisation and composite blocks as PyTorch exports
/// them: the compiled backend's gradient with respect to every sampled
/// parameter (the Linear weights before the layer, the LayerNorm scale and bias, the PReLU slope) against central
/// finite differences, at the file's weights and at moved ones.
/// </summary>
public class LayerFixtureTests
{
    public static TheoryData<string> Files => new()
    {
        "layernorm_mlp_op17", "layernorm_nobias_op17", "prelu_shared_op13", "prelu_shared_op17", "prelu_channel_op13", "prelu_channel_op17",
        "elu_pytorch_op17",
        "gelu_pytorch_op17",
        "gelu_tanh_pytorch_op17",
        "groupnorm_mlp_op17",
        "hardshrink_pytorch_op17",
        "hardsigmoid_pytorch_op17",
        "hardtanh_pytorch_op17",
        "layernorm_mlp_op13",
        "layernorm_noaffine_op13",
        "leakyrelu_pytorch_op17",
        "logsigmoid_pytorch_op17",
        "logsoftmax_pytorch_op17",
        "mish_pytorch_op17",
        "prelu_skip_op17",
        "relu6_pytorch_op17",
        "relu_pytorch_op17",
        "residual_layernorm_gelu_op13",
        "residual_layernorm_gelu_op17",
        "rmsnorm_mlp_op17",
        "rrelu_pytorch_op17",
        "selu_pytorch_op17",
        "sigmoid_pytorch_op17",
        "silu_pytorch_op17",
        "softmax_pytorch_op17",
        "softplus_beta_pytorch_op17",
        "softplus_pytorch_op17",
        "softshrink_pytorch_op17",
        "softsign_pytorch_op17",
        "structure_mlp_op17",
        "untrained_norms_op13",
        "untrained_norms_op17",
        "tanh_pytorch_op17",
        "tanhshrink_pytorch_op17",
    };

    [Theory]
    [MemberData(nameof(Files))]
    public void Compiled_gradient_matches_finite_differences(string name)
    {
        string path = Path.Combine(TestPaths.Models, name + ".onnx");
        var graph = OnnxImporter.Import(path);
        var x = TestPaths.ReadCsv(Path.Combine(TestPaths.Models, name + ".input.csv"));
        var recorded = TestPaths.ReadCsv(Path.Combine(TestPaths.Models, name + ".output.csv"));
        // Targets away from the network's own outputs, so every residual (and so every gradient term) is non-zero.
        var y = recorded.Select((row, i) => row[0] + 0.5 * Math.Sin(i + 1)).ToArray();
        var data = new DataSet(x.SelectMany(r => r).ToArray(), x[0].Length, y);
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, data);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var density = potential.CreateLogDensity();
        var position = potential.PositionAtFileWeights();
        GradientAssert.MatchesFiniteDifferences(density, position, 1e-6);

        var moved = position.Select((v, i) => v + 0.05 * Math.Cos(3 * i)).ToArray();
        GradientAssert.MatchesFiniteDifferences(density, moved, 1e-6);
    }
}
