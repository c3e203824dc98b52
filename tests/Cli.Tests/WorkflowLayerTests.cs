namespace Bnn.Onnx.Tests;

/// <summary>
/// Every torch.nn activation, the normalisation layers (LayerNorm at opset 13, RMSNorm, GroupNorm, BatchNorm) and the
/// composite blocks (a residual LayerNorm-GELU MLP, a PReLU network with a skip connection, a BatchNorm classifier,
/// Linear without bias with Dropout, AlphaDropout and Flatten), as PyTorch 1.13 exports them, through the whole
/// workflow (<see cref="WorkflowExportFormsTests.RunWorkflow"/>) with a shorter run per file.
/// </summary>
public class WorkflowLayerTests
{
    /// <summary>Fixture, likelihood, data file, and an op the import must show (what the layer became).</summary>
    public static TheoryData<string, string, string, string> Fixtures() => new()
    {
        { "relu_pytorch_op17", "normal", "blog_data.csv", "Relu" },
        { "relu6_pytorch_op17", "normal", "blog_data.csv", "Clip" },
        { "leakyrelu_pytorch_op17", "normal", "blog_data.csv", "LeakyRelu" },
        { "rrelu_pytorch_op17", "normal", "blog_data.csv", "LeakyRelu" },
        { "elu_pytorch_op17", "normal", "blog_data.csv", "Elu" },
        { "selu_pytorch_op17", "normal", "blog_data.csv", "Selu" },
        { "gelu_pytorch_op17", "normal", "blog_data.csv", "Erf" },
        { "gelu_tanh_pytorch_op17", "normal", "blog_data.csv", "Tanh" },
        { "silu_pytorch_op17", "normal", "blog_data.csv", "Sigmoid" },
        { "mish_pytorch_op17", "normal", "blog_data.csv", "Softplus" },
        { "hardsigmoid_pytorch_op17", "normal", "blog_data.csv", "HardSigmoid" },
        { "hardtanh_pytorch_op17", "normal", "blog_data.csv", "Clip" },
        { "softplus_pytorch_op17", "normal", "blog_data.csv", "Softplus" },
        { "softplus_beta_pytorch_op17", "normal", "blog_data.csv", "Softplus" },
        { "softsign_pytorch_op17", "normal", "blog_data.csv", "Abs" },
        { "softshrink_pytorch_op17", "normal", "blog_data.csv", "Shrink" },
        { "hardshrink_pytorch_op17", "normal", "blog_data.csv", "Shrink" },
        { "tanhshrink_pytorch_op17", "normal", "blog_data.csv", "Tanh" },
        { "sigmoid_pytorch_op17", "normal", "blog_data.csv", "Sigmoid" },
        { "logsigmoid_pytorch_op17", "normal", "blog_data.csv", "Log" },
        { "tanh_pytorch_op17", "normal", "blog_data.csv", "Tanh" },
        { "softmax_pytorch_op17", "normal", "blog_data.csv", "Softmax" },
        { "logsoftmax_pytorch_op17", "normal", "blog_data.csv", "LogSoftmax" },
        { "layernorm_mlp_op13", "normal", "layer_data.csv", "ReduceMean" },
        { "layernorm_noaffine_op13", "normal", "layer_data.csv", "Sqrt" },
        { "rmsnorm_mlp_op17", "normal", "layer_data.csv", "ReduceMean" },
        { "groupnorm_mlp_op17", "normal", "layer_data.csv", "ReduceMean" },
        { "residual_layernorm_gelu_op13", "normal", "layer_data.csv", "Erf" },
        { "residual_layernorm_gelu_op17", "normal", "layer_data.csv", "Erf" },
        { "prelu_skip_op17", "normal", "layer_data.csv", "Neg" },
        { "structure_mlp_op17", "normal", "layer_data.csv", "Flatten" },
        { "batchnorm_classifier_op17", "categorical", "multiclass_data.csv", "BatchNormalization" },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Import_eval_sample_export_and_predict(string name, string likelihood, string dataFile, string op) =>
        WorkflowExportFormsTests.RunWorkflow(name, likelihood, dataFile, op, warmup: 40, draws: 20);
}
