using System.Numerics;
using System.Numerics.Tensors;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// One step of the compiled program: a forward kernel and its reverse (vector–Jacobian product) over the value
/// arena <c>v</c> and the gradient arena <c>g</c>. Ops hold only offsets and sizes, so one program serves any
/// number of independent states (one per chain). Reverse kernels ADD into input gradients.
/// </summary>
internal abstract class Op<T>(string node) where T : unmanaged, IFloatingPointIeee754<T>
{
    public string Node { get; } = node;

    /// <summary>Work that depends only on the parameters (e.g. packing weights), done once per position before any forward pass.</summary>
    public virtual void Prepare(Span<T> v) { }

    public abstract void Forward(Span<T> v, bool withGradient);

    public abstract void Backward(Span<T> v, Span<T> g);

    protected static T C(double x) => T.CreateTruncating(x);
}

/// <summary>y = f(x) elementwise, storing f'(x) for the reverse pass: ∂x += ∂y ⊙ f'(x).</summary>
internal sealed class UnaryOp<T>(string node, Activation<T> activation, int x, int gx, int y, int gy, int derivative, int size) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Forward(Span<T> v, bool withGradient) =>
        activation.Apply(v.Slice(x, size), v.Slice(y, size), v.Slice(derivative, size), withGradient && gx >= 0);

    public override void Backward(Span<T> v, Span<T> g)
    {
        if (gx < 0) return;
        var dx = g.Slice(gx, size);
        TensorPrimitives.MultiplyAdd(g.Slice(gy, size), v.Slice(derivative, size), dx, dx);
    }
}

