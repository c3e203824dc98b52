using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using Xunit.Abstractions;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Simulation-based calibration (Talts et al. 2018) of NUTS with each metric on a small Bayesian network: 1→3→1 tanh on
/// 20 inputs, N(0, 1) priors on every weight and σ ~ LogNormal(0, 1). Each replication draws the truth from the prior,
/// simulates y, samples the posterior (one chain) and ranks the truth's σ, lp__ and predictive means f(x₀), f(x₁₉)
/// among thinned draws. Single weights are left out: their posterior has sign and permutation modes that one chain
/// need not visit, while these quantities do not change between modes. Uniform ranks are the check; CI runs a reduced
/// set of replications, and <c>BNN_SBC_REPLICATIONS</c> (e.g. 400) the full one for BENCHMARKS.md.
/// </summary>
public class MetricSbcTests(ITestOutputHelper output)
{
    private const int Thin = 4;
    private const int KeptDraws = 49;   // ranks 0..49: 50 values, 10 bins of 5
    private const int Bins = 10;
    private const int Rows = 20;

    /// <summary>χ²₉ at p = 0.001: each quantity's histogram fails by chance once in a thousand seeds.</summary>
    private const double ChiSquareCritical = 27.877;

    /// <summary>|z| of the mean normalised rank at p = 0.001.</summary>
    private const double MeanRankZCritical = 3.29;

    private static readonly string[] Quantities = ["sigma", "lp__", "f(x[0])", "f(x[19])"];

    [Theory]
    [InlineData(nameof(MetricKind.Diagonal))]
    [InlineData(nameof(MetricKind.LowRank))]
    public void Ranks_of_sigma_lp_and_predictive_means_are_uniform(string metricName)
    {
        var metric = Enum.Parse<MetricKind>(metricName);
        int replications = int.TryParse(Environment.GetEnvironmentVariable("BNN_SBC_REPLICATIONS"), out int r) ? r : 100;
        var counts = Quantities.Select(_ => new int[Bins]).ToArray();
        var rankSums = new double[Quantities.Length];
        var graph = Mlp([1, 3, 1], "Tanh", 3);
        var x = Enumerable.Range(0, Rows).Select(i => -2.0 + 4.0 * i / (Rows - 1)).ToArray();
        var options = new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Normal);
        using var network = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        var rng = new Random(31415);

