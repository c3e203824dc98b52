using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The compiled backend's fast paths against plain references: the fused softplus/sigmoid (own exp and log1p),
/// the register-blocked matrix kernels at every tile and tail shape, and the evaluation in row blocks.
/// </summary>
public class CompiledPerfKernelTests(Xunit.Abstractions.ITestOutputHelper output)
{
    /// <summary>log1p(y) to a few ulps without cancellation (Goldberg 1991, Theorem 4): log(1+y)·y/((1+y)−1).</summary>
    private static double Log1P(double y)
    {
        double u = 1 + y;
        return u == 1 ? y : Math.Log(u) * y / (u - 1);
    }

    private static double[] SoftplusGrid()
    {
        var xs = new List<double> { 0, -0.0, 1e-300, -1e-300, 1e-17, -1e-17, 0.3465, -0.3466, 0.881373587, -0.881373587, 36, -36, 37.5, -37.5,
            -700, -707.9, -708.5, -720, -745.2, -800, 700, 800, double.PositiveInfinity, double.NegativeInfinity };
        for (double x = -60; x <= 60; x += 0.0137) xs.Add(x);
        var rng = new Random(5);
        for (int i = 0; i < 2000; i++) xs.Add(Math.Exp(8 * rng.NextDouble() - 6) * (rng.Next(2) == 0 ? -1 : 1));
        xs.Add(1.5); // an odd length, so the tail path runs
        return xs.ToArray();
    }

    [Fact]
    public void SoftplusAndSigmoidAreAccurateToAFewUlpsIncludingTailsAndExtremes()
    {
        var x = SoftplusGrid();
        Assert.NotEqual(0, x.Length % System.Numerics.Vector<double>.Count);
        var y = new double[x.Length];
        var d = new double[x.Length];
        SimdMath.Softplus(x, y, d, true);
        double worstY = 0, worstD = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double e = Math.Exp(-Math.Abs(x[i]));
            double refY = Math.Max(x[i], 0) + Log1P(e);
            double refD = x[i] >= 0 ? 1 / (1 + e) : e / (1 + e);
            if (refY < 1e-300)
            {
                // Below e^−708 the result is taken as 0 (absolute error < 3.4e−308).
                Assert.True(Math.Abs(y[i] - refY) < 1e-300 && Math.Abs(d[i] - refD) < 1e-300, $"x = {x[i]:R}: {y[i]:R}, {d[i]:R}");
                continue;
            }
            if (double.IsInfinity(refY))
            {
                Assert.Equal(refY, y[i]);
                Assert.Equal(refD, d[i]);
                continue;
            }
            double ey = Math.Abs(y[i] - refY) / refY, ed = Math.Abs(d[i] - refD) / refD;
            worstY = Math.Max(worstY, ey);
            worstD = Math.Max(worstD, ed);
            Assert.True(ey <= 1e-15, $"softplus({x[i]:R}) = {y[i]:R}, reference {refY:R}");
            Assert.True(ed <= 1e-15, $"sigmoid({x[i]:R}) = {d[i]:R}, reference {refD:R}");
        }
        Assert.True(worstY > 0 || worstD > 0, "the comparison ran");
        output.WriteLine($"softplus: max relative error {worstY:E2}, sigmoid {worstD:E2} over {x.Length} points");