/// <summary>
/// A dense layer over rows: Y[p, n, :] = act(β·c[n] + α Σ_k W(k, n) · A[p, k, :]), with A physically [P, K] × R and
/// Y [P, N] × R (rows innermost), W a row-free matrix read through strides (so Gemm's transB and MatMul's [K, N]
/// are the same kernel), bias and activation fused. Once per position it packs α·W as [K, N] (forward) and [N, K]
/// (reverse) and β·c into the op's scratch (<see cref="Prepare"/>), then runs the register-blocked kernels of <see cref="Gemm{T}"/> over
/// blocks of <see cref="Chunk"/> rows, applying the activation (forward) or the whole reverse step (∂z, ∂c, ∂W, ∂A)
/// to one block while it is in cache.
/// </summary>
internal sealed class DenseOp<T> : Op<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per cache block: a multiple of 3 vectors for float32 and float64 alike (AVX2 and AVX-512 widths).</summary>
    private const int Chunk = 240;
    private readonly int _a, _ga, _p, _k, _n, _rows;
    private readonly int _w, _gw, _wk, _wn;
    private readonly T _alpha;
    private readonly int _bias, _gbias, _biasStride;
    private readonly T _beta;
    private readonly int _y, _gy, _derivative, _pack;
    private readonly Activation<T>? _activation;

    /// <summary>A ReLU runs inside the matrix kernel (max(·, 0) before the store) and its reverse step reads the mask
    /// from the output y (y &gt; 0 exactly where x &gt; 0), so no derivative is stored.</summary>
    private readonly bool _relu;

    /// <summary>tanh's derivative is read from its output in the reverse step (1 − y²), so none is stored either.</summary>
    private readonly bool _tanh;

    /// <param name="pack">Scratch of <see cref="PackSize"/> values in the value arena.</param>
    public DenseOp(string node, int a, int ga, int p, int k, int n, int rows, int w, int gw, int wk, int wn, double alpha,
        int bias, int gbias, int biasStride, double beta, int y, int gy, Activation<T>? activation, int derivative, int pack) : base(node)
    {
        (_a, _ga, _p, _k, _n, _rows) = (a, ga, p, k, n, rows);
        (_w, _gw, _wk, _wn, _alpha) = (w, gw, wk, wn, C(alpha));
        (_bias, _gbias, _biasStride, _beta) = (bias, gbias, biasStride, C(beta));
        (_y, _gy, _activation, _derivative, _pack) = (y, gy, activation, derivative, pack);
        _relu = activation is ReluActivation<T>;
        _tanh = activation is TanhActivation<T>;
    }

    /// <summary>Scratch the op needs: packed weights [K, N], their transpose [N, K] and the bias [N].</summary>
    public static int PackSize(int k, int n) => 2 * k * n + n;

    /// <summary>Packs W'[k, n] = α·W(k, n), W'ᵀ[n, k] and b[n] = β·c[n] (0 without a bias).</summary>
    public override void Prepare(Span<T> v)
    {
        int kk = _k, nn = _n;
        var wp = v.Slice(_pack, kk * nn);
        var wt = v.Slice(_pack + kk * nn, kk * nn);
        var bp = v.Slice(_pack + 2 * kk * nn, nn);
        for (int k = 0; k < kk; k++)
            for (int n = 0; n < nn; n++)
            {
                T w = _alpha * v[_w + k * _wk + n * _wn];
                wp[k * nn + n] = w;
                wt[n * kk + k] = w;
            }
        for (int n = 0; n < nn; n++) bp[n] = _bias >= 0 ? _beta * v[_bias + n * _biasStride] : T.Zero;
    }

    /// <summary>Input width K.</summary>
    internal int K => _k;

    /// <summary>Output width N.</summary>
    internal int N => _n;

    /// <summary>The activation fused into the layer: "relu", "tanh", another activation's type name, or "none".</summary>
    internal string ActivationName => _relu ? "relu" : _tanh ? "tanh" : _activation?.GetType().Name.Split('`')[0] ?? "none";

    /// <summary>Whether the reverse step computes the weight gradient ∂W and the input gradient ∂A.</summary>
    internal (bool Weights, bool Input) ReverseParts => (_gw >= 0, _ga >= 0);

    public override void Forward(Span<T> v, bool withGradient) => ForwardParts(v, withGradient, ForwardAll);

    public override void Backward(Span<T> v, Span<T> g) => BackwardParts(v, g, BackwardAll);

    /// <summary>Forward parts: the matrix kernel (with the bias and a fused ReLU), and a separate activation pass.</summary>
    internal const int ForwardMatrix = 1, ForwardActivation = 2, ForwardAll = 3;

    /// <summary>Reverse parts: ∂z = ∂y ⊙ f′ with the bias gradient, the weight gradient, the input gradient.</summary>
    internal const int BackwardActivation = 1, BackwardWeights = 2, BackwardInput = 4, BackwardAll = 7;

    /// <summary>The forward pass, restricted to the given parts (all of them in a program; one at a time for the kernel profile).</summary>
    /// <param name="input">Where to read A from instead of the arena (the row input in its physical layout), or empty.</param>
    internal void ForwardParts(Span<T> v, bool withGradient, int parts, ReadOnlySpan<T> input = default)
    {
        int rows = _rows, kk = _k, nn = _n;
        ReadOnlySpan<T> wp = v.Slice(_pack, kk * nn), bp = v.Slice(_pack + 2 * kk * nn, nn);
        ReadOnlySpan<T> a = input.IsEmpty ? v[_a..] : input;
        bool matrix = (parts & ForwardMatrix) != 0, activation = (parts & ForwardActivation) != 0 && _activation is not null && !_relu;
        bool derivative = withGradient && !_tanh;
        for (int p = 0; p < _p; p++)
        {
            int ap = p * kk * rows, yp = _y + p * nn * rows, dp = _derivative + p * nn * rows;
            if (rows <= Chunk)
            {
                if (matrix) Gemm<T>.Rows(wp, kk, nn, a[ap..], rows, v[yp..], rows, rows, bp, _relu);
                if (activation)
                {
                    var y = v.Slice(yp, nn * rows);
                    _activation!.Apply(y, y, derivative ? v.Slice(dp, nn * rows) : default, derivative);
                }
                continue;
            }
            for (int r0 = 0; r0 < rows; r0 += Chunk)
            {
                int len = Math.Min(Chunk, rows - r0);
                if (matrix) Gemm<T>.Rows(wp, kk, nn, a[(ap + r0)..], rows, v[(yp + r0)..], rows, len, bp, _relu);
                if (!activation) continue;
                for (int n = 0; n < nn; n++)
                {
                    var y = v.Slice(yp + n * rows + r0, len);
                    _activation!.Apply(y, y, derivative ? v.Slice(dp + n * rows + r0, len) : default, derivative);
                }
            }
        }
    }

    /// <summary>The reverse step, restricted to the given parts (all of them in a program; one at a time for the kernel profile).</summary>
    /// <param name="input">Where to read A from instead of the arena (as in <see cref="ForwardParts"/>), or empty.</param>
    internal void BackwardParts(Span<T> v, Span<T> g, int parts, ReadOnlySpan<T> input = default)
    {
        int rows = _rows, kk = _k, nn = _n;
        ReadOnlySpan<T> wt = v.Slice(_pack + kk * nn, kk * nn);
        ReadOnlySpan<T> a = input.IsEmpty ? v[_a..] : input;

        for (int p = 0; p < _p; p++)
        {
            int ap = p * kk * rows, gap = _ga + p * kk * rows, dzp = _gy + p * nn * rows, dp = _derivative + p * nn * rows, yp = _y + p * nn * rows;
            for (int r0 = 0; r0 < rows; r0 += Chunk)
            {
                int len = Math.Min(Chunk, rows - r0);
                // ∂z = ∂y ⊙ act'(z), in place (nothing reads ∂y after this op's reverse step), and ∂c in the same pass.
                if ((parts & BackwardActivation) != 0)
                    for (int n = 0; n < nn; n++)
                    {
                        var dz = g.Slice(dzp + n * rows + r0, len);
                        T sum = _relu ? Gemm<T>.ReluMaskAndSum(dz, v.Slice(yp + n * rows + r0, len))
                            : _tanh ? Gemm<T>.TanhDerivativeAndSum(dz, v.Slice(yp + n * rows + r0, len))
                            : _activation is not null ? Gemm<T>.MultiplyAndSum(dz, v.Slice(dp + n * rows + r0, len))
                            : _gbias >= 0 ? Gemm<T>.Sum(dz) : T.Zero;
                        if (_gbias >= 0) g[_gbias + n * _biasStride] += _beta * sum;
                    }
                if (_gw >= 0 && (parts & BackwardWeights) != 0)
                    Gemm<T>.Reduce(a[(ap + r0)..], kk, rows, g[(dzp + r0)..], nn, rows, len, g[_gw..], _wk, _wn, _alpha);
                if (_ga >= 0 && (parts & BackwardInput) != 0)
                    Gemm<T>.Rows(wt, nn, kk, g[(dzp + r0)..], rows, g[(gap + r0)..], rows, len, default);
            }
        }
    }
}

