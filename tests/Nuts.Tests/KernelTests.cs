using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

public class KernelTests
{
    [Fact]
    public void Leapfrog_is_reversible()
    {
        var precision = new double[] { 2, 0.5, 0, 0.5, 1, 0.3, 0, 0.3, 3 };
        var kernel = new NutsKernel(new DenseGaussian([0.5, -1, 2], precision), EuclideanMetric.Unit(MetricKind.Diagonal, 3));
        double[] q0 = [0.3, -0.2, 1.1], p0 = [0.7, 0.1, -0.4];
        var (q1, p1, _, _) = kernel.Integrate(q0, p0, 0.1, 25);
        var (q2, p2, _, _) = kernel.Integrate(q1, p1.Select(v => -v).ToArray(), 0.1, 25);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(q0[i], q2[i], 1e-12);
            Assert.Equal(p0[i], -p2[i], 1e-12);
        }
    }

    [Fact]
    public void Energy_error_is_second_order_in_the_step_size()
    {
        var kernel = new NutsKernel(new DiagonalGaussian([0, 0], [1, 0.5]), new DiagonalMetric([1.0, 0.5]));
        double[] q0 = [1.0, 0.2], p0 = [0.3, -0.8];
        double Error(double eps) // |ΔH| after integrating to t = 1
        {
            var (_, _, h0, h1) = kernel.Integrate(q0, p0, eps, (int)Math.Round(1 / eps));
            return Math.Abs(h1 - h0);
        }
        double e1 = Error(0.1), e2 = Error(0.05), e3 = Error(0.025);
        Assert.InRange(e1 / e2, 3.5, 4.5);
        Assert.InRange(e2 / e3, 3.5, 4.5);
    }

    [Fact]
    public void Dense_metric_momentum_has_covariance_M()
    {
        // M⁻¹ = [[4, 1], [1, 2]] ⇒ M = [[2, −1], [−1, 4]] / 7
        var metric = new DenseMetric([4, 1, 1, 2], 2);
        var rng = new Rng(3);
        var p = new double[2];
        double s00 = 0, s01 = 0, s11 = 0;
        int n = 200000;
        for (int i = 0; i < n; i++)
        {
            metric.SampleMomentum(rng, p);
            s00 += p[0] * p[0]; s01 += p[0] * p[1]; s11 += p[1] * p[1];
        }
        Assert.Equal(2.0 / 7, s00 / n, 0.01);
        Assert.Equal(-1.0 / 7, s01 / n, 0.01);
        Assert.Equal(4.0 / 7, s11 / n, 0.01);
        var v = new double[2];
        metric.Velocity([1.0, 2.0], v);
        Assert.Equal([6.0, 5.0], v);
    }

    [Fact]
    public void Tree_depth_is_capped_and_info_is_consistent()
    {
        var kernel = new NutsKernel(DiagonalGaussian.Standard(3), EuclideanMetric.Unit(MetricKind.Diagonal, 3), maxTreeDepth: 4);
        var rng = new Rng(21);
        var state = kernel.Init([0.1, 0.2, 0.3]);
        bool saturated = false;
        for (int i = 0; i < 50; i++)
        {
            // a tiny step size forces long trajectories
            (state, var info) = kernel.Step(rng, state, 0.01);
            Assert.InRange(info.TreeDepth, 1, 4);
            Assert.InRange(info.LeapfrogSteps, 1, 15);
            Assert.InRange(info.AcceptStat, 0, 1);
            Assert.False(info.Divergent);
            saturated |= info.TreeDepth == 4 && info.LeapfrogSteps == 15;
            var g = new double[3];
            Assert.Equal(DiagonalGaussian.Standard(3).LogDensityAndGradient(state.Position, g), state.LogDensity, 12);
            Assert.Equal(g, state.Gradient);
        }
        Assert.True(saturated);
    }

    [Fact]
    public void Step_size_heuristic_brackets_acceptance_0_8()
    {
        var kernel = new NutsKernel(new DiagonalGaussian([0], [0.01]), EuclideanMetric.Unit(MetricKind.Diagonal, 1));
        var state = kernel.Init([0.005]);
        double eps = kernel.FindReasonableStepSize(new Rng(2), state, 1.0);
        Assert.InRange(eps, 0.001, 0.05); // from ε = 1, halved down to the scale of σ = 0.01
    }

    [Fact]
    public void Rng_streams_are_deterministic_and_normal()
    {
        var a = Rng.ForChain(17, 2);
        var b = Rng.ForChain(17, 2);
        var c = Rng.ForChain(17, 3);
        for (int i = 0; i < 100; i++)
        {
            double x = a.NextNormal();
            Assert.Equal(x, b.NextNormal());
        }
        Assert.NotEqual(Rng.ForChain(17, 2).NextUInt64(), c.NextUInt64());
        // Standard normal: mean 0, variance 1 within 5 standard errors.
        var r = new Rng(99);
        int n = 100000;
        double s = 0, s2 = 0;
        for (int i = 0; i < n; i++)
        {
            double z = r.NextNormal();
            s += z; s2 += z * z;
        }
        Assert.InRange(s / n, -5 / Math.Sqrt(n), 5 / Math.Sqrt(n));
        Assert.InRange(s2 / n, 1 - 5 * Math.Sqrt(2.0 / n), 1 + 5 * Math.Sqrt(2.0 / n));
    }
}

