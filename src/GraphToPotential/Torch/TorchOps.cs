using Bnn.Onnx.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Bnn.Onnx.GraphToPotential.Torch;

/// <summary>The inputs of one node as it runs: values by position, and integer lists (shapes, axes) read once.</summary>
internal sealed class OpInputs
{
    private readonly Node _node;
    private readonly TorchValue?[] _values;
    private readonly Func<string, long[]?> _constantLongs;

    public OpInputs(Node node, TorchValue?[] values, Func<string, long[]?> constantLongs)
    {
        _node = node;
        _values = values;
        _constantLongs = constantLongs;
    }

    public int Count => _values.Length;

    /// <summary>Input <paramref name="index"/>; a one-line error when the graph leaves it out.</summary>
    public TorchValue this[int index] =>
        (index < _values.Length ? _values[index] : null)
        ?? throw new InvalidDataException($"{Where}: required input {index} is missing");

    /// <summary>Input <paramref name="index"/>, or null when absent (optional inputs).</summary>
    public TorchValue? Optional(int index) => index < _values.Length ? _values[index] : null;

    /// <summary>An integer input (shape, axes) as longs; null when absent. Constants are read at compile time, other values now.</summary>
    public long[]? Longs(int index)
    {
        var name = _node.InputOrNull(index);
        if (name is null) return null;
        if (_constantLongs(name) is long[] constant) return constant;
        var v = this[index];
        if (v.Batched)
            throw new NotSupportedException($"{Where}: input {index} ('{name}') depends on the parameters; shapes and axes must not");
        if (v.Tensor.numel() == 0) return [];
        using var cpu = v.Tensor.to(ScalarType.Int64).cpu().contiguous();
        return cpu.data<long>().ToArray();
    }

    public string Where => $"node '{_node.Name}' ({_node.OpType})";
}

/// <summary>
/// ONNX operators as TorchSharp operations, with ONNX semantics (numpy broadcasting, attribute and input forms
/// across opsets 9–23; https://onnx.ai/onnx/operators/) on values that may carry a leading chain dimension.
/// Autograd differentiates every floating path.
/// </summary>
internal static class TorchOps
{
    /// <summary>Every default-domain op this backend evaluates: the <see cref="OpStage.TorchBackend"/> column of <see cref="OpCapabilities"/>.</summary>
    public static IReadOnlySet<string> Supported => OpCapabilities.OpsFor(OpStage.TorchBackend);

    /// <summary>Null when the node can run here, else a one-line reason (the op and its attribute limits, from <see cref="OpCapabilities"/>).</summary>
    public static string? Unsupported(Node node) => OpCapabilities.Unsupported(node, opset: 0, OpStage.TorchBackend);