/// <summary>
/// Batched matrix product without rows (plain row-major tensors): Y[b] = α·op(A[b])·op(B[b]) + β·C, broadcasting
/// batch dimensions (MatMul) or a bias (Gemm). Used for row-free subgraphs and the conformance cases.
/// </summary>
internal sealed class PlainMatMulOp<T>(string node, int m, int k, int n, int[] aBatch, int[] bBatch, int a, int ga, int aRowStride, int aColStride,
    int b, int gb, int bRowStride, int bColStride, double alpha, int c, int gc, int cRowStride, int cColStride, double beta, int y, int gy) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _alpha = C(alpha), _beta = C(beta);

    public override void Forward(Span<T> v, bool withGradient)
    {
        for (int bi = 0; bi < aBatch.Length; bi++)
        {
            int ao = a + aBatch[bi], bo = b + bBatch[bi], yo = y + bi * m * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    T s = T.Zero;
                    for (int q = 0; q < k; q++) s += v[ao + i * aRowStride + q * aColStride] * v[bo + q * bRowStride + j * bColStride];
                    s *= _alpha;
                    if (c >= 0) s += _beta * v[c + i * cRowStride + j * cColStride];
                    v[yo + i * n + j] = s;
                }
        }
    }

    public override void Backward(Span<T> v, Span<T> g)
    {
        for (int bi = 0; bi < aBatch.Length; bi++)
        {
            int ao = a + aBatch[bi], bo = b + bBatch[bi], yo = gy + bi * m * n;
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    T d = g[yo + i * n + j];
                    if (gc >= 0) g[gc + i * cRowStride + j * cColStride] += _beta * d;
                    d *= _alpha;
                    for (int q = 0; q < k; q++)
                    {
                        if (ga >= 0) g[ga + aBatch[bi] + i * aRowStride + q * aColStride] += d * v[bo + q * bRowStride + j * bColStride];
                        if (gb >= 0) g[gb + bBatch[bi] + q * bRowStride + j * bColStride] += d * v[ao + i * aRowStride + q * aColStride];
                    }
                }
        }
    }
}

