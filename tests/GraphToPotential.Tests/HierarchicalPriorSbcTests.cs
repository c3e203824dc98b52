using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Simulation-based calibration (Talts et al. 2018) of NUTS on a hierarchical prior: draw the parameters from the
/// prior (by hand, not through the model), simulate data, sample the posterior, and rank each true value among
/// thinned posterior draws. When the density, its gradient and the non-centred transform are right the ranks are
/// uniform. Power, measured with this seed: a hyperprior off by ½·log s (half a Jacobian counted) gives the scale's
/// ranks χ² = 41 and mean-rank z = −4.6, both failing.
/// </summary>
public class HierarchicalPriorSbcTests
{
    private const int Replications = 200;
    private const int Thin = 4;
    private const int KeptDraws = 49;   // ranks 0..49: 50 values, 10 bins of 5
    private const int Bins = 10;

    /// <summary>χ²₉ at p = 0.001: each quantity's histogram test fails by chance once in a thousand seeds.</summary>
    private const double ChiSquareCritical = 27.877;

    /// <summary>|z| of the mean normalised rank (sd √(1/12/R) under uniformity) at p = 0.001: more power against a shifted posterior than the histogram.</summary>
    private const double MeanRankZCritical = 3.29;

    private const int Inputs = 8;

    [Fact]
    public void Ranks_of_scale_weight_and_bias_are_uniform()
    {
        // f(x) = w·x + b, w [1,8] with w = s·z, z ~ N(0,1), s ~ LogNormal(log(c/√8), 1); b ~ N(0, c²); σ = 1 fixed; few rows, so that the prior matters.
        const double c = 1.5, sigma = 1.0;
        var graph = PriorScalingTests.RoledMlp([Inputs, 1], "Relu", 1);
        const int rows = 6;
        var x = Graphs.Random(rows * Inputs, 99);
        var options = new PosteriorOptions(PriorOptions.Parse($"hierarchical:{c}", []), LikelihoodKind.Normal, sigma);
        var rng = new Random(2718);
        string[] quantities = ["scale[layer0.weight]", "layer0.weight[0,1]", "layer0.bias[0]"];
        var counts = quantities.Select(_ => new int[Bins]).ToArray();
        var rankSums = new double[quantities.Length];

        for (int r = 0; r < Replications; r++)
        {
            // The truth, from the prior as written above.
            double s = c / Math.Sqrt(Inputs) * Math.Exp(Normal(rng));
            var w = Enumerable.Range(0, Inputs).Select(_ => s * Normal(rng)).ToArray();
            double b = c * Normal(rng);
            var y = new double[rows];
            for (int n = 0; n < rows; n++)
            {
                y[n] = b + sigma * Normal(rng);
                for (int j = 0; j < Inputs; j++) y[n] += w[j] * x[Inputs * n + j];
            }
            double[] truth = [s, w[1], b];

            var model = PosteriorModel.Create(graph, options, new DataSet(x, Inputs, y));
            using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
            var sampler = new SamplerOptions { Chains = 1, Warmup = 200, Draws = KeptDraws * Thin, Seed = (ulong)(1000 + r) };
            var sink = new InMemoryDrawSink(model.Layout.ScalarNames(), sampler.Chains, sampler.Draws);
            Sampler.Run(sampler, _ => potential.CreateLogDensity(), model.Layout, sink);

            for (int q = 0; q < quantities.Length; q++)
            {
                var draws = sink.Column(quantities[q])[0];
                int rank = 0;
                for (int d = Thin - 1; d < draws.Length; d += Thin)
                    if (draws[d] < truth[q]) rank++;
                counts[q][rank * Bins / (KeptDraws + 1)]++;
                rankSums[q] += (rank + 0.5) / (KeptDraws + 1);
            }
        }

        double expected = (double)Replications / Bins;
        for (int q = 0; q < quantities.Length; q++)
        {
            double chi2 = counts[q].Sum(k => (k - expected) * (k - expected) / expected);
            double z = (rankSums[q] / Replications - 0.5) / Math.Sqrt(1.0 / 12 / Replications);
            string histogram = $"{quantities[q]}: rank histogram [{string.Join(", ", counts[q])}], χ² = {chi2:F1}, mean-rank z = {z:F2}";
            Assert.True(chi2 < ChiSquareCritical, histogram);
            Assert.True(Math.Abs(z) < MeanRankZCritical, histogram);
        }
    }
}