    public static TorchValue[] Apply(Node node, OpInputs x, TorchContext ctx)
    {
        switch (node.OpType)
        {
            case "Identity":
                return [x[0]];
            case "Add": return [Arithmetic(x[0], x[1], (a, b) => a.add(b), ctx)];
            case "Sub": return [Arithmetic(x[0], x[1], (a, b) => a.sub(b), ctx)];
            case "Mul": return [Arithmetic(x[0], x[1], (a, b) => a.mul(b), ctx)];
            case "Div":
                return [Arithmetic(x[0], x[1], (a, b) => a.is_floating_point() ? a.div(b) : a.div(b, RoundingMode.trunc), ctx)];
            case "Pow": return [Pow(x[0], x[1], ctx)];
            case "Sum": return [Fold(x, node, (a, b) => a.add(b), ctx)];
            case "Max": return [Fold(x, node, torch.maximum, ctx)];
            case "Min": return [Fold(x, node, torch.minimum, ctx)];
            case "Less":
            {
                var (a, b, batched) = Broadcast2(x[0], x[1]);
                return [new TorchValue(a.lt(b), ElementType.Bool, batched)];
            }
            case "Where":
            {
                var t = Broadcastable(x[0], x[1], x[2]);
                return [new TorchValue(torch.where(t[0], t[1], t[2]), x[1].Type, x[0].Batched || x[1].Batched || x[2].Batched)];
            }

            case "Relu": return [Unary(x[0], t => t.relu())];
            case "LeakyRelu": return [Unary(x[0], t => t.leaky_relu(node.GetFloat("alpha", 0.01)))];
            case "Elu": return [Unary(x[0], t => t.elu(node.GetFloat("alpha", 1.0)))];
            case "Selu":
            {
                // ONNX's defaults are the float32 roundings of Klambauer et al.'s constants.
                double alpha = node.GetFloat("alpha", 1.67326319217681884765625);
                double gamma = node.GetFloat("gamma", 1.05070102214813232421875);
                return [Unary(x[0], t => t.elu(alpha).mul(gamma))];
            }
            case "Tanh": return [Unary(x[0], t => t.tanh())];
            case "Sigmoid": return [Unary(x[0], t => t.sigmoid())];
            case "HardSigmoid":
            {
                double alpha = node.GetFloat("alpha", 0.2), beta = node.GetFloat("beta", 0.5);
                return [Unary(x[0], t => t.mul(alpha).add(beta).clamp(0.0, 1.0))];
            }
            case "HardSwish": return [Unary(x[0], t => { using var gate = t.div(6.0).add(0.5).clamp(0.0, 1.0); return t.mul(gate); })];
            case "Celu":
            {
                // α·elu(x/α), ONNX's definition with elu's α = 1.
                double alpha = node.GetFloat("alpha", 1.0);
                return [Unary(x[0], t => { using var scaled = t.div(alpha); using var elu = scaled.elu(1.0); return elu.mul(alpha); })];
            }
            case "Shrink":
            {
                double lambd = node.GetFloat("lambd", 0.5), bias = node.GetFloat("bias", 0.0);
                return [Unary(x[0], t =>
                {
                    using var above = t.gt(lambd).to_type(t.dtype);
                    using var below = t.lt(-lambd).to_type(t.dtype);
                    using var upper = t.sub(bias).mul(above);
                    using var lower = t.add(bias).mul(below);
                    return upper.add(lower);
                })];
            }
            case "ThresholdedRelu":
            {
                double alpha = node.GetFloat("alpha", 1.0);
                return [Unary(x[0], t => { using var mask = t.gt(alpha).to_type(t.dtype); return t.mul(mask); })];
            }
            case "Softplus":
                // log(1 + eˣ) as logaddexp(x, 0): exact for large |x|, derivative sigmoid(x).
                return [Unary(x[0], t => { using var zero = torch.zeros(1, t.dtype, t.device); return t.logaddexp(zero); })];
            case "Softsign": return [Unary(x[0], t => t.div(t.abs().add(1.0)))];
            case "Gelu":
                return [Unary(x[0], t => node.GetString("approximate") == "tanh"
                    ? torch.nn.functional.gelu(t, TorchSharp.Modules.GELU.Approximate.tanh)
                    : torch.nn.functional.gelu(t))];
            case "Erf": return [Unary(x[0], t => t.erf())];
            case "Exp": return [Unary(x[0], t => t.exp())];
            case "Log": return [Unary(x[0], t => t.log())];
            case "Neg": return [Unary(x[0], t => t.neg())];
            case "Abs": return [Unary(x[0], t => t.abs())];
            case "Sqrt": return [Unary(x[0], t => t.sqrt())];

            case "Softmax":
            case "LogSoftmax":
                return [SoftmaxLike(node, x[0], ctx, node.OpType == "LogSoftmax")];
            case "Gemm": return [Gemm(node, x)];
            case "MatMul": return [MatMul(x[0], x[1])];
            case "BatchNormalization": return [BatchNormalization(node, x)];

            case "Transpose": return [Transpose(node, x[0])];
            case "Flatten": return [Flatten(node, x[0])];
            case "Reshape": return [Reshape(node, x, ctx)];
            case "Squeeze": return [Squeeze(node, x, ctx)];
            case "Unsqueeze": return [Unsqueeze(node, x, ctx)];
            case "Concat": return [Concat(node, x)];

            case "Cast":
                return [Cast(x[0], (ElementType)node.GetInt("to", 0), ctx, x.Where)];
            case "CastLike":
                return [Cast(x[0], x[1].Type, ctx, x.Where)];
            case "Clip": return [Clip(node, x, ctx)];
            case "ReduceSum":
            case "ReduceMean":
            case "ReduceMax":
                return [Reduce(node, x, ctx)];
            default:
                throw new NotSupportedException(Unsupported(node) ?? $"{x.Where}: op not supported by the TorchSharp backend");
        }
    }

