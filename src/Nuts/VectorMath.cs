using System.Numerics.Tensors;

namespace Bnn.Onnx.Nuts;

/// <summary>The few vector kernels the sampler needs (SIMD via TensorPrimitives); results depend only on the inputs.</summary>
internal static class VectorMath
{
    public static double Dot(ReadOnlySpan<double> x, ReadOnlySpan<double> y) => TensorPrimitives.Dot(x, y);

    /// <summary>y += a·x.</summary>
    public static void AddScaled(Span<double> y, double a, ReadOnlySpan<double> x) => TensorPrimitives.MultiplyAdd(x, a, y, y);

    /// <summary>z = x ∘ y.</summary>
    public static void Multiply(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> z) => TensorPrimitives.Multiply(x, y, z);

    /// <summary>z = x + y.</summary>
    public static void Add(ReadOnlySpan<double> x, ReadOnlySpan<double> y, Span<double> z) => TensorPrimitives.Add(x, y, z);

    public static bool AllFinite(ReadOnlySpan<double> x)
    {
        foreach (double v in x)
            if (!double.IsFinite(v)) return false;
        return true;
    }
}
