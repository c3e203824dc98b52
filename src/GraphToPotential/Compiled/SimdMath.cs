using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// Vector kernels shared by the compiled ops: a fused multiply–add on <see cref="Vector{T}"/>, and softplus with its
/// derivative (sigmoid) in one pass that computes e = exp(−|x|) once for both (as in Stan's and JAX's stable
/// softplus: softplus(x) = max(x, 0) + log1p(e), sigmoid(x) = 1/(1+e) for x ≥ 0 and e/(1+e) otherwise).
/// The exp and log1p are specialised to their domains (argument ≤ 0, and [0, 1]), so they need no special-case
/// branches and only AVX2/FMA-class instructions:
/// exp: k = round(a/ln2) by the 1.5·2^52 shifter, r = a − k·ln2 (Cody–Waite, fdlibm's split of ln2), e^r by its
/// Taylor polynomial to degree 13 (|r| ≤ ln2/2, truncation &lt; 5·10⁻¹⁸), 2^k assembled in the exponent bits;
/// log1p: u = 1 + e, log u = j·ln2 + 2·atanh(s), s = f/(2+f), f = u/2^j − 1 with j ∈ {0, 1} so |s| ≤ 0.1716
/// (series to s¹⁹), plus the rounding error of 1 + e, (e − (u − 1))/u (fdlibm's log1p correction), so tiny e keeps
/// full relative precision. Float32 uses the same scheme with shorter polynomials. In both precisions the polynomials run by
/// Estrin's scheme and two vectors are in flight per step: each element's work is one chain of dependent operations,
/// and with Horner's scheme its latency, not the FMA units, set the speed.
/// </summary>
internal static class SimdMath
{
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<T> Fma<T>(Vector<T> a, Vector<T> b, Vector<T> c)
    {
        if (typeof(T) == typeof(double))
            return Vector.MultiplyAddEstimate(a.As<T, double>(), b.As<T, double>(), c.As<T, double>()).As<double, T>();
        if (typeof(T) == typeof(float))
            return Vector.MultiplyAddEstimate(a.As<T, float>(), b.As<T, float>(), c.As<T, float>()).As<float, T>();
        return a * b + c;
    }