    // ---- broadcasting -------------------------------------------------------------------------------------------

    /// <summary>
    /// Tensors that broadcast as their ONNX shapes do (numpy rules, right-aligned). An unbatched tensor already
    /// aligns with a batched one; a batched tensor of lower ONNX rank gets size-1 dimensions after its chain dimension.
    /// </summary>
    private static Tensor[] Broadcastable(params TorchValue[] values)
    {
        int rank = values.Max(v => v.Rank);
        var result = new Tensor[values.Length];
        for (int i = 0; i < values.Length; i++)
        {
            var v = values[i];
            if (v.Batched && v.Rank < rank)
            {
                var shape = new long[rank + 1];
                shape[0] = v.Tensor.shape[0];
                for (int k = 1; k <= rank - v.Rank; k++) shape[k] = 1;
                v.Shape.CopyTo(shape, rank - v.Rank + 1);
                result[i] = v.Tensor.reshape(shape);
            }
            else
            {
                result[i] = v.Tensor;
            }
        }
        return result;
    }

    private static (Tensor A, Tensor B, bool Batched) Broadcast2(TorchValue a, TorchValue b)
    {
        var t = Broadcastable(a, b);
        return (t[0], t[1], a.Batched || b.Batched);
    }

    private static TorchValue Unary(TorchValue v, Func<Tensor, Tensor> f) => v.With(f(v.Tensor));

    /// <summary>A binary op with the type of A: floating in the compute precision, integers wrapping like ONNX's.</summary>
    private static TorchValue Arithmetic(TorchValue a, TorchValue b, Func<Tensor, Tensor, Tensor> f, TorchContext ctx)
    {
        var (ta, tb, batched) = Broadcast2(a, b);
        if (a.IsFloating)
            return new TorchValue(f(ta, tb.dtype == ta.dtype ? tb : tb.to(ta.dtype)), a.Type, batched);
        var storage = ctx.Storage(a.Type);
        var y = f(ta, tb.dtype == ta.dtype ? tb : tb.to(ta.dtype));
        return new TorchValue(TorchContext.Wrap(y.dtype == storage ? y : y.to(storage), a.Type), a.Type, batched);
    }

    private static TorchValue Fold(OpInputs x, Node node, Func<Tensor, Tensor, Tensor> f, TorchContext ctx)
    {
        var acc = x[0];
        for (int i = 1; i < x.Count; i++)
            acc = Arithmetic(acc, x[i], f, ctx);
        return acc;
    }

    /// <summary>Pow: the result has X's type (ONNX Pow-12+, like numpy followed by a cast to X's type).</summary>
    private static TorchValue Pow(TorchValue x, TorchValue y, TorchContext ctx)
    {
        var (tx, ty, batched) = Broadcast2(x, y);
        if (x.IsFloating)
            return new TorchValue(tx.pow(ty.is_floating_point() ? ty.to(tx.dtype) : ty), x.Type, batched);
        var storage = ctx.Storage(x.Type);
        var result = y.IsFloating ? tx.to(ctx.Compute).pow(ty) : tx.to(ScalarType.Int64).pow(ty.to(ScalarType.Int64));
        return new TorchValue(TorchContext.Wrap(result.to(storage), x.Type), x.Type, batched);
    }

    // ---- normalisation and linear algebra ------------------------------------------------------------------------

    private static TorchValue SoftmaxLike(Node node, TorchValue v, TorchContext ctx, bool log)
    {
        long axis = node.GetInt("axis", ctx.Opset >= 13 ? -1 : 1);
        if (ctx.Opset >= 13)
        {
            long dim = v.Dim(axis, $"node '{node.Name}' ({node.OpType})");
            return v.With(log ? v.Tensor.log_softmax(dim) : v.Tensor.softmax(dim));
        }
        // Opset < 13: the input is coerced to 2-D at `axis` and normalised over the trailing block.
        var shape = v.Shape;
        long a = axis < 0 ? axis + shape.Length : axis;
        long outer = shape.Take((int)a).Aggregate(1L, (p, d) => p * d);
        long inner = shape.Skip((int)a).Aggregate(1L, (p, d) => p * d);
        var flat = v.Tensor.reshape(v.Batched ? [v.Tensor.shape[0], outer, inner] : [outer, inner]);
        var y = log ? flat.log_softmax(-1) : flat.softmax(-1);
        return v.With(y.reshape(v.Tensor.shape));
    }

