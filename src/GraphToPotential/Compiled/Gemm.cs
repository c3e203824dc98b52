using System.Numerics;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// Register-blocked matrix kernels over the rows-innermost layout (each feature's rows contiguous), SIMD across rows.
/// <see cref="Rows"/>: O[m, r] = I[m] (or O[m, r]) + Σ_j C[j, m]·X[j, r] — the dense forward pass and the input
/// gradient; tiles of 4 outputs × 3 row vectors keep 12 accumulators in registers, so each loaded X vector feeds 4
/// FMAs and each broadcast weight 3 (the GotoBLAS/BLIS micro-kernel idea, with rows as the vectorised dimension).
/// <see cref="Reduce"/>: O[k, n] += s·Σ_r A[k, r]·D[n, r] — the weight gradient; tiles of 4 × 3 dot products
/// share their loads the same way. Every sum runs in a fixed order, so results are reproducible bit for bit.
/// Callers pass spans that start at the first row of feature 0; features are <c>stride</c> elements apart.
/// </summary>
internal static class Gemm<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private static int VL => Vector<T>.Count;

    /// <summary>Whether the kernels run 512-bit tiles first: AVX-512 is accelerated, <see cref="Vector{T}"/> is 256 bits wide
    /// (the default) and T is float or double.</summary>
    internal static readonly bool Wide = Vector512.IsHardwareAccelerated && Vector<byte>.Count == 32 && (typeof(T) == typeof(double) || typeof(T) == typeof(float));

    /// <summary>
    /// O[m·oStride + r] = (init is empty ? O[m·oStride + r] : init[m]) + Σ_{j &lt; J} C[j·M + m]·X[j·xStride + r], for m &lt; M, r &lt; len;
    /// with <paramref name="relu"/>, max(·, 0) of that, applied in registers before the store.
    /// Tiles: 4 outputs × 3 row vectors, then 2 × 3 and 1 × 3 for the last outputs; a matrix–vector product (M &lt; 4,
    /// an output layer) runs 8 row vectors per output first, so that 8 independent FMA chains cover the FMA latency.
    /// </summary>
    public static void Rows(ReadOnlySpan<T> c, int j, int m, ReadOnlySpan<T> x, int xStride, Span<T> o, int oStride, int len, ReadOnlySpan<T> init, bool relu = false) =>
        RowsWith(c, j, m, x, xStride, o, oStride, len, init, relu, Wide);

    /// <summary><see cref="Rows"/>
    /// with the 512-bit tiles on or off (<paramref name="wide"/>; the results are the same bits either way).</summary>
    internal static void RowsWith(ReadOnlySpan<T> c, int j, int m, ReadOnlySpan<T> x, int xStride, Span<T> o, int oStride, int len, ReadOnlySpan<T> init, bool relu, bool wide)
    {
        bool accumulate = init.IsEmpty;
        ref T cr = ref MemoryMarshal.GetReference(c);
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T orf = ref MemoryMarshal.GetReference(o);
        ref T ir = ref MemoryMarshal.GetReference(init);
        int vl = VL, r = 0;
        if (wide) r = RowsWide(ref cr, j, m, ref xr, xStride, ref orf, oStride, len, ref ir, accumulate, relu);
        if (m < 4)
            for (; r + 8 * vl <= len; r += 8 * vl)
                for (int mm = 0; mm < m; mm++) Rows1x8(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
        for (; r + 3 * vl <= len; r += 3 * vl)
        {
            int mm = 0;
            for (; mm + 4 <= m; mm += 4) Rows4x3(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
            if (mm + 2 <= m) { Rows2x3(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu); mm += 2; }
            if (mm < m) Rows1x3(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
        }
        for (; r + vl <= len; r += vl)
        {
            int mm = 0;
            for (; mm + 4 <= m; mm += 4) Rows4x1(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
            for (; mm < m; mm++) Rows1x1(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
        }
        for (; r < len; r++)
            for (int mm = 0; mm < m; mm++)
            {
                T acc = accumulate ? o[mm * oStride + r] : init[mm];
                for (int jj = 0; jj < j; jj++) acc = T.FusedMultiplyAdd(c[jj * m + mm], x[jj * xStride + r], acc);
                o[mm * oStride + r] = relu ? T.Max(acc, T.Zero) : acc;
            }
    }

    /// <summary>Stores a tile's accumulator, through max(·, 0) for a fused ReLU (NaN stays NaN).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store(Vector<T> a, ref T o, nuint at, bool relu) =>
        (relu ? Vector.Max(a, Vector<T>.Zero) : a).StoreUnsafe(ref o, at);

    private static void Rows4x3(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = VL;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        ref T o1 = ref Unsafe.Add(ref o0, oStride);
        ref T o2 = ref Unsafe.Add(ref o1, oStride);
        ref T o3 = ref Unsafe.Add(ref o2, oStride);
        Vector<T> a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
        if (accumulate)
        {
            a00 = Vector.LoadUnsafe(ref o0); a01 = Vector.LoadUnsafe(ref o0, (nuint)vl); a02 = Vector.LoadUnsafe(ref o0, (nuint)(2 * vl));
            a10 = Vector.LoadUnsafe(ref o1); a11 = Vector.LoadUnsafe(ref o1, (nuint)vl); a12 = Vector.LoadUnsafe(ref o1, (nuint)(2 * vl));
            a20 = Vector.LoadUnsafe(ref o2); a21 = Vector.LoadUnsafe(ref o2, (nuint)vl); a22 = Vector.LoadUnsafe(ref o2, (nuint)(2 * vl));
            a30 = Vector.LoadUnsafe(ref o3); a31 = Vector.LoadUnsafe(ref o3, (nuint)vl); a32 = Vector.LoadUnsafe(ref o3, (nuint)(2 * vl));
        }
        else
        {
            a00 = a01 = a02 = new Vector<T>(Unsafe.Add(ref init, mm));
            a10 = a11 = a12 = new Vector<T>(Unsafe.Add(ref init, mm + 1));
            a20 = a21 = a22 = new Vector<T>(Unsafe.Add(ref init, mm + 2));
            a30 = a31 = a32 = new Vector<T>(Unsafe.Add(ref init, mm + 3));
        }
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var x0 = Vector.LoadUnsafe(ref xj);
            var x1 = Vector.LoadUnsafe(ref xj, (nuint)vl);
            var x2 = Vector.LoadUnsafe(ref xj, (nuint)(2 * vl));
            var w = new Vector<T>(cj);
            a00 = SimdMath.Fma(x0, w, a00); a01 = SimdMath.Fma(x1, w, a01); a02 = SimdMath.Fma(x2, w, a02);
            w = new Vector<T>(Unsafe.Add(ref cj, 1));
            a10 = SimdMath.Fma(x0, w, a10); a11 = SimdMath.Fma(x1, w, a11); a12 = SimdMath.Fma(x2, w, a12);
            w = new Vector<T>(Unsafe.Add(ref cj, 2));
            a20 = SimdMath.Fma(x0, w, a20); a21 = SimdMath.Fma(x1, w, a21); a22 = SimdMath.Fma(x2, w, a22);
            w = new Vector<T>(Unsafe.Add(ref cj, 3));
            a30 = SimdMath.Fma(x0, w, a30); a31 = SimdMath.Fma(x1, w, a31); a32 = SimdMath.Fma(x2, w, a32);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a00, ref o0, 0, relu); Store(a01, ref o0, (nuint)vl, relu); Store(a02, ref o0, (nuint)(2 * vl), relu);
        Store(a10, ref o1, 0, relu); Store(a11, ref o1, (nuint)vl, relu); Store(a12, ref o1, (nuint)(2 * vl), relu);
        Store(a20, ref o2, 0, relu); Store(a21, ref o2, (nuint)vl, relu); Store(a22, ref o2, (nuint)(2 * vl), relu);
        Store(a30, ref o3, 0, relu); Store(a31, ref o3, (nuint)vl, relu); Store(a32, ref o3, (nuint)(2 * vl), relu);
    }

    private static void Rows1x3(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = VL;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        Vector<T> a0, a1, a2;
        if (accumulate) { a0 = Vector.LoadUnsafe(ref o0); a1 = Vector.LoadUnsafe(ref o0, (nuint)vl); a2 = Vector.LoadUnsafe(ref o0, (nuint)(2 * vl)); }
        else a0 = a1 = a2 = new Vector<T>(Unsafe.Add(ref init, mm));
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var w = new Vector<T>(cj);
            a0 = SimdMath.Fma(Vector.LoadUnsafe(ref xj), w, a0);
            a1 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)vl), w, a1);
            a2 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(2 * vl)), w, a2);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a0, ref o0, 0, relu); Store(a1, ref o0, (nuint)vl, relu); Store(a2, ref o0, (nuint)(2 * vl), relu);
    }

    private static void Rows2x3(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = VL;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        ref T o1 = ref Unsafe.Add(ref o0, oStride);
        Vector<T> a00, a01, a02, a10, a11, a12;
        if (accumulate)
        {
            a00 = Vector.LoadUnsafe(ref o0); a01 = Vector.LoadUnsafe(ref o0, (nuint)vl); a02 = Vector.LoadUnsafe(ref o0, (nuint)(2 * vl));
            a10 = Vector.LoadUnsafe(ref o1); a11 = Vector.LoadUnsafe(ref o1, (nuint)vl); a12 = Vector.LoadUnsafe(ref o1, (nuint)(2 * vl));
        }
        else
        {
            a00 = a01 = a02 = new Vector<T>(Unsafe.Add(ref init, mm));
            a10 = a11 = a12 = new Vector<T>(Unsafe.Add(ref init, mm + 1));
        }
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var x0 = Vector.LoadUnsafe(ref xj);
            var x1 = Vector.LoadUnsafe(ref xj, (nuint)vl);
            var x2 = Vector.LoadUnsafe(ref xj, (nuint)(2 * vl));
            var w = new Vector<T>(cj);
            a00 = SimdMath.Fma(x0, w, a00); a01 = SimdMath.Fma(x1, w, a01); a02 = SimdMath.Fma(x2, w, a02);
            w = new Vector<T>(Unsafe.Add(ref cj, 1));
            a10 = SimdMath.Fma(x0, w, a10); a11 = SimdMath.Fma(x1, w, a11); a12 = SimdMath.Fma(x2, w, a12);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a00, ref o0, 0, relu); Store(a01, ref o0, (nuint)vl, relu); Store(a02, ref o0, (nuint)(2 * vl), relu);
        Store(a10, ref o1, 0, relu); Store(a11, ref o1, (nuint)vl, relu); Store(a12, ref o1, (nuint)(2 * vl), relu);
    }

    /// <summary>One output over 8 row vectors: the matrix–vector tile (8 independent FMA chains, one broadcast per 8 FMAs).</summary>
    private static void Rows1x8(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = VL;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        Vector<T> a0, a1, a2, a3, a4, a5, a6, a7;
        if (accumulate)
        {
            a0 = Vector.LoadUnsafe(ref o0); a1 = Vector.LoadUnsafe(ref o0, (nuint)vl);
            a2 = Vector.LoadUnsafe(ref o0, (nuint)(2 * vl)); a3 = Vector.LoadUnsafe(ref o0, (nuint)(3 * vl));
            a4 = Vector.LoadUnsafe(ref o0, (nuint)(4 * vl)); a5 = Vector.LoadUnsafe(ref o0, (nuint)(5 * vl));
            a6 = Vector.LoadUnsafe(ref o0, (nuint)(6 * vl)); a7 = Vector.LoadUnsafe(ref o0, (nuint)(7 * vl));
        }
        else a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = new Vector<T>(Unsafe.Add(ref init, mm));
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var w = new Vector<T>(cj);
            a0 = SimdMath.Fma(Vector.LoadUnsafe(ref xj), w, a0);
            a1 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)vl), w, a1);
            a2 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(2 * vl)), w, a2);
            a3 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(3 * vl)), w, a3);
            a4 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(4 * vl)), w, a4);
            a5 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(5 * vl)), w, a5);
            a6 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(6 * vl)), w, a6);
            a7 = SimdMath.Fma(Vector.LoadUnsafe(ref xj, (nuint)(7 * vl)), w, a7);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a0, ref o0, 0, relu); Store(a1, ref o0, (nuint)vl, relu); Store(a2, ref o0, (nuint)(2 * vl), relu); Store(a3, ref o0, (nuint)(3 * vl), relu);
        Store(a4, ref o0, (nuint)(4 * vl), relu); Store(a5, ref o0, (nuint)(5 * vl), relu); Store(a6, ref o0, (nuint)(6 * vl), relu); Store(a7, ref o0, (nuint)(7 * vl), relu);
    }

    private static void Rows4x1(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        ref T o1 = ref Unsafe.Add(ref o0, oStride);
        ref T o2 = ref Unsafe.Add(ref o1, oStride);
        ref T o3 = ref Unsafe.Add(ref o2, oStride);
        Vector<T> a0, a1, a2, a3;
        if (accumulate) { a0 = Vector.LoadUnsafe(ref o0); a1 = Vector.LoadUnsafe(ref o1); a2 = Vector.LoadUnsafe(ref o2); a3 = Vector.LoadUnsafe(ref o3); }
        else
        {
            a0 = new Vector<T>(Unsafe.Add(ref init, mm)); a1 = new Vector<T>(Unsafe.Add(ref init, mm + 1));
            a2 = new Vector<T>(Unsafe.Add(ref init, mm + 2)); a3 = new Vector<T>(Unsafe.Add(ref init, mm + 3));
        }
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var x0 = Vector.LoadUnsafe(ref xj);
            a0 = SimdMath.Fma(x0, new Vector<T>(cj), a0);
            a1 = SimdMath.Fma(x0, new Vector<T>(Unsafe.Add(ref cj, 1)), a1);
            a2 = SimdMath.Fma(x0, new Vector<T>(Unsafe.Add(ref cj, 2)), a2);
            a3 = SimdMath.Fma(x0, new Vector<T>(Unsafe.Add(ref cj, 3)), a3);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a0, ref o0, 0, relu); Store(a1, ref o1, 0, relu); Store(a2, ref o2, 0, relu); Store(a3, ref o3, 0, relu);
    }

    private static void Rows1x1(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        var a0 = accumulate ? Vector.LoadUnsafe(ref o0) : new Vector<T>(Unsafe.Add(ref init, mm));
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            a0 = SimdMath.Fma(Vector.LoadUnsafe(ref xj), new Vector<T>(cj), a0);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store(a0, ref o0, 0, relu);
    }

    // The same row tiles on 512-bit vectors (AVX-512), run first where the hardware accelerates them. Each output
    // element is the same chain of fused multiply–adds in the same order (init, then j = 0, 1, …) whatever tile or
    // width computes it, so the results are the same bits as the 256-bit tiles'.

    /// <summary>
    /// The 512-bit row tiles over the leading rows: 4 outputs × 3 row vectors (2 × 3 and 1 × 3 for the last outputs),
    /// or 1 output × 8 row vectors for a matrix–vector product (M &lt; 4). Returns the first row left for the 256-bit tiles.
    /// </summary>
    private static int RowsWide(ref T cr, int j, int m, ref T xr, int xStride, ref T orf, int oStride, int len, ref T ir, bool accumulate, bool relu)
    {
        int wl = Vector512<T>.Count, r = 0;
        if (m < 4)
            for (; r + 8 * wl <= len; r += 8 * wl)
                for (int mm = 0; mm < m; mm++) Rows1x8W(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
        for (; r + 3 * wl <= len; r += 3 * wl)
        {
            int mm = 0;
            for (; mm + 4 <= m; mm += 4) Rows4x3W(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
            if (mm + 2 <= m) { Rows2x3W(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu); mm += 2; }
            if (mm < m) Rows1x3W(ref cr, j, m, mm, ref xr, xStride, ref orf, oStride, r, ref ir, accumulate, relu);
        }
        return r;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector512<T> Fma512(Vector512<T> a, Vector512<T> b, Vector512<T> c)
    {
        if (typeof(T) == typeof(double)) return Vector512.FusedMultiplyAdd(a.AsDouble(), b.AsDouble(), c.AsDouble()).As<double, T>();
        if (typeof(T) == typeof(float)) return Vector512.FusedMultiplyAdd(a.AsSingle(), b.AsSingle(), c.AsSingle()).As<float, T>();
        return a * b + c;
    }

    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Store512(Vector512<T> a, ref T o, nuint at, bool relu) =>
        (relu ? Vector512.Max(a, Vector512<T>.Zero) : a).StoreUnsafe(ref o, at);

    private static void Rows4x3W(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = Vector512<T>.Count;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        ref T o1 = ref Unsafe.Add(ref o0, oStride);
        ref T o2 = ref Unsafe.Add(ref o1, oStride);
        ref T o3 = ref Unsafe.Add(ref o2, oStride);
        Vector512<T> a00, a01, a02, a10, a11, a12, a20, a21, a22, a30, a31, a32;
        if (accumulate)
        {
            a00 = Vector512.LoadUnsafe(ref o0); a01 = Vector512.LoadUnsafe(ref o0, (nuint)vl); a02 = Vector512.LoadUnsafe(ref o0, (nuint)(2 * vl));
            a10 = Vector512.LoadUnsafe(ref o1); a11 = Vector512.LoadUnsafe(ref o1, (nuint)vl); a12 = Vector512.LoadUnsafe(ref o1, (nuint)(2 * vl));
            a20 = Vector512.LoadUnsafe(ref o2); a21 = Vector512.LoadUnsafe(ref o2, (nuint)vl); a22 = Vector512.LoadUnsafe(ref o2, (nuint)(2 * vl));
            a30 = Vector512.LoadUnsafe(ref o3); a31 = Vector512.LoadUnsafe(ref o3, (nuint)vl); a32 = Vector512.LoadUnsafe(ref o3, (nuint)(2 * vl));
        }
        else
        {
            a00 = a01 = a02 = Vector512.Create(Unsafe.Add(ref init, mm));
            a10 = a11 = a12 = Vector512.Create(Unsafe.Add(ref init, mm + 1));
            a20 = a21 = a22 = Vector512.Create(Unsafe.Add(ref init, mm + 2));
            a30 = a31 = a32 = Vector512.Create(Unsafe.Add(ref init, mm + 3));
        }
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var x0 = Vector512.LoadUnsafe(ref xj);
            var x1 = Vector512.LoadUnsafe(ref xj, (nuint)vl);
            var x2 = Vector512.LoadUnsafe(ref xj, (nuint)(2 * vl));
            var w = Vector512.Create(cj);
            a00 = Fma512(x0, w, a00); a01 = Fma512(x1, w, a01); a02 = Fma512(x2, w, a02);
            w = Vector512.Create(Unsafe.Add(ref cj, 1));
            a10 = Fma512(x0, w, a10); a11 = Fma512(x1, w, a11); a12 = Fma512(x2, w, a12);
            w = Vector512.Create(Unsafe.Add(ref cj, 2));
            a20 = Fma512(x0, w, a20); a21 = Fma512(x1, w, a21); a22 = Fma512(x2, w, a22);
            w = Vector512.Create(Unsafe.Add(ref cj, 3));
            a30 = Fma512(x0, w, a30); a31 = Fma512(x1, w, a31); a32 = Fma512(x2, w, a32);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store512(a00, ref o0, 0, relu); Store512(a01, ref o0, (nuint)vl, relu); Store512(a02, ref o0, (nuint)(2 * vl), relu);
        Store512(a10, ref o1, 0, relu); Store512(a11, ref o1, (nuint)vl, relu); Store512(a12, ref o1, (nuint)(2 * vl), relu);
        Store512(a20, ref o2, 0, relu); Store512(a21, ref o2, (nuint)vl, relu); Store512(a22, ref o2, (nuint)(2 * vl), relu);
        Store512(a30, ref o3, 0, relu); Store512(a31, ref o3, (nuint)vl, relu); Store512(a32, ref o3, (nuint)(2 * vl), relu);
    }

    private static void Rows1x3W(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = Vector512<T>.Count;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        Vector512<T> a0, a1, a2;
        if (accumulate) { a0 = Vector512.LoadUnsafe(ref o0); a1 = Vector512.LoadUnsafe(ref o0, (nuint)vl); a2 = Vector512.LoadUnsafe(ref o0, (nuint)(2 * vl)); }
        else a0 = a1 = a2 = Vector512.Create(Unsafe.Add(ref init, mm));
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var w = Vector512.Create(cj);
            a0 = Fma512(Vector512.LoadUnsafe(ref xj), w, a0);
            a1 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)vl), w, a1);
            a2 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(2 * vl)), w, a2);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store512(a0, ref o0, 0, relu); Store512(a1, ref o0, (nuint)vl, relu); Store512(a2, ref o0, (nuint)(2 * vl), relu);
    }

    private static void Rows2x3W(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = Vector512<T>.Count;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        ref T o1 = ref Unsafe.Add(ref o0, oStride);
        Vector512<T> a00, a01, a02, a10, a11, a12;
        if (accumulate)
        {
            a00 = Vector512.LoadUnsafe(ref o0); a01 = Vector512.LoadUnsafe(ref o0, (nuint)vl); a02 = Vector512.LoadUnsafe(ref o0, (nuint)(2 * vl));
            a10 = Vector512.LoadUnsafe(ref o1); a11 = Vector512.LoadUnsafe(ref o1, (nuint)vl); a12 = Vector512.LoadUnsafe(ref o1, (nuint)(2 * vl));
        }
        else
        {
            a00 = a01 = a02 = Vector512.Create(Unsafe.Add(ref init, mm));
            a10 = a11 = a12 = Vector512.Create(Unsafe.Add(ref init, mm + 1));
        }
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var x0 = Vector512.LoadUnsafe(ref xj);
            var x1 = Vector512.LoadUnsafe(ref xj, (nuint)vl);
            var x2 = Vector512.LoadUnsafe(ref xj, (nuint)(2 * vl));
            var w = Vector512.Create(cj);
            a00 = Fma512(x0, w, a00); a01 = Fma512(x1, w, a01); a02 = Fma512(x2, w, a02);
            w = Vector512.Create(Unsafe.Add(ref cj, 1));
            a10 = Fma512(x0, w, a10); a11 = Fma512(x1, w, a11); a12 = Fma512(x2, w, a12);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store512(a00, ref o0, 0, relu); Store512(a01, ref o0, (nuint)vl, relu); Store512(a02, ref o0, (nuint)(2 * vl), relu);
        Store512(a10, ref o1, 0, relu); Store512(a11, ref o1, (nuint)vl, relu); Store512(a12, ref o1, (nuint)(2 * vl), relu);
    }

    private static void Rows1x8W(ref T c, int j, int m, int mm, ref T x, int xStride, ref T o, int oStride, int r, ref T init, bool accumulate, bool relu)
    {
        int vl = Vector512<T>.Count;
        ref T o0 = ref Unsafe.Add(ref o, mm * oStride + r);
        Vector512<T> a0, a1, a2, a3, a4, a5, a6, a7;
        if (accumulate)
        {
            a0 = Vector512.LoadUnsafe(ref o0); a1 = Vector512.LoadUnsafe(ref o0, (nuint)vl);
            a2 = Vector512.LoadUnsafe(ref o0, (nuint)(2 * vl)); a3 = Vector512.LoadUnsafe(ref o0, (nuint)(3 * vl));
            a4 = Vector512.LoadUnsafe(ref o0, (nuint)(4 * vl)); a5 = Vector512.LoadUnsafe(ref o0, (nuint)(5 * vl));
            a6 = Vector512.LoadUnsafe(ref o0, (nuint)(6 * vl)); a7 = Vector512.LoadUnsafe(ref o0, (nuint)(7 * vl));
        }
        else a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = Vector512.Create(Unsafe.Add(ref init, mm));
        ref T xj = ref Unsafe.Add(ref x, r);
        ref T cj = ref Unsafe.Add(ref c, mm);
        for (int jj = 0; jj < j; jj++)
        {
            var w = Vector512.Create(cj);
            a0 = Fma512(Vector512.LoadUnsafe(ref xj), w, a0);
            a1 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)vl), w, a1);
            a2 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(2 * vl)), w, a2);
            a3 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(3 * vl)), w, a3);
            a4 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(4 * vl)), w, a4);
            a5 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(5 * vl)), w, a5);
            a6 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(6 * vl)), w, a6);
            a7 = Fma512(Vector512.LoadUnsafe(ref xj, (nuint)(7 * vl)), w, a7);
            xj = ref Unsafe.Add(ref xj, xStride);
            cj = ref Unsafe.Add(ref cj, m);
        }
        Store512(a0, ref o0, 0, relu); Store512(a1, ref o0, (nuint)vl, relu); Store512(a2, ref o0, (nuint)(2 * vl), relu); Store512(a3, ref o0, (nuint)(3 * vl), relu);
        Store512(a4, ref o0, (nuint)(4 * vl), relu); Store512(a5, ref o0, (nuint)(5 * vl), relu); Store512(a6, ref o0, (nuint)(6 * vl), relu); Store512(a7, ref o0, (nuint)(7 * vl), relu);
    }

    /// <summary>O[k·ks + n·ns] += s·Σ_{r &lt; len} A[k·aStride + r]·D[n·dStride + r], for k &lt; K, n &lt; N.</summary>
    public static void Reduce(ReadOnlySpan<T> a, int k, int aStride, ReadOnlySpan<T> d, int n, int dStride, int len, Span<T> o, int ks, int ns, T s) =>
        ReduceWith(a, k, aStride, d, n, dStride, len, o, ks, ns, s, Wide);

    /// <summary>
    /// <see cref="Reduce"/> with the 512-bit loops on or off (<paramref name="wide"/>). With them, the 4 × 3 and 4 × 1 tiles
    /// run their leading rows on 512-bit vectors and fold each accumulator's halves into a 256-bit one: the sums run in
    /// another fixed order than the 256-bit loops', so the last bits can differ between the two settings; a process
    /// uses one setting (<see cref="Wide"/>) for every block, shard and thread.
    /// </summary>
    internal static void ReduceWith(ReadOnlySpan<T> a, int k, int aStride, ReadOnlySpan<T> d, int n, int dStride, int len, Span<T> o, int ks, int ns, T s, bool wide)
    {
        wide &= Vector<byte>.Count == 32;
        ref T ar = ref MemoryMarshal.GetReference(a);
        ref T dr = ref MemoryMarshal.GetReference(d);
        int vlen = len - len % VL;
        int kk = 0;
        for (; kk + 4 <= k; kk += 4)
        {
            int nn = 0;
            if (wide)
                for (; nn + 4 <= n; nn += 4) Reduce4x4Wide(ref ar, kk, aStride, ref dr, nn, dStride, vlen, len, o, ks, ns, s);
            for (; nn + 3 <= n; nn += 3) Reduce4x3(ref ar, kk, aStride, ref dr, nn, dStride, vlen, len, o, ks, ns, s, wide);
            for (; nn < n; nn++) Reduce4x1(ref ar, kk, aStride, ref dr, nn, dStride, vlen, len, o, ks, ns, s, wide);
        }
        for (; kk < k; kk++)
        {
            int nn = 0;
            for (; nn + 3 <= n; nn += 3) Reduce1x3(ref ar, kk, aStride, ref dr, nn, dStride, vlen, len, o, ks, ns, s);
            for (; nn < n; nn++) Reduce1x1(ref ar, kk, aStride, ref dr, nn, dStride, vlen, len, o, ks, ns, s);
        }
    }

    private static void Reduce4x3(ref T a, int kk, int aStride, ref T d, int nn, int dStride, int vlen, int len, Span<T> o, int ks, int ns, T s, bool wide)
    {
        int vl = VL;
        ref T a0 = ref Unsafe.Add(ref a, kk * aStride);
        ref T a1 = ref Unsafe.Add(ref a0, aStride);
        ref T a2 = ref Unsafe.Add(ref a1, aStride);
        ref T a3 = ref Unsafe.Add(ref a2, aStride);
        ref T d0 = ref Unsafe.Add(ref d, nn * dStride);
        ref T d1 = ref Unsafe.Add(ref d0, dStride);
        ref T d2 = ref Unsafe.Add(ref d1, dStride);
        Vector<T> s00 = default, s01 = default, s02 = default, s10 = default, s11 = default, s12 = default;
        Vector<T> s20 = default, s21 = default, s22 = default, s30 = default, s31 = default, s32 = default;
        int r = 0;
        if (wide)
        {
            int wl = Vector512<T>.Count, wlen = len - len % wl;
            Vector512<T> z00 = default, z01 = default, z02 = default, z10 = default, z11 = default, z12 = default;
            Vector512<T> z20 = default, z21 = default, z22 = default, z30 = default, z31 = default, z32 = default;
            for (; r < wlen; r += wl)
            {
                var x0 = Vector512.LoadUnsafe(ref d0, (nuint)r);
                var x1 = Vector512.LoadUnsafe(ref d1, (nuint)r);
                var x2 = Vector512.LoadUnsafe(ref d2, (nuint)r);
                var y = Vector512.LoadUnsafe(ref a0, (nuint)r);
                z00 = Fma512(y, x0, z00); z01 = Fma512(y, x1, z01); z02 = Fma512(y, x2, z02);
                y = Vector512.LoadUnsafe(ref a1, (nuint)r);
                z10 = Fma512(y, x0, z10); z11 = Fma512(y, x1, z11); z12 = Fma512(y, x2, z12);
                y = Vector512.LoadUnsafe(ref a2, (nuint)r);
                z20 = Fma512(y, x0, z20); z21 = Fma512(y, x1, z21); z22 = Fma512(y, x2, z22);
                y = Vector512.LoadUnsafe(ref a3, (nuint)r);
                z30 = Fma512(y, x0, z30); z31 = Fma512(y, x1, z31); z32 = Fma512(y, x2, z32);
            }
            s00 = Fold(z00); s01 = Fold(z01); s02 = Fold(z02); s10 = Fold(z10); s11 = Fold(z11); s12 = Fold(z12);
            s20 = Fold(z20); s21 = Fold(z21); s22 = Fold(z22); s30 = Fold(z30); s31 = Fold(z31); s32 = Fold(z32);
        }
        for (; r < vlen; r += vl)
        {
            var x0 = Vector.LoadUnsafe(ref d0, (nuint)r);
            var x1 = Vector.LoadUnsafe(ref d1, (nuint)r);
            var x2 = Vector.LoadUnsafe(ref d2, (nuint)r);
            var y = Vector.LoadUnsafe(ref a0, (nuint)r);
            s00 = SimdMath.Fma(y, x0, s00); s01 = SimdMath.Fma(y, x1, s01); s02 = SimdMath.Fma(y, x2, s02);
            y = Vector.LoadUnsafe(ref a1, (nuint)r);
            s10 = SimdMath.Fma(y, x0, s10); s11 = SimdMath.Fma(y, x1, s11); s12 = SimdMath.Fma(y, x2, s12);
            y = Vector.LoadUnsafe(ref a2, (nuint)r);
            s20 = SimdMath.Fma(y, x0, s20); s21 = SimdMath.Fma(y, x1, s21); s22 = SimdMath.Fma(y, x2, s22);
            y = Vector.LoadUnsafe(ref a3, (nuint)r);
            s30 = SimdMath.Fma(y, x0, s30); s31 = SimdMath.Fma(y, x1, s31); s32 = SimdMath.Fma(y, x2, s32);
        }
        if (ks == 1 && vlen == len)
        {
            // Four consecutive outputs per column: one transposed horizontal sum each instead of four.
            ref T o0 = ref MemoryMarshal.GetReference(o);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 0) * ns), s00, s10, s20, s30, s);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 1) * ns), s01, s11, s21, s31, s);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 2) * ns), s02, s12, s22, s32, s);
            return;
        }
        Finish(o, (kk + 0) * ks + (nn + 0) * ns, s00, ref a0, ref d0, vlen, len, s);
        Finish(o, (kk + 0) * ks + (nn + 1) * ns, s01, ref a0, ref d1, vlen, len, s);
        Finish(o, (kk + 0) * ks + (nn + 2) * ns, s02, ref a0, ref d2, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 0) * ns, s10, ref a1, ref d0, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 1) * ns, s11, ref a1, ref d1, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 2) * ns, s12, ref a1, ref d2, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 0) * ns, s20, ref a2, ref d0, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 1) * ns, s21, ref a2, ref d1, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 2) * ns, s22, ref a2, ref d2, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 0) * ns, s30, ref a3, ref d0, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 1) * ns, s31, ref a3, ref d1, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 2) * ns, s32, ref a3, ref d2, vlen, len, s);
    }

    /// <summary>
    /// A 4 × 4 tile of dot products on 512-bit vectors (16 accumulators: AVX-512 has 32 registers), 8 loads per 16 FMAs;
    /// each output's sum runs as in <see cref="Reduce4x3"/>'s wide setting (512-bit lanes, folded, then the 256-bit
    /// rows and the same final sums), so the tile's shape does not change its bits.
    /// </summary>
    private static void Reduce4x4Wide(ref T a, int kk, int aStride, ref T d, int nn, int dStride, int vlen, int len, Span<T> o, int ks, int ns, T s)
    {
        int vl = VL, wl = Vector512<T>.Count, wlen = len - len % wl;
        ref T a0 = ref Unsafe.Add(ref a, kk * aStride);
        ref T a1 = ref Unsafe.Add(ref a0, aStride);
        ref T a2 = ref Unsafe.Add(ref a1, aStride);
        ref T a3 = ref Unsafe.Add(ref a2, aStride);
        ref T d0 = ref Unsafe.Add(ref d, nn * dStride);
        ref T d1 = ref Unsafe.Add(ref d0, dStride);
        ref T d2 = ref Unsafe.Add(ref d1, dStride);
        ref T d3 = ref Unsafe.Add(ref d2, dStride);
        Vector512<T> z00 = default, z01 = default, z02 = default, z03 = default, z10 = default, z11 = default, z12 = default, z13 = default;
        Vector512<T> z20 = default, z21 = default, z22 = default, z23 = default, z30 = default, z31 = default, z32 = default, z33 = default;
        int r = 0;
        for (; r < wlen; r += wl)
        {
            var x0 = Vector512.LoadUnsafe(ref d0, (nuint)r);
            var x1 = Vector512.LoadUnsafe(ref d1, (nuint)r);
            var x2 = Vector512.LoadUnsafe(ref d2, (nuint)r);
            var x3 = Vector512.LoadUnsafe(ref d3, (nuint)r);
            var y = Vector512.LoadUnsafe(ref a0, (nuint)r);
            z00 = Fma512(y, x0, z00); z01 = Fma512(y, x1, z01); z02 = Fma512(y, x2, z02); z03 = Fma512(y, x3, z03);
            y = Vector512.LoadUnsafe(ref a1, (nuint)r);
            z10 = Fma512(y, x0, z10); z11 = Fma512(y, x1, z11); z12 = Fma512(y, x2, z12); z13 = Fma512(y, x3, z13);
            y = Vector512.LoadUnsafe(ref a2, (nuint)r);
            z20 = Fma512(y, x0, z20); z21 = Fma512(y, x1, z21); z22 = Fma512(y, x2, z22); z23 = Fma512(y, x3, z23);
            y = Vector512.LoadUnsafe(ref a3, (nuint)r);
            z30 = Fma512(y, x0, z30); z31 = Fma512(y, x1, z31); z32 = Fma512(y, x2, z32); z33 = Fma512(y, x3, z33);
        }
        Vector<T> s00 = Fold(z00), s01 = Fold(z01), s02 = Fold(z02), s03 = Fold(z03), s10 = Fold(z10), s11 = Fold(z11), s12 = Fold(z12), s13 = Fold(z13);
        Vector<T> s20 = Fold(z20), s21 = Fold(z21), s22 = Fold(z22), s23 = Fold(z23), s30 = Fold(z30), s31 = Fold(z31), s32 = Fold(z32), s33 = Fold(z33);
        for (; r < vlen; r += vl)
        {
            var x0 = Vector.LoadUnsafe(ref d0, (nuint)r);
            var x1 = Vector.LoadUnsafe(ref d1, (nuint)r);
            var x2 = Vector.LoadUnsafe(ref d2, (nuint)r);
            var x3 = Vector.LoadUnsafe(ref d3, (nuint)r);
            var y = Vector.LoadUnsafe(ref a0, (nuint)r);
            s00 = SimdMath.Fma(y, x0, s00); s01 = SimdMath.Fma(y, x1, s01); s02 = SimdMath.Fma(y, x2, s02); s03 = SimdMath.Fma(y, x3, s03);
            y = Vector.LoadUnsafe(ref a1, (nuint)r);
            s10 = SimdMath.Fma(y, x0, s10); s11 = SimdMath.Fma(y, x1, s11); s12 = SimdMath.Fma(y, x2, s12); s13 = SimdMath.Fma(y, x3, s13);
            y = Vector.LoadUnsafe(ref a2, (nuint)r);
            s20 = SimdMath.Fma(y, x0, s20); s21 = SimdMath.Fma(y, x1, s21); s22 = SimdMath.Fma(y, x2, s22); s23 = SimdMath.Fma(y, x3, s23);
            y = Vector.LoadUnsafe(ref a3, (nuint)r);
            s30 = SimdMath.Fma(y, x0, s30); s31 = SimdMath.Fma(y, x1, s31); s32 = SimdMath.Fma(y, x2, s32); s33 = SimdMath.Fma(y, x3, s33);
        }
        if (ks == 1 && vlen == len)
        {
            ref T o0 = ref MemoryMarshal.GetReference(o);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 0) * ns), s00, s10, s20, s30, s);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 1) * ns), s01, s11, s21, s31, s);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 2) * ns), s02, s12, s22, s32, s);
            AddSums4(ref Unsafe.Add(ref o0, kk + (nn + 3) * ns), s03, s13, s23, s33, s);
            return;
        }
        Finish(o, (kk + 0) * ks + (nn + 0) * ns, s00, ref a0, ref d0, vlen, len, s);
        Finish(o, (kk + 0) * ks + (nn + 1) * ns, s01, ref a0, ref d1, vlen, len, s);
        Finish(o, (kk + 0) * ks + (nn + 2) * ns, s02, ref a0, ref d2, vlen, len, s);
        Finish(o, (kk + 0) * ks + (nn + 3) * ns, s03, ref a0, ref d3, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 0) * ns, s10, ref a1, ref d0, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 1) * ns, s11, ref a1, ref d1, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 2) * ns, s12, ref a1, ref d2, vlen, len, s);
        Finish(o, (kk + 1) * ks + (nn + 3) * ns, s13, ref a1, ref d3, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 0) * ns, s20, ref a2, ref d0, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 1) * ns, s21, ref a2, ref d1, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 2) * ns, s22, ref a2, ref d2, vlen, len, s);
        Finish(o, (kk + 2) * ks + (nn + 3) * ns, s23, ref a2, ref d3, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 0) * ns, s30, ref a3, ref d0, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 1) * ns, s31, ref a3, ref d1, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 2) * ns, s32, ref a3, ref d2, vlen, len, s);
        Finish(o, (kk + 3) * ks + (nn + 3) * ns, s33, ref a3, ref d3, vlen, len, s);
    }

    /// <summary>Four dot products against one D row (a matrix–vector output layer): two row vectors per step, 8 FMA chains.</summary>
    private static void Reduce4x1(ref T a, int kk, int aStride, ref T d, int nn, int dStride, int vlen, int len, Span<T> o, int ks, int ns, T s, bool wide)
    {
        int vl = VL;
        ref T a0 = ref Unsafe.Add(ref a, kk * aStride);
        ref T a1 = ref Unsafe.Add(ref a0, aStride);
        ref T a2 = ref Unsafe.Add(ref a1, aStride);
        ref T a3 = ref Unsafe.Add(ref a2, aStride);
        ref T d0 = ref Unsafe.Add(ref d, nn * dStride);
        Vector<T> s0 = default, s1 = default, s2 = default, s3 = default, t0 = default, t1 = default, t2 = default, t3 = default;
        int r = 0;
        if (wide)
        {
            int wl = Vector512<T>.Count, wlen = len - len % (2 * wl);
            Vector512<T> z0 = default, z1 = default, z2 = default, z3 = default, u0 = default, u1 = default, u2 = default, u3 = default;
            for (; r < wlen; r += 2 * wl)
            {
                var x = Vector512.LoadUnsafe(ref d0, (nuint)r);
                var y = Vector512.LoadUnsafe(ref d0, (nuint)(r + wl));
                z0 = Fma512(Vector512.LoadUnsafe(ref a0, (nuint)r), x, z0); u0 = Fma512(Vector512.LoadUnsafe(ref a0, (nuint)(r + wl)), y, u0);
                z1 = Fma512(Vector512.LoadUnsafe(ref a1, (nuint)r), x, z1); u1 = Fma512(Vector512.LoadUnsafe(ref a1, (nuint)(r + wl)), y, u1);
                z2 = Fma512(Vector512.LoadUnsafe(ref a2, (nuint)r), x, z2); u2 = Fma512(Vector512.LoadUnsafe(ref a2, (nuint)(r + wl)), y, u2);
                z3 = Fma512(Vector512.LoadUnsafe(ref a3, (nuint)r), x, z3); u3 = Fma512(Vector512.LoadUnsafe(ref a3, (nuint)(r + wl)), y, u3);
            }
            s0 = Fold(z0 + u0); s1 = Fold(z1 + u1); s2 = Fold(z2 + u2); s3 = Fold(z3 + u3);
        }
        for (; r + 2 * vl <= vlen; r += 2 * vl)
        {
            var x = Vector.LoadUnsafe(ref d0, (nuint)r);
            var y = Vector.LoadUnsafe(ref d0, (nuint)(r + vl));
            s0 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)r), x, s0); t0 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)(r + vl)), y, t0);
            s1 = SimdMath.Fma(Vector.LoadUnsafe(ref a1, (nuint)r), x, s1); t1 = SimdMath.Fma(Vector.LoadUnsafe(ref a1, (nuint)(r + vl)), y, t1);
            s2 = SimdMath.Fma(Vector.LoadUnsafe(ref a2, (nuint)r), x, s2); t2 = SimdMath.Fma(Vector.LoadUnsafe(ref a2, (nuint)(r + vl)), y, t2);
            s3 = SimdMath.Fma(Vector.LoadUnsafe(ref a3, (nuint)r), x, s3); t3 = SimdMath.Fma(Vector.LoadUnsafe(ref a3, (nuint)(r + vl)), y, t3);
        }
        if (r < vlen)
        {
            var x = Vector.LoadUnsafe(ref d0, (nuint)r);
            s0 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)r), x, s0);
            s1 = SimdMath.Fma(Vector.LoadUnsafe(ref a1, (nuint)r), x, s1);
            s2 = SimdMath.Fma(Vector.LoadUnsafe(ref a2, (nuint)r), x, s2);
            s3 = SimdMath.Fma(Vector.LoadUnsafe(ref a3, (nuint)r), x, s3);
        }
        Finish(o, (kk + 0) * ks + nn * ns, s0 + t0, ref a0, ref d0, vlen, len, s);
        Finish(o, (kk + 1) * ks + nn * ns, s1 + t1, ref a1, ref d0, vlen, len, s);
        Finish(o, (kk + 2) * ks + nn * ns, s2 + t2, ref a2, ref d0, vlen, len, s);
        Finish(o, (kk + 3) * ks + nn * ns, s3 + t3, ref a3, ref d0, vlen, len, s);
    }

    private static void Reduce1x3(ref T a, int kk, int aStride, ref T d, int nn, int dStride, int vlen, int len, Span<T> o, int ks, int ns, T s)
    {
        int vl = VL;
        ref T a0 = ref Unsafe.Add(ref a, kk * aStride);
        ref T d0 = ref Unsafe.Add(ref d, nn * dStride);
        ref T d1 = ref Unsafe.Add(ref d0, dStride);
        ref T d2 = ref Unsafe.Add(ref d1, dStride);
        Vector<T> s0 = default, s1 = default, s2 = default;
        for (int r = 0; r < vlen; r += vl)
        {
            var y = Vector.LoadUnsafe(ref a0, (nuint)r);
            s0 = SimdMath.Fma(y, Vector.LoadUnsafe(ref d0, (nuint)r), s0);
            s1 = SimdMath.Fma(y, Vector.LoadUnsafe(ref d1, (nuint)r), s1);
            s2 = SimdMath.Fma(y, Vector.LoadUnsafe(ref d2, (nuint)r), s2);
        }
        Finish(o, kk * ks + (nn + 0) * ns, s0, ref a0, ref d0, vlen, len, s);
        Finish(o, kk * ks + (nn + 1) * ns, s1, ref a0, ref d1, vlen, len, s);
        Finish(o, kk * ks + (nn + 2) * ns, s2, ref a0, ref d2, vlen, len, s);
    }

    private static void Reduce1x1(ref T a, int kk, int aStride, ref T d, int nn, int dStride, int vlen, int len, Span<T> o, int ks, int ns, T s)
    {
        int vl = VL;
        ref T a0 = ref Unsafe.Add(ref a, kk * aStride);
        ref T d0 = ref Unsafe.Add(ref d, nn * dStride);
        // Two accumulators hide the FMA latency of a lone dot product.
        Vector<T> s0 = default, s1 = default;
        int r = 0;
        for (; r + 2 * vl <= vlen; r += 2 * vl)
        {
            s0 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)r), Vector.LoadUnsafe(ref d0, (nuint)r), s0);
            s1 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)(r + vl)), Vector.LoadUnsafe(ref d0, (nuint)(r + vl)), s1);
        }
        if (r < vlen) s0 = SimdMath.Fma(Vector.LoadUnsafe(ref a0, (nuint)r), Vector.LoadUnsafe(ref d0, (nuint)r), s0);
        Finish(o, kk * ks + nn * ns, s0 + s1, ref a0, ref d0, vlen, len, s);
    }

    /// <summary>The two 256-bit halves of a 512-bit accumulator added into one (<see cref="Vector{T}"/> is 256 bits wide where this runs).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static Vector<T> Fold(Vector512<T> z) => (z.GetLower() + z.GetUpper()).AsVector();

    /// <summary>o[q] += s·(Σ lanes of a_q) for q = 0…3 (consecutive outputs): on 256-bit vectors the four sums come out
    /// of one transposing horizontal add (AVX <c>vhadd</c> + a 128-bit lane swap), in a fixed order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void AddSums4(ref T o, Vector<T> a0, Vector<T> a1, Vector<T> a2, Vector<T> a3, T s)
    {
        if (Avx.IsSupported && Vector<T>.Count * Unsafe.SizeOf<T>() == 32)
        {
            if (typeof(T) == typeof(double))
            {
                var t0 = Avx.HorizontalAdd(a0.AsVector256().AsDouble(), a1.AsVector256().AsDouble());
                var t1 = Avx.HorizontalAdd(a2.AsVector256().AsDouble(), a3.AsVector256().AsDouble());
                var sum = Avx.Permute2x128(t0, t1, 0x20) + Avx.Permute2x128(t0, t1, 0x31);
                var dst = Vector256.LoadUnsafe(ref Unsafe.As<T, double>(ref o));
                Vector256.FusedMultiplyAdd(sum, Vector256.Create(double.CreateTruncating(s)), dst).StoreUnsafe(ref Unsafe.As<T, double>(ref o));
                return;
            }
            if (typeof(T) == typeof(float))
            {
                var t0 = Avx.HorizontalAdd(a0.AsVector256().AsSingle(), a1.AsVector256().AsSingle());
                var t1 = Avx.HorizontalAdd(a2.AsVector256().AsSingle(), a3.AsVector256().AsSingle());
                var u = Avx.HorizontalAdd(t0, t1);
                var sum = u.GetLower() + u.GetUpper();
                var dst = Vector128.LoadUnsafe(ref Unsafe.As<T, float>(ref o));
                Vector128.FusedMultiplyAdd(sum, Vector128.Create(float.CreateTruncating(s)), dst).StoreUnsafe(ref Unsafe.As<T, float>(ref o));
                return;
            }
        }
        o = T.FusedMultiplyAdd(s, Vector.Sum(a0), o);
        Unsafe.Add(ref o, 1) = T.FusedMultiplyAdd(s, Vector.Sum(a1), Unsafe.Add(ref o, 1));
        Unsafe.Add(ref o, 2) = T.FusedMultiplyAdd(s, Vector.Sum(a2), Unsafe.Add(ref o, 2));
        Unsafe.Add(ref o, 3) = T.FusedMultiplyAdd(s, Vector.Sum(a3), Unsafe.Add(ref o, 3));
    }

    /// <summary>o[at] += s·(Σ lanes of acc + the scalar tail rows [vlen, len)).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static void Finish(Span<T> o, int at, Vector<T> acc, ref T a, ref T d, int vlen, int len, T s)
    {
        T sum = Vector.Sum(acc);
        for (int r = vlen; r < len; r++) sum = T.FusedMultiplyAdd(Unsafe.Add(ref a, r), Unsafe.Add(ref d, r), sum);
        o[at] += s * sum;
    }

    /// <summary>Σ_{r &lt; len} x[r], vectorised in a fixed order.</summary>
    public static T Sum(ReadOnlySpan<T> x)
    {
        ref T xr = ref MemoryMarshal.GetReference(x);
        int vl = VL, r = 0, len = x.Length;
        Vector<T> s0 = default, s1 = default;
        for (; r + 2 * vl <= len; r += 2 * vl)
        {
            s0 += Vector.LoadUnsafe(ref xr, (nuint)r);
            s1 += Vector.LoadUnsafe(ref xr, (nuint)(r + vl));
        }
        if (r + vl <= len) { s0 += Vector.LoadUnsafe(ref xr, (nuint)r); r += vl; }
        T sum = Vector.Sum(s0 + s1);
        for (; r < len; r++) sum += x[r];
        return sum;
    }

    /// <summary>x ← x ⊙ y elementwise.</summary>
    public static void MultiplyInPlace(Span<T> x, ReadOnlySpan<T> y)
    {
        ref T xr = ref MemoryMarshal.GetReference(x);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int vl = VL, r = 0, len = x.Length;
        for (; r + vl <= len; r += vl)
            (Vector.LoadUnsafe(ref xr, (nuint)r) * Vector.LoadUnsafe(ref yr, (nuint)r)).StoreUnsafe(ref xr, (nuint)r);
        for (; r < len; r++) x[r] *= y[r];
    }

    /// <summary>dz ← dz ⊙ d (the reverse step through an activation), returning Σ dz in <see cref="Sum"/>'s order: one pass for the bias gradient too.</summary>
    public static T MultiplyAndSum(Span<T> dz, ReadOnlySpan<T> d)
    {
        ref T zr = ref MemoryMarshal.GetReference(dz);
        ref T dr = ref MemoryMarshal.GetReference(d);
        int vl = VL, r = 0, len = dz.Length;
        Vector<T> s0 = default, s1 = default;
        for (; r + 2 * vl <= len; r += 2 * vl)
        {
            var z0 = Vector.LoadUnsafe(ref zr, (nuint)r) * Vector.LoadUnsafe(ref dr, (nuint)r);
            var z1 = Vector.LoadUnsafe(ref zr, (nuint)(r + vl)) * Vector.LoadUnsafe(ref dr, (nuint)(r + vl));
            z0.StoreUnsafe(ref zr, (nuint)r);
            z1.StoreUnsafe(ref zr, (nuint)(r + vl));
            s0 += z0;
            s1 += z1;
        }
        if (r + vl <= len)
        {
            var z0 = Vector.LoadUnsafe(ref zr, (nuint)r) * Vector.LoadUnsafe(ref dr, (nuint)r);
            z0.StoreUnsafe(ref zr, (nuint)r);
            s0 += z0;
            r += vl;
        }
        T sum = Vector.Sum(s0 + s1);
        for (; r < len; r++)
        {
            dz[r] *= d[r];
            sum += dz[r];
        }
        return sum;
    }

    /// <summary>dz ← (y &gt; 0 ? dz : 0), the reverse step through a ReLU read from its output y, returning Σ dz in <see cref="Sum"/>'s order.</summary>
    public static T ReluMaskAndSum(Span<T> dz, ReadOnlySpan<T> y)
    {
        ref T zr = ref MemoryMarshal.GetReference(dz);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int vl = VL, r = 0, len = dz.Length;
        Vector<T> s0 = default, s1 = default;
        for (; r + 2 * vl <= len; r += 2 * vl)
        {
            var z0 = Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref yr, (nuint)r), Vector<T>.Zero), Vector.LoadUnsafe(ref zr, (nuint)r), Vector<T>.Zero);
            var z1 = Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref yr, (nuint)(r + vl)), Vector<T>.Zero), Vector.LoadUnsafe(ref zr, (nuint)(r + vl)), Vector<T>.Zero);
            z0.StoreUnsafe(ref zr, (nuint)r);
            z1.StoreUnsafe(ref zr, (nuint)(r + vl));
            s0 += z0;
            s1 += z1;
        }
        if (r + vl <= len)
        {
            var z0 = Vector.ConditionalSelect(Vector.GreaterThan(Vector.LoadUnsafe(ref yr, (nuint)r), Vector<T>.Zero), Vector.LoadUnsafe(ref zr, (nuint)r), Vector<T>.Zero);
            z0.StoreUnsafe(ref zr, (nuint)r);
            s0 += z0;
            r += vl;
        }
        T sum = Vector.Sum(s0 + s1);
        for (; r < len; r++)
        {
            if (!(y[r] > T.Zero)) dz[r] = T.Zero;
            sum += dz[r];
        }
        return sum;
    }

    /// <summary>dz ← dz ⊙ (1 − y²), the reverse step through tanh read from its output y, returning Σ dz in <see cref="Sum"/>'s order.</summary>
    public static T TanhDerivativeAndSum(Span<T> dz, ReadOnlySpan<T> y)
    {
        ref T zr = ref MemoryMarshal.GetReference(dz);
        ref T yr = ref MemoryMarshal.GetReference(y);
        int vl = VL, r = 0, len = dz.Length;
        Vector<T> s0 = default, s1 = default;
        for (; r + 2 * vl <= len; r += 2 * vl)
        {
            var y0 = Vector.LoadUnsafe(ref yr, (nuint)r);
            var y1 = Vector.LoadUnsafe(ref yr, (nuint)(r + vl));
            var z0 = Vector.LoadUnsafe(ref zr, (nuint)r) * (Vector<T>.One - y0 * y0);
            var z1 = Vector.LoadUnsafe(ref zr, (nuint)(r + vl)) * (Vector<T>.One - y1 * y1);
            z0.StoreUnsafe(ref zr, (nuint)r);
            z1.StoreUnsafe(ref zr, (nuint)(r + vl));
            s0 += z0;
            s1 += z1;
        }
        if (r + vl <= len)
        {
            var y0 = Vector.LoadUnsafe(ref yr, (nuint)r);
            var z0 = Vector.LoadUnsafe(ref zr, (nuint)r) * (Vector<T>.One - y0 * y0);
            z0.StoreUnsafe(ref zr, (nuint)r);
            s0 += z0;
            r += vl;
        }
        T sum = Vector.Sum(s0 + s1);
        for (; r < len; r++)
        {
            dz[r] *= T.One - y[r] * y[r];
            sum += dz[r];
        }
        return sum;
    }
}
