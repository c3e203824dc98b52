using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The fan-in and hierarchical priors (<c>--prior-scale fan-in</c>, <c>hierarchical</c>): their log densities against
/// formulas written out by hand, their gradients against finite differences, the non-centred block transform, and
/// NUTS on the prior alone reproducing the intended prior.
/// </summary>
public class PriorScalingTests
{
    private const double HalfLog2Pi = 0.91893853320467274178;

    /// <summary>An MLP whose parameters carry the roles the importer gives PyTorch's nn.Linear: weights [out,in], biases.</summary>
    internal static OnnxGraph RoledMlp(int[] widths, string activation, int seed)
    {
        var g = Mlp(widths, activation, seed);
        var parameters = g.Parameters.Select(p => p.Name.EndsWith(".bias", StringComparison.Ordinal)
            ? p with { Role = ParameterRole.Bias, Layout = WeightLayout.NotAMatrix }
            : p with { Role = ParameterRole.Weight, Layout = WeightLayout.OutIn }).ToArray();
        return Graph(g.Inputs.ToArray(), g.Outputs.ToArray(), g.Nodes.ToArray(), parameters);
    }

    private static DataSet RandomData(int rows, int inputs, int outputs, int seed)
    {
        var rng = new Random(seed);
        return new DataSet(Enumerable.Range(0, rows * inputs).Select(_ => Normal(rng)).ToArray(), inputs,
            Enumerable.Range(0, rows * outputs).Select(_ => Normal(rng)).ToArray(), outputs);
    }

    private static void AssertClose(double[] expected, double[] actual, double tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        for (int i = 0; i < expected.Length; i++)
            Assert.True(Math.Abs(expected[i] - actual[i]) <= tolerance * Math.Max(1, Math.Abs(expected[i])), $"[{i}]: {actual[i]:R}, expected {expected[i]:R}");
    }

    private static PosteriorOptions Options(string scale, double? sigma = null, params string[] overrides) =>
        new(PriorOptions.Parse(scale, overrides), LikelihoodKind.Normal, sigma);

    [Theory]
    [InlineData("1", nameof(PriorScaling.Fixed), 1.0)]
    [InlineData(" 2.5 ", nameof(PriorScaling.Fixed), 2.5)]
    [InlineData("fan-in", nameof(PriorScaling.FanIn), 1.0)]
    [InlineData("Fan-In:2", nameof(PriorScaling.FanIn), 2.0)]
    [InlineData("hierarchical", nameof(PriorScaling.Hierarchical), 1.0)]
    [InlineData("hierarchical:0.5", nameof(PriorScaling.Hierarchical), 0.5)]
    public void Prior_scale_parses_a_number_fan_in_or_hierarchical(string text, string scalingName, double c)
    {
        var scaling = Enum.Parse<PriorScaling>(scalingName);
        Assert.Equal((scaling, c), PriorOptions.ParseScale(text));
    }

    [Theory]
    [InlineData("banana")]
    [InlineData("-1")]
    [InlineData("0")]
    [InlineData("fan-in:-2")]
    [InlineData("fan-in:")]
    [InlineData("hierarchical:x")]
    [InlineData("nan")]
    [InlineData("1:2")]
    public void Bad_prior_scales_are_one_line_argument_errors(string text)
    {
        var ex = Assert.Throws<ArgumentException>(() => PriorOptions.ParseScale(text));
        Assert.StartsWith("--prior-scale", ex.Message);
        Assert.DoesNotContain('\n', ex.Message);
    }

    [Fact]
    public void Fan_in_comes_from_role_and_layout()
    {
        var values = new double[24];
        Assert.Equal(3, PriorOptions.FanIn(new Parameter("a", "a", [8, 3], values) { Role = ParameterRole.Weight, Layout = WeightLayout.OutIn }));
        Assert.Equal(8, PriorOptions.FanIn(new Parameter("a", "a", [8, 3], values) { Role = ParameterRole.Weight, Layout = WeightLayout.InOut }));
        Assert.Equal(12, PriorOptions.FanIn(new Parameter("c", "c", [2, 3, 2, 2], values) { Role = ParameterRole.Weight }));
        Assert.Equal(1, PriorOptions.FanIn(new Parameter("v", "v", [24], values) { Role = ParameterRole.Weight }));
        Assert.Equal(1, PriorOptions.FanIn(new Parameter("b", "b", [8, 3], values) { Role = ParameterRole.Bias }));
    }