public class AdaptationTests
{
    [Fact]
    public void Windows_follow_Stan_75_25_50()
    {
        Assert.Equal([(75, 99), (100, 149), (150, 249), (250, 449), (450, 949)], WindowedAdaptationSchedule.Windows(1000));
    }

    [Fact]
    public void Short_warmup_windows_are_15_75_10_percent()
    {
        Assert.Equal([(15, 89)], WindowedAdaptationSchedule.Windows(100));
        Assert.Equal([(18, 107)], WindowedAdaptationSchedule.Windows(120));
        Assert.Equal([(75, 99)], WindowedAdaptationSchedule.Windows(150)); // 75 + 25 + 50 fits exactly
    }

    [Fact]
    public void Warmup_under_20_adapts_no_metric()
    {
        Assert.Empty(WindowedAdaptationSchedule.Windows(19));
    }

    [Fact]
    public void Welford_variance_is_regularised_as_Stan()
    {
        var w = new WelfordEstimator(2, dense: false);
        double[][] xs = [[1, 10], [2, 20], [4, 40], [7, 70]];
        foreach (var x in xs) w.Add(x);
        var m = (DiagonalMetric)w.RegularizedMetric()!;
        double var0 = Diagnostics.Variance(xs.Select(x => x[0]).ToArray());
        double n = 4;
        Assert.Equal(n / (n + 5) * var0 + 1e-3 * 5 / (n + 5), m.InverseMass[0], 12);
        Assert.Equal(n / (n + 5) * var0 * 100 + 1e-3 * 5 / (n + 5), m.InverseMass[1], 9);

        var dense = new WelfordEstimator(2, dense: true);
        foreach (var x in xs) dense.Add(x);
        var full = dense.RegularizedMetric()!.InverseMassDense()!;
        Assert.Equal(n / (n + 5) * var0 * 10, full[1], 9);
        Assert.Equal(full[1], full[2]);
    }

    [Fact]
    public void Dual_averaging_converges_to_the_target()
    {
        // acceptance falls with ε: a(ε) = exp(−ε²); target 0.8 ⇒ ε* = sqrt(−log 0.8)
        var da = new DualAveraging(0.8) { Mu = Math.Log(10) };
        double eps = 1;
        for (int i = 0; i < 2000; i++) eps = da.Update(Math.Exp(-eps * eps));
        Assert.Equal(Math.Sqrt(-Math.Log(0.8)), da.FinalStepSize, 0.01);
    }
}
