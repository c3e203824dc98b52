using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

public class KernelTests
{
    [Fact]
    public void Leapfrog_is_reversible()
    {
        var precision = new double[] { 2, 0.5, 0, 0.5, 1, 0.3, 0, 0.3, 3 };
        var kernel = new NutsKernel(new DenseGaussian([0.5, -1, 2], precision));
        var parameters = new NutsParameters(0.1, EuclideanMetric.Unit(MetricKind.Diagonal, 3));
        double[] q0 = [0.3, -0.2, 1.1], p0 = [0.7, 0.1, -0.4];
        var (q1, p1, _, _) = kernel.Integrate(q0, p0, parameters, 25);
        var (q2, p2, _, _) = kernel.Integrate(q1, p1.Select(v => -v).ToArray(), parameters, 25);
        for (int i = 0; i < 3; i++)
        {
            Assert.Equal(q0[i], q2[i], 1e-12);
            Assert.Equal(p0[i], -p2[i], 1e-12);
        }
    }

    [Fact]
    public void Energy_error_is_second_order_in_the_step_size()
    {
        var kernel = new NutsKernel(new DiagonalGaussian([0, 0], [1, 0.5]));
        var metric = new DiagonalMetric([1.0, 0.5]);
        double[] q0 = [1.0, 0.2], p0 = [0.3, -0.8];
        double Error(double eps) // |ΔH| after integrating to t = 1
        {
            var (_, _, h0, h1) = kernel.Integrate(q0, p0, new NutsParameters(eps, metric), (int)Math.Round(1 / eps));
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
        var kernel = new NutsKernel(DiagonalGaussian.Standard(3), maxTreeDepth: 4);
        var parameters = new NutsParameters(0.01, EuclideanMetric.Unit(MetricKind.Diagonal, 3)); // a tiny step size forces long trajectories
        var rng = new Rng(21);
        var state = kernel.Init([0.1, 0.2, 0.3]);
        bool saturated = false;
        for (int i = 0; i < 50; i++)
        {
            (state, var info) = kernel.Step(rng, state, parameters);
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
        var kernel = new NutsKernel(new DiagonalGaussian([0], [0.01]));
        var state = kernel.Init([0.005]);
        double eps = kernel.FindReasonableStepSize(new Rng(2), state, new NutsParameters(1.0, EuclideanMetric.Unit(MetricKind.Diagonal, 1)));
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
    public void Welford_estimates_are_raw_and_the_regulariser_shrinks_them_as_Stan()
    {
        double[][] xs = [[1, 10], [2, 20], [4, 40], [7, 70]];
        double var0 = ConvergenceDiagnostics.Variance(xs.Select(x => x[0]).ToArray());
        double n = 4;

        var w = new WelfordEstimator(2, dense: false);
        foreach (var x in xs) w.Add(x);
        Assert.Equal(4, w.Count);
        var raw = w.Estimate();
        Assert.Equal(var0, raw[0], 12);
        Assert.Equal(var0 * 100, raw[1], 9);
        var m = (DiagonalMetric)MetricRegularizer.Regularize(w)!;
        Assert.Equal(n / (n + 5) * var0 + 1e-3 * 5 / (n + 5), m.InverseMass[0], 12);
        Assert.Equal(n / (n + 5) * var0 * 100 + 1e-3 * 5 / (n + 5), m.InverseMass[1], 9);

        var dense = new WelfordEstimator(2, dense: true);
        foreach (var x in xs) dense.Add(x);
        Assert.Equal(var0 * 10, dense.Estimate()[1], 9);
        var full = MetricRegularizer.Regularize(dense)!.InverseMassDense()!;
        Assert.Equal(n / (n + 5) * var0 * 10, full[1], 9);
        Assert.Equal(full[1], full[2]);
        Assert.Equal(n / (n + 5) * var0 + 1e-3 * 5 / (n + 5), full[0], 12);

        w.Restart();
        w.Add([1.0, 1.0]);
        Assert.Null(MetricRegularizer.Regularize(w)); // one draw: no variance, the previous metric stays
    }

    [Fact]
    public void Gradient_based_estimate_is_the_scale_of_a_gaussian_before_regularisation()
    {
        // For N(0, σ²): ∂ log p = −θ/σ², so sqrt(Var[θ] / Var[∂ log p]) = σ² exactly, whatever the draws.
        double[] sd = [0.1, 3];
        var estimator = new GradientBasedVarianceEstimator(2);
        var rng = new Rng(6);
        for (int i = 0; i < 50; i++)
        {
            double[] q = [sd[0] * rng.NextNormal(), sd[1] * rng.NextNormal()];
            estimator.Add(new NutsState(q, 0, [-q[0] / (sd[0] * sd[0]), -q[1] / (sd[1] * sd[1])]));
        }
        var raw = estimator.Estimate();
        Assert.Equal(sd[0] * sd[0], raw[0], 12);
        Assert.Equal(sd[1] * sd[1], raw[1], 10);
        var metric = (DiagonalMetric)MetricRegularizer.Regularize(estimator)!;
        Assert.Equal(50.0 / 55 * 9 + 1e-3 * 5 / 55, metric.InverseMass[1], 10);
    }

    [Fact]
    public void Window_adaptation_updates_the_metric_only_at_window_ends()
    {
        var density = new DiagonalGaussian([0, 0], [0.2, 5]);
        var kernel = new NutsKernel(density);
        var options = new SamplerOptions { Warmup = 150 }; // one window, iterations 75..99
        var adapter = new WindowAdaptation(kernel, options);
        var rng = new Rng(8);
        var state = kernel.Init([0.1, 0.1]);
        var parameters = adapter.Init(rng, state);
        Assert.Equal([1.0, 1.0], parameters.Metric.InverseMassDiagonal());
        var estimator = new WelfordEstimator(2, dense: false);
        for (int it = 0; it < options.Warmup; it++)
        {
            var previous = parameters.Metric;
            (state, var info) = kernel.Step(rng, state, parameters);
            if (it is >= 75 and <= 99) estimator.Add(state);
            parameters = adapter.Update(rng, state, info);
            if (it == 99) Assert.Equal(MetricRegularizer.Regularize(estimator)!.InverseMassDiagonal(), parameters.Metric.InverseMassDiagonal());
            else Assert.Same(previous, parameters.Metric);
        }
        var final = adapter.Final();
        Assert.Same(parameters.Metric, final.Metric);
        Assert.True(final.StepSize > 0 && double.IsFinite(final.StepSize));
        Assert.InRange(final.Metric.InverseMassDiagonal()[1] / final.Metric.InverseMassDiagonal()[0], 20, 5000); // learnt the scales
    }

    [Fact]
    public void Without_warmup_the_adapter_returns_the_initial_step_size_and_unit_metric()
    {
        var kernel = new NutsKernel(DiagonalGaussian.Standard(3));
        var adapter = new WindowAdaptation(kernel, new SamplerOptions { Warmup = 0, InitialStepSize = 0.3, Metric = MetricKind.Dense });
        var init = adapter.Init(new Rng(1), kernel.Init([0.0, 0.0, 0.0]));
        Assert.Equal(0.3, init.StepSize);
        Assert.IsType<DenseMetric>(init.Metric);
        Assert.Same(init, adapter.Final());
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
