using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;
using TorchSharp;

namespace Bnn.Onnx.Tests;

public class TorchBackendTests
{
    private static string Blog => Path.Combine(SharedData.RepositoryRoot!, "models", "blog_mlp_pytorch.onnx");

    [SharedFact]
    public void A_thousand_evaluations_leave_no_tensor_alive()
    {
        var model = ModelTests.Posterior(Blog, out var position);
        using var potential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        var single = potential.CreateLogDensity();
        var batched = potential.CreateBatched(4)!;
        int d = single.Dimension;
        var gradient = new double[d];
        var positions = Enumerable.Repeat(position, 4).SelectMany(p => p).ToArray();
        var gradients = new double[4 * d];
        var lps = new double[4];
        single.LogDensityAndGradient(position, gradient); // warm up: lazily created native state
        long before = DisposeScopeManager.Statistics.ThreadTotalLiveCount;

        for (int i = 0; i < 1000; i++)
        {
            single.LogDensityAndGradient(position, gradient);
            batched.LogDensityAndGradient(4, positions, lps, gradients);
        }

        Assert.Equal(before, DisposeScopeManager.Statistics.ThreadTotalLiveCount);
    }

    [SharedFact]
    public void Float32_agrees_with_float64_to_float32_accuracy()
    {
        var model = ModelTests.Posterior(Blog, out var position);
        using var p64 = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        using var p32 = new TorchBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float32));
        int d = model.Layout.Dimension;
        var g64 = new double[d];
        var g32 = new double[d];

        double lp64 = p64.CreateLogDensity().LogDensityAndGradient(position, g64);
        double lp32 = p32.CreateLogDensity().LogDensityAndGradient(position, g32);

        Assert.NotEqual(lp64, lp32); // really computed in float32
        Assert.Equal(lp64, lp32, 1e-5 * Math.Abs(lp64));
        double scale = g64.Max(Math.Abs);
        for (int i = 0; i < d; i++) Assert.Equal(g64[i], g32[i], 1e-4 * scale);
    }

    [SharedFact]
    public void Cuda_without_a_visible_GPU_fails_with_one_line()
    {
        var graph = OnnxImporter.Import(Blog);
        if (torch.cuda.is_available())
        {
            using var onGpu = new TorchBackend().CompileGraph(graph, new BackendOptions(Device: "cuda"));
            var y = new double[2];
            onGpu.Forward(graph.Parameters.SelectMany(p => p.Values).ToArray(), [0.1, 0.2], 2, y);
            Assert.All(y, v => Assert.True(double.IsFinite(v)));
            return;
        }

        var e = Assert.Throws<NotSupportedException>(() => new TorchBackend().CompileGraph(graph, new BackendOptions(Device: "cuda")));

        Assert.Contains("--device cuda", e.Message);
        Assert.Contains("GPU", e.Message);
        Assert.DoesNotContain('\n', e.Message);
    }

    [SharedFact]
    public void An_unknown_device_is_an_argument_error()
    {
        var graph = OnnxImporter.Import(Blog);
        var e = Assert.Throws<ArgumentException>(() => new TorchBackend().CompileGraph(graph, new BackendOptions(Device: "tpu")));
        Assert.Contains("'tpu'", e.Message);
    }

    [Fact]
    public void An_unsupported_op_is_named_with_its_node()
    {
        var graph = new OnnxGraph
        {
            Producer = "test",
            ProducerVersion = "0",
            IrVersion = 8,
            Opsets = new Dictionary<string, long> { [""] = 17 },
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(2)])],
            Outputs = [new ValueInfo("y", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(2)])],
            Nodes = [new Node("conv0", "Conv", "", ["x", "w"], ["y"], new Dictionary<string, NodeAttribute>())],
            Parameters = [new Parameter("w", "w", [2, 2], [1, 0, 0, 1])],
            Constants = new Dictionary<string, OnnxImport.Tensor>(),
            Sha256 = "",
        };

        var reason = new TorchBackend().Unsupported(graph);
        var e = Assert.Throws<NotSupportedException>(() => new TorchBackend().CompileGraph(graph, BackendOptions.Default));

        Assert.NotNull(reason);
        Assert.Contains("'conv0' (Conv)", reason);
        Assert.Equal(reason, e.Message);
    }

    [Fact]
    public void A_hand_built_two_layer_network_on_batched_chains_matches_its_closed_form()
    {
        // y = tanh(x·W1ᵀ + b1)·w2 (Gemm transB=1, then MatMul with a 1-D weight): checks chain slicing of parameters
        // and numpy's 1-D matmul rule without the importer.
        var graph = new OnnxGraph
        {
            Producer = "test",
            ProducerVersion = "0",
            IrVersion = 8,
            Opsets = new Dictionary<string, long> { [""] = 17 },
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(2)])],
            Outputs = [new ValueInfo("y", ElementType.Float, [Dimension.Symbolic("batch")])],
            Nodes =
            [
                new Node("fc", "Gemm", "", ["x", "W1", "b1"], ["h"], new Dictionary<string, NodeAttribute> { ["transB"] = new("transB", AttributeKind.Int, Int: 1) }),
                new Node("act", "Tanh", "", ["h"], ["a"], new Dictionary<string, NodeAttribute>()),
                new Node("out", "MatMul", "", ["a", "w2"], ["y"], new Dictionary<string, NodeAttribute>()),
            ],
            Parameters = [new Parameter("W1", "W1", [3, 2], new double[6]), new Parameter("b1", "b1", [3], new double[3]), new Parameter("w2", "w2", [3], new double[3])],
            Constants = new Dictionary<string, OnnxImport.Tensor>(),
            Sha256 = "",
        };
        double[] x = [0.5, -1.0, 2.0, 0.25];
        var data = new DataSet(x, 2, [0.3, -0.2]);
        var model = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Normal, FixedSigma: 0.5), data);
        using var potential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        var batched = potential.CreateBatched(2)!;
        var rng = new Random(2);
        var positions = Enumerable.Range(0, 24).Select(_ => rng.NextDouble() - 0.5).ToArray();
        var lps = new double[2];
        var grads = new double[24];

        batched.LogDensityAndGradient(2, positions, lps, grads);

        for (int c = 0; c < 2; c++)
        {
            var theta = positions.AsSpan(c * 12, 12);
            var f = new double[2];
            for (int n = 0; n < 2; n++)
                for (int j = 0; j < 3; j++)
                    f[n] += Math.Tanh(theta[2 * j] * x[2 * n] + theta[2 * j + 1] * x[2 * n + 1] + theta[6 + j]) * theta[9 + j];
            double expected = model.LogPrior(theta, []) + model.LogLikelihood(f, Math.Log(0.5), new double[2], out _);
            Assert.Equal(expected, lps[c], 1e-12);
        }
    }
}