        // NaN propagates; in place (x and y the same span) gives the same values; without the derivative nothing is written to it.
        var nan = new[] { double.NaN, 1.0, -2.0 };
        var ny = new double[3];
        SimdMath.Softplus(nan, ny, new double[3], true);
        Assert.True(double.IsNaN(ny[0]));
        var inPlace = (double[])x.Clone();
        var untouched = new double[x.Length];
        SimdMath.Softplus(inPlace, inPlace, untouched, false);
        Assert.Equal(y, inPlace);
        Assert.All(untouched, v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Float32SoftplusIsAccurateToFloatPrecision()
    {
        var xd = SoftplusGrid().Where(v => Math.Abs(v) < 80).ToArray();
        var x = xd.Select(v => (float)v).ToArray();
        var y = new float[x.Length];
        var d = new float[x.Length];
        SimdMath.Softplus(x, y, d, true);
        for (int i = 0; i < x.Length; i++)
        {
            double xi = x[i], e = Math.Exp(-Math.Abs(xi));
            double refY = Math.Max(xi, 0) + Log1P(e), refD = xi >= 0 ? 1 / (1 + e) : e / (1 + e);
            Assert.True(Math.Abs(y[i] - refY) <= 4e-7 * refY, $"softplus({xi:R}) = {y[i]:R}, reference {refY:R}");
            Assert.True(Math.Abs(d[i] - refD) <= 4e-7 * refD, $"sigmoid({xi:R}) = {d[i]:R}, reference {refD:R}");
        }
    }

    /// <summary>
    /// float32 tanh against <see cref="Math.Tanh"/> in double: within 4·10⁻⁷ relative (a few float ulps) on a dense
    /// grid, random magnitudes from 10⁻⁸ to 100 and the extremes; ±0 and the sign kept, ±∞ → ±1, NaN kept.
    /// </summary>
    [Fact]
    public void Float32TanhIsAccurateToFloatPrecision()
    {
        var xs = new List<float> { 0f, -0f, 1e-38f, -1e-30f, 1e-8f, -3e-5f, 0.17f, -0.1733f, 0.3466f, 0.5f, -0.625f, 1f, 5f, -8.9f, 9.2f, 10.5f, -40f, 1e30f,
            float.PositiveInfinity, float.NegativeInfinity, float.NaN };
        for (float v = -12; v <= 12; v += 0.00319f) xs.Add(v);
        var rng = new Random(19);
        for (int i = 0; i < 4000; i++) xs.Add((float)(Math.Exp(23 * rng.NextDouble() - 18) * (rng.Next(2) == 0 ? -1 : 1)));
        xs.Add(0.25f); // an odd length, so the tail path runs
        var x = xs.ToArray();
        var y = new float[x.Length];
        SimdMath.Tanh(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Tanh(x[i]);
            if (double.IsNaN(expected)) { Assert.True(float.IsNaN(y[i]), $"tanh(NaN) = {y[i]:R}"); continue; }
            Assert.Equal(double.IsNegative(expected), float.IsNegative(y[i]));
            Assert.True(Math.Abs(y[i] - expected) <= 4e-7 * Math.Abs(expected), $"tanh({x[i]:R}) = {y[i]:R}, reference {expected:R}");
            if (expected != 0) worst = Math.Max(worst, Math.Abs(y[i] - expected) / Math.Abs(expected));
        }
        output.WriteLine($"float32 tanh: max relative error {worst:E2} over {x.Length} points");
    }

    /// <summary>The float32 kernels run whole arrays on 512-bit vectors where AVX-512 is accelerated and single elements
    /// on the 256-bit path: both give the same bits for every element.</summary>
    [Fact]
    public void Float32KernelsGiveTheSameBitsOnEveryVectorWidth()
    {
        var x = SoftplusGrid().Where(v => !double.IsNaN(v)).Select(v => (float)v).ToArray();
        var y = new float[x.Length];
        var d = new float[x.Length];
        var t = new float[x.Length];
        SimdMath.Softplus(x, y, d, true);
        SimdMath.Tanh(x, t);
        var one = new float[1];
        var oneD = new float[1];
        for (int i = 0; i < x.Length; i++)
        {
            SimdMath.Softplus(x.AsSpan(i, 1), one, oneD, true);
            Assert.Equal(BitConverter.SingleToInt32Bits(one[0]), BitConverter.SingleToInt32Bits(y[i]));
            Assert.Equal(BitConverter.SingleToInt32Bits(oneD[0]), BitConverter.SingleToInt32Bits(d[i]));
            SimdMath.Tanh(x.AsSpan(i, 1), one);
            Assert.Equal(BitConverter.SingleToInt32Bits(one[0]), BitConverter.SingleToInt32Bits(t[i]));
        }
    }

    [Fact]
    public void Float64TanhIsAccurateToAFewUlpsIncludingZeroInfinitiesAndNaN()
    {
        var xs = new List<double> { 0, -0.0, 1e-300, -1e-300, 1e-17, -1e-8, 0.17, -0.1733, 0.3466, 0.5, -0.625, 1, 5, -19.9, 20.1, 40, -700,
            double.PositiveInfinity, double.NegativeInfinity, double.NaN };
        for (double v = -25; v <= 25; v += 0.00731) xs.Add(v);
        var rng = new Random(9);
        for (int i = 0; i < 4000; i++) xs.Add(Math.Exp(20 * rng.NextDouble() - 18) * (rng.Next(2) == 0 ? -1 : 1));
        xs.Add(0.25); // an odd length, so the tail path runs
        var x = xs.ToArray();
        var y = new double[x.Length];
        SimdMath.Tanh(x, y);
        double worst = 0;
        for (int i = 0; i < x.Length; i++)
        {
            double expected = Math.Tanh(x[i]);
            if (double.IsNaN(expected)) { Assert.True(double.IsNaN(y[i]), $"tanh(NaN) = {y[i]:R}"); continue; }
            Assert.Equal(double.IsNegative(expected), double.IsNegative(y[i]));
            Assert.True(Math.Abs(y[i] - expected) <= 1e-15 * Math.Abs(expected), $"tanh({x[i]:R}) = {y[i]:R}, reference {expected:R}");
            if (expected != 0) worst = Math.Max(worst, Math.Abs(y[i] - expected) / Math.Abs(expected));
        }
        output.WriteLine($"tanh: max relative error {worst:E2} over {x.Length} points");
    }

    /// <summary>
    /// The categorical likelihood's e^a (a ≤ 0) against <see cref="Math.Exp"/> on a dense grid over [−745, 0], random
    /// points near 0 and the extremes: within 1e−15 relative wherever e^a ≥ 1e−300 (the worst measured: about 2.3e−16,
    /// one ulp), 0 below −708 (absolute error &lt; 3.4e−308), 0 at −∞, NaN kept.
    /// </summary>
    [Fact]
    public void Float64ExpOfNonPositiveArgumentsIsAccurateToAnUlpOrSo()
    {
        var xs = new List<double> { 0, -0.0, -1e-300, -1e-17, -0.34657359, -0.34657360, -1, -36.7, -700, -707.99, -708, -708.3, -745.1, -800 };
        for (double a = -745; a <= 0; a += 0.00371) xs.Add(a);
        var rng = new Random(13);
        for (int i = 0; i < 20000; i++) xs.Add(-Math.Exp(24 * rng.NextDouble() - 18));
        int vl = System.Numerics.Vector<double>.Count;
        while (xs.Count % vl != 0) xs.Add(-0.5);
        double worst = 0;
        for (int i = 0; i < xs.Count; i += vl)
        {
            var e = SimdMath.ExpNonPositive(new System.Numerics.Vector<double>(xs.ToArray(), i));
            for (int l = 0; l < vl; l++)
            {
                double a = xs[i + l], expected = Math.Exp(a);
                if (expected < 1e-300) { Assert.True(Math.Abs(e[l] - expected) < 3.4e-308, $"exp({a:R}) = {e[l]:R}"); continue; }
                double rel = Math.Abs(e[l] - expected) / expected;
                worst = Math.Max(worst, rel);
                Assert.True(rel <= 1e-15, $"exp({a:R}) = {e[l]:R}, reference {expected:R}");
            }
        }
        var special = SimdMath.ExpNonPositive(new System.Numerics.Vector<double>(double.NegativeInfinity));
        Assert.Equal(0.0, special[0]);
        Assert.True(double.IsNaN(SimdMath.ExpNonPositive(new System.Numerics.Vector<double>(double.NaN))[0]));
        output.WriteLine($"exp: max relative error {worst:E2} over {xs.Count} points");
    }

    /// <summary>
    /// The categorical likelihood's log Σ e^(z − max) (argument ≥ 1) against <see cref="Math.Log"/>: a dense grid over
    /// [1, 4096], exact powers of two and their neighbours, √2's neighbourhood (where the reduction switches), values a
    /// few ulps above 1, and large arguments; within 2 ulps (the worst measured
    /// is printed), NaN kept; the 512-bit twin gives the same bits.
    /// </summary>
    [Fact]
    public void Float64LogOfArgumentsAtLeastOneIsAccurateToAnUlpOrSo()
    {
        var xs = new List<double> { 1, Math.BitIncrement(1.0), 1 + 1e-15, 1.0000001, Math.Sqrt(2), Math.BitDecrement(Math.Sqrt(2)), Math.BitIncrement(Math.Sqrt(2)),
            2, Math.BitDecrement(2.0), Math.BitIncrement(2.0), 10, 1e10, 1e300, double.MaxValue };
        for (double x = 1; x <= 4096; x += 0.00719) xs.Add(x);
        for (int e = 0; e < 60; e++) { xs.Add(Math.ScaleB(1, e)); xs.Add(Math.ScaleB(Math.Sqrt(2), e)); }
        var rng = new Random(17);
        for (int i = 0; i < 20000; i++) xs.Add(1 + Math.Exp(30 * rng.NextDouble() - 35));
        while (xs.Count % 8 != 0) xs.Add(3.0);
        var arr = xs.ToArray();
        double worst = 0;
        int vl = System.Numerics.Vector<double>.Count;
        for (int i = 0; i < arr.Length; i += vl)
        {
            var y = SimdMath.LogAtLeastOne(new System.Numerics.Vector<double>(arr, i));
            for (int l = 0; l < vl; l++)
            {
                double x = arr[i + l], expected = Math.Log(x);
                double ulps = Math.Abs(y[l] - expected) / Math.Max(Math.BitIncrement(Math.Abs(expected)) - Math.Abs(expected), double.Epsilon);
                if (expected == 0) Assert.Equal(0.0, y[l]);
                else
                {
                    worst = Math.Max(worst, ulps);
                    Assert.True(ulps <= 2, $"log({x:R}) = {y[l]:R}, reference {expected:R} ({ulps:F2} ulps)");
                }
            }
            if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated || i % 8 != 0) continue;
            var wide = SimdMath.LogAtLeastOne512(System.Runtime.Intrinsics.Vector512.Create(arr, i));
            for (int l = 0; l < 8; l++)
                Assert.Equal(BitConverter.DoubleToInt64Bits(SimdMath.LogAtLeastOne(new System.Numerics.Vector<double>(arr[i + l]))[0]), BitConverter.DoubleToInt64Bits(wide[l]));
        }
        Assert.True(double.IsNaN(SimdMath.LogAtLeastOne(new System.Numerics.Vector<double>(double.NaN))[0]));
        output.WriteLine($"log: max error {worst:F2} ulps over {arr.Length} points");
    }