    /// <summary>Y = α·A'·B' + β·C, A' = Aᵀ if transA, B' = Bᵀ if transB, C broadcast to [M, N].</summary>
    private static TorchValue Gemm(Node node, OpInputs x)
    {
        var a = x[0];
        var b = x[1];
        var ta = node.GetInt("transA", 0) != 0 ? a.Tensor.transpose(-2, -1) : a.Tensor;
        var tb = node.GetInt("transB", 0) != 0 ? b.Tensor.transpose(-2, -1) : b.Tensor;
        var y = ta.matmul(tb);
        double alpha = node.GetFloat("alpha", 1.0), beta = node.GetFloat("beta", 1.0);
        if (alpha != 1.0) y = y.mul(alpha);
        var result = new TorchValue(y, a.Type, a.Batched || b.Batched);
        if (x.Optional(2) is TorchValue c)
        {
            if (beta != 1.0) c = c.With(c.Tensor.mul(beta));
            var (ty, tc, batched) = Broadcast2(result, c);
            result = new TorchValue(ty.add(tc), a.Type, batched);
        }
        return result;
    }

    /// <summary>numpy.matmul: 1-D operands are promoted to matrices and the added dimension removed afterwards.</summary>
    private static TorchValue MatMul(TorchValue a, TorchValue b)
    {
        bool aVector = a.Rank == 1, bVector = b.Rank == 1;
        var a2 = aVector ? a.With(a.Tensor.unsqueeze(-2)) : a;
        var b2 = bVector ? b.With(b.Tensor.unsqueeze(-1)) : b;
        var t = Broadcastable(a2, b2);
        var y = t[0].matmul(t[1]);
        if (aVector) y = y.squeeze(-2);
        if (bVector) y = y.squeeze(-1);
        return new TorchValue(y, a.Type, a.Batched || b.Batched);
    }

    /// <summary>Inference-mode batch normalisation over the channel axis 1: (X − mean)/√(var + ε)·scale + B.</summary>
    private static TorchValue BatchNormalization(Node node, OpInputs x)
    {
        var input = x[0];
        int rank = input.Rank;
        if (rank < 2)
            throw new InvalidDataException($"{x.Where}: input has rank {rank}; BatchNormalization needs [N, C, ...]");
        TorchValue Channel(TorchValue p)
        {
            var shape = new long[rank - 1];
            Array.Fill(shape, 1L);
            shape[0] = p.Shape.Aggregate(1L, (q, d) => q * d);
            return p.With(p.Tensor.reshape(p.Batched ? [p.Tensor.shape[0], .. shape] : shape));
        }
        double epsilon = node.GetFloat("epsilon", 1e-5);
        var scale = Channel(x[1]);
        var bias = Channel(x[2]);
        var mean = Channel(x[3]);
        var variance = Channel(x[4]);
        var inverseStd = variance.With(variance.Tensor.add(epsilon).rsqrt());
        var t = Broadcastable(input, mean, inverseStd, scale, bias);
        var y = t[0].sub(t[1]).mul(t[2]).mul(t[3]).add(t[4]);
        bool batched = input.Batched || scale.Batched || bias.Batched || mean.Batched || variance.Batched;
        return new TorchValue(y, input.Type, batched);
    }

    // ---- shapes ---------------------------------------------------------------------------------------------------

    private static TorchValue Transpose(Node node, TorchValue v)
    {
        int rank = v.Rank;
        var perm = node.GetInts("perm")?.ToArray() ?? Enumerable.Range(0, rank).Reverse().Select(i => (long)i).ToArray();
        if (perm.Length != rank)
            throw new InvalidDataException($"node '{node.Name}' (Transpose): perm has {perm.Length} entries for rank {rank}");
        var dims = v.Batched ? [0L, .. perm.Select(p => (p < 0 ? p + rank : p) + 1)] : perm.Select(p => p < 0 ? p + rank : p).ToArray();
        return v.With(v.Tensor.permute(dims));
    }

