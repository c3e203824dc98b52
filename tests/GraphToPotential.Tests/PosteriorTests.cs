using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>The posterior's value against formulas written out by hand, and its gradient against finite differences.</summary>
public class PosteriorTests
{
    private const double HalfLog2Pi = 0.91893853320467274178;

    /// <summary>f(x) = w·x + b as a Gemm (PyTorch layout).</summary>
    private static OnnxGraph Linear(string? head = null, int outputs = 1) => Mlp([1, outputs], "Relu", 5, head);

    private static DataSet Data(double[] x, double[] y) => new(x, 1, y);

    private static double Lp(IPotential potential, double[] position, double[]? gradient = null) =>
        potential.CreateLogDensity().LogDensityAndGradient(position, gradient ?? new double[position.Length]);

    [Fact]
    public void NormalWithSampledSigmaMatchesHandFormulaIncludingJacobian()
    {
        double[] x = [-1, 0.5, 2], y = [0.3, -0.2, 1.7];
        var model = PosteriorModel.Create(Linear(), PosteriorOptions.Default, Data(x, y));
        Assert.Equal(["layer0.weight", "layer0.bias", "sigma"], model.Layout.Blocks.Select(b => b.Name));
        Assert.Equal(BlockTransform.Log, model.Layout.Blocks[2].Transform);
        Assert.Equal("w0", model.Layout.Blocks[0].Source);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        double w = 0.7, b = -0.1, u = Math.Log(0.4), sigma = 0.4;
        double expected = 0;
        expected += -HalfLog2Pi - 0.5 * w * w;                    // w ~ N(0, 1)
        expected += -HalfLog2Pi - 0.5 * b * b;                    // b ~ N(0, 1)
        expected += -Math.Log(sigma) - HalfLog2Pi - 0.5 * Math.Log(sigma) * Math.Log(sigma) + u; // LogNormal(0,1) + log|dσ/du|
        for (int i = 0; i < 3; i++)
            expected += -HalfLog2Pi - Math.Log(sigma) - 0.5 * Math.Pow((y[i] - (w * x[i] + b)) / sigma, 2);
        Assert.Equal(expected, Lp(potential, [w, b, u]), 12);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), [w, b, u], 1e-6);
    }

    [Fact]
    public void NormalWithFixedSigmaAndCustomPriorsMatchesHandFormula()
    {
        double[] x = [-1, 0.5, 2], y = [0.3, -0.2, 1.7];
        var priors = PriorOptions.Parse(2.0, ["*.bias=normal(1,0.5)"]);
        var model = PosteriorModel.Create(Linear(), new PosteriorOptions(priors, LikelihoodKind.Normal, 0.3), Data(x, y));
        Assert.Equal(2, model.Layout.Dimension);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        double w = 0.7, b = -0.1, sigma = 0.3;
        double expected = -HalfLog2Pi - Math.Log(2.0) - 0.5 * Math.Pow(w / 2.0, 2)
                          - HalfLog2Pi - Math.Log(0.5) - 0.5 * Math.Pow((b - 1) / 0.5, 2);
        for (int i = 0; i < 3; i++)
            expected += -HalfLog2Pi - Math.Log(sigma) - 0.5 * Math.Pow((y[i] - (w * x[i] + b)) / sigma, 2);
        Assert.Equal(expected, Lp(potential, [w, b]), 12);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), [w, b], 1e-6);
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public void BernoulliOnLogitsAndOnSigmoidEndedGraphMatchHandFormula(bool sigmoidHead)
    {
        double[] x = [-1, 0.5, 2, 3], y = [0, 1, 1, 0];
        var model = PosteriorModel.Create(Linear(sigmoidHead ? "Sigmoid" : null), new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Bernoulli), Data(x, y));
        Assert.Equal(sigmoidHead ? OutputHead.Sigmoid : OutputHead.None, model.Head);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        double w = 1.3, b = -0.4;
        double expected = -HalfLog2Pi - 0.5 * w * w - HalfLog2Pi - 0.5 * b * b;
        for (int i = 0; i < 4; i++)
        {
            double p = 1 / (1 + Math.Exp(-(w * x[i] + b)));
            expected += y[i] * Math.Log(p) + (1 - y[i]) * Math.Log(1 - p);
        }
        Assert.Equal(expected, Lp(potential, [w, b]), 12);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), [w, b], 1e-6);
        // Predictions still include the Sigmoid when the graph has it.
        var pred = new double[1];
        potential.Predict([w, b], [2.0], 1, pred);
        Assert.Equal(sigmoidHead ? 1 / (1 + Math.Exp(-(w * 2 + b))) : w * 2 + b, pred[0], 14);
    }

    [Theory]
    [InlineData(null)]
    [InlineData("Softmax")]
    [InlineData("LogSoftmax")]
    public void CategoricalOnLogitsAndOnSoftmaxEndedGraphsMatchHandFormula(string? head)
    {
        double[] x = [-1, 0.5, 2], labels = [2, 0, 1];
        var graph = Linear(head, outputs: 3);
        var model = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Categorical), Data(x, labels));
        Assert.Equal(head is null ? OutputHead.None : Enum.Parse<OutputHead>(head), model.Head);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        double[] w = [0.5, -1.2, 0.8], b = [0.1, 0.2, -0.3];
        double expected = 0;
        foreach (var v in w.Concat(b)) expected += -HalfLog2Pi - 0.5 * v * v;
        for (int i = 0; i < 3; i++)
        {
            var z = Enumerable.Range(0, 3).Select(k => w[k] * x[i] + b[k]).ToArray();
            double norm = z.Sum(Math.Exp);
            expected += Math.Log(Math.Exp(z[(int)labels[i]]) / norm);
        }
        double[] position = [.. w, .. b];
        Assert.Equal(expected, Lp(potential, position), 12);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);
    }

    [Theory]
    [InlineData("Softplus")]
    [InlineData("Tanh")]
    [InlineData("Relu")]
    [InlineData("Sigmoid")]
    [InlineData("Elu")]
    [InlineData("Gelu")]
    [InlineData("LeakyRelu")]
    [InlineData("Selu")]
    [InlineData("Softsign")]
    [InlineData("HardSwish")]
    [InlineData("Celu")]
    [InlineData("Shrink")]
    [InlineData("ThresholdedRelu")]
    public void MlpPosteriorGradientMatchesFiniteDifferencesInBothPrecisions(string activation)
    {
        var graph = Mlp([3, 6, 5, 2], activation, 11);
        var rng = new Random(3);
        var data = new DataSet(Enumerable.Range(0, 40 * 3).Select(_ => Normal(rng)).ToArray(), 3,
            Enumerable.Range(0, 40 * 2).Select(_ => Normal(rng)).ToArray(), 2);
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, data);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var position = model.PositionAtFileWeights(0.8);
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);

        // The same through the reference likelihood on the network's own forward pass.
        var pred = new double[40 * 2];
        potential.Predict(position, data.Features, 40, pred);
        double reference = model.LogLikelihood(pred, model.LogSigma(position), new double[pred.Length], out _) + model.LogPrior(position, []);
        Assert.Equal(reference, Lp(potential, position), 9);

        using var p32 = new CompiledBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float32));
        Assert.True(Math.Abs(Lp(p32, position) - reference) <= 1e-5 * Math.Abs(reference));
    }

    [Fact]
    public void PriorOverridesParseGlobAndLastMatchWins()
    {
        var priors = PriorOptions.Parse(1.5, ["layer0.*=normal(0,0.5)", "layer0.bias=normal(1, 2)"]);
        Assert.Equal(new NormalPrior(0, 0.5), priors.For("layer0.weight"));
        Assert.Equal(new NormalPrior(1, 2), priors.For("layer0.bias"));
        Assert.Equal(new NormalPrior(0, 1.5), priors.For("layer1.weight"));
        Assert.Throws<ArgumentException>(() => PriorOverride.Parse("layer0.*"));
        Assert.Throws<ArgumentException>(() => PriorOverride.Parse("x=normal(0,-1)"));
        Assert.Throws<ArgumentException>(() => PriorOverride.Parse("x=cauchy(0,1)"));
        Assert.Throws<ArgumentException>(() => PriorOptions.Parse(0, []));
        var ex = Assert.Throws<ArgumentException>(() => PosteriorModel.Create(Linear(),
            new PosteriorOptions(PriorOptions.Parse(1, ["encoder.*=normal(0,1)"])), Data([1.0], [1.0])));
        Assert.Contains("matches no parameter", ex.Message);
    }

    [Fact]
    public void BadLabelsAndShapesAreRejectedWithOneLine()
    {
        var ex = Assert.Throws<InvalidDataException>(() => PosteriorModel.Create(Linear(outputs: 3),
            new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Categorical), Data([1.0, 2.0], [0, 3])));
        Assert.Contains("row 2", ex.Message);
        Assert.Throws<InvalidDataException>(() => PosteriorModel.Create(Linear(),
            new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Bernoulli), Data([1.0], [0.5])));
        Assert.Throws<ArgumentException>(() => PosteriorModel.Create(Linear(),
            new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Bernoulli, 0.3), Data([1.0], [1])));
        Assert.Throws<InvalidDataException>(() => PosteriorModel.Create(Linear(), PosteriorOptions.Default, new DataSet([1.0, 2.0], 2, [1.0])));
    }

    [Fact]
    public void UnsupportedOpNamesOpAndNodeAndAutoFallsBack()
    {
        var graph = Mlp([2, 3, 1], "Relu", 1);
        var nodes = graph.Nodes.ToList();
        nodes[1] = nodes[1] with { OpType = "Mish", Name = "act0" };
        var g = new OnnxGraph
        {
            Producer = "", ProducerVersion = "", IrVersion = 8, Opsets = graph.Opsets, Inputs = graph.Inputs, Outputs = graph.Outputs,
            Nodes = nodes, Parameters = graph.Parameters, Constants = graph.Constants, Sha256 = "",
        };
        var cpu = new CompiledBackend();
        string? reason = cpu.Unsupported(g);
        Assert.NotNull(reason);
        Assert.Contains("Mish", reason);
        Assert.Contains("act0", reason);
        var ex = Assert.Throws<NotSupportedException>(() => cpu.CompileGraph(g, BackendOptions.Default));
        Assert.Contains("Mish", ex.Message);
        Assert.Contains("act0", ex.Message);

        var other = new NamedFactory("torch");
        Assert.Same(other, BackendSelector.Select(BackendKind.Auto, g, [cpu, other]));
        Assert.Same(cpu, BackendSelector.Select(BackendKind.Auto, graph, [cpu, other]));
        Assert.Same(cpu, BackendSelector.Select(BackendKind.Cpu, g, [cpu, other]));
        Assert.Throws<ArgumentException>(() => BackendSelector.Select(BackendKind.Torch, g, [cpu]));
        Assert.Throws<ArgumentException>(() => BackendSelector.Parse("gpu"));
    }

    [Fact]
    public void FixedBatchGraphWorksWithAnyRowCountAndPriorDrawIsReproducible()
    {
        var graph = Mlp([2, 4, 1], "Tanh", 9);
        var fixedGraph = new OnnxGraph
        {
            Producer = "", ProducerVersion = "", IrVersion = 8, Opsets = graph.Opsets,
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Fixed(1), Dimension.Fixed(2)])],
            Outputs = [new ValueInfo(graph.Outputs[0].Name, ElementType.Float, [Dimension.Fixed(1), Dimension.Fixed(1)])],
            Nodes = graph.Nodes, Parameters = graph.Parameters, Constants = graph.Constants, Sha256 = "",
        };
        using var f = new CompiledBackend().CompileGraph(fixedGraph, BackendOptions.Default);
        using var g = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        var theta = graph.Parameters.SelectMany(p => p.Values).ToArray();
        var x = Graphs.Random(2 * 7, 4);
        var a = new double[7];
        var b = new double[7];
        f.Forward(theta, x, 7, a);
        g.Forward(theta, x, 7, b);
        Assert.Equal(b, a);

        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, new DataSet(x, 2, new double[7]));
        var r1 = new Random(42); var r2 = new Random(42);
        var p1 = new double[model.Layout.Dimension]; var p2 = new double[model.Layout.Dimension];
        model.DrawFromPrior(() => Normal(r1), p1);
        model.DrawFromPrior(() => Normal(r2), p2);
        Assert.Equal(p1, p2);
        Assert.NotEqual(0, p1[^1]);
    }

    private sealed class NamedFactory(string name) : IPotentialBackendFactory
    {
        public string Name => name;
        public string? Unsupported(OnnxGraph graph) => null;
        public IGraphFunction CompileGraph(OnnxGraph graph, BackendOptions options) => throw new NotImplementedException();
        public IPotential CreatePotential(PosteriorModel model, BackendOptions options) => throw new NotImplementedException();
    }
}