    /// <summary>y ← softplus(x) and, when <paramref name="withDerivative"/>, d ← sigmoid(x). x and y may be the same span.</summary>
    public static void Softplus(ReadOnlySpan<double> x, Span<double> y, Span<double> d, bool withDerivative)
    {
        int n = x.Length, vl = Vector<double>.Count, full = n / vl;
        SoftplusVectors(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), ref MemoryMarshal.GetReference(d), full, withDerivative);
        int i = full * vl;
        if (i == n) return;
        // The tail through the same vector code (zero-padded), so every element rounds identically.
        Span<double> t = stackalloc double[3 * Vector<double>.Count];
        t.Clear();
        x[i..].CopyTo(t);
        SoftplusVectors(ref t[0], ref t[vl], ref t[2 * vl], 1, withDerivative);
        t.Slice(vl, n - i).CopyTo(y[i..]);
        if (withDerivative) t.Slice(2 * vl, n - i).CopyTo(d[i..]);
    }

    /// <summary>Float32 softplus and sigmoid (see the double overload).</summary>
    public static void Softplus(ReadOnlySpan<float> x, Span<float> y, Span<float> d, bool withDerivative)
    {
        int n = x.Length, vl = Vector<float>.Count, full = n / vl;
        SoftplusVectors(ref MemoryMarshal.GetReference(x), ref MemoryMarshal.GetReference(y), ref MemoryMarshal.GetReference(d), full, withDerivative);
        int i = full * vl;
        if (i == n) return;
        Span<float> t = stackalloc float[3 * Vector<float>.Count];
        t.Clear();
        x[i..].CopyTo(t);
        SoftplusVectors(ref t[0], ref t[vl], ref t[2 * vl], 1, withDerivative);
        t.Slice(vl, n - i).CopyTo(y[i..]);
        if (withDerivative) t.Slice(2 * vl, n - i).CopyTo(d[i..]);
    }

    // fdlibm's split of ln 2: the high part has 32 significant bits, so k·Ln2Hi is exact for |k| < 2^20.
    private const double Ln2Hi = 6.93147180369123816490e-01, Ln2Lo = 1.90821492927058770002e-10;
    private const double Ln2 = 0.693147180559945309417232121458176568;
    private const double InvLn2 = 1.44269504088896338700e+00;
    private const double Shifter = 6755399441055744.0; // 1.5·2^52: adding it rounds to an integer held in the low mantissa bits
    private const double Sqrt2 = 1.41421356237309504880;

    /// <summary>
    /// y ← softplus(x), d ← sigmoid(x) for <paramref name="count"/> whole vectors, two vectors per step: each vector's
    /// work is one long chain of dependent operations, so two independent chains in flight keep the FMA units busy.
    /// </summary>
    private static void SoftplusVectors(ref double xs, ref double y, ref double d, int count, bool withDerivative)
    {
        int vl = Vector<double>.Count, i = 0, end = count * vl;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= end; i += 16)
            {
                var y0 = SoftplusVector512(Vector512.LoadUnsafe(ref xs, (nuint)i), out var s0);
                var y1 = SoftplusVector512(Vector512.LoadUnsafe(ref xs, (nuint)(i + 8)), out var s1);
                y0.StoreUnsafe(ref y, (nuint)i);
                y1.StoreUnsafe(ref y, (nuint)(i + 8));
                if (withDerivative)
                {
                    s0.StoreUnsafe(ref d, (nuint)i);
                    s1.StoreUnsafe(ref d, (nuint)(i + 8));
                }
            }
        for (; i + 2 * vl <= end; i += 2 * vl)
        {
            var y0 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)i), out var s0);
            var y1 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)(i + vl)), out var s1);
            y0.StoreUnsafe(ref y, (nuint)i);
            y1.StoreUnsafe(ref y, (nuint)(i + vl));
            if (withDerivative)
            {
                s0.StoreUnsafe(ref d, (nuint)i);
                s1.StoreUnsafe(ref d, (nuint)(i + vl));
            }
        }
        for (; i < end; i += vl)
        {
            var y0 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)i), out var s0);
            y0.StoreUnsafe(ref y, (nuint)i);
            if (withDerivative) s0.StoreUnsafe(ref d, (nuint)i);
        }
    }

    /// <summary>
    /// softplus(x), and sigmoid(x) in <paramref name="sigmoid"/>. One division serves both reciprocals the kernel needs,
    /// 1/u and 1/(2 + f): D = 1/(u·(2 + f)), 1/u = (2 + f)·D, 1/(2 + f) = u·D (each within ~1.5 ulp).
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> SoftplusVector(Vector<double> x, out Vector<double> sigmoid)
    {
        var a = -Vector.Abs(x);

        // e = exp(a), a ≤ 0: 2^k·(1 + q), q = e^r − 1.
        var t = Vector.MultiplyAddEstimate(a, new Vector<double>(InvLn2), new Vector<double>(Shifter));
        var k = t - new Vector<double>(Shifter);
        var r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Hi), a);
        r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Lo), r);
        var q = ExpM1Reduced(r);
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorUInt64(t) + new Vector<ulong>(1023), 52));
        var e = Vector.MultiplyAddEstimate(scale, q, scale);
        // Below −708 the exponent field would underflow: e^a < 3.4·10⁻³⁰⁸ there, taken as 0 (NaN stays NaN).
        e = Vector.ConditionalSelect(Vector.LessThan(a, new Vector<double>(-708.0)), Vector<double>.Zero, e);

        // log1p(e), e ∈ [0, 1].
        var u = Vector<double>.One + e;
        var big = Vector.GreaterThan(u, new Vector<double>(Sqrt2));
        var f = Vector.ConditionalSelect(big, u * new Vector<double>(0.5), u) - Vector<double>.One; // exact (Sterbenz)
        var den = new Vector<double>(2.0) + f;
        var rcp = Vector<double>.One / (u * den);
        var inv = den * rcp;       // 1/u
        var s = f * (u * rcp);     // f/(2 + f)
        var z = s * s;
        var twoS = s + s;
        var log1pf = Vector.MultiplyAddEstimate(twoS * z, AtanhSeries(z), twoS);
        var c = e - (u - Vector<double>.One); // the rounding error of 1 + e, exactly
        var log1p = Vector.MultiplyAddEstimate(c, inv, log1pf) + Vector.ConditionalSelect(big, new Vector<double>(Ln2), Vector<double>.Zero);

        sigmoid = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<double>.Zero), inv, e * inv);
        return Vector.Max(x, Vector<double>.Zero) + log1p;
    }

    /// <summary>
    /// e^r − 1 for |r| ≤ ln2/2 (after the Cody–Waite reduction): r·Σ_{i ≤ 12} r^i/(i + 1)! (Taylor to degree 13,
    /// truncation &lt; 5·10⁻¹⁸ relative), the sum evaluated by Estrin's scheme (pairs, then powers r², r⁴, r⁸), so its
    /// longest chain is 4 multiply–adds instead of Horner's 13.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> ExpM1Reduced(Vector<double> r)
    {
        var r2 = r * r;
        var r4 = r2 * r2;
        var r8 = r4 * r4;
        var q0 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 2), Vector<double>.One);
        var q1 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 24), new Vector<double>(1.0 / 6));
        var q2 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 720), new Vector<double>(1.0 / 120));
        var q3 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 40320), new Vector<double>(1.0 / 5040));
        var q4 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 3628800), new Vector<double>(1.0 / 362880));
        var q5 = Vector.MultiplyAddEstimate(r, new Vector<double>(1.0 / 479001600), new Vector<double>(1.0 / 39916800));
        var s0 = Vector.MultiplyAddEstimate(q1, r2, q0);
        var s1 = Vector.MultiplyAddEstimate(q3, r2, q2);
        var s2 = Vector.MultiplyAddEstimate(q5, r2, q4);
        var t0 = Vector.MultiplyAddEstimate(s1, r4, s0);
        var t1 = Vector.MultiplyAddEstimate(new Vector<double>(1.0 / 6227020800), r4, s2);
        return Vector.MultiplyAddEstimate(t1, r8, t0) * r;
    }

    /// <summary>
    /// (atanh(s)/s − 1)/s² = Σ_{i ≤ 8} z^i/(2i + 3) with z = s² ≤ 0.0295 (|s| ≤ 0.1716): the series to s¹⁹, truncation
    /// z¹⁰/21 &lt; 2.4·10⁻¹⁷ relative to 2·atanh(s); Estrin's scheme.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> AtanhSeries(Vector<double> z)
    {
        var z2 = z * z;
        var z4 = z2 * z2;
        var p0 = Vector.MultiplyAddEstimate(z, new Vector<double>(1.0 / 5), new Vector<double>(1.0 / 3));
        var p1 = Vector.MultiplyAddEstimate(z, new Vector<double>(1.0 / 9), new Vector<double>(1.0 / 7));
        var p2 = Vector.MultiplyAddEstimate(z, new Vector<double>(1.0 / 13), new Vector<double>(1.0 / 11));
        var p3 = Vector.MultiplyAddEstimate(z, new Vector<double>(1.0 / 17), new Vector<double>(1.0 / 15));
        var u0 = Vector.MultiplyAddEstimate(p1, z2, p0);
        var u1 = Vector.MultiplyAddEstimate(p3, z2, p2);
        var v0 = Vector.MultiplyAddEstimate(u1, z4, u0);
        return Vector.MultiplyAddEstimate(new Vector<double>(1.0 / 19), z4 * z4, v0);
    }

    /// <summary>
    /// e^a for a ≤ 0 (the softplus kernel's exp: Cody–Waite reduction by ln 2, Taylor to degree 13 by Estrin's scheme,
    /// within an ulp or so); below −708 the result is 0, −∞ gives 0 and NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> ExpNonPositive(Vector<double> a)
    {
        var t = Vector.MultiplyAddEstimate(a, new Vector<double>(InvLn2), new Vector<double>(Shifter));
        var k = t - new Vector<double>(Shifter);
        var r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Hi), a);
        r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Lo), r);
        var q = ExpM1Reduced(r);
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorUInt64(t) + new Vector<ulong>(1023), 52));
        var e = Vector.MultiplyAddEstimate(scale, q, scale);
        return Vector.ConditionalSelect(Vector.LessThan(a, new Vector<double>(-708.0)), Vector<double>.Zero, e);
    }

    /// <summary>
    /// y ← tanh(x) in float64, vectorised: tanh|x| = −m/(2 + m) with m = expm1(−2|x|) from the exp kernel's reduction
    /// (m = 2^k·q + (2^k − 1), q = e^r − 1 summed without its leading 1, so small |x| keeps full relative precision);
    /// the sign restored, ±0 kept, NaN propagated. x and y may be the same span. Two vectors per step (two
    /// independent chains in flight).
    /// </summary>
    public static void Tanh(ReadOnlySpan<double> x, Span<double> y)
    {
        int n = x.Length, vl = Vector<double>.Count, i = 0;
        ref double xr = ref MemoryMarshal.GetReference(x);
        ref double yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
            for (; i + 16 <= n; i += 16)
            {
                var y0 = TanhVector512(Vector512.LoadUnsafe(ref xr, (nuint)i));
                var y1 = TanhVector512(Vector512.LoadUnsafe(ref xr, (nuint)(i + 8)));
                y0.StoreUnsafe(ref yr, (nuint)i);
                y1.StoreUnsafe(ref yr, (nuint)(i + 8));
            }
        for (; i + 2 * vl <= n; i += 2 * vl)
        {
            var y0 = TanhVector(Vector.LoadUnsafe(ref xr, (nuint)i));
            var y1 = TanhVector(Vector.LoadUnsafe(ref xr, (nuint)(i + vl)));
            y0.StoreUnsafe(ref yr, (nuint)i);
            y1.StoreUnsafe(ref yr, (nuint)(i + vl));
        }
        for (; i + vl <= n; i += vl) TanhVector(Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == n) return;
        Span<double> t = stackalloc double[Vector<double>.Count];
        t.Clear();
        x[i..].CopyTo(t);
        TanhVector(new Vector<double>(t)).CopyTo(t);
        t[..(n - i)].CopyTo(y[i..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<double> TanhVector(Vector<double> x)
    {
        // Beyond |x| = 20 tanh rounds to ±1; clamping keeps 2^k representable.
        var a = Vector.Max(-2 * Vector.Abs(x), new Vector<double>(-40.0));
        var t = Vector.MultiplyAddEstimate(a, new Vector<double>(InvLn2), new Vector<double>(Shifter));
        var k = t - new Vector<double>(Shifter);
        var r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Hi), a);
        r = Vector.MultiplyAddEstimate(k, new Vector<double>(-Ln2Lo), r);
        var q = ExpM1Reduced(r); // e^r − 1
        var scale = Vector.AsVectorDouble(Vector.ShiftLeft(Vector.AsVectorUInt64(t) + new Vector<ulong>(1023), 52));
        var m = Vector.MultiplyAddEstimate(scale, q, scale - Vector<double>.One); // expm1(a) ∈ (−1, 0]
        var magnitude = -m / (new Vector<double>(2.0) + m);
        var signed = Vector.ConditionalSelect(Vector.AsVectorDouble(new Vector<ulong>(0x8000_0000_0000_0000UL)), x, magnitude);
        return Vector.ConditionalSelect(Vector.Equals(x, x), signed, x);
    }

    // The same float64 kernels on 512-bit vectors (AVX-512), used where the hardware accelerates them: operation for
    // operation the 256-bit code above, so every element rounds identically whichever width computed it.

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> SoftplusVector512(Vector512<double> x, out Vector512<double> sigmoid)
    {
        var one = Vector512<double>.One;
        var a = -Vector512.Abs(x);
        var t = Vector512.FusedMultiplyAdd(a, Vector512.Create(InvLn2), Vector512.Create(Shifter));
        var k = t - Vector512.Create(Shifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Hi), a);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Lo), r);
        var q = ExpM1Reduced512(r);
        var scale = Vector512.ShiftLeft(t.AsUInt64() + Vector512.Create(1023UL), 52).AsDouble();
        var e = Vector512.FusedMultiplyAdd(scale, q, scale);
        e = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(-708.0)), Vector512<double>.Zero, e);

        var u = one + e;
        var big = Vector512.GreaterThan(u, Vector512.Create(Sqrt2));
        var f = Vector512.ConditionalSelect(big, u * Vector512.Create(0.5), u) - one;
        var den = Vector512.Create(2.0) + f;
        var rcp = one / (u * den);
        var inv = den * rcp;
        var s = f * (u * rcp);
        var z = s * s;
        var twoS = s + s;
        var log1pf = Vector512.FusedMultiplyAdd(twoS * z, AtanhSeries512(z), twoS);
        var c = e - (u - one);
        var log1p = Vector512.FusedMultiplyAdd(c, inv, log1pf) + Vector512.ConditionalSelect(big, Vector512.Create(Ln2), Vector512<double>.Zero);

        sigmoid = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<double>.Zero), inv, e * inv);
        return Vector512.Max(x, Vector512<double>.Zero) + log1p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> ExpM1Reduced512(Vector512<double> r)
    {
        var r2 = r * r;
        var r4 = r2 * r2;
        var r8 = r4 * r4;
        var q0 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 2), Vector512<double>.One);
        var q1 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 24), Vector512.Create(1.0 / 6));
        var q2 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 720), Vector512.Create(1.0 / 120));
        var q3 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 40320), Vector512.Create(1.0 / 5040));
        var q4 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 3628800), Vector512.Create(1.0 / 362880));
        var q5 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0 / 479001600), Vector512.Create(1.0 / 39916800));
        var s0 = Vector512.FusedMultiplyAdd(q1, r2, q0);
        var s1 = Vector512.FusedMultiplyAdd(q3, r2, q2);
        var s2 = Vector512.FusedMultiplyAdd(q5, r2, q4);
        var t0 = Vector512.FusedMultiplyAdd(s1, r4, s0);
        var t1 = Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 6227020800), r4, s2);
        return Vector512.FusedMultiplyAdd(t1, r8, t0) * r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> AtanhSeries512(Vector512<double> z)
    {
        var z2 = z * z;
        var z4 = z2 * z2;
        var p0 = Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0 / 5), Vector512.Create(1.0 / 3));
        var p1 = Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0 / 9), Vector512.Create(1.0 / 7));
        var p2 = Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0 / 13), Vector512.Create(1.0 / 11));
        var p3 = Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0 / 17), Vector512.Create(1.0 / 15));
        var u0 = Vector512.FusedMultiplyAdd(p1, z2, p0);
        var u1 = Vector512.FusedMultiplyAdd(p3, z2, p2);
        var v0 = Vector512.FusedMultiplyAdd(u1, z4, u0);
        return Vector512.FusedMultiplyAdd(Vector512.Create(1.0 / 19), z4 * z4, v0);
    }

    /// <summary>e^a for a ≤ 0 on 512-bit vectors (<see cref="ExpNonPositive"/>, operation for operation).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> ExpNonPositive512(Vector512<double> a)
    {
        var t = Vector512.FusedMultiplyAdd(a, Vector512.Create(InvLn2), Vector512.Create(Shifter));
        var k = t - Vector512.Create(Shifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Hi), a);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Lo), r);
        var q = ExpM1Reduced512(r);
        var scale = Vector512.ShiftLeft(t.AsUInt64() + Vector512.Create(1023UL), 52).AsDouble();
        var e = Vector512.FusedMultiplyAdd(scale, q, scale);
        return Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(-708.0)), Vector512<double>.Zero, e);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<double> TanhVector512(Vector512<double> x)
    {
        var a = Vector512.Max(Vector512.Create(-2.0) * Vector512.Abs(x), Vector512.Create(-40.0));
        var t = Vector512.FusedMultiplyAdd(a, Vector512.Create(InvLn2), Vector512.Create(Shifter));
        var k = t - Vector512.Create(Shifter);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Hi), a);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2Lo), r);
        var q = ExpM1Reduced512(r);
        var scale = Vector512.ShiftLeft(t.AsUInt64() + Vector512.Create(1023UL), 52).AsDouble();
        var m = Vector512.FusedMultiplyAdd(scale, q, scale - Vector512<double>.One);
        var magnitude = -m / (Vector512.Create(2.0) + m);
        var signed = Vector512.ConditionalSelect(Vector512.Create(0x8000_0000_0000_0000UL).AsDouble(), x, magnitude);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), signed, x);
    }

    /// <summary>
    /// log x for x ≥ 1 (the categorical likelihood's log Σ e^(z − max), whose argument is at least 1): x = 2^e·m with
    /// m ∈ (√2/2, √2], log m = 2·atanh(s), s = (m − 1)/(m + 1), |s| ≤ 0.1716 (<see cref="AtanhSeries"/>), and
    /// e·ln 2 added in two parts (fdlibm's split), within 2 ulps (tested). NaN stays NaN.
    /// </summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector<double> LogAtLeastOne(Vector<double> x)
    {
        var bits = Vector.AsVectorUInt64(x);
        var e = Vector.AsVectorDouble(Vector.ShiftRightLogical(bits, 52) | new Vector<ulong>(0x4330_0000_0000_0000UL)) - new Vector<double>(4503599627370496.0 + 1023);
        var m = Vector.AsVectorDouble((bits & new Vector<ulong>(0x000F_FFFF_FFFF_FFFFUL)) | new Vector<ulong>(0x3FF0_0000_0000_0000UL));
        var big = Vector.GreaterThan(m, new Vector<double>(Sqrt2));
        m = Vector.ConditionalSelect(big, m * new Vector<double>(0.5), m);
        e = Vector.ConditionalSelect(big, e + Vector<double>.One, e);
        var f = m - Vector<double>.One;
        var s = f / (new Vector<double>(2.0) + f);
        var z = s * s;
        var twoS = s + s;
        var logM = Vector.MultiplyAddEstimate(twoS * z, AtanhSeries(z), twoS);
        var log = Vector.MultiplyAddEstimate(e, new Vector<double>(Ln2Hi), Vector.MultiplyAddEstimate(e, new Vector<double>(Ln2Lo), logM));
        return Vector.ConditionalSelect(Vector.Equals(x, x), log, x);
    }

    /// <summary><see cref="LogAtLeastOne(Vector{double})"/> on 512-bit vectors, operation for operation.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static Vector512<double> LogAtLeastOne512(Vector512<double> x)
    {
        var bits = x.AsUInt64();
        var e = (Vector512.ShiftRightLogical(bits, 52) | Vector512.Create(0x4330_0000_0000_0000UL)).AsDouble() - Vector512.Create(4503599627370496.0 + 1023);
        var m = ((bits & Vector512.Create(0x000F_FFFF_FFFF_FFFFUL)) | Vector512.Create(0x3FF0_0000_0000_0000UL)).AsDouble();
        var big = Vector512.GreaterThan(m, Vector512.Create(Sqrt2));
        m = Vector512.ConditionalSelect(big, m * Vector512.Create(0.5), m);
        e = Vector512.ConditionalSelect(big, e + Vector512<double>.One, e);
        var f = m - Vector512<double>.One;
        var s = f / (Vector512.Create(2.0) + f);
        var z = s * s;
        var twoS = s + s;
        var logM = Vector512.FusedMultiplyAdd(twoS * z, AtanhSeries512(z), twoS);
        var log = Vector512.FusedMultiplyAdd(e, Vector512.Create(Ln2Hi), Vector512.FusedMultiplyAdd(e, Vector512.Create(Ln2Lo), logM));
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), log, x);
    }

    private const float Ln2HiF = 0.693145751953125f, Ln2LoF = 1.428606765330187045e-06f;
    private const float ShifterF = 12582912.0f; // 1.5·2^23

    /// <summary>
    /// Float32 softplus and sigmoid for whole vectors: the float64 kernel's scheme with shorter polynomials (e^r by
    /// Taylor to degree 7, the atanh series to s¹¹), both by Estrin's scheme, one division for both reciprocals, two
    /// vectors in flight per step, on 512-bit vectors where AVX-512 is accelerated (the same operations, so the same bits).
    /// </summary>
    private static void SoftplusVectors(ref float xs, ref float y, ref float d, int count, bool withDerivative)
    {
        int vl = Vector<float>.Count, i = 0, end = count * vl;
        if (Vector512.IsHardwareAccelerated)
            for (; i + 32 <= end; i += 32)
            {
                var y0 = SoftplusVector512(Vector512.LoadUnsafe(ref xs, (nuint)i), out var s0);
                var y1 = SoftplusVector512(Vector512.LoadUnsafe(ref xs, (nuint)(i + 16)), out var s1);
                y0.StoreUnsafe(ref y, (nuint)i);
                y1.StoreUnsafe(ref y, (nuint)(i + 16));
                if (withDerivative)
                {
                    s0.StoreUnsafe(ref d, (nuint)i);
                    s1.StoreUnsafe(ref d, (nuint)(i + 16));
                }
            }
        for (; i + 2 * vl <= end; i += 2 * vl)
        {
            var y0 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)i), out var s0);
            var y1 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)(i + vl)), out var s1);
            y0.StoreUnsafe(ref y, (nuint)i);
            y1.StoreUnsafe(ref y, (nuint)(i + vl));
            if (withDerivative)
            {
                s0.StoreUnsafe(ref d, (nuint)i);
                s1.StoreUnsafe(ref d, (nuint)(i + vl));
            }
        }
        for (; i < end; i += vl)
        {
            var y0 = SoftplusVector(Vector.LoadUnsafe(ref xs, (nuint)i), out var s0);
            y0.StoreUnsafe(ref y, (nuint)i);
            if (withDerivative) s0.StoreUnsafe(ref d, (nuint)i);
        }
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> SoftplusVector(Vector<float> x, out Vector<float> sigmoid)
    {
        var one = Vector<float>.One;
        var a = -Vector.Abs(x);
        var t = Vector.MultiplyAddEstimate(a, new Vector<float>((float)InvLn2), new Vector<float>(ShifterF));
        var k = t - new Vector<float>(ShifterF);
        var r = Vector.MultiplyAddEstimate(k, new Vector<float>(-Ln2HiF), a);
        r = Vector.MultiplyAddEstimate(k, new Vector<float>(-Ln2LoF), r);
        var r2 = r * r;
        var q0 = Vector.MultiplyAddEstimate(r, one, one);
        var q1 = Vector.MultiplyAddEstimate(r, new Vector<float>(1.0f / 6), new Vector<float>(0.5f));
        var q2 = Vector.MultiplyAddEstimate(r, new Vector<float>(1.0f / 120), new Vector<float>(1.0f / 24));
        var q3 = Vector.MultiplyAddEstimate(r, new Vector<float>(1.0f / 5040), new Vector<float>(1.0f / 720));
        var p = Vector.MultiplyAddEstimate(Vector.MultiplyAddEstimate(q3, r2, q2), r2 * r2, Vector.MultiplyAddEstimate(q1, r2, q0));
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorUInt32(t) + new Vector<uint>(127), 23));
        var e = p * scale;
        e = Vector.ConditionalSelect(Vector.LessThan(a, new Vector<float>(-87.0f)), Vector<float>.Zero, e);

        var u = one + e;
        var big = Vector.GreaterThan(u, new Vector<float>((float)Sqrt2));
        var f = Vector.ConditionalSelect(big, u * new Vector<float>(0.5f), u) - one;
        var den = new Vector<float>(2.0f) + f;
        var rcp = one / (u * den);
        var inv = den * rcp;
        var s = f * (u * rcp);
        var z = s * s;
        var z2 = z * z;
        var a0 = Vector.MultiplyAddEstimate(z, new Vector<float>(1.0f / 5), new Vector<float>(1.0f / 3));
        var a1 = Vector.MultiplyAddEstimate(z2, new Vector<float>(1.0f / 11), Vector.MultiplyAddEstimate(z, new Vector<float>(1.0f / 9), new Vector<float>(1.0f / 7)));
        var series = Vector.MultiplyAddEstimate(a1, z2, a0);
        var twoS = s + s;
        var log1pf = Vector.MultiplyAddEstimate(twoS * z, series, twoS);
        var c = e - (u - one);
        var log1p = Vector.MultiplyAddEstimate(c, inv, log1pf) + Vector.ConditionalSelect(big, new Vector<float>((float)Ln2), Vector<float>.Zero);
        sigmoid = Vector.ConditionalSelect(Vector.GreaterThanOrEqual(x, Vector<float>.Zero), inv, e * inv);
        return Vector.Max(x, Vector<float>.Zero) + log1p;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> SoftplusVector512(Vector512<float> x, out Vector512<float> sigmoid)
    {
        var one = Vector512<float>.One;
        var a = -Vector512.Abs(x);
        var t = Vector512.FusedMultiplyAdd(a, Vector512.Create((float)InvLn2), Vector512.Create(ShifterF));
        var k = t - Vector512.Create(ShifterF);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2HiF), a);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2LoF), r);
        var r2 = r * r;
        var q0 = Vector512.FusedMultiplyAdd(r, one, one);
        var q1 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0f / 6), Vector512.Create(0.5f));
        var q2 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0f / 120), Vector512.Create(1.0f / 24));
        var q3 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0f / 5040), Vector512.Create(1.0f / 720));
        var p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(q3, r2, q2), r2 * r2, Vector512.FusedMultiplyAdd(q1, r2, q0));
        var scale = Vector512.ShiftLeft(t.AsUInt32() + Vector512.Create(127u), 23).AsSingle();
        var e = p * scale;
        e = Vector512.ConditionalSelect(Vector512.LessThan(a, Vector512.Create(-87.0f)), Vector512<float>.Zero, e);

        var u = one + e;
        var big = Vector512.GreaterThan(u, Vector512.Create((float)Sqrt2));
        var f = Vector512.ConditionalSelect(big, u * Vector512.Create(0.5f), u) - one;
        var den = Vector512.Create(2.0f) + f;
        var rcp = one / (u * den);
        var inv = den * rcp;
        var s = f * (u * rcp);
        var z = s * s;
        var z2 = z * z;
        var a0 = Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0f / 5), Vector512.Create(1.0f / 3));
        var a1 = Vector512.FusedMultiplyAdd(z2, Vector512.Create(1.0f / 11), Vector512.FusedMultiplyAdd(z, Vector512.Create(1.0f / 9), Vector512.Create(1.0f / 7)));
        var series = Vector512.FusedMultiplyAdd(a1, z2, a0);
        var twoS = s + s;
        var log1pf = Vector512.FusedMultiplyAdd(twoS * z, series, twoS);
        var c = e - (u - one);
        var log1p = Vector512.FusedMultiplyAdd(c, inv, log1pf) + Vector512.ConditionalSelect(big, Vector512.Create((float)Ln2), Vector512<float>.Zero);
        sigmoid = Vector512.ConditionalSelect(Vector512.GreaterThanOrEqual(x, Vector512<float>.Zero), inv, e * inv);
        return Vector512.Max(x, Vector512<float>.Zero) + log1p;
    }

    /// <summary>
    /// y ← tanh(x) in float32: the float64 kernel's scheme (tanh|x| = −m/(2 + m), m = expm1(−2|x|) from the exp
    /// reduction, e^r − 1 = r·P(r) with P Taylor's to degree 6 by Estrin's scheme), |x| clamped at 10 (tanh rounds
    /// to ±1 beyond 9.01 in float32), ±0 kept, NaN propagated; two vectors in flight, 512-bit vectors where AVX-512 is
    /// accelerated (the same operations, so the same bits). x and y may be the same span.
    /// </summary>
    public static void Tanh(ReadOnlySpan<float> x, Span<float> y)
    {
        int n = x.Length, vl = Vector<float>.Count, i = 0;
        ref float xr = ref MemoryMarshal.GetReference(x);
        ref float yr = ref MemoryMarshal.GetReference(y);
        if (Vector512.IsHardwareAccelerated)
            for (; i + 32 <= n; i += 32)
            {
                var y0 = TanhVector512(Vector512.LoadUnsafe(ref xr, (nuint)i));
                var y1 = TanhVector512(Vector512.LoadUnsafe(ref xr, (nuint)(i + 16)));
                y0.StoreUnsafe(ref yr, (nuint)i);
                y1.StoreUnsafe(ref yr, (nuint)(i + 16));
            }
        for (; i + 2 * vl <= n; i += 2 * vl)
        {
            var y0 = TanhVector(Vector.LoadUnsafe(ref xr, (nuint)i));
            var y1 = TanhVector(Vector.LoadUnsafe(ref xr, (nuint)(i + vl)));
            y0.StoreUnsafe(ref yr, (nuint)i);
            y1.StoreUnsafe(ref yr, (nuint)(i + vl));
        }
        for (; i + vl <= n; i += vl) TanhVector(Vector.LoadUnsafe(ref xr, (nuint)i)).StoreUnsafe(ref yr, (nuint)i);
        if (i == n) return;
        Span<float> t = stackalloc float[Vector<float>.Count];
        t.Clear();
        x[i..].CopyTo(t);
        TanhVector(new Vector<float>(t)).CopyTo(t);
        t[..(n - i)].CopyTo(y[i..]);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<float> TanhVector(Vector<float> x)
    {
        var one = Vector<float>.One;
        var a = Vector.Max(new Vector<float>(-2.0f) * Vector.Abs(x), new Vector<float>(-20.0f));
        var t = Vector.MultiplyAddEstimate(a, new Vector<float>((float)InvLn2), new Vector<float>(ShifterF));
        var k = t - new Vector<float>(ShifterF);
        var r = Vector.MultiplyAddEstimate(k, new Vector<float>(-Ln2HiF), a);
        r = Vector.MultiplyAddEstimate(k, new Vector<float>(-Ln2LoF), r);
        var r2 = r * r;
        var q0 = Vector.MultiplyAddEstimate(r, new Vector<float>(0.5f), one);
        var q1 = Vector.MultiplyAddEstimate(r, new Vector<float>(1.0f / 24), new Vector<float>(1.0f / 6));
        var q2 = Vector.MultiplyAddEstimate(r, new Vector<float>(1.0f / 720), new Vector<float>(1.0f / 120));
        var p = Vector.MultiplyAddEstimate(Vector.MultiplyAddEstimate(new Vector<float>(1.0f / 5040), r2, q2), r2 * r2, Vector.MultiplyAddEstimate(q1, r2, q0));
        var q = p * r; // e^r − 1
        var scale = Vector.AsVectorSingle(Vector.ShiftLeft(Vector.AsVectorUInt32(t) + new Vector<uint>(127), 23));
        var m = Vector.MultiplyAddEstimate(scale, q, scale - one); // expm1(a) ∈ (−1, 0]
        var magnitude = -m / (new Vector<float>(2.0f) + m);
        var signed = Vector.ConditionalSelect(Vector.AsVectorSingle(new Vector<uint>(0x8000_0000u)), x, magnitude);
        return Vector.ConditionalSelect(Vector.Equals(x, x), signed, x);
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<float> TanhVector512(Vector512<float> x)
    {
        var one = Vector512<float>.One;
        var a = Vector512.Max(Vector512.Create(-2.0f) * Vector512.Abs(x), Vector512.Create(-20.0f));
        var t = Vector512.FusedMultiplyAdd(a, Vector512.Create((float)InvLn2), Vector512.Create(ShifterF));
        var k = t - Vector512.Create(ShifterF);
        var r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2HiF), a);
        r = Vector512.FusedMultiplyAdd(k, Vector512.Create(-Ln2LoF), r);
        var r2 = r * r;
        var q0 = Vector512.FusedMultiplyAdd(r, Vector512.Create(0.5f), one);
        var q1 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0f / 24), Vector512.Create(1.0f / 6));
        var q2 = Vector512.FusedMultiplyAdd(r, Vector512.Create(1.0f / 720), Vector512.Create(1.0f / 120));
        var p = Vector512.FusedMultiplyAdd(Vector512.FusedMultiplyAdd(Vector512.Create(1.0f / 5040), r2, q2), r2 * r2, Vector512.FusedMultiplyAdd(q1, r2, q0));
        var q = p * r;
        var scale = Vector512.ShiftLeft(t.AsUInt32() + Vector512.Create(127u), 23).AsSingle();
        var m = Vector512.FusedMultiplyAdd(scale, q, scale - one);
        var magnitude = -m / (Vector512.Create(2.0f) + m);
        var signed = Vector512.ConditionalSelect(Vector512.Create(0x8000_0000u).AsSingle(), x, magnitude);
        return Vector512.ConditionalSelect(Vector512.Equals(x, x), signed, x);
    }
}