/// <summary>The elementwise binary ONNX ops and their partial derivatives.</summary>
internal enum BinaryKind { Add, Sub, Mul, Div, Pow }

/// <summary>
/// Broadcasting binary op. For each physical output block p (of the inner length L = R or 1) the inputs' block
/// offsets are precomputed; an input without rows is a scalar per block, broadcast across the rows.
/// </summary>
internal sealed class BinaryOp<T>(string node, BinaryKind kind, int a, int ga, int[] aOff, bool aInner, int b, int gb, int[] bOff, bool bInner,
    int y, int gy, int inner) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Forward(Span<T> v, bool withGradient)
    {
        int blocks = aOff.Length;
        for (int p = 0; p < blocks; p++)
        {
            var o = v.Slice(y + p * inner, inner);
            int ai = a + aOff[p], bi = b + bOff[p];
            if (aInner && bInner)
            {
                var x1 = v.Slice(ai, inner); var x2 = v.Slice(bi, inner);
                switch (kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(x1, x2, o); break;
                    case BinaryKind.Sub: TensorPrimitives.Subtract(x1, x2, o); break;
                    case BinaryKind.Mul: TensorPrimitives.Multiply(x1, x2, o); break;
                    case BinaryKind.Div: TensorPrimitives.Divide(x1, x2, o); break;
                    default: for (int i = 0; i < inner; i++) o[i] = T.Pow(x1[i], x2[i]); break;
                }
            }
            else if (aInner)
            {
                var x1 = v.Slice(ai, inner); T s = v[bi];
                switch (kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(x1, s, o); break;
                    case BinaryKind.Sub: TensorPrimitives.Subtract(x1, s, o); break;
                    case BinaryKind.Mul: TensorPrimitives.Multiply(x1, s, o); break;
                    case BinaryKind.Div: TensorPrimitives.Divide(x1, s, o); break;
                    default: for (int i = 0; i < inner; i++) o[i] = T.Pow(x1[i], s); break;
                }
            }
            else if (bInner)
            {
                T s = v[ai]; var x2 = v.Slice(bi, inner);
                switch (kind)
                {
                    case BinaryKind.Add: TensorPrimitives.Add(x2, s, o); break;
                    case BinaryKind.Sub: TensorPrimitives.Subtract(s, x2, o); break;
                    case BinaryKind.Mul: TensorPrimitives.Multiply(x2, s, o); break;
                    case BinaryKind.Div: TensorPrimitives.Divide(s, x2, o); break;
                    default: for (int i = 0; i < inner; i++) o[i] = T.Pow(s, x2[i]); break;
                }
            }
            else
            {
                T r = Apply(v[ai], v[bi]);
                if (inner == 1) o[0] = r; else o.Fill(r);
            }
        }
    }

    private T Apply(T x1, T x2) => kind switch
    {
        BinaryKind.Add => x1 + x2,
        BinaryKind.Sub => x1 - x2,
        BinaryKind.Mul => x1 * x2,
        BinaryKind.Div => x1 / x2,
        _ => T.Pow(x1, x2),
    };

    public override void Backward(Span<T> v, Span<T> g)
    {
        int blocks = aOff.Length;
        for (int p = 0; p < blocks; p++)
        {
            int ai = a + aOff[p], bi = b + bOff[p];
            var dy = g.Slice(gy + p * inner, inner);
            if (kind is BinaryKind.Add or BinaryKind.Sub)
            {
                if (ga >= 0) AddInto(g, ga + aOff[p], aInner, dy, T.One);
                if (gb >= 0) AddInto(g, gb + bOff[p], bInner, dy, kind == BinaryKind.Add ? T.One : -T.One);
                continue;
            }
            for (int i = 0; i < inner; i++)
            {
                T x1 = v[ai + (aInner ? i : 0)], x2 = v[bi + (bInner ? i : 0)], d = dy[i];
                T da, db;
                switch (kind)
                {
                    case BinaryKind.Mul: da = x2; db = x1; break;
                    case BinaryKind.Div: da = T.One / x2; db = -x1 / (x2 * x2); break;
                    default:
                        T yv = T.Pow(x1, x2);
                        da = x2 == T.Zero ? T.Zero : x2 * T.Pow(x1, x2 - T.One);
                        db = x1 > T.Zero ? yv * T.Log(x1) : T.Zero;
                        break;
                }
                if (ga >= 0) g[ga + aOff[p] + (aInner ? i : 0)] += d * da;
                if (gb >= 0) g[gb + bOff[p] + (bInner ? i : 0)] += d * db;
            }
        }
    }

    private static void AddInto(Span<T> g, int at, bool isInner, ReadOnlySpan<T> dy, T sign)
    {
        if (isInner)
        {
            var dst = g.Slice(at, dy.Length);
            if (sign == T.One) TensorPrimitives.Add(dst, dy, dst);
            else TensorPrimitives.Subtract(dst, dy, dst);
        }
        else
            g[at] += sign * TensorPrimitives.Sum(dy);
    }
}

