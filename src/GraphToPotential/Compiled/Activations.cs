using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// An elementwise function y = f(x) that also writes its derivative f'(x) (for the reverse pass).
/// <paramref name="x"/> and <paramref name="y"/> may be the same span (in-place, as in a fused dense layer);
/// <paramref name="derivative"/> is written only when <c>withDerivative</c>.
/// </summary>
internal abstract class Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public abstract void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative);

    protected static T C(double v) => T.CreateTruncating(v);
}

/// <summary>
/// softplus(x) = max(x,0) + log1p(e^{−|x|}); f' = sigmoid(x), sharing e^{−|x|} with the value, in one vectorised pass
/// (<see cref="SimdMath.Softplus(ReadOnlySpan{double}, Span{double}, Span{double}, bool)"/>).
/// </summary>
internal sealed class SoftplusActivation<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        if (typeof(T) == typeof(double))
            SimdMath.Softplus(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y), MemoryMarshal.Cast<T, double>(derivative), withDerivative);
        else if (typeof(T) == typeof(float))
            SimdMath.Softplus(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y), MemoryMarshal.Cast<T, float>(derivative), withDerivative);
        else
            for (int i = 0; i < x.Length; i++)
            {
                double xv = double.CreateTruncating(x[i]), e = Math.Exp(-Math.Abs(xv));
                if (withDerivative) derivative[i] = T.CreateTruncating(xv >= 0 ? 1 / (1 + e) : e / (1 + e));
                y[i] = T.CreateTruncating(Math.Max(xv, 0) + Math.Log(1 + e));
            }
    }
}

/// <summary>tanh; f' = 1 − y².</summary>
internal sealed class TanhActivation<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        if (typeof(T) == typeof(double))
            SimdMath.Tanh(MemoryMarshal.Cast<T, double>(x), MemoryMarshal.Cast<T, double>(y));
        else if (typeof(T) == typeof(float))
            SimdMath.Tanh(MemoryMarshal.Cast<T, float>(x), MemoryMarshal.Cast<T, float>(y));
        else
            TensorPrimitives.Tanh(x, y);
        if (!withDerivative) return;
        TensorPrimitives.Multiply(y, y, derivative);
        TensorPrimitives.Subtract(T.One, derivative, derivative);
    }
}

/// <summary>sigmoid; f' = y(1 − y).</summary>
internal sealed class SigmoidActivation<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        TensorPrimitives.Sigmoid(x, y);
        if (!withDerivative) return;
        TensorPrimitives.Subtract(T.One, y, derivative);
        TensorPrimitives.Multiply(y, derivative, derivative);
    }
}

/// <summary>exp; f' = y.</summary>
internal sealed class ExpActivation<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        TensorPrimitives.Exp(x, y);
        if (withDerivative) y.CopyTo(derivative);
    }
}

/// <summary>max(x, 0); f' = [x &gt; 0].</summary>
internal sealed class ReluActivation<T> : Activation<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        if (withDerivative)
        {
            int i = 0;
            if (Vector.IsHardwareAccelerated)
                for (; i <= x.Length - Vector<T>.Count; i += Vector<T>.Count)
                {
                    var xv = new Vector<T>(x.Slice(i));
                    Vector.ConditionalSelect(Vector.GreaterThan(xv, Vector<T>.Zero), Vector<T>.One, Vector<T>.Zero).CopyTo(derivative.Slice(i));
                }
            for (; i < x.Length; i++) derivative[i] = x[i] > T.Zero ? T.One : T.Zero;
        }
        TensorPrimitives.Max(x, T.Zero, y);
    }
}

/// <summary>An elementwise function given as a scalar rule evaluated in double (for the less common activations).</summary>
internal interface IScalarRule
{
    /// <summary>f(x), with f'(x) in <paramref name="derivative"/>.</summary>
    double Evaluate(double x, out double derivative);
}

internal sealed class ScalarActivation<T, TRule>(TRule rule) : Activation<T>
    where T : unmanaged, IFloatingPointIeee754<T>
    where TRule : struct, IScalarRule
{
    private readonly TRule _rule = rule;

    public override void Apply(ReadOnlySpan<T> x, Span<T> y, Span<T> derivative, bool withDerivative)
    {
        for (int i = 0; i < x.Length; i++)
        {
            double v = _rule.Evaluate(double.CreateTruncating(x[i]), out double d);
            if (withDerivative) derivative[i] = T.CreateTruncating(d);
            y[i] = T.CreateTruncating(v);
        }
    }
}

/// <summary>ONNX LeakyRelu: x for x ≥ 0, αx otherwise (default α = 0.01).</summary>
internal readonly record struct LeakyReluRule(double Alpha) : IScalarRule
{
    public double Evaluate(double x, out double d) { d = x >= 0 ? 1 : Alpha; return x >= 0 ? x : Alpha * x; }
}

/// <summary>ONNX Elu: α(e^x − 1) for x &lt; 0, x otherwise (default α = 1).</summary>
internal readonly record struct EluRule(double Alpha) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (x >= 0) { d = 1; return x; }
        double e = Math.Exp(x);
        d = Alpha * e;
        return Alpha * (e - 1);
    }
}

/// <summary>ONNX Selu: γ·x for x &gt; 0, γ·α(e^x − 1) otherwise.</summary>
internal readonly record struct SeluRule(double Alpha, double Gamma) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (x > 0) { d = Gamma; return Gamma * x; }
        double e = Math.Exp(x);
        d = Gamma * Alpha * e;
        return Gamma * Alpha * (e - 1);
    }
}