    /// <summary>
    /// Where AVX-512 is available the float64 kernels run whole arrays on 512-bit vectors and their last elements on
    /// 256-bit ones: both widths must round every element the same way (one element at a time always takes the
    /// narrower path), so results do not depend on the position of an element in its array nor on the machine's width.
    /// </summary>
    [Fact]
    public void Float64KernelsGiveTheSameBitsOnEveryVectorWidth()
    {
        var x = SoftplusGrid().Where(v => !double.IsNaN(v)).ToArray();
        var y = new double[x.Length];
        var d = new double[x.Length];
        SimdMath.Softplus(x, y, d, true);
        var t = new double[x.Length];
        SimdMath.Tanh(x, t);
        var one = new double[1];
        var oneD = new double[1];
        for (int i = 0; i < x.Length; i++)
        {
            SimdMath.Softplus(x.AsSpan(i, 1), one, oneD, true);
            Assert.Equal(BitConverter.DoubleToInt64Bits(one[0]), BitConverter.DoubleToInt64Bits(y[i]));
            Assert.Equal(BitConverter.DoubleToInt64Bits(oneD[0]), BitConverter.DoubleToInt64Bits(d[i]));
            SimdMath.Tanh(x.AsSpan(i, 1), one);
            Assert.Equal(BitConverter.DoubleToInt64Bits(one[0]), BitConverter.DoubleToInt64Bits(t[i]));
        }
        if (!System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) return;
        var a = x.Select(v => -Math.Abs(v)).ToArray();
        int vl = System.Numerics.Vector<double>.Count;
        for (int i = 0; i + 8 <= a.Length; i += 8)
        {
            var wide = SimdMath.ExpNonPositive512(System.Runtime.Intrinsics.Vector512.Create(a, i));
            for (int j = 0; j < 8; j += vl)
            {
                var narrow = SimdMath.ExpNonPositive(new System.Numerics.Vector<double>(a, i + j));
                for (int l = 0; l < vl; l++)
                    Assert.Equal(BitConverter.DoubleToInt64Bits(narrow[l]), BitConverter.DoubleToInt64Bits(wide[j + l]));
            }
        }
    }