    private static TorchValue Flatten(Node node, TorchValue v)
    {
        var shape = v.Shape;
        long axis = node.GetInt("axis", 1);
        long a = axis < 0 ? axis + shape.Length : axis;
        if (a < 0 || a > shape.Length)
            throw new InvalidDataException($"node '{node.Name}' (Flatten): axis {axis} is out of range for rank {shape.Length}");
        long outer = shape.Take((int)a).Aggregate(1L, (p, d) => p * d);
        long inner = shape.Skip((int)a).Aggregate(1L, (p, d) => p * d);
        return v.With(v.Tensor.reshape(v.Batched ? [v.Tensor.shape[0], outer, inner] : [outer, inner]));
    }

    private static TorchValue Reshape(Node node, OpInputs x, TorchContext ctx)
    {
        var v = x[0];
        var requested = ctx.Opset >= 5 ? x.Longs(1) : node.GetInts("shape")?.ToArray();
        if (requested is null)
            throw new InvalidDataException($"{x.Where}: no target shape");
        bool allowZero = node.GetInt("allowzero", 0) != 0;
        var shape = v.Shape;
        var target = new long[requested.Length];
        int inferred = -1;
        long known = 1;
        for (int i = 0; i < requested.Length; i++)
        {
            long d = requested[i];
            if (d == 0 && !allowZero)
            {
                if (i >= shape.Length)
                    throw new InvalidDataException($"{x.Where}: shape entry {i} is 0 (copy) but the input has rank {shape.Length}");
                d = shape[i];
            }
            if (d == -1)
            {
                if (inferred >= 0) throw new InvalidDataException($"{x.Where}: more than one -1 in the target shape");
                inferred = i;
            }
            else
            {
                known *= d;
            }
            target[i] = d;
        }
        long total = shape.Aggregate(1L, (p, d) => p * d);
        if (inferred >= 0)
        {
            if (known == 0 || total % known != 0)
                throw new InvalidDataException($"{x.Where}: cannot reshape [{string.Join(", ", shape)}] to [{string.Join(", ", requested)}]");
            target[inferred] = total / known;
        }
        else if (known != total)
        {
            throw new InvalidDataException($"{x.Where}: cannot reshape [{string.Join(", ", shape)}] ({total} values) to [{string.Join(", ", target)}]");
        }
        return v.With(v.Tensor.reshape(v.Batched ? [v.Tensor.shape[0], .. target] : target));
    }

    private static long[]? Axes(Node node, OpInputs x, TorchContext ctx, long inputSince)
        => ctx.Opset >= inputSince ? x.Longs(1) : node.GetInts("axes")?.ToArray();

    private static TorchValue Squeeze(Node node, OpInputs x, TorchContext ctx)
    {
        var v = x[0];
        var shape = v.Shape;
        var axes = Axes(node, x, ctx, 13);
        var logical = axes is null || axes.Length == 0
            ? Enumerable.Range(0, shape.Length).Where(i => shape[i] == 1).Select(i => (long)i).ToArray()
            : axes.Select(a => a < 0 ? a + shape.Length : a).ToArray();
        var t = v.Tensor;
        foreach (var a in logical.Distinct().OrderByDescending(a => a))
        {
            if (a < 0 || a >= shape.Length || shape[a] != 1)
                throw new InvalidDataException($"{x.Where}: cannot squeeze axis {a} of shape [{string.Join(", ", shape)}]");
            t = t.squeeze(v.Batched ? a + 1 : a);
        }
        return v.With(t);
    }

    private static TorchValue Unsqueeze(Node node, OpInputs x, TorchContext ctx)
    {
        var v = x[0];
        var axes = Axes(node, x, ctx, 13)
            ?? throw new InvalidDataException($"{x.Where}: no axes");
        int outRank = v.Rank + axes.Length;
        var t = v.Tensor;
        foreach (var a in axes.Select(a => a < 0 ? a + outRank : a).OrderBy(a => a))
        {
            if (a < 0 || a >= outRank)
                throw new InvalidDataException($"{x.Where}: axis out of range for output rank {outRank}");
            t = t.unsqueeze(v.Batched ? a + 1 : a);
        }
        return v.With(t);
    }

