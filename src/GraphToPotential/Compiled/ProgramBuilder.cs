using System.Globalization;
using System.Numerics;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>What to compile.</summary>
/// <param name="Rows">R, the number of data rows.</param>
/// <param name="RowInput">The graph input whose axis 0 holds the rows (its other dimensions from the file), or null (every value plain).</param>
/// <param name="InputShapes">Explicit shapes per graph input (overrides the file; the row input's shape then includes R on axis 0).</param>
/// <param name="ParameterGradients">Whether gradients flow to the parameters (false: forward only).</param>
/// <param name="KeepValues">Values that must stay materialised (outputs read by the caller): never fused away.</param>
internal sealed record CompileSettings(int Rows, string? RowInput, IReadOnlyDictionary<string, int[]>? InputShapes = null,
    bool ParameterGradients = true, IReadOnlyCollection<string>? KeepValues = null);

/// <summary>
/// Compiles an <see cref="OnnxGraph"/> into a <see cref="CompiledProgram{T}"/>: static shapes for the given row count,
/// one arena offset per value, reshape-like ops as aliases (no copy), Gemm/MatMul + bias + activation fused into
/// one <see cref="DenseOp{T}"/>. Anything it cannot compile throws a one-line <see cref="NotSupportedException"/>
/// naming the op and the node.
/// </summary>
internal sealed class ProgramBuilder<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly OnnxGraph _graph;
    private readonly CompileSettings _settings;
    private readonly Dictionary<string, Value> _values = [];
    private readonly List<(int, double[])> _initializers = [];
    private readonly List<ParameterSlot> _parameters = [];
    private readonly List<Op<T>> _ops = [];
    private readonly List<bool> _opNeedsBackward = [];
    private readonly List<bool> _opPerPosition = [];
    private readonly List<int> _denseOnRowInput = [];
    private readonly Dictionary<string, int> _uses = [];
    private readonly HashSet<int> _fused = [];
    private int _valueSize, _gradSize;
    private int? _declaredBatch;

    private ProgramBuilder(OnnxGraph graph, CompileSettings settings)
    {
        _graph = graph;
        _settings = settings;
    }

    private int Rows => _settings.Rows;

    public static CompiledProgram<T> Build(OnnxGraph graph, CompileSettings settings)
    {
        var b = new ProgramBuilder<T>(graph, settings);
        b.Run();
        var readers = b.RowInputReaders();
        return new CompiledProgram<T>
        {
            Ops = b._ops.ToArray(),
            OpNeedsBackward = b._opNeedsBackward.ToArray(),
            OpPerPosition = b._opPerPosition.ToArray(),
            ReadsRowInputDirectly = readers,
            RowInputDirect = readers.Any(r => r),
            ValueSize = b._valueSize,
            GradSize = b._gradSize,
            ParameterGradSize = b._parameters.Where(p => p.GradOffset >= 0).Select(p => p.GradOffset + p.Size).DefaultIfEmpty(0).Max(),
            Initializers = b._initializers.ToArray(),
            Parameters = b._parameters.ToArray(),
            Values = b._values,
            Rows = settings.Rows,
        };
    }

    /// <summary>
    /// Per op: whether it is a dense layer that may read the row input from the caller's array. True for every dense
    /// layer on the row input when those layers are its only readers (so nothing else needs it in the arena).
    /// </summary>
    private bool[] RowInputReaders()
    {
        var readers = new bool[_ops.Count];
        string? input = _settings.RowInput;
        if (input is null || _denseOnRowInput.Count == 0 || _denseOnRowInput.Count != _uses.GetValueOrDefault(input)) return readers;
        foreach (int i in _denseOnRowInput) readers[i] = true;
        return readers;
    }

    private void Run()
    {
        foreach (var n in _graph.Nodes)
            foreach (var i in n.Inputs)
                if (i.Length > 0) _uses[i] = _uses.GetValueOrDefault(i) + 1;
        foreach (var o in _graph.Outputs) _uses[o.Name] = _uses.GetValueOrDefault(o.Name) + 1;
        foreach (var k in _settings.KeepValues ?? []) _uses[k] = _uses.GetValueOrDefault(k) + 1;

        int position = 0;
        foreach (var p in _graph.Parameters)
        {
            var v = Alloc(p.OnnxName, p.Shape, -1, _settings.ParameterGradients);
            v.IsParameter = true;
            _parameters.Add(new ParameterSlot(position, p.Size, v.Offset, v.GradOffset));
            position += p.Size;
        }

        foreach (var input in _graph.Inputs)
        {
            if (_values.ContainsKey(input.Name)) continue;
            bool rows = input.Name == _settings.RowInput;
            int[] shape;
            if (_settings.InputShapes is not null && _settings.InputShapes.TryGetValue(input.Name, out var given))
                shape = given;
            else
            {
                var dims = input.Shape.Select((d, i) => rows && i == 0 ? Rows : d.Value is long x ? (int)x : -1).ToArray();
                if (dims.Any(d => d < 0))
                    throw new NotSupportedException($"input '{input.Name}' [{string.Join(", ", input.Shape)}] has dimensions of unknown size");
                shape = dims;
            }
            if (rows)
            {
                if (shape.Length == 0 || shape[0] != Rows)
                    throw new NotSupportedException($"input '{input.Name}' needs the batch on axis 0");
                if (input.Shape.Count > 0 && input.Shape[0].Value is long fixedBatch && fixedBatch != Rows) _declaredBatch = (int)fixedBatch;
            }
            Alloc(input.Name, shape, rows ? 0 : -1, false);
        }

        var nodes = _graph.Nodes;
        for (int i = 0; i < nodes.Count; i++)
        {
            if (_fused.Contains(i)) continue;
            var node = nodes[i];
            if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
                throw Unsupported(node, $"domain '{node.Domain}' is not supported");
            BuildNode(node, i);
        }

        foreach (var o in _graph.Outputs)
            if (!_values.ContainsKey(o.Name))
                throw new NotSupportedException($"output '{o.Name}' is not produced by any node");
    }

    /// <summary>
    /// Appends an op. One whose output carries no rows depends on the parameters and constants alone (no op mixes
    /// the rows away): a weight transposed, reshaped or scaled on its way to its layer. It runs once per position,
    /// before the ops that read it are prepared, not once per block of rows.
    /// </summary>
    private void AddOp(Op<T> op, Value output)
    {
        _ops.Add(op);
        _opNeedsBackward.Add(output.NeedsGrad);
        _opPerPosition.Add(!output.HasRows);
    }

    // ---- values -------------------------------------------------------------------------------------------

    private Value Alloc(string name, int[] shape, int rowAxis, bool needsGrad)
    {
        var v = new Value(name, shape, rowAxis) { Offset = _valueSize };
        _valueSize += v.Size;
        if (needsGrad)
        {
            v.GradOffset = _gradSize;
            _gradSize += v.Size;
        }
        _values[name] = v;
        return v;
    }

    private int Scratch(int size)
    {
        int at = _valueSize;
        _valueSize += size;
        return at;
    }

    private Value Constant(string name, int[] shape, double[] data)
    {
        var v = Alloc(name, shape, -1, false);
        v.Const = data;
        _initializers.Add((v.Offset, data));
        return v;
    }

    private Value Alias(string name, Value source, int[] shape, int rowAxis)
    {
        var v = new Value(name, shape, rowAxis) { Offset = source.Offset, GradOffset = source.GradOffset, Const = source.Const, IsParameter = source.IsParameter };
        if (v.Size != source.Size) throw new InvalidOperationException($"alias '{name}' changes the size");
        _values[name] = v;
        return v;
    }

    private Value Get(Node node, int index)
    {
        string? name = node.InputOrNull(index) ?? throw Unsupported(node, $"input {index} is missing");
        return Get(node, name);
    }

    private Value Get(Node node, string name)
    {
        if (_values.TryGetValue(name, out var v)) return v;
        if (_graph.Constants.TryGetValue(name, out var t)) return Constant(name, t.Shape, t.Data);
        throw Unsupported(node, $"input '{name}' is not defined before the node");
    }

    private Value? GetOptional(Node node, int index) => node.InputOrNull(index) is string n ? Get(node, n) : null;

    /// <summary>The constant data of input <paramref name="index"/>, or null when absent.</summary>
    private double[]? ConstInput(Node node, int index, string what)
    {
        var v = GetOptional(node, index);
        if (v is null) return null;
        return v.Const ?? throw Unsupported(node, $"{what} must be a constant, but '{v.Name}' is computed");
    }

    private static NotSupportedException Unsupported(Node node, string reason) =>
        new($"op {node.OpType} (node '{NodeLabel(node)}'): {reason}");

    public static string NodeLabel(Node node) => node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault() ?? "?";

    private bool OnlyUse(string value) => _uses.GetValueOrDefault(value) == 1;

    private int SoleConsumer(string value, int after)
    {
        if (!OnlyUse(value)) return -1;
        var nodes = _graph.Nodes;
        for (int j = after + 1; j < nodes.Count; j++)
            if (nodes[j].Inputs.Contains(value)) return j;
        return -1;
    }

    private static int Product(IEnumerable<int> dims) => dims.Aggregate(1, (a, b) => checked(a * b));

    private static int NormalizeAxis(Node node, long axis, int rank)
    {
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank) throw Unsupported(node, $"axis {axis} is out of range for rank {rank}");
        return (int)a;
    }

    /// <summary>Constant inputs of non-float ops (integer shape arithmetic) are folded at compile time.</summary>
    private bool AllConstant(Node node) => node.Inputs.Where(n => n.Length > 0).All(n => Get(node, n).Const is not null);

    // ---- nodes --------------------------------------------------------------------------------------------

    private void BuildNode(Node node, int index)
    {
        string op = node.OpType;
        foreach (var extra in node.Outputs.Skip(1))
            if (extra.Length > 0 && _uses.GetValueOrDefault(extra) > 0)
                throw Unsupported(node, $"output '{extra}' (training-only output) is used; only inference outputs are supported");

        switch (op)
        {
            case "Identity": { var x = Get(node, 0); Alias(node.Outputs[0], x, x.Shape, x.RowAxis); return; }
            case "Cast": BuildCast(node); return;
            case "Reshape": BuildReshape(node); return;
            case "Flatten": BuildFlatten(node); return;
            case "Squeeze": BuildSqueeze(node); return;
            case "Unsqueeze": BuildUnsqueeze(node); return;
            case "Gemm": BuildGemm(node, index); return;
            case "MatMul": BuildMatMul(node, index); return;
            case "Add": BuildBinary(node, BinaryKind.Add); return;
            case "Sub": BuildBinary(node, BinaryKind.Sub); return;
            case "Mul": BuildBinary(node, BinaryKind.Mul); return;
            case "Div": BuildBinary(node, BinaryKind.Div); return;
            case "Pow": BuildBinary(node, BinaryKind.Pow); return;
            case "Softmax": BuildSoftmax(node, false); return;
            case "LogSoftmax": BuildSoftmax(node, true); return;
            case "ReduceSum": BuildReduce(node, false); return;
            case "ReduceMean": BuildReduce(node, true); return;
            case "Transpose": BuildTranspose(node); return;
            case "Concat": BuildConcat(node); return;
            case "BatchNormalization": BuildBatchNorm(node); return;
        }

        var activation = op == "Clip" ? ClipActivation(node) : MakeActivation(node);
        if (activation is null)
            throw Unsupported(node, "not supported by the compiled CPU backend");
        var input = Get(node, 0);
        var y = Alloc(node.Outputs[0], input.Shape, input.RowAxis, input.NeedsGrad);
        int d = Scratch(input.Size);
        AddOp(new UnaryOp<T>(NodeLabel(node), activation, input.Offset, input.GradOffset, y.Offset, y.GradOffset, d, input.Size), y);
        FoldIfConstant(node, input, y);
    }

    /// <summary>Elementwise ops on constants: evaluate now so later shape-reading ops see the data.</summary>
    private void FoldIfConstant(Node node, Value input, Value y)
    {
        if (input.Const is null || input.HasRows) return;
        var act = MakeDoubleActivation(node);
        if (act is null) return;
        var data = input.Const;
        var outData = new double[data.Length];
        act.Apply(data, outData, new double[data.Length], false);
        y.Const = outData;
    }

    private static Activation<double>? MakeDoubleActivation(Node node) => ProgramBuilder<double>.ActivationFor(node);

    private Activation<T>? MakeActivation(Node node) => ActivationFor(node);

    internal static Activation<T>? ActivationFor(Node node)
    {
        switch (node.OpType)
        {
            case "Relu": return new ReluActivation<T>();
            case "Tanh": return new TanhActivation<T>();
            case "Sigmoid": return new SigmoidActivation<T>();
            case "Softplus": return new SoftplusActivation<T>();
            case "Exp": return new ExpActivation<T>();
            case "LeakyRelu": return new ScalarActivation<T, LeakyReluRule>(new(node.GetFloat("alpha", 0.01)));
            case "Elu": return new ScalarActivation<T, EluRule>(new(node.GetFloat("alpha", 1.0)));
            case "Selu": return new ScalarActivation<T, SeluRule>(new(node.GetFloat("alpha", 1.67326319217681884765625), node.GetFloat("gamma", 1.05070102214813232421875)));
            case "HardSigmoid": return new ScalarActivation<T, HardSigmoidRule>(new(node.GetFloat("alpha", 0.2), node.GetFloat("beta", 0.5)));
            case "HardSwish": return new ScalarActivation<T, HardSwishRule>(new());
            case "Celu": return new ScalarActivation<T, CeluRule>(new(node.GetFloat("alpha", 1.0)));
            case "Shrink": return new ScalarActivation<T, ShrinkRule>(new(node.GetFloat("lambd", 0.5), node.GetFloat("bias", 0.0)));
            case "ThresholdedRelu": return new ScalarActivation<T, ThresholdedReluRule>(new(node.GetFloat("alpha", 1.0)));
            case "Softsign": return new ScalarActivation<T, SoftsignRule>(new());
            case "Gelu":
                string approx = node.GetString("approximate") ?? "none";
                if (approx is not ("none" or "tanh")) throw Unsupported(node, $"approximate='{approx}' is not supported");
                return new ScalarActivation<T, GeluRule>(new(approx == "tanh"));
            case "Erf": return new ScalarActivation<T, ErfRule>(new());
            case "Log": return new ScalarActivation<T, LogRule>(new());
            case "Sqrt": return new ScalarActivation<T, SqrtRule>(new());
            case "Neg": return new ScalarActivation<T, NegRule>(new());
            case "Abs": return new ScalarActivation<T, AbsRule>(new());
            default: return null;
        }
    }

    private Activation<T>? ClipActivation(Node node)
    {
        double lo, hi;
        if (node.Inputs.Count > 1 || !node.Attributes.ContainsKey("min") && !node.Attributes.ContainsKey("max"))
        {
            lo = ScalarConst(node, 1, double.NegativeInfinity);
            hi = ScalarConst(node, 2, double.PositiveInfinity);
        }
        else
        {
            lo = node.GetFloat("min", double.NegativeInfinity);
            hi = node.GetFloat("max", double.PositiveInfinity);
        }
        return new ScalarActivation<T, ClipRule>(new(lo, hi));
    }

    private double ScalarConst(Node node, int index, double fallback)
    {
        var data = ConstInput(node, index, $"input {index}");
        if (data is null) return fallback;
        if (data.Length != 1) throw Unsupported(node, $"input {index} must be a scalar");
        return data[0];
    }

    private void BuildCast(Node node)
    {
        var x = Get(node, 0);
        long to = node.GetInt("to", 1);
        var type = (ElementType)to;
        if (type is ElementType.Float or ElementType.Double)
        {
            Alias(node.Outputs[0], x, x.Shape, x.RowAxis);
            return;
        }
        if (x.Const is not null && type is ElementType.Int64 or ElementType.Int32 or ElementType.Int16 or ElementType.Int8
                or ElementType.UInt8 or ElementType.UInt16 or ElementType.UInt32 or ElementType.UInt64 or ElementType.Bool)
        {
            var data = x.Const.Select(v => type == ElementType.Bool ? (v != 0 ? 1.0 : 0.0) : Math.Truncate(v)).ToArray();
            Constant(node.Outputs[0], x.Shape, data);
            return;
        }
        throw Unsupported(node, $"cast to {type} is not supported (the compiled backend computes in float32/float64)");
    }

    private void BuildReshape(Node node)
    {
        var x = Get(node, 0);
        double[] target = ConstInput(node, 1, "the shape") ?? node.GetInts("shape")?.Select(v => (double)v).ToArray()
            ?? throw Unsupported(node, "no target shape");
        bool allowZero = node.GetInt("allowzero", 0) != 0;
        var dims = new long[target.Length];
        int infer = -1;
        for (int i = 0; i < target.Length; i++)
        {
            long t = (long)target[i];
            if (t == 0 && !allowZero)
            {
                if (i >= x.Rank) throw Unsupported(node, $"shape entry {i} copies a dimension the input does not have");
                t = x.Shape[i];
            }
            if (x.HasRows && i == 0 && _declaredBatch is int batch && t == batch && batch != Rows) t = Rows;
            if (t == -1)
            {
                if (infer >= 0) throw Unsupported(node, "more than one -1 in the shape");
                infer = i;
                dims[i] = 1;
                continue;
            }
            if (t < 0) throw Unsupported(node, $"invalid shape entry {t}");
            dims[i] = t;
        }
        long known = dims.Aggregate(1L, (a, b) => a * b);
        if (infer >= 0)
        {
            if (known == 0 || x.Size % known != 0) throw Unsupported(node, $"cannot infer -1 for {x.ShapeText} → [{string.Join(", ", target)}]");
            dims[infer] = x.Size / known;
        }
        var shape = dims.Select(d => checked((int)d)).ToArray();
        if (Product(shape) != x.Size) throw Unsupported(node, $"cannot reshape {x.ShapeText} to [{string.Join(", ", shape)}]");
        ReshapeTo(node, x, shape);
    }

    /// <summary>A reshape keeps the physical data when the rows stay a leading axis on both sides.</summary>
    private void ReshapeTo(Node node, Value x, int[] shape)
    {
        if (!x.HasRows)
        {
            var v = Alias(node.Outputs[0], x, shape, -1);
            return;
        }
        if (x.Shape.Take(x.RowAxis).Any(d => d != 1))
            throw Unsupported(node, $"the batch axis of {x.ShapeText} is not leading");
        int outRow = -1;
        for (int i = 0; i < shape.Length; i++)
        {
            if (shape[i] == Rows) { outRow = i; break; }
            if (shape[i] != 1) break;
        }
        if (outRow < 0 || Product(shape.Skip(outRow + 1)) != x.PhysCount)
            throw Unsupported(node, $"reshaping {x.ShapeText} to [{string.Join(", ", shape)}] mixes the batch axis with others");
        Alias(node.Outputs[0], x, shape, outRow);
    }

    private void BuildFlatten(Node node)
    {
        var x = Get(node, 0);
        int axis = (int)node.GetInt("axis", 1);
        if (axis < 0) axis += x.Rank;
        if (axis < 0 || axis > x.Rank) throw Unsupported(node, $"axis {node.GetInt("axis", 1)} is out of range");
        int[] shape = [Product(x.Shape.Take(axis)), Product(x.Shape.Skip(axis))];
        if (x.HasRows)
        {
            if (x.RowAxis >= axis || Product(x.Shape.Take(axis)) != Rows)
                throw Unsupported(node, $"flattening {x.ShapeText} at axis {axis} mixes the batch axis with others");
            Alias(node.Outputs[0], x, shape, 0);
            return;
        }
        Alias(node.Outputs[0], x, shape, -1);
    }

    private long[]? Axes(Node node, int inputIndex)
    {
        var fromInput = ConstInput(node, inputIndex, "axes");
        if (fromInput is not null) return fromInput.Select(a => (long)a).ToArray();
        return node.GetInts("axes")?.ToArray();
    }

    private void BuildSqueeze(Node node)
    {
        var x = Get(node, 0);
        var axesRaw = Axes(node, 1);
        HashSet<int> axes = axesRaw is null
            ? Enumerable.Range(0, x.Rank).Where(i => x.Shape[i] == 1 && i != x.RowAxis).ToHashSet()
            : axesRaw.Select(a => NormalizeAxis(node, a, x.Rank)).ToHashSet();
        foreach (int a in axes)
        {
            if (a == x.RowAxis) throw Unsupported(node, "squeezing the batch axis is not supported");
            if (x.Shape[a] != 1) throw Unsupported(node, $"axis {a} of {x.ShapeText} has size {x.Shape[a]}, not 1");
        }
        var shape = Enumerable.Range(0, x.Rank).Where(i => !axes.Contains(i)).Select(i => x.Shape[i]).ToArray();
        int row = x.HasRows ? x.RowAxis - axes.Count(a => a < x.RowAxis) : -1;
        Alias(node.Outputs[0], x, shape, row);
    }

    private void BuildUnsqueeze(Node node)
    {
        var x = Get(node, 0);
        var axesRaw = Axes(node, 1) ?? throw Unsupported(node, "no axes");
        int rank = x.Rank + axesRaw.Length;
        var axes = axesRaw.Select(a => NormalizeAxis(node, a, rank)).ToHashSet();
        var shape = new int[rank];
        int src = 0, row = -1;
        for (int i = 0; i < rank; i++)
        {
            if (axes.Contains(i)) { shape[i] = 1; continue; }
            if (src == x.RowAxis) row = i;
            shape[i] = x.Shape[src++];
        }
        Alias(node.Outputs[0], x, shape, row);
    }

    // ---- dense --------------------------------------------------------------------------------------------

    private void BuildGemm(Node node, int index)
    {
        var a = Get(node, 0);
        var b = Get(node, 1);
        var c = GetOptional(node, 2);
        double alpha = node.GetFloat("alpha", 1.0), beta = node.GetFloat("beta", 1.0);
        bool transA = node.GetInt("transA", 0) != 0, transB = node.GetInt("transB", 0) != 0;
        if (a.Rank != 2 || b.Rank != 2) throw Unsupported(node, $"A {a.ShapeText} and B {b.ShapeText} must be matrices");
        int m = transA ? a.Shape[1] : a.Shape[0], k = transA ? a.Shape[0] : a.Shape[1];
        int kb = transB ? b.Shape[1] : b.Shape[0], n = transB ? b.Shape[0] : b.Shape[1];
        if (k != kb) throw Unsupported(node, $"A {a.ShapeText} and B {b.ShapeText} do not conform");
        int wk = transB ? 1 : n, wn = transB ? k : 1;

        if (a.HasRows)
        {
            if (a.RowAxis != (transA ? 1 : 0)) throw Unsupported(node, "the batch axis must be A's row axis");
            if (b.HasRows) throw Unsupported(node, "B must not depend on the batch");
            int biasStride = 0;
            if (c is not null)
            {
                if (c.HasRows) throw Unsupported(node, "C must not depend on the batch");
                biasStride = BiasStride(node, c, n, allowRowsDim: true);
            }
            BuildDense(node, index, a, 1, k, n, b, wk, wn, alpha, c, biasStride, beta, [Rows, n], 0);
            return;
        }
        if (b.HasRows || c is { HasRows: true }) throw Unsupported(node, "only A may carry the batch");
        int cm = 0, cn = 0;
        if (c is not null)
        {
            int r = c.Rank;
            int cr = r == 2 ? c.Shape[0] : 1, cc = r >= 1 ? c.Shape[r - 1] : 1;
            if (r > 2 || (cr != 1 && cr != m) || (cc != 1 && cc != n)) throw Unsupported(node, $"C {c.ShapeText} does not broadcast to [{m}, {n}]");
            cm = cr == 1 ? 0 : cc;
            cn = cc == 1 ? 0 : 1;
        }
        var y = Alloc(node.Outputs[0], [m, n], -1, a.NeedsGrad || b.NeedsGrad || (c?.NeedsGrad ?? false));
        AddOp(new PlainMatMulOp<T>(NodeLabel(node), m, k, n, [0], [0], a.Offset, a.GradOffset, transA ? 1 : k, transA ? m : 1,
            b.Offset, b.GradOffset, transB ? 1 : n, transB ? k : 1, alpha,
            c?.Offset ?? -1, c?.GradOffset ?? -1, cm, cn, beta, y.Offset, y.GradOffset), y);
    }

    /// <summary>The stride over n of a bias broadcast to [rows, N]: 0 for a scalar, 1 for [N], [1, N].</summary>
    private static int BiasStride(Node node, Value c, int n, bool allowRowsDim)
    {
        if (c.Size == 1) return 0;
        if (c.Size == n && c.Shape[^1] == n) return 1;
        throw Unsupported(node, $"bias {c.ShapeText} does not broadcast to [rows, {n}]");
    }

    private void BuildMatMul(Node node, int index)
    {
        var a = Get(node, 0);
        var b = Get(node, 1);
        if (a.HasRows)
        {
            if (b.HasRows) throw Unsupported(node, "both operands depend on the batch");
            if (b.Rank is not (1 or 2)) throw Unsupported(node, $"B {b.ShapeText} must be a matrix or vector when A carries the batch");
            if (a.Rank < 2 || a.RowAxis == a.Rank - 1) throw Unsupported(node, "the batch axis must not be A's contracted axis");
            int k = a.Shape[^1];
            if (b.Shape[0] != k) throw Unsupported(node, $"A {a.ShapeText} and B {b.ShapeText} do not conform");
            int n = b.Rank == 2 ? b.Shape[1] : 1;
            int p = a.PhysCount / k;
            var shape = b.Rank == 2 ? a.Shape[..^1].Append(n).ToArray() : a.Shape[..^1];
            BuildDense(node, index, a, p, k, n, b, b.Rank == 2 ? n : 1, b.Rank == 2 ? 1 : 0, 1.0, null, 0, 1.0, shape, a.RowAxis);
            return;
        }
        if (b.HasRows) throw Unsupported(node, "only A may carry the batch");
        BuildPlainMatMul(node, a, b);
    }

    private void BuildPlainMatMul(Node node, Value a, Value b)
    {
        int[] ash = a.Rank == 1 ? [1, a.Shape[0]] : a.Shape;
        int[] bsh = b.Rank == 1 ? [b.Shape[0], 1] : b.Shape;
        int m = ash[^2], k = ash[^1], n = bsh[^1];
        if (bsh[^2] != k) throw Unsupported(node, $"A {a.ShapeText} and B {b.ShapeText} do not conform");
        var aBatch = ash[..^2];
        var bBatch = bsh[..^2];
        int rank = Math.Max(aBatch.Length, bBatch.Length);
        var outBatch = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - aBatch.Length) >= 0 ? aBatch[i - (rank - aBatch.Length)] : 1;
            int db = i - (rank - bBatch.Length) >= 0 ? bBatch[i - (rank - bBatch.Length)] : 1;
            if (da != db && da != 1 && db != 1) throw Unsupported(node, $"batch dimensions of A {a.ShapeText} and B {b.ShapeText} do not broadcast");
            outBatch[i] = Math.Max(da, db);
        }
        var aOff = BroadcastOffsets(outBatch, aBatch, m * k);
        var bOff = BroadcastOffsets(outBatch, bBatch, k * n);
        var shape = outBatch.ToList();
        if (a.Rank > 1) shape.Add(m);
        if (b.Rank > 1) shape.Add(n);
        var y = Alloc(node.Outputs[0], shape.ToArray(), -1, a.NeedsGrad || b.NeedsGrad);
        AddOp(new PlainMatMulOp<T>(NodeLabel(node), m, k, n, aOff, bOff, a.Offset, a.GradOffset, k, 1, b.Offset, b.GradOffset, n, 1,
            1.0, -1, -1, 0, 0, 0.0, y.Offset, y.GradOffset), y);
    }

    /// <summary>For each index of <paramref name="outShape"/>, the offset into a right-aligned broadcast operand of <paramref name="shape"/> whose elements are blocks of <paramref name="block"/>.</summary>
    private static int[] BroadcastOffsets(int[] outShape, int[] shape, int block)
    {
        int count = Product(outShape);
        var strides = new int[outShape.Length];
        int acc = block;
        for (int i = shape.Length - 1; i >= 0; i--)
        {
            int j = i + outShape.Length - shape.Length;
            strides[j] = shape[i] == 1 ? 0 : acc;
            acc *= shape[i];
        }
        var result = new int[count];
        var idx = new int[outShape.Length];
        for (int p = 0; p < count; p++)
        {
            int off = 0;
            for (int d = 0; d < idx.Length; d++) off += idx[d] * strides[d];
            result[p] = off;
            for (int d = idx.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < outShape[d]) break;
                idx[d] = 0;
            }
        }
        return result;
    }

    /// <summary>A row-carrying dense layer, absorbing a following bias Add (MatMul form) and a following activation when nothing else reads the intermediate.</summary>
    private void BuildDense(Node node, int index, Value a, int p, int k, int n, Value w, int wk, int wn, double alpha,
        Value? bias, int biasStride, double beta, int[] shape, int rowAxis)
    {
        string output = node.Outputs[0];
        var nodes = _graph.Nodes;
        int last = index;

        if (bias is null)
        {
            int j = SoleConsumer(output, index);
            if (j >= 0 && nodes[j].OpType == "Add" && nodes[j].Inputs.Count == 2)
            {
                string other = nodes[j].Inputs[0] == output ? nodes[j].Inputs[1] : nodes[j].Inputs[0];
                Value? candidate = other.Length > 0 && other != output && (_values.ContainsKey(other) || _graph.Constants.ContainsKey(other)) ? Get(nodes[j], other) : null;
                if (candidate is { HasRows: false } && candidate.Rank <= shape.Length && (candidate.Size == 1 || (candidate.Size == n && candidate.Shape[^1] == n)))
                {
                    bias = candidate;
                    biasStride = candidate.Size == 1 ? 0 : 1;
                    beta = 1.0;
                    _fused.Add(j);
                    output = nodes[j].Outputs[0];
                    last = j;
                }
            }
        }

        Activation<T>? activation = null;
        {
            int j = SoleConsumer(output, last);
            if (j >= 0)
            {
                var act = nodes[j].OpType == "Clip" ? ClipActivation(nodes[j]) : ActivationFor(nodes[j]);
                if (act is not null && nodes[j].Inputs[0] == output)
                {
                    activation = act;
                    _fused.Add(j);
                    output = nodes[j].Outputs[0];
                }
            }
        }

        bool needsGrad = a.NeedsGrad || w.NeedsGrad || (bias?.NeedsGrad ?? false);
        var y = Alloc(output, shape, rowAxis, needsGrad);
        int derivative = activation is null ? -1 : Scratch(y.Size);
        int pack = Scratch(DenseOp<T>.PackSize(k, n));
        if (a.Name == _settings.RowInput) _denseOnRowInput.Add(_ops.Count);
        AddOp(new DenseOp<T>(NodeLabel(node), a.Offset, a.GradOffset, p, k, n, Rows, w.Offset, w.GradOffset, wk, wn, alpha,
            bias?.Offset ?? -1, bias?.GradOffset ?? -1, biasStride, beta, y.Offset, y.GradOffset, activation, derivative, pack), y);
    }

    // ---- elementwise and structural ------------------------------------------------------------------------

    private void BuildBinary(Node node, BinaryKind kind)
    {
        var a = Get(node, 0);
        var b = Get(node, 1);
        int rank = Math.Max(a.Rank, b.Rank);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            int da = i - (rank - a.Rank) >= 0 ? a.Shape[i - (rank - a.Rank)] : 1;
            int db = i - (rank - b.Rank) >= 0 ? b.Shape[i - (rank - b.Rank)] : 1;
            if (da != db && da != 1 && db != 1) throw Unsupported(node, $"{a.ShapeText} and {b.ShapeText} do not broadcast");
            shape[i] = Math.Max(da, db);
        }
        int aRow = a.HasRows ? a.RowAxis + rank - a.Rank : -1;
        int bRow = b.HasRows ? b.RowAxis + rank - b.Rank : -1;
        if (aRow >= 0 && bRow >= 0 && aRow != bRow) throw Unsupported(node, "the operands carry the batch on different axes");
        int row = Math.Max(aRow, bRow);
        if (row >= 0)
        {
            if (aRow < 0 && rank - a.Rank <= row && a.Shape[row - (rank - a.Rank)] != 1)
                throw Unsupported(node, $"{a.ShapeText} has a non-batch axis of the batch's size where the other operand has the batch");
            if (bRow < 0 && rank - b.Rank <= row && b.Shape[row - (rank - b.Rank)] != 1)
                throw Unsupported(node, $"{b.ShapeText} has a non-batch axis of the batch's size where the other operand has the batch");
        }
        var y = Alloc(node.Outputs[0], shape, row, a.NeedsGrad || b.NeedsGrad);
        var aOff = OperandOffsets(y, a, rank);
        var bOff = OperandOffsets(y, b, rank);
        var op = new BinaryOp<T>(NodeLabel(node), kind, a.Offset, a.GradOffset, aOff, a.HasRows, b.Offset, b.GradOffset, bOff, b.HasRows,
            y.Offset, y.GradOffset, y.Inner);
        AddOp(op, y);
        if (a.Const is not null && b.Const is not null)
        {
            var tmp = new double[_valueSize];
            var da = a.Const; var db = b.Const;
            var dop = new BinaryOp<double>(NodeLabel(node), kind, 0, -1, aOff, false, da.Length, -1, bOff, false, da.Length + db.Length, -1, 1);
            var arena = new double[da.Length + db.Length + y.Size];
            da.CopyTo(arena, 0);
            db.CopyTo(arena, da.Length);
            dop.Forward(arena, false);
            y.Const = arena[(da.Length + db.Length)..];
        }
    }

    /// <summary>For each physical block of <paramref name="y"/>, the element offset of the matching block of operand <paramref name="x"/> (right-aligned broadcasting).</summary>
    private static int[] OperandOffsets(Value y, Value x, int rank)
    {
        int shift = rank - x.Rank;
        var xStrides = x.PhysStrides();
        // stride of each y physical dim into x's physical layout (in elements).
        var strides = new List<int>();
        for (int j = 0; j < rank; j++)
        {
            if (j == y.RowAxis) continue;
            int xj = j - shift;
            if (xj < 0 || x.Shape[xj] == 1 || xj == x.RowAxis) { strides.Add(0); continue; }
            int physIndex = xj - (x.HasRows && x.RowAxis < xj ? 1 : 0);
            strides.Add(xStrides[physIndex] * x.Inner);
        }
        var result = new int[y.PhysCount];
        var idx = new int[y.Phys.Length];
        for (int p = 0; p < result.Length; p++)
        {
            int off = 0;
            for (int d = 0; d < idx.Length; d++) off += idx[d] * strides[d];
            result[p] = off;
            for (int d = idx.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < y.Phys[d]) break;
                idx[d] = 0;
            }
        }
        return result;
    }

    private void BuildSoftmax(Node node, bool log)
    {
        var x = Get(node, 0);
        bool legacy = _graph.Opset < 13 && _graph.Opset > 0;
        int axis = NormalizeAxis(node, node.GetInt("axis", legacy ? 1 : -1), x.Rank);
        int outer, mid, inner;
        if (x.HasRows)
        {
            if (axis == x.RowAxis || (legacy && x.RowAxis > axis)) throw Unsupported(node, "normalising over the batch axis is not supported");
            int pa = axis - (x.RowAxis < axis ? 1 : 0);
            outer = Product(x.Phys.Take(pa));
            mid = legacy ? Product(x.Phys.Skip(pa)) : x.Phys[pa];
            inner = (legacy ? 1 : Product(x.Phys.Skip(pa + 1))) * Rows;
        }
        else
        {
            outer = Product(x.Shape.Take(axis));
            mid = legacy ? Product(x.Shape.Skip(axis)) : x.Shape[axis];
            inner = legacy ? 1 : Product(x.Shape.Skip(axis + 1));
        }
        var y = Alloc(node.Outputs[0], x.Shape, x.RowAxis, x.NeedsGrad);
        AddOp(new SoftmaxOp<T>(NodeLabel(node), log, x.Offset, x.GradOffset, y.Offset, y.GradOffset, outer, mid, inner), y);
    }

    private void BuildReduce(Node node, bool mean)
    {
        var x = Get(node, 0);
        var axesRaw = Axes(node, 1);
        bool keep = node.GetInt("keepdims", 1) != 0;
        if (axesRaw is null || axesRaw.Length == 0)
        {
            if (node.GetInt("noop_with_empty_axes", 0) != 0)
            {
                Alias(node.Outputs[0], x, x.Shape, x.RowAxis);
                return;
            }
            axesRaw = Enumerable.Range(0, x.Rank).Select(i => (long)i).ToArray();
        }
        var axes = axesRaw.Select(a => NormalizeAxis(node, a, x.Rank)).ToHashSet();
        if (x.HasRows && axes.Contains(x.RowAxis)) throw Unsupported(node, "reducing over the batch axis is not supported");
        var shape = new List<int>();
        int row = -1;
        for (int i = 0; i < x.Rank; i++)
        {
            if (axes.Contains(i)) { if (keep) shape.Add(1); continue; }
            if (i == x.RowAxis) row = shape.Count;
            shape.Add(x.Shape[i]);
        }
        var y = Alloc(node.Outputs[0], shape.ToArray(), row, x.NeedsGrad);
        // Map each physical block of x to its block of y.
        var yStrides = y.PhysStrides();
        var map = MapBlocks(x, (logicalDim, coord) =>
        {
            if (axes.Contains(logicalDim)) return 0;
            int yd = keep ? logicalDim : logicalDim - axes.Count(a => a < logicalDim);
            int yp = yd - (y.HasRows && y.RowAxis < yd ? 1 : 0);
            return coord * yStrides[yp];
        });
        int count = Product(axes.Select(a => x.Shape[a]));
        AddOp(new MapOp<T>(NodeLabel(node), [x.Offset], [x.GradOffset], [map], y.Offset, y.GradOffset, y.Size, y.Inner, true,
            mean ? 1.0 / Math.Max(count, 1) : 1.0), y);
    }

    /// <summary>For each physical block of <paramref name="x"/>, Σ over its non-row logical dims of offset(dim, coordinate).</summary>
    private static int[] MapBlocks(Value x, Func<int, int, int> offset)
    {
        var logical = Enumerable.Range(0, x.Rank).Where(i => i != x.RowAxis).ToArray();
        var result = new int[x.PhysCount];
        var idx = new int[x.Phys.Length];
        for (int p = 0; p < result.Length; p++)
        {
            int off = 0;
            for (int d = 0; d < idx.Length; d++) off += offset(logical[d], idx[d]);
            result[p] = off;
            for (int d = idx.Length - 1; d >= 0; d--)
            {
                if (++idx[d] < x.Phys[d]) break;
                idx[d] = 0;
            }
        }
        return result;
    }

    private void BuildTranspose(Node node)
    {
        var x = Get(node, 0);
        var perm = node.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Rank).Reverse().ToArray();
        if (perm.Length != x.Rank || perm.Distinct().Count() != x.Rank || perm.Any(p => p < 0 || p >= x.Rank))
            throw Unsupported(node, $"perm [{string.Join(", ", perm)}] is not a permutation of rank {x.Rank}");
        var shape = perm.Select(p => x.Shape[p]).ToArray();
        int row = x.HasRows ? Array.IndexOf(perm, x.RowAxis) : -1;
        var y = new Value(node.Outputs[0], shape, row);
        var yStrides = y.PhysStrides();
        var inv = new int[x.Rank];
        for (int i = 0; i < perm.Length; i++) inv[perm[i]] = i;
        var map = MapBlocks(x, (d, coord) =>
        {
            int yd = inv[d];
            int yp = yd - (y.HasRows && y.RowAxis < yd ? 1 : 0);
            return coord * yStrides[yp];
        });
        if (map.Select((m, i) => m == i).All(b => b))
        {
            // Only the batch axis moved (or nothing): the physical data is unchanged.
            Alias(node.Outputs[0], x, shape, row);
            return;
        }
        y = Alloc(node.Outputs[0], shape, row, x.NeedsGrad);
        AddOp(new MapOp<T>(NodeLabel(node), [x.Offset], [x.GradOffset], [map], y.Offset, y.GradOffset, y.Size, y.Inner, false, 1.0), y);
    }

    private void BuildConcat(Node node)
    {
        var inputs = node.Inputs.Where(n => n.Length > 0).Select(n => Get(node, n)).ToArray();
        var first = inputs[0];
        int axis = NormalizeAxis(node, node.GetInt("axis", 0), first.Rank);
        bool rows = first.HasRows;
        foreach (var v in inputs)
        {
            if (v.Rank != first.Rank) throw Unsupported(node, "inputs differ in rank");
            if (v.HasRows != rows || v.RowAxis != first.RowAxis) throw Unsupported(node, "inputs must all carry the batch on the same axis, or none");
            for (int d = 0; d < v.Rank; d++)
                if (d != axis && v.Shape[d] != first.Shape[d]) throw Unsupported(node, "inputs differ off the concatenation axis");
        }
        if (rows && axis == first.RowAxis) throw Unsupported(node, "concatenating along the batch axis is not supported");
        var shape = first.Shape.ToArray();
        shape[axis] = inputs.Sum(v => v.Shape[axis]);
        var y = Alloc(node.Outputs[0], shape, first.RowAxis, inputs.Any(v => v.NeedsGrad));
        var yStrides = y.PhysStrides();
        int start = 0;
        var maps = new int[inputs.Length][];
        for (int i = 0; i < inputs.Length; i++)
        {
            int s0 = start;
            maps[i] = MapBlocks(inputs[i], (d, coord) =>
            {
                int yp = d - (y.HasRows && y.RowAxis < d ? 1 : 0);
                return (coord + (d == axis ? s0 : 0)) * yStrides[yp];
            });
            start += inputs[i].Shape[axis];
        }
        AddOp(new MapOp<T>(NodeLabel(node), inputs.Select(v => v.Offset).ToArray(), inputs.Select(v => v.GradOffset).ToArray(), maps,
            y.Offset, y.GradOffset, y.Size, y.Inner, false, 1.0), y);
        if (inputs.All(v => v.Const is not null))
        {
            var arena = new double[inputs.Sum(v => v.Size) + y.Size];
            int at = 0;
            var offs = new int[inputs.Length];
            for (int i = 0; i < inputs.Length; i++) { offs[i] = at; inputs[i].Const!.CopyTo(arena, at); at += inputs[i].Size; }
            new MapOp<double>(NodeLabel(node), offs, offs.Select(_ => -1).ToArray(), maps, at, -1, y.Size, 1, false, 1.0).Forward(arena, false);
            y.Const = arena[at..];
        }
    }

    private void BuildBatchNorm(Node node)
    {
        if (node.GetInt("training_mode", 0) != 0) throw Unsupported(node, "training_mode = 1 is not supported (inference only)");
        var x = Get(node, 0);
        var scale = Get(node, 1);
        var bias = Get(node, 2);
        var mean = Get(node, 3);
        var variance = Get(node, 4);
        if (x.Rank < 2) throw Unsupported(node, $"input {x.ShapeText} needs a channel axis");
        if (mean.NeedsGrad || variance.NeedsGrad) throw Unsupported(node, "the running mean and variance must be constants");
        if (scale.HasRows || bias.HasRows || mean.HasRows || variance.HasRows) throw Unsupported(node, "statistics must not depend on the batch");
        int channels = x.Shape[1];
        foreach (var s in new[] { scale, bias, mean, variance })
            if (s.Size != channels) throw Unsupported(node, $"'{s.Name}' has {s.Size} values for {channels} channels");
        int outer, inner;
        if (x.HasRows)
        {
            if (x.RowAxis != 0) throw Unsupported(node, "the batch must be on axis 0");
            outer = 1;
            inner = Product(x.Shape.Skip(2)) * Rows;
        }
        else
        {
            outer = x.Shape[0];
            inner = Product(x.Shape.Skip(2));
        }
        var y = Alloc(node.Outputs[0], x.Shape, x.RowAxis, x.NeedsGrad || scale.NeedsGrad || bias.NeedsGrad);
        AddOp(new BatchNormOp<T>(NodeLabel(node), x.Offset, x.GradOffset, y.Offset, y.GradOffset, outer, channels, inner,
            scale.Offset, scale.GradOffset, bias.Offset, bias.GradOffset, mean.Offset, variance.Offset, node.GetFloat("epsilon", 1e-5)), y);
    }
}