    [Fact]
    public void RowKernelMatchesPlainLoopsForEveryTileAndTailShape()
    {
        var rng = new Random(11);
        foreach (int j in new[] { 1, 2, 5, 9 })
            foreach (int m in new[] { 1, 3, 4, 5, 8, 11 })
                foreach (int len in new[] { 1, 3, 4, 7, 12, 13, 25, 40, 70 })
                    foreach (bool accumulate in new[] { false, true })
                    foreach (bool relu in new[] { false, true })
                    {
                        int xStride = len + 3, oStride = len + 2;
                        var c = Enumerable.Range(0, j * m).Select(_ => Normal(rng)).ToArray();
                        var x = Enumerable.Range(0, j * xStride).Select(_ => Normal(rng)).ToArray();
                        var init = Enumerable.Range(0, m).Select(_ => Normal(rng)).ToArray();
                        var o = Enumerable.Range(0, m * oStride).Select(_ => Normal(rng)).ToArray();
                        var expected = (double[])o.Clone();
                        for (int mm = 0; mm < m; mm++)
                            for (int r = 0; r < len; r++)
                            {
                                double s = accumulate ? o[mm * oStride + r] : init[mm];
                                for (int jj = 0; jj < j; jj++) s += c[jj * m + mm] * x[jj * xStride + r];
                                expected[mm * oStride + r] = relu ? Math.Max(s, 0) : s;
                            }
                        Gemm<double>.Rows(c, j, m, x, xStride, o, oStride, len, accumulate ? default : init, relu);
                        for (int i = 0; i < o.Length; i++)
                            Assert.True(Math.Abs(o[i] - expected[i]) <= 1e-13 * (1 + Math.Abs(expected[i])), $"J={j} M={m} len={len} acc={accumulate} relu={relu} at {i}: {o[i]:R} vs {expected[i]:R}");

                        // float32: the same shapes with 8-wide vectors.
                        var of = o.Select(v => (float)v).ToArray();
                        var expf = (double[])of.Select(v => (double)v).ToArray();
                        var cf = c.Select(v => (float)v).ToArray();
                        var xf = x.Select(v => (float)v).ToArray();
                        var initf = init.Select(v => (float)v).ToArray();
                        for (int mm = 0; mm < m; mm++)
                            for (int r = 0; r < len; r++)
                            {
                                double s = accumulate ? of[mm * oStride + r] : initf[mm];
                                for (int jj = 0; jj < j; jj++) s += (double)cf[jj * m + mm] * xf[jj * xStride + r];
                                expf[mm * oStride + r] = relu ? Math.Max(s, 0) : s;
                            }
                        Gemm<float>.Rows(cf, j, m, xf, xStride, of, oStride, len, accumulate ? default : initf, relu);
                        for (int i = 0; i < of.Length; i++)
                            Assert.True(Math.Abs(of[i] - expf[i]) <= 1e-5 * (1 + Math.Abs(expf[i])), $"float J={j} M={m} len={len} at {i}");
                    }
    }

