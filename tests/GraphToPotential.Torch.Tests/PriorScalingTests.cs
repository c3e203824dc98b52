using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The fan-in and hierarchical priors on TorchSharp: the same log density and gradient as the compiled backend
/// (1e-10), batched as single, and the gradient against central finite differences, on imported PyTorch ([out,in])
/// and Flax ([in,out]) models.
/// </summary>
public class PriorScalingTests
{
    public static TheoryData<string, string> Cases() => new()
    {
        { "blog_mlp_pytorch.onnx", "hierarchical" },
        { "blog_mlp_flax_gemm.onnx", "hierarchical:2" },
        { "multiclass_logits_pytorch.onnx", "hierarchical" },
        { "blog_mlp_pytorch.onnx", "fan-in" },
        { "blog_mlp_flax_matmul.onnx", "fan-in:3" },
    };

    private static PosteriorModel Model(string file, string scale)
    {
        var graph = OnnxImporter.Import(Path.Combine(SharedData.RepositoryRoot!, "models", file));
        int inWidth = GraphShapes.InputWidth(graph), outWidth = GraphShapes.OutputWidth(graph, 0);
        var rng = new Random(17);
        const int rows = 25;
        var x = Enumerable.Range(0, rows * inWidth).Select(_ => Normal(rng)).ToArray();
        bool classifier = outWidth > 1;
        var y = classifier
            ? Enumerable.Range(0, rows).Select(i => (double)(i % outWidth)).ToArray()
            : Enumerable.Range(0, rows * outWidth).Select(_ => Normal(rng)).ToArray();
        var options = new PosteriorOptions(PriorOptions.Parse(scale, []), classifier ? LikelihoodKind.Categorical : LikelihoodKind.Normal);
        return PosteriorModel.Create(graph, options, new DataSet(x, inWidth, y, classifier ? 1 : outWidth));
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [Theory]
    [MemberData(nameof(Cases))]
    public void Torch_and_compiled_agree_and_match_finite_differences(string file, string scale)
    {
        var model = Model(file, scale);
        Assert.Equal(scale.StartsWith("hierarchical", StringComparison.Ordinal), model.HasLayerScales);
        if (model.HasLayerScales)
            Assert.Equal(model.Graph.Parameters.Count(p => p.Role == ParameterRole.Weight),
                model.Layout.Blocks.Count(b => b.Name.StartsWith("scale[", StringComparison.Ordinal)));
        int d = model.Layout.Dimension;
        var rng = new Random(3);
        var positions = new double[3 * d];
        for (int c = 0; c < 3; c++) model.DrawFromPrior(() => Normal(rng), positions.AsSpan(c * d, d));

        using var torchPotential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        using var compiledPotential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var batched = torchPotential.CreateBatched(3)!;
        var lps = new double[3];
        var batchedGradients = new double[3 * d];
        batched.LogDensityAndGradient(3, positions, lps, batchedGradients);

        var torch = torchPotential.CreateLogDensity();
        var compiled = compiledPotential.CreateLogDensity();
        for (int c = 0; c < 3; c++)
        {
            var position = positions.AsSpan(c * d, d).ToArray();
            var gTorch = new double[d];
            var gCompiled = new double[d];
            double lpTorch = torch.LogDensityAndGradient(position, gTorch);
            double lpCompiled = compiled.LogDensityAndGradient(position, gCompiled);
            double tol = 1e-10 * Math.Max(1, Math.Abs(lpCompiled));
            Assert.True(Math.Abs(lpTorch - lpCompiled) <= tol, $"log density torch {lpTorch:R}, compiled {lpCompiled:R}");
            Assert.True(Math.Abs(lps[c] - lpTorch) <= tol, $"batched {lps[c]:R}, single {lpTorch:R}");
            double gScale = Math.Max(1, gCompiled.Max(Math.Abs));
            for (int i = 0; i < d; i++)
            {
                Assert.True(Math.Abs(gTorch[i] - gCompiled[i]) <= 1e-10 * gScale, $"∂/∂{model.Layout.ScalarNames()[i]}: torch {gTorch[i]:R}, compiled {gCompiled[i]:R}");
                Assert.True(Math.Abs(batchedGradients[c * d + i] - gTorch[i]) <= 1e-10 * gScale, $"∂/∂θ[{i}] batched vs single");
            }
        }

        // Torch's gradient against central finite differences at the first position.
        var p0 = positions.AsSpan(0, d).ToArray();
        var grad = new double[d];
        torch.LogDensityAndGradient(p0, grad);
        var scratch = new double[d];
        for (int i = 0; i < d; i++)
        {
            double h = 1e-5 * Math.Max(1, Math.Abs(p0[i]));
            var p = (double[])p0.Clone();
            p[i] += h;
            double up = torch.LogDensityAndGradient(p, scratch);
            p[i] -= 2 * h;
            double down = torch.LogDensityAndGradient(p, scratch);
            double fd = (up - down) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= 1e-5 * (1 + Math.Abs(fd)), $"∂/∂{model.Layout.ScalarNames()[i]} = {grad[i]:R}, finite difference {fd:R}");
        }
    }

    [Fact]
    public void Torch_predicts_at_the_files_weights_from_the_non_centred_start()
    {
        var model = Model("blog_mlp_flax_gemm.onnx", "hierarchical");
        using var potential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        var position = model.PositionAtFileWeights();
        Assert.NotEqual(model.Graph.Parameters[0].Values[0], position[0]); // the prefix holds z = w/s
        var x = model.Data.Features;
        var fromPosition = new double[model.Data.Rows];
        var fromWeights = new double[model.Data.Rows];
        potential.Predict(position, x, model.Data.Rows, fromPosition);
        using var f = new TorchBackend().CompileGraph(model.Graph, BackendOptions.Default);
        f.Forward(model.Graph.Parameters.SelectMany(p => p.Values).ToArray(), x, model.Data.Rows, fromWeights);
        for (int i = 0; i < fromWeights.Length; i++) Assert.Equal(fromWeights[i], fromPosition[i], 1e-12);
    }

    [Theory]
    [InlineData("blog_mlp_pytorch.onnx")]
    [InlineData("blog_mlp_flax_gemm.onnx")]
    [InlineData("blog_mlp_flax_matmul.onnx")]
    public void Fan_in_reads_the_input_width_in_either_layout(string file)
    {
        // The blog's 1→5→10→1 network: weight scales 1/√1, 1/√5, 1/√10 whether stored [out,in] or [in,out]; biases 1.
        var model = Model(file, "fan-in");
        var weights = model.Graph.Parameters.Select((p, i) => (p, model.Priors[i].Scalar.Scale)).Where(t => t.p.Role == ParameterRole.Weight)
            .OrderBy(t => t.p.Layer).Select(t => t.Scale).ToArray();
        Assert.Equal(3, weights.Length);
        Assert.Equal(1.0, weights[0], 1e-15);
        Assert.Equal(1 / Math.Sqrt(5), weights[1], 1e-15);
        Assert.Equal(1 / Math.Sqrt(10), weights[2], 1e-15);
        Assert.All(model.Graph.Parameters.Select((p, i) => (p, model.Priors[i].Scalar.Scale)).Where(t => t.p.Role == ParameterRole.Bias),
            t => Assert.Equal(1.0, t.Scale));
    }
}