/// <summary>ONNX HardSigmoid: max(0, min(1, αx + β)) (defaults α = 0.2, β = 0.5).</summary>
internal readonly record struct HardSigmoidRule(double Alpha, double Beta) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        double z = Alpha * x + Beta;
        if (z <= 0) { d = 0; return 0; }
        if (z >= 1) { d = 0; return 1; }
        d = Alpha;
        return z;
    }
}

/// <summary>ONNX HardSwish: x·max(0, min(1, x/6 + ½)); f' = 0 below −3, 1 above 3, x/3 + ½ between.</summary>
internal readonly record struct HardSwishRule : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        double z = x / 6 + 0.5;
        if (z <= 0) { d = 0; return 0; }
        if (z >= 1) { d = 1; return x; }
        d = x / 3 + 0.5;
        return x * z;
    }
}

/// <summary>ONNX Celu: max(0, x) + min(0, α(e^{x/α} − 1)) (default α = 1); f' = e^{x/α} for x &lt; 0.</summary>
internal readonly record struct CeluRule(double Alpha) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (x >= 0) { d = 1; return x; }
        double e = Math.Exp(x / Alpha);
        d = e;
        return Alpha * (e - 1);
    }
}

/// <summary>ONNX Shrink: x − bias for x &gt; λ, x + bias for x &lt; −λ, 0 between (defaults λ = 0.5, bias = 0); f' = 1 outside [−λ, λ].</summary>
internal readonly record struct ShrinkRule(double Lambd, double Bias) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (x > Lambd) { d = 1; return x - Bias; }
        if (x < -Lambd) { d = 1; return x + Bias; }
        d = 0;
        return 0;
    }
}

/// <summary>ONNX ThresholdedRelu: x for x &gt; α, 0 otherwise (default α = 1); f' = [x &gt; α].</summary>
internal readonly record struct ThresholdedReluRule(double Alpha) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (x > Alpha) { d = 1; return x; }
        d = 0;
        return 0;
    }
}

/// <summary>Softsign: x/(1 + |x|); f' = 1/(1 + |x|)².</summary>
internal readonly record struct SoftsignRule : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        double a = 1 + Math.Abs(x);
        d = 1 / (a * a);
        return x / a;
    }
}

/// <summary>Gelu, exact: x·Φ(x) = ½x(1 + erf(x/√2)); or the tanh approximation ½x(1 + tanh(√(2/π)(x + 0.044715x³))).</summary>
internal readonly record struct GeluRule(bool Tanh) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        if (!Tanh)
        {
            double cdf = 0.5 * (1 + SpecialFunctions.Erf(x / Math.Sqrt(2)));
            double pdf = Math.Exp(-0.5 * x * x) / Math.Sqrt(2 * Math.PI);
            d = cdf + x * pdf;
            return x * cdf;
        }
        const double c = 0.7978845608028654; // √(2/π)
        double inner = c * (x + 0.044715 * x * x * x);
        double t = Math.Tanh(inner);
        d = 0.5 * (1 + t) + 0.5 * x * (1 - t * t) * c * (1 + 3 * 0.044715 * x * x);
        return 0.5 * x * (1 + t);
    }
}

/// <summary>erf; f' = 2/√π e^{−x²}.</summary>
internal readonly record struct ErfRule : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        d = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x * x);
        return SpecialFunctions.Erf(x);
    }
}

/// <summary>log; f' = 1/x.</summary>
internal readonly record struct LogRule : IScalarRule
{
    public double Evaluate(double x, out double d) { d = 1 / x; return Math.Log(x); }
}

/// <summary>√x; f' = 1/(2√x).</summary>
internal readonly record struct SqrtRule : IScalarRule
{
    public double Evaluate(double x, out double d) { double s = Math.Sqrt(x); d = 0.5 / s; return s; }
}

/// <summary>−x.</summary>
internal readonly record struct NegRule : IScalarRule
{
    public double Evaluate(double x, out double d) { d = -1; return -x; }
}

/// <summary>|x|; f' = sign(x).</summary>
internal readonly record struct AbsRule : IScalarRule
{
    public double Evaluate(double x, out double d) { d = Math.Sign(x); return Math.Abs(x); }
}

/// <summary>ONNX Clip: min(max(x, lo), hi); f' = 1 inside [lo, hi] (as torch.clamp), 0 outside.</summary>
internal readonly record struct ClipRule(double Min, double Max) : IScalarRule
{
    public double Evaluate(double x, out double d)
    {
        d = x >= Min && x <= Max ? 1 : 0;
        return Math.Min(Math.Max(x, Min), Max);
    }
}

/// <summary>Special functions not in System.Math.</summary>
internal static class SpecialFunctions
{
    /// <summary>
    /// erf(x) to double precision: 2/√π · e^{−x²} · Σ_n 2^n x^{2n+1} / (2n+1)!! (Abramowitz and Stegun 7.1.6; all terms
    /// positive, so no cancellation), ±1 beyond |x| = 6 where 1 − erf(x) &lt; 2·10⁻¹⁷.
    /// </summary>
    public static double Erf(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        double a = Math.Abs(x);
        if (a >= 6) return Math.Sign(x);
        double x2 = a * a, term = a, sum = a;
        for (int n = 1; n < 500; n++)
        {
            term *= 2 * x2 / (2 * n + 1);
            sum += term;
            if (term < 1e-17 * sum) break;
        }
        double r = 2 / Math.Sqrt(Math.PI) * Math.Exp(-x2) * sum;
        return x < 0 ? -Math.Min(r, 1) : Math.Min(r, 1);
    }
}