    [Fact]
    public void ReduceKernelMatchesPlainLoopsForEveryTileAndTailShape()
    {
        var rng = new Random(12);
        foreach (int k in new[] { 1, 3, 4, 5, 9 })
            foreach (int n in new[] { 1, 2, 3, 4, 7 })
                foreach (int len in new[] { 1, 3, 4, 8, 9, 17, 40 })
                {
                    int aStride = len + 1, dStride = len + 5, ks = n + 1, ns = 1;
                    var a = Enumerable.Range(0, k * aStride).Select(_ => Normal(rng)).ToArray();
                    var d = Enumerable.Range(0, n * dStride).Select(_ => Normal(rng)).ToArray();
                    var o = Enumerable.Range(0, k * ks).Select(_ => Normal(rng)).ToArray();
                    var expected = (double[])o.Clone();
                    for (int kk = 0; kk < k; kk++)
                        for (int nn = 0; nn < n; nn++)
                        {
                            double s = 0;
                            for (int r = 0; r < len; r++) s += a[kk * aStride + r] * d[nn * dStride + r];
                            expected[kk * ks + nn * ns] += 0.5 * s;
                        }
                    Gemm<double>.Reduce(a, k, aStride, d, n, dStride, len, o, ks, ns, 0.5);
                    for (int i = 0; i < o.Length; i++)
                        Assert.True(Math.Abs(o[i] - expected[i]) <= 1e-13 * (1 + Math.Abs(expected[i])), $"K={k} N={n} len={len} at {i}: {o[i]:R} vs {expected[i]:R}");
                }
    }

