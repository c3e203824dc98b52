using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>N(μ, diag(σ²)) in d dimensions.</summary>
internal sealed class DiagonalGaussian(double[] mean, double[] sd) : ILogDensity
{
    public int Dimension => mean.Length;

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        double lp = 0;
        for (int i = 0; i < mean.Length; i++)
        {
            double z = (position[i] - mean[i]) / sd[i];
            lp -= 0.5 * z * z;
            gradient[i] = -z / sd[i];
        }
        return lp;
    }

    public static DiagonalGaussian Standard(int d) => new(new double[d], Enumerable.Repeat(1.0, d).ToArray());
}

/// <summary>N(μ, Σ) given the precision Σ⁻¹ (row-major).</summary>
internal sealed class DenseGaussian(double[] mean, double[] precision) : ILogDensity
{
    private readonly double[] _centred = new double[mean.Length];
    public int Dimension => mean.Length;

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        int d = mean.Length;
        for (int i = 0; i < d; i++) _centred[i] = position[i] - mean[i];
        double lp = 0;
        for (int i = 0; i < d; i++)
        {
            double s = 0;
            for (int j = 0; j < d; j++) s += precision[i * d + j] * _centred[j];
            gradient[i] = -s;
            lp -= 0.5 * _centred[i] * s;
        }
        return lp;
    }
}

/// <summary>Standard normal, but log p is NaN where θ₀ &gt; <paramref name="wall"/> (a broken model).</summary>
internal sealed class NonFiniteBeyond(int d, double wall) : ILogDensity
{
    public int Dimension => d;

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        double lp = 0;
        for (int i = 0; i < d; i++)
        {
            lp -= 0.5 * position[i] * position[i];
            gradient[i] = -position[i];
        }
        return position[0] > wall ? double.NaN : lp;
    }
}

/// <summary>
/// The blog's linear regression on θ = (α, β, log σ): α, β ~ N(0, 1), σ ~ LogNormal(0, 1), y ~ N(α + βx, σ),
/// with the log-Jacobian log σ of σ = exp(θ₂). Constants dropped.
/// </summary>
internal sealed class LinearRegression(double[] x, double[] y) : ILogDensity
{
    public int Dimension => 3;

    public static ParameterLayout Layout => ParameterLayout.FromShapes([
        ("alpha", [], BlockTransform.Identity, null),
        ("beta", [], BlockTransform.Identity, null),
        ("sigma", [], BlockTransform.Log, null)]);

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        double a = position[0], b = position[1], s = position[2];
        double invVar = Math.Exp(-2 * s);
        double sumR2 = 0, sumR = 0, sumRx = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double r = y[i] - a - b * x[i];
            sumR += r;
            sumRx += r * x[i];
            sumR2 += r * r;
        }
        int n = x.Length;
        // log N(a|0,1) + log N(b|0,1) + [log LogNormal(σ|0,1) + log σ] + Σ log N(yᵢ | a + b xᵢ, σ)
        double lp = -0.5 * a * a - 0.5 * b * b - 0.5 * s * s - n * s - 0.5 * sumR2 * invVar;
        gradient[0] = -a + sumR * invVar;
        gradient[1] = -b + sumRx * invVar;
        gradient[2] = -s - n + sumR2 * invVar;
        return lp;
    }

    public static LinearRegression? FromSharedData()
    {
        var path = TestData.Shared("reference/seed/data.csv");
        if (path is null) return null;
        var lines = File.ReadAllLines(path);
        var header = lines[0].Split(',');
        int ix = Array.IndexOf(header, "x"), iy = Array.IndexOf(header, "y");
        var rows = lines.Skip(1).Where(l => l.Length > 0).Select(l => l.Split(',')).ToArray();
        return new LinearRegression(
            rows.Select(r => double.Parse(r[ix], CultureInfo.InvariantCulture)).ToArray(),
            rows.Select(r => double.Parse(r[iy], CultureInfo.InvariantCulture)).ToArray());
    }
}

/// <summary>A batched wrapper evaluating rows with per-row instances (the same arithmetic as the single form).</summary>
internal sealed class BatchedAdapter(Func<ILogDensity> factory, int maxBatch) : IBatchedLogDensity
{
    private readonly ILogDensity _inner = factory();
    public int Calls;
    public int Dimension => _inner.Dimension;
    public int MaxBatch => maxBatch;

    public void LogDensityAndGradient(int count, ReadOnlySpan<double> positions, Span<double> logDensities, Span<double> gradients)
    {
        Calls++;
        int d = Dimension;
        for (int c = 0; c < count; c++)
            logDensities[c] = _inner.LogDensityAndGradient(positions.Slice(c * d, d), gradients.Slice(c * d, d));
    }
}