    [Fact]
    public void Fan_in_prior_matches_hand_formula_and_finite_differences()
    {
        var graph = RoledMlp([3, 4, 2], "Tanh", 5);
        var data = RandomData(10, 3, 2, 1);
        var model = PosteriorModel.Create(graph, Options("fan-in:2", 0.7), data);
        Assert.Equal([2 / Math.Sqrt(3), 2, 2 / Math.Sqrt(4), 2], model.Priors.Select(p => p.Scalar.Scale));
        Assert.All(model.Priors, p => Assert.Null(p.Scale));
        Assert.False(model.HasLayerScales);

        var position = model.PositionAtFileWeights();
        double expected = 0;
        int offset = 0;
        foreach (var (p, s) in graph.Parameters.Zip(new[] { 2 / Math.Sqrt(3), 2, 1, 2 }))
        {
            for (int i = 0; i < p.Size; i++)
                expected += -HalfLog2Pi - Math.Log(s) - 0.5 * Math.Pow(position[offset + i] / s, 2);
            offset += p.Size;
        }
        Assert.Equal(expected, model.LogPrior(position, []), 12);

        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);
    }

    [Fact]
    public void Hierarchical_prior_matches_hand_formula_for_a_linear_model()
    {
        // f(x) = w·x + b with w [1,2]: w = s·z, z ~ N(0,1), v = log s ~ N(log(c/√2), 1); b ~ N(0, c²); σ fixed.
        var graph = RoledMlp([2, 1], "Relu", 3);
        double[] x = [0.5, -1, 2, 0.3, -0.7, 1.1], y = [0.2, 1.5, -0.4];
        var model = PosteriorModel.Create(graph, Options("hierarchical:1.5", 0.6), new DataSet(x, 2, y));
        Assert.Equal(["layer0.weight", "layer0.bias", "scale[layer0.weight]"], model.Layout.Blocks.Select(b => b.Name));
        Assert.Equal(BlockTransform.NonCentered, model.Layout.Blocks[0].Transform);
        Assert.Equal(BlockTransform.Log, model.Layout.Blocks[2].Transform);
        Assert.Null(model.Layout.Blocks[2].Source);
        Assert.Equal(["layer0.weight[0,0]", "layer0.weight[0,1]", "layer0.bias[0]", "scale[layer0.weight]"], model.Layout.ScalarNames());

        double z0 = 0.8, z1 = -1.3, b = 0.25, v = Math.Log(0.9), s = 0.9, c = 1.5, m = c / Math.Sqrt(2), sigma = 0.6;
        double[] position = [z0, z1, b, v];
        double expected = -HalfLog2Pi - 0.5 * z0 * z0 - HalfLog2Pi - 0.5 * z1 * z1   // z ~ N(0, 1)
                          - HalfLog2Pi - Math.Log(c) - 0.5 * Math.Pow(b / c, 2)          // b ~ N(0, c²)
                          - HalfLog2Pi - 0.5 * Math.Pow(v - Math.Log(m), 2);             // v = log s ~ N(log m, 1)
        for (int i = 0; i < 3; i++)
        {
            double f = s * z0 * x[2 * i] + s * z1 * x[2 * i + 1] + b;                    // the network sees w = s·z
            expected += -HalfLog2Pi - Math.Log(sigma) - 0.5 * Math.Pow((y[i] - f) / sigma, 2);
        }
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var gradient = new double[4];
        Assert.Equal(expected, potential.CreateLogDensity().LogDensityAndGradient(position, gradient), 12);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);

        // The draws hold w = s·z and s; the prediction runs at w.
        var constrained = new double[4];
        model.Layout.Constrain(position, constrained);
        AssertClose([s * z0, s * z1, b, s], constrained, 1e-14);
        var back = new double[4];
        model.Layout.Unconstrain(constrained, back);
        AssertClose(position, back, 1e-14);
        var prediction = new double[1];
        potential.Predict(position, [1.0, 2.0], 1, prediction);
        Assert.Equal(s * z0 + 2 * s * z1 + b, prediction[0], 14);
    }

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public void Hierarchical_mlp_gradient_matches_finite_differences(bool sampledSigma)
    {
        var graph = RoledMlp([3, 6, 5, 2], "Tanh", 11);
        var data = RandomData(30, 3, 2, 4);
        var model = PosteriorModel.Create(graph, Options("hierarchical", sampledSigma ? null : 0.8, "layer2.weight=normal(0,0.3)"), data);
        // layer2.weight is overridden: a fixed normal, no scale; the other weights get one each, after σ.
        Assert.Equal(["layer0.weight", "layer0.bias", "layer1.weight", "layer1.bias", "layer2.weight", "layer2.bias",
            .. sampledSigma ? new[] { "sigma" } : [], "scale[layer0.weight]", "scale[layer1.weight]"], model.Layout.Blocks.Select(b => b.Name));
        Assert.Equal(new NormalPrior(0, 0.3), model.Priors[4].Normal);
        Assert.Null(model.Priors[4].Scale);
        Assert.Equal(1 / Math.Sqrt(6), model.Priors[2].Scale!.Median, 15);

        var rng = new Random(8);
        var position = new double[model.Layout.Dimension];
        model.DrawFromPrior(() => Normal(rng), position);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);

        // The same value through the reference likelihood on the network's forward pass at w.
        var pred = new double[30 * 2];
        potential.Predict(position, data.Features, 30, pred);
        double reference = model.LogLikelihood(pred, model.LogSigma(position), new double[pred.Length], out _) + model.LogPrior(position, []);
        Assert.Equal(reference, potential.CreateLogDensity().LogDensityAndGradient(position, new double[position.Length]), 9);
    }

    [Fact]
    public void Init_at_the_files_weights_maps_them_to_z_and_scale_and_back()
    {
        var graph = RoledMlp([3, 6, 2], "Tanh", 21);
        var model = PosteriorModel.Create(graph, Options("hierarchical"), RandomData(5, 3, 2, 2));
        var position = model.PositionAtFileWeights(0.5);
        var network = new double[model.ParameterDimension];
        model.NetworkParameters(position, network);
        AssertClose(graph.Parameters.SelectMany(p => p.Values).ToArray(), network, 1e-14);

        var constrained = new double[position.Length];
        model.Layout.Constrain(position, constrained);
        var w0 = graph.Parameters[0].Values;
        Assert.Equal(Math.Sqrt(w0.Sum(w => w * w) / w0.Length), constrained[model.Layout.Find("scale[layer0.weight]")!.Offset], 14);
        Assert.Equal(0.5, constrained[model.SigmaOffset], 14);
        // z has unit root mean square in each scaled tensor.
        Assert.Equal(1.0, Math.Sqrt(position.Take(w0.Length).Sum(z => z * z) / w0.Length), 12);
    }

    /// <summary>log p(θ) alone: the posterior with no data.</summary>
    private sealed class PriorOnly(PosteriorModel model) : ILogDensity
    {
        public int Dimension => model.Layout.Dimension;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            gradient.Clear();
            return model.LogPrior(position, gradient);
        }
    }

    /// <summary>|mean of q − truth| &lt; 4 MCSE, with the MCSE from q's own effective sample size.</summary>
    private static void AssertExpectation(string what, double[][] q, double truth)
    {
        var row = PosteriorSummary.Summarize(what, q);
        Assert.True(Math.Abs(row.Mean - truth) < 4 * row.McseMean, $"{what}: {row.Mean:R} vs {truth:R} (MCSE {row.McseMean:R})");
    }

    private static double[][] Map(double[][] draws, Func<double, double> f) => draws.Select(c => c.Select(f).ToArray()).ToArray();

    private static double Phi(double x) => 0.5 * (1 + Erf(x / Math.Sqrt(2)));

    /// <summary>erf to ~1e-7 (Abramowitz and Stegun 7.1.26).</summary>
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double y = 1 - t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429)))) * Math.Exp(-x * x);
        return x >= 0 ? y : -y;
    }

    /// <summary>P(w ≤ x) for w = s·z, z ~ N(0,1), log s ~ N(log m, 1): ∫ φ(t) Φ(x / (m e^t)) dt by the trapezoid rule.</summary>
    private static double ScaleMixtureCdf(double x, double m)
    {
        double sum = 0, h = 0.01;
        for (double t = -9; t <= 9; t += h)
            sum += Math.Exp(-0.5 * t * t) / Math.Sqrt(2 * Math.PI) * Phi(x / (m * Math.Exp(t))) * h;
        return sum;
    }

    [Fact]
    public void Nuts_on_the_non_centred_prior_alone_reproduces_the_intended_prior()
    {
        var graph = RoledMlp([3, 4, 2], "Tanh", 2);
        var model = PosteriorModel.Create(graph, Options("hierarchical:2", 1.0), RandomData(4, 3, 2, 3));
        var layout = model.Layout;
        var options = new SamplerOptions { Chains = 4, Warmup = 500, Draws = 1500, Seed = 2024 };
        var sink = new InMemoryDrawSink(layout.ScalarNames(), options.Chains, options.Draws);
        var result = Sampler.Run(options, _ => new PriorOnly(model), layout, sink);
        Assert.Equal(0, result.Divergences);

        // s_l ~ LogNormal(log m, 1), m = c/√fan_in: log s has mean log m and variance 1; its 5%, 50%, 95% quantiles are m·e^{∓1.645}, m.
        foreach (var (name, fanIn) in new[] { ("layer0.weight", 3), ("layer1.weight", 4) })
        {
            double m = 2 / Math.Sqrt(fanIn);
            var s = sink.Column($"scale[{name}]");
            AssertExpectation($"log scale[{name}]", Map(s, Math.Log), Math.Log(m));
            AssertExpectation($"(log scale[{name}] − log m)²", Map(s, v => Math.Pow(Math.Log(v) - Math.Log(m), 2)), 1.0);
            AssertExpectation($"P(scale[{name}] ≤ q5)", Map(s, v => v <= m * Math.Exp(-1.6448536) ? 1 : 0), 0.05);
            AssertExpectation($"P(scale[{name}] ≤ median)", Map(s, v => v <= m ? 1 : 0), 0.5);
            AssertExpectation($"P(scale[{name}] ≤ q95)", Map(s, v => v <= m * Math.Exp(1.6448536) ? 1 : 0), 0.95);

            // The draws hold w = s·z: its marginal is the scale mixture of normals.
            var w = sink.Column($"{name}[1,2]");
            AssertExpectation($"{name}[1,2]", w, 0.0);
            foreach (double x in new[] { -3 * m, -m, m, 3 * m })
                AssertExpectation($"P({name}[1,2] ≤ {x:G3})", Map(w, v => v <= x ? 1 : 0), ScaleMixtureCdf(x, m));
            // ... and w/s is the standard normal z.
            var ratio = w.Select((chain, c) => chain.Select((v, d) => v / s[c][d]).ToArray()).ToArray();
            AssertExpectation($"{name}[1,2] / scale", ratio, 0.0);
            AssertExpectation($"({name}[1,2] / scale)²", Map(ratio, v => v * v), 1.0);
        }

        // Biases keep N(0, c²).
        var bias = sink.Column("layer0.bias[2]");
        AssertExpectation("layer0.bias[2]", bias, 0.0);
        AssertExpectation("layer0.bias[2]²", Map(bias, v => v * v), 4.0);
        AssertExpectation("P(layer0.bias[2] ≤ 2)", Map(bias, v => v <= 2 ? 1 : 0), Phi(1));
    }
}