    /// <summary>
    /// The row kernel's 512-bit tiles (run first where AVX-512 is accelerated) give the same bits as the 256-bit tiles
    /// alone, in both precisions, for every tile shape (4 × 3, 2 × 3, 1 × 3, the matrix–vector 1 × 8) and tail: each
    /// output element is one chain of fused multiply–adds in a fixed order whatever computes it.
    /// </summary>
    [Fact]
    public void RowKernelGivesTheSameBitsWithAndWithout512BitTiles()
    {
        var rng = new Random(13);
        foreach (int j in new[] { 1, 3, 16, 64 })
            foreach (int m in new[] { 1, 2, 3, 5, 10, 16 })
                foreach (int len in new[] { 7, 24, 48, 93, 150, 192 })
                    foreach (bool accumulate in new[] { false, true })
                        foreach (bool relu in new[] { false, true })
                        {
                            int xStride = len + 5, oStride = len + 3;
                            var c = Enumerable.Range(0, j * m).Select(_ => Normal(rng)).ToArray();
                            var x = Enumerable.Range(0, j * xStride).Select(_ => Normal(rng)).ToArray();
                            var init = Enumerable.Range(0, m).Select(_ => Normal(rng)).ToArray();
                            var o = Enumerable.Range(0, m * oStride).Select(_ => Normal(rng)).ToArray();
                            var narrow = (double[])o.Clone();
                            var wide = (double[])o.Clone();
                            Gemm<double>.RowsWith(c, j, m, x, xStride, narrow, oStride, len, accumulate ? default : init, relu, wide: false);
                            Gemm<double>.RowsWith(c, j, m, x, xStride, wide, oStride, len, accumulate ? default : init, relu, wide: true);
                            for (int i = 0; i < o.Length; i++)
                                Assert.True(BitConverter.DoubleToInt64Bits(narrow[i]) == BitConverter.DoubleToInt64Bits(wide[i]), $"J={j} M={m} len={len} at {i}");

                            var cf = c.Select(v => (float)v).ToArray();
                            var xf = x.Select(v => (float)v).ToArray();
                            var initf = init.Select(v => (float)v).ToArray();
                            var narrowf = o.Select(v => (float)v).ToArray();
                            var widef = (float[])narrowf.Clone();
                            Gemm<float>.RowsWith(cf, j, m, xf, xStride, narrowf, oStride, len, accumulate ? default : initf, relu, wide: false);
                            Gemm<float>.RowsWith(cf, j, m, xf, xStride, widef, oStride, len, accumulate ? default : initf, relu, wide: true);
                            for (int i = 0; i < o.Length; i++)
                                Assert.True(BitConverter.SingleToInt32Bits(narrowf[i]) == BitConverter.SingleToInt32Bits(widef[i]), $"float J={j} M={m} len={len} at {i}");
                        }
    }

    /// <summary>
    /// The weight-gradient kernel with and without its 512-bit loops, against plain loops: the layer's layouts
    /// (consecutive outputs, ks = 1, where four sums come out of one transposing add; and strided outputs), the
    /// ladder's shapes and block lengths. The two settings sum in different fixed orders, so they agree to rounding.
    /// </summary>
    [Fact]
    public void ReduceKernelWithAndWithout512BitLoopsMatchesPlainLoops()
    {
        var rng = new Random(14);
        foreach (var (k, n) in new[] { (64, 16), (16, 10), (13, 50), (50, 1), (5, 7), (4, 3) })
            foreach (int len in new[] { 5, 16, 24, 93, 192 })
                foreach (bool consecutive in new[] { true, false })
                    foreach (bool wide in new[] { false, true })
                    {
                        int aStride = len + 1, dStride = len + 3;
                        int ks = consecutive ? 1 : n + 1, ns = consecutive ? k : 1;
                        var a = Enumerable.Range(0, k * aStride).Select(_ => Normal(rng)).ToArray();
                        var d = Enumerable.Range(0, n * dStride).Select(_ => Normal(rng)).ToArray();
                        var o = Enumerable.Range(0, k * n + k * ks + n * ns).Select(_ => Normal(rng)).ToArray();
                        var expected = (double[])o.Clone();
                        for (int kk = 0; kk < k; kk++)
                            for (int nn = 0; nn < n; nn++)
                            {
                                double s = 0;
                                for (int r = 0; r < len; r++) s += a[kk * aStride + r] * d[nn * dStride + r];
                                expected[kk * ks + nn * ns] += 0.5 * s;
                            }
                        Gemm<double>.ReduceWith(a, k, aStride, d, n, dStride, len, o, ks, ns, 0.5, wide);
                        for (int i = 0; i < o.Length; i++)
                            Assert.True(Math.Abs(o[i] - expected[i]) <= 1e-13 * (1 + Math.Abs(expected[i])) * Math.Sqrt(len), $"K={k} N={n} len={len} wide={wide} at {i}: {o[i]:R} vs {expected[i]:R}");

                        var af = a.Select(v => (float)v).ToArray();
                        var df = d.Select(v => (float)v).ToArray();
                        var of = o.Select(v => 0f).ToArray();
                        Gemm<float>.ReduceWith(af, k, aStride, df, n, dStride, len, of, ks, ns, 0.5f, wide);
                        for (int kk = 0; kk < k; kk++)
                            for (int nn = 0; nn < n; nn++)
                            {
                                double s = 0, m = 0;
                                for (int r = 0; r < len; r++)
                                {
                                    s += (double)af[kk * aStride + r] * df[nn * dStride + r];
                                    m += Math.Abs((double)af[kk * aStride + r] * df[nn * dStride + r]);
                                }
                                Assert.True(Math.Abs(of[kk * ks + nn * ns] - 0.5 * s) <= 1e-6 * (1 + m), $"float K={k} N={n} len={len} wide={wide}");
                            }
                    }
    }