/// <summary>
/// Moves or accumulates blocks of the inner length: Y[map[i][p]] (+)= X_i[p]·scale. Transpose, Concat (copy) and
/// ReduceSum/ReduceMean (accumulate) are all this op with different maps.
/// </summary>
internal sealed class MapOp<T>(string node, int[] x, int[] gx, int[][] map, int y, int gy, int ySize, int inner, bool accumulate, double scale) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _scale = C(scale);

    public override void Forward(Span<T> v, bool withGradient)
    {
        if (accumulate) v.Slice(y, ySize).Clear();
        for (int i = 0; i < x.Length; i++)
        {
            var m = map[i];
            for (int p = 0; p < m.Length; p++)
            {
                var src = v.Slice(x[i] + p * inner, inner);
                var dst = v.Slice(y + m[p] * inner, inner);
                if (accumulate) TensorPrimitives.Add(dst, src, dst);
                else src.CopyTo(dst);
            }
        }
        if (accumulate && _scale != T.One) TensorPrimitives.Multiply(v.Slice(y, ySize), _scale, v.Slice(y, ySize));
    }

    public override void Backward(Span<T> v, Span<T> g)
    {
        for (int i = 0; i < x.Length; i++)
        {
            if (gx[i] < 0) continue;
            var m = map[i];
            for (int p = 0; p < m.Length; p++)
            {
                var dst = g.Slice(gx[i] + p * inner, inner);
                TensorPrimitives.MultiplyAdd(g.Slice(gy + m[p] * inner, inner), _scale, dst, dst);
            }
        }
    }
}