        for (int rep = 0; rep < replications; rep++)
        {
            // The truth from the prior, and data simulated from it.
            var template = PosteriorModel.Create(graph, options, new DataSet(x, 1, new double[Rows]));
            var truth = new double[template.Layout.Dimension];
            template.DrawFromPrior(() => Normal(rng), truth);
            double sigma = Math.Exp(truth[template.SigmaOffset]);
            var f = new double[Rows];
            network.Forward(truth, x, Rows, f);
            var y = f.Select(v => v + sigma * Normal(rng)).ToArray();

            var model = PosteriorModel.Create(graph, options, new DataSet(x, 1, y));
            using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
            double truthLp = potential.CreateLogDensity().LogDensityAndGradient(truth, new double[truth.Length]);
            double[] truthValues = [sigma, truthLp, f[0], f[Rows - 1]];

            var sampler = new SamplerOptions { Chains = 1, Warmup = 200, Draws = KeptDraws * Thin, Seed = (ulong)(5000 + rep), Metric = metric };
            var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), 1, sampler.Draws, ["f(x[0])", "f(x[19])"]);
            Sampler.Run(sampler, _ => potential.CreateLogDensity(), model.Layout, sink,
                generatedQuantities: _ => new EndPredictions(potential, x));

            for (int q = 0; q < Quantities.Length; q++)
            {
                var draws = sink.Column(Quantities[q])[0];
                int rank = 0;
                for (int t = Thin - 1; t < draws.Length; t += Thin)
                    if (draws[t] < truthValues[q]) rank++;
                counts[q][rank * Bins / (KeptDraws + 1)]++;
                rankSums[q] += (rank + 0.5) / (KeptDraws + 1);
            }
        }

        double expected = (double)replications / Bins;
        for (int q = 0; q < Quantities.Length; q++)
        {
            double chi2 = counts[q].Sum(k => (k - expected) * (k - expected) / expected);
            double z = (rankSums[q] / replications - 0.5) / Math.Sqrt(1.0 / 12 / replications);
            string histogram = $"{metric} {Quantities[q]}: {replications} replications, rank histogram [{string.Join(", ", counts[q])}], " +
                $"χ²₉ = {chi2:F1} (p = {ChiSquareSurvival9(chi2):F3}), mean-rank z = {z:F2}";
            output.WriteLine(histogram);
            Assert.True(chi2 < ChiSquareCritical, histogram);
            Assert.True(Math.Abs(z) < MeanRankZCritical, histogram);
        }
    }

    /// <summary>
    /// The same calibration with the output layer integrated out (<see cref="PosteriorModel.CreateIntegrated"/>): NUTS
    /// samples the hidden layer and σ on the collapsed likelihood, and the output weights are drawn from their exact
    /// conditional at every draw with the chain's stream, as <c>bnn sample --integrate-output</c> does; lp__ is the
    /// collapsed model's, ranked against its value at the truth.
    /// </summary>
    [Fact]
    public void Ranks_are_uniform_with_the_output_layer_integrated()
    {
        int replications = int.TryParse(Environment.GetEnvironmentVariable("BNN_SBC_REPLICATIONS"), out int r) ? r : 100;
        var counts = Quantities.Select(_ => new int[Bins]).ToArray();
        var rankSums = new double[Quantities.Length];
        var graph = Mlp([1, 3, 1], "Tanh", 3);
        var x = Enumerable.Range(0, Rows).Select(i => -2.0 + 4.0 * i / (Rows - 1)).ToArray();
        var options = new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Normal);
        using var network = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        var rng = new Random(27182);

        for (int rep = 0; rep < replications; rep++)
        {
            var template = PosteriorModel.Create(graph, options, new DataSet(x, 1, new double[Rows]));
            var truth = new double[template.Layout.Dimension];
            template.DrawFromPrior(() => Normal(rng), truth);
            double sigma = Math.Exp(truth[template.SigmaOffset]);
            var f = new double[Rows];
            network.Forward(truth, x, Rows, f);
            var y = f.Select(v => v + sigma * Normal(rng)).ToArray();

            var model = PosteriorModel.CreateIntegrated(graph, options, new DataSet(x, 1, y));
            var reducedTruth = new double[model.Layout.Dimension];
            foreach (var block in model.Layout.Blocks)
                truth.AsSpan(template.Layout.Find(block.Name)!.Offset, block.Size).CopyTo(reducedTruth.AsSpan(block.Offset));
            using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
            double truthLp = potential.CreateLogDensity().LogDensityAndGradient(reducedTruth, new double[reducedTruth.Length]);
            double[] truthValues = [sigma, truthLp, f[0], f[Rows - 1]];

            var sampler = new SamplerOptions { Chains = 1, Warmup = 200, Draws = KeptDraws * Thin, Seed = (ulong)(7000 + rep) };
            var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), 1, sampler.Draws, ["f(x[0])", "f(x[19])"]);
            Sampler.Run(sampler, _ => potential.CreateLogDensity(), model.Layout, sink,
                generatedQuantities: _ => new DrawnEndPredictions(potential, x));

            for (int q = 0; q < Quantities.Length; q++)
            {
                var draws = sink.Column(Quantities[q])[0];
                int rank = 0;
                for (int t = Thin - 1; t < draws.Length; t += Thin)
                    if (draws[t] < truthValues[q]) rank++;
                counts[q][rank * Bins / (KeptDraws + 1)]++;
                rankSums[q] += (rank + 0.5) / (KeptDraws + 1);
            }
        }

        double expected = (double)replications / Bins;
        for (int q = 0; q < Quantities.Length; q++)
        {
            double chi2 = counts[q].Sum(k => (k - expected) * (k - expected) / expected);
            double z = (rankSums[q] / replications - 0.5) / Math.Sqrt(1.0 / 12 / replications);
            string histogram = $"integrated output {Quantities[q]}: {replications} replications, rank histogram [{string.Join(", ", counts[q])}], " +
                $"χ²₉ = {chi2:F1} (p = {ChiSquareSurvival9(chi2):F3}), mean-rank z = {z:F2}";
            output.WriteLine(histogram);
            Assert.True(chi2 < ChiSquareCritical, histogram);
            Assert.True(Math.Abs(z) < MeanRankZCritical, histogram);
        }
    }

    /// <summary>
    /// f at the first and last input with the output weights drawn from their conditional given the draw (the
    /// integrated potential's <see cref="IPotential.Predict"/> gives the hidden activations Φ).
    /// </summary>
    private sealed class DrawnEndPredictions(IPotential potential, double[] x) : IGeneratedQuantities
    {
        private readonly CollapsedOutputLayer _layer = potential.Model.Integrated!.CreateLayer(potential.Model.Data.Targets);
        private readonly double[] _phi = new double[x.Length * potential.Model.OutputWidth];
        private readonly double[] _weights = new double[potential.Model.OutputWidth + 1];
        public IReadOnlyList<string> Names => ["f(x[0])", "f(x[19])"];

        public void Compute(ReadOnlySpan<double> position, Span<double> values) => throw new InvalidOperationException("needs the chain's stream");

        public void Compute(ReadOnlySpan<double> position, Rng rng, Span<double> values)
        {
            var model = potential.Model;
            potential.Predict(position, model.Data.Features, x.Length, _phi);
            Assert.True(_layer.DrawWeights(_phi, model.LogSigma(position), rng, _weights));
            int h = model.OutputWidth;
            foreach (var (row, slot) in new[] { (0, 0), (x.Length - 1, 1) })
            {
                double v = _weights[h];
                for (int j = 0; j < h; j++) v += _phi[row * h + j] * _weights[j];
                values[slot] = v;
            }
        }
    }

    /// <summary>P(χ²₉ &gt; x) = 1 − P(9/2, x/2), the regularised lower incomplete gamma function by its series.</summary>
    private static double ChiSquareSurvival9(double x)
    {
        // Q(9/2, x/2) by the series of the lower incomplete gamma function.
        double a = 4.5, t = x / 2, sum = 1.0 / a, term = sum;
        for (int n = 1; n < 500; n++)
        {
            term *= t / (a + n);
            sum += term;
            if (term < 1e-16 * sum) break;
        }
        double logLower = -t + a * Math.Log(t) + Math.Log(sum) - LogGamma45;
        return Math.Clamp(1 - Math.Exp(logLower), 0, 1);
    }

    /// <summary>log Γ(4.5) = log(105 √π / 16).</summary>
    private static readonly double LogGamma45 = Math.Log(105 * Math.Sqrt(Math.PI) / 16);

    /// <summary>The network's output at the first and last input.</summary>
    private sealed class EndPredictions(IPotential potential, double[] x) : IGeneratedQuantities
    {
        private readonly double[] _outputs = new double[x.Length];
        public IReadOnlyList<string> Names => ["f(x[0])", "f(x[19])"];

        public void Compute(ReadOnlySpan<double> position, Span<double> values)
        {
            potential.Predict(position, x, x.Length, _outputs);
            values[0] = _outputs[0];
            values[1] = _outputs[^1];
        }
    }
}