    /// <summary>More rows than one block (two full blocks and a shorter last one): value against the reference likelihood on the unblocked forward pass, gradient against finite differences.</summary>
    [Theory]
    [InlineData(nameof(LikelihoodKind.Normal))]
    [InlineData(nameof(LikelihoodKind.Categorical))]
    [InlineData(nameof(LikelihoodKind.Bernoulli))]
    public void RowBlocksGiveTheUnblockedPosteriorAndItsGradient(string likelihoodName)
    {
        var likelihood = Enum.Parse<LikelihoodKind>(likelihoodName);
        int rows = 2 * CompiledPotential<double>.BlockRows + 37, outputs = likelihood == LikelihoodKind.Categorical ? 3 : likelihood == LikelihoodKind.Bernoulli ? 1 : 2;
        var graph = Mlp([3, 13, 7, outputs], "Softplus", 17);
        var rng = new Random(4);
        var features = Enumerable.Range(0, rows * 3).Select(_ => Normal(rng)).ToArray();
        var targets = likelihood switch
        {
            LikelihoodKind.Categorical => Enumerable.Range(0, rows).Select(_ => (double)rng.Next(3)).ToArray(),
            LikelihoodKind.Bernoulli => Enumerable.Range(0, rows).Select(_ => (double)rng.Next(2)).ToArray(),
            _ => Enumerable.Range(0, rows * outputs).Select(_ => Normal(rng)).ToArray(),
        };
        var data = new DataSet(features, 3, targets, likelihood == LikelihoodKind.Normal ? outputs : 1);
        var model = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, likelihood), data);
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var position = model.PositionAtFileWeights(0.8);
        var density = potential.CreateLogDensity();
        GradientAssert.MatchesFiniteDifferences(density, position, 1e-6);

        var pred = new double[rows * outputs];
        potential.Predict(position, features, rows, pred);
        double reference = model.LogLikelihood(pred, model.LogSigma(position), new double[pred.Length], out _) + model.LogPrior(position, []);
        var gradient = new double[position.Length];
        double lp = density.LogDensityAndGradient(position, gradient);
        Assert.Equal(reference, lp, 9);

        // Repeated calls are identical bit for bit (no state leaks between calls or blocks).
        var again = new double[position.Length];
        Assert.Equal(lp, density.LogDensityAndGradient(position, again));
        Assert.Equal(gradient, again);

        using var p32 = new CompiledBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float32));
        var g32 = new double[position.Length];
        double lp32 = p32.CreateLogDensity().LogDensityAndGradient(position, g32);
        Assert.True(Math.Abs(lp32 - lp) <= 1e-5 * Math.Abs(lp), $"float32 {lp32:R} vs float64 {lp:R}");
        double norm = Math.Sqrt(gradient.Sum(v => v * v)), diff = Math.Sqrt(gradient.Zip(g32, (u, v) => (u - v) * (u - v)).Sum());
        Assert.True(diff <= 1e-4 * norm, $"float32 gradient differs by {diff:E2} (norm {norm:E2})");
    }
}