    private static TorchValue Concat(Node node, OpInputs x)
    {
        var values = Enumerable.Range(0, x.Count).Select(i => x[i]).ToArray();
        long axis = node.GetInt("axis", 0);
        var batched = values.FirstOrDefault(v => v.Batched);
        var tensors = values.Select(v =>
            batched.Tensor is not null && !v.Batched
                ? v.Tensor.unsqueeze(0).expand([batched.Tensor.shape[0], .. v.Shape])
                : v.Tensor).ToArray();
        long dim = values[0].Dim(axis, x.Where) + (batched.Tensor is not null && !values[0].Batched ? 1 : 0);
        return new TorchValue(torch.cat(tensors, dim), values[0].Type, batched.Tensor is not null);
    }

    // ---- types, clipping, reductions, constants -------------------------------------------------------------------

    /// <summary>
    /// ONNX Cast. Floating targets stay in the compute precision, except float16 and bfloat16, which round through
    /// that type (the cast's meaning). Floating → integer truncates toward zero; → bool is x ≠ 0.
    /// </summary>
    private static TorchValue Cast(TorchValue v, ElementType target, TorchContext ctx, string where)
    {
        if (target == ElementType.Undefined)
            throw new InvalidDataException($"{where}: no target type");
        var t = v.Tensor;
        Tensor y;
        if (ElementTypes.IsFloating(target))
        {
            y = t.dtype == ctx.Compute ? t : t.to(ctx.Compute);
            if (target == ElementType.Float16 && v.Type != ElementType.Float16) y = y.to(ScalarType.Float16).to(ctx.Compute);
            if (target == ElementType.BFloat16 && v.Type != ElementType.BFloat16) y = y.to(ScalarType.BFloat16).to(ctx.Compute);
        }
        else if (target == ElementType.Bool)
        {
            y = t.ne(0);
        }
        else
        {
            var storage = ctx.Storage(target);
            y = t.to(ScalarType.Int64);
            y = TorchContext.Wrap(y.dtype == storage ? y : y.to(storage), target);
        }
        return new TorchValue(y, target, v.Batched);
    }

    private static TorchValue Clip(Node node, OpInputs x, TorchContext ctx)
    {
        var v = x[0];
        if (ctx.Opset < 11)
        {
            double min = node.GetFloat("min", double.NegativeInfinity), max = node.GetFloat("max", double.PositiveInfinity);
            return v.With(v.Tensor.clamp(min, max));
        }
        // min > max gives max everywhere, as numpy.clip and torch.clamp do.
        var current = v;
        if (x.Optional(1) is TorchValue lo) current = Arithmetic(current, lo, torch.maximum, ctx);
        if (x.Optional(2) is TorchValue hi) current = Arithmetic(current, hi, torch.minimum, ctx);
        return current;
    }

    private static TorchValue Reduce(Node node, OpInputs x, TorchContext ctx)
    {
        var v = x[0];
        long inputSince = node.OpType == "ReduceSum" ? 13 : 18;
        var axes = Axes(node, x, ctx, inputSince);
        bool keep = node.GetInt("keepdims", 1) != 0;
        bool noop = node.GetInt("noop_with_empty_axes", 0) != 0;
        if (axes is null || axes.Length == 0)
        {
            if (noop) return v;
            axes = Enumerable.Range(0, v.Rank).Select(i => (long)i).ToArray();
        }
        if (axes.Length == 0) return v;
        var dims = axes.Select(a => v.Dim(a, x.Where)).Distinct().ToArray();
        var t = v.Tensor;
        Tensor y = node.OpType switch
        {
            "ReduceSum" => t.sum(dims, keep),
            "ReduceMean" => t.mean(dims, keep),
            _ => t.amax(dims, keep),
        };
        var storage = ctx.Storage(v.Type);
        if (y.dtype != storage) y = TorchContext.Wrap(y.to(storage), v.Type);
        return v.With(y);
    }
}
