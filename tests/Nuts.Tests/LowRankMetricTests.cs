using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>The low-rank metric, its Fisher-divergence estimator and the linear algebra under them.</summary>
public class LowRankMetricTests
{
    private static double[] RandomSymmetric(int n, int seed)
    {
        var rng = new Rng((ulong)seed);
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j <= i; j++)
                a[i * n + j] = a[j * n + i] = rng.NextNormal();
        return a;
    }

    /// <summary>B Bᵀ + I for a random B: symmetric positive definite.</summary>
    private static double[] RandomSpd(int n, int seed)
    {
        var rng = new Rng((ulong)seed);
        var b = new double[n * n];
        for (int i = 0; i < b.Length; i++) b[i] = rng.NextNormal();
        var a = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = i == j ? 1.0 : 0.0;
                for (int k = 0; k < n; k++) s += b[i * n + k] * b[j * n + k];
                a[i * n + j] = s;
            }
        return a;
    }

    private static double[] Multiply(double[] a, double[] b, int n)
    {
        var c = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                double s = 0;
                for (int k = 0; k < n; k++) s += a[i * n + k] * b[k * n + j];
                c[i * n + j] = s;
            }
        return c;
    }

    [Theory]
    [InlineData(1)]
    [InlineData(7)]
    [InlineData(60)]
    public void Symmetric_eigendecomposition_reconstructs_the_matrix(int n)
    {
        var a = RandomSymmetric(n, n);
        Assert.True(SymmetricEigen.TryDecompose(a, n, out var values, out var vectors));
        for (int k = 1; k < n; k++) Assert.True(values[k - 1] <= values[k]);
        for (int k = 0; k < n; k++)
        {
            // A v = λ v and the vectors are orthonormal.
            for (int i = 0; i < n; i++)
            {
                double av = 0;
                for (int j = 0; j < n; j++) av += a[i * n + j] * vectors[k * n + j];
                Assert.Equal(values[k] * vectors[k * n + i], av, 1e-9);
            }
            for (int l = 0; l < n; l++)
            {
                double dot = 0;
                for (int i = 0; i < n; i++) dot += vectors[k * n + i] * vectors[l * n + i];
                Assert.Equal(k == l ? 1.0 : 0.0, dot, 1e-10);
            }
        }
    }

    [Fact]
    public void Spd_geometric_mean_solves_sigma_b_sigma_equals_a()
    {
        // nutpie's diagonal case: mean of diag(1, 4, 8) and diag(1, 1, 0.5) is diag(1, 2, 4).
        var mean = LowRankFisherEstimator.SpdGeometricMean([1, 0, 0, 0, 4, 0, 0, 0, 8], [1, 0, 0, 0, 1, 0, 0, 0, 0.5], 3)!;
        double[] expected = [1, 0, 0, 0, 2, 0, 0, 0, 4];
        for (int i = 0; i < 9; i++) Assert.Equal(expected[i], mean[i], 1e-12);

        int n = 12;
        var a = RandomSpd(n, 3);
        var b = RandomSpd(n, 4);
        var sigma = LowRankFisherEstimator.SpdGeometricMean(a, b, n)!;
        var sbs = Multiply(Multiply(sigma, b, n), sigma, n);
        for (int i = 0; i < n * n; i++) Assert.Equal(a[i], sbs[i], 1e-8 * Math.Max(1, Math.Abs(a[i])));
        Assert.NotNull(DenseMetric.Cholesky(sigma, n)); // positive definite
    }

    private static LowRankMetric ExampleMetric()
    {
        // d = 4, k = 2 orthonormal directions.
        double r = 1 / Math.Sqrt(2);
        return new LowRankMetric([0.5, 1, 2, 4], [r, r, 0, 0, 0, 0, 0.6, 0.8], [9.0, 0.25]);
    }

    [Fact]
    public void Velocity_is_the_dense_inverse_mass_times_momentum_and_the_diagonal_matches()
    {
        var metric = ExampleMetric();
        var dense = metric.ToDense();
        double[] p = [0.3, -1.2, 2.0, 0.7];
        var v = new double[4];
        metric.Velocity(p, v);
        for (int i = 0; i < 4; i++)
        {
            double expected = 0;
            for (int j = 0; j < 4; j++) expected += dense[i * 4 + j] * p[j];
            Assert.Equal(expected, v[i], 1e-12);
            Assert.Equal(dense[i * 4 + i], metric.InverseMassDiagonal()[i], 1e-12);
        }
        // σ (I + U(λ−1)Uᵀ) σ with U's first column (1,1,0,0)/√2 and λ = 9: entry (0,1) = 0.5·1·(9−1)/2.
        Assert.Equal(2.0, dense[1], 1e-12);
    }

    [Fact]
    public void Momentum_has_covariance_M()
    {
        var metric = ExampleMetric();
        var inverse = metric.ToDense();
        var rng = new Rng(5);
        int n = 200_000;
        var sum = new double[16];
        var p = new double[4];
        for (int t = 0; t < n; t++)
        {
            metric.SampleMomentum(rng, p);
            for (int i = 0; i < 4; i++)
                for (int j = 0; j < 4; j++) sum[i * 4 + j] += p[i] * p[j];
        }
        // Cov(p) · M⁻¹ ≈ I.
        var cov = sum.Select(s => s / n).ToArray();
        var product = Multiply(cov, inverse, 4);
        for (int i = 0; i < 4; i++)
            for (int j = 0; j < 4; j++)
                Assert.Equal(i == j ? 1.0 : 0.0, product[i * 4 + j], 0.03);
    }

    [Fact]
    public void Fisher_estimate_recovers_a_gaussian_covariance_from_draws_and_gradients()
    {
        // x ~ N(μ, Σ), ∇ log p = −Σ⁻¹ (x − μ): the Fisher-divergence minimiser is Σ itself, from any n > d draws.
        int d = 6;
        var scale = new double[] { 0.01, 0.1, 1, 10, 3, 0.5 };
        var cov = new double[d * d];
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                cov[i * d + j] = Math.Pow(0.9, Math.Abs(i - j)) * scale[i] * scale[j];
        var precision = SamplerTests.Invert(cov, d);
        var chol = DenseMetric.Cholesky(cov, d)!;
        var rng = new Rng(17);
        // c just above 1 keeps every direction, so that M⁻¹ = Σ up to γ's regularisation.
        var estimator = new LowRankFisherEstimator(d, cutoff: 1.0 + 1e-9);
        for (int t = 0; t < 40; t++)
        {
            var z = Enumerable.Range(0, d).Select(_ => rng.NextNormal()).ToArray();
            var x = new double[d];
            var g = new double[d];
            for (int i = 0; i < d; i++)
                for (int k = 0; k <= i; k++) x[i] += chol[i * d + k] * z[k];
            for (int i = 0; i < d; i++)
                for (int k = 0; k < d; k++) g[i] -= precision[i * d + k] * x[k];
            for (int i = 0; i < d; i++) x[i] += i; // μ = (0, 1, …)
            estimator.Add(new NutsState(x, 0, g));
        }
        var metric = estimator.Estimate()!;
        Assert.Equal(d, metric.Rank);
        var m = metric.ToDense();
        for (int i = 0; i < d; i++)
            for (int j = 0; j < d; j++)
                Assert.Equal(cov[i * d + j], m[i * d + j], 1e-4 * scale[i] * scale[j]);
        Assert.Null(new LowRankFisherEstimator(d).Estimate()); // fewer than 3 draws: no estimate
    }

    [Fact]
    public void Fisher_estimate_keeps_only_directions_outside_the_cutoff()
    {
        // Independent coordinates: after the diagonal rescaling nothing is left for the low-rank part.
        int d = 5;
        var rng = new Rng(3);
        var estimator = new LowRankFisherEstimator(d);
        double[] sd = [0.1, 1, 10, 100, 1000];
        for (int t = 0; t < 400; t++)
        {
            var x = sd.Select(s => s * rng.NextNormal()).ToArray();
            var g = x.Select((v, i) => -v / (sd[i] * sd[i])).ToArray();
            estimator.Add(new NutsState(x, 0, g));
        }
        var metric = estimator.Estimate()!;
        Assert.Equal(0, metric.Rank);
        for (int i = 0; i < d; i++) Assert.InRange(metric.InverseMassDiagonal()[i] / (sd[i] * sd[i]), 0.999, 1.001);
        estimator.Restart();
        Assert.Equal(0, estimator.Count);
    }
}