/// <summary>Softmax or LogSoftmax over the middle of an [outer, mid, inner] view (inner includes the rows).</summary>
internal sealed class SoftmaxOp<T>(string node, bool log, int x, int gx, int y, int gy, int outer, int mid, int inner) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public override void Forward(Span<T> v, bool withGradient)
    {
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int b0 = o * mid * inner + i;
                T max = T.NegativeInfinity;
                for (int m = 0; m < mid; m++) max = T.Max(max, v[x + b0 + m * inner]);
                T s = T.Zero;
                for (int m = 0; m < mid; m++) s += T.Exp(v[x + b0 + m * inner] - max);
                T lse = max + T.Log(s);
                for (int m = 0; m < mid; m++)
                {
                    T z = v[x + b0 + m * inner] - lse;
                    v[y + b0 + m * inner] = log ? z : T.Exp(z);
                }
            }
    }

    public override void Backward(Span<T> v, Span<T> g)
    {
        if (gx < 0) return;
        for (int o = 0; o < outer; o++)
            for (int i = 0; i < inner; i++)
            {
                int b0 = o * mid * inner + i;
                T s = T.Zero;
                for (int m = 0; m < mid; m++)
                {
                    int at = b0 + m * inner;
                    s += log ? g[gy + at] : g[gy + at] * v[y + at];
                }
                for (int m = 0; m < mid; m++)
                {
                    int at = b0 + m * inner;
                    // softmax: ∂x = y ⊙ (∂y − Σ ∂y·y);  log-softmax: ∂x = ∂y − e^y · Σ ∂y.
                    g[gx + at] += log ? g[gy + at] - T.Exp(v[y + at]) * s : v[y + at] * (g[gy + at] - s);
                }
            }
    }
}

/// <summary>BatchNormalization in inference mode over an [outer, C, inner] view: y = x·a_c + b_c, a_c = γ_c/√(var_c + ε), b_c = β_c − mean_c·a_c.</summary>
internal sealed class BatchNormOp<T>(string node, int x, int gx, int y, int gy, int outer, int channels, int inner,
    int scale, int gscale, int bias, int gbias, int mean, int variance, double epsilon) : Op<T>(node)
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly T _eps = C(epsilon);

    public override void Forward(Span<T> v, bool withGradient)
    {
        for (int c = 0; c < channels; c++)
        {
            T a = v[scale + c] / T.Sqrt(v[variance + c] + _eps);
            T b = v[bias + c] - v[mean + c] * a;
            for (int o = 0; o < outer; o++)
            {
                int at = (o * channels + c) * inner;
                var yy = v.Slice(y + at, inner);
                TensorPrimitives.Multiply(v.Slice(x + at, inner), a, yy);
                TensorPrimitives.Add(yy, b, yy);
            }
        }
    }

    public override void Backward(Span<T> v, Span<T> g)
    {
        for (int c = 0; c < channels; c++)
        {
            T invStd = T.One / T.Sqrt(v[variance + c] + _eps);
            T a = v[scale + c] * invStd;
            T sumDy = T.Zero, sumDyX = T.Zero;
            for (int o = 0; o < outer; o++)
            {
                int at = (o * channels + c) * inner;
                var dy = g.Slice(gy + at, inner);
                if (gx >= 0)
                {
                    var dx = g.Slice(gx + at, inner);
                    TensorPrimitives.MultiplyAdd(dy, a, dx, dx);
                }
                sumDy += TensorPrimitives.Sum<T>(dy);
                sumDyX += TensorPrimitives.Dot<T>(dy, v.Slice(x + at, inner));
            }
            if (gbias >= 0) g[gbias + c] += sumDy;
            if (gscale >= 0) g[gscale + c] += (sumDyX - v[mean + c] * sumDy) * invStd;
        }
    }
}
