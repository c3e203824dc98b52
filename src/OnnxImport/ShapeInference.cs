using System.Globalization;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Static shape inference over an imported graph, independent of any backend: given the shapes of the graph inputs
/// (declared in the file, or given), the shape of every value the graph computes, following the ONNX operator
/// definitions. A dimension is a product of a whole number and named symbols (<c>batch</c>, <c>seq</c>), so a symbolic
/// batch stays a symbol through Flatten, Reshape (including −1 and 0 entries) and shape arithmetic
/// (Shape → Gather → Concat → Reshape). An op whose output shape cannot be derived leaves that value unknown.
/// </summary>
internal static class ShapeInference
{
    /// <summary>
    /// The shape of every value (graph inputs, parameters, constants, node outputs) by value name. A missing entry or a
    /// null shape means the rank is unknown; an <see cref="Dimension.Unknown"/> entry means that dimension is unknown.
    /// A dimension that is a product involving symbols (a flattened <c>batch</c> × 3) is a symbolic dimension whose
    /// symbol reads <c>3*batch</c>.
    /// </summary>
    /// <param name="graph">The imported graph.</param>
    /// <param name="inputShapes">Shapes for graph inputs that replace the declared ones (by input name); others keep the file's.</param>
    /// <exception cref="InvalidDataException">Two dimensions the graph must match are known and differ (one line naming the node).</exception>
    public static IReadOnlyDictionary<string, IReadOnlyList<Dimension>?> Infer(OnnxGraph graph,
        IReadOnlyDictionary<string, IReadOnlyList<Dimension>>? inputShapes = null)
    {
        var inference = new Inference(graph);
        foreach (var input in graph.Inputs)
            inference.SetInput(input.Name, inputShapes is not null && inputShapes.TryGetValue(input.Name, out var given) ? given : input.Shape);
        inference.Run();
        return inference.Result();
    }

    /// <summary>The ops (default domain) whose output shapes the inference derives; any other op's outputs are unknown.</summary>
    public static IReadOnlySet<string> KnownOps { get; } = new SortedSet<string>(
        Inference.SameShape.Concat(Inference.Broadcasting).Concat(Inference.Reductions).Concat(
        [
            "Constant", "Gemm", "MatMul", "Reshape", "Flatten", "Squeeze", "Unsqueeze", "Transpose", "Concat", "Shape", "Size",
            "Gather", "Slice", "Expand", "ConstantOfShape", "Tile", "ArgMax", "ArgMin", "Split",
        ]), StringComparer.Ordinal);

    /// <summary>A dimension as c · s₁ · s₂ ⋯ over named symbols; symbols are kept sorted so equal products compare equal.</summary>
    private sealed record Size(long Coefficient, string[] Symbols)
    {
        public static Size Of(long value) => new(value, []);

        public static Size? From(Dimension d, Func<string> anonymous) =>
            d.Value is long v ? Of(v) : new Size(1, [d.Symbol ?? anonymous()]);

        public bool IsConstant => Symbols.Length == 0;

        public bool Equals(Size? other) => other is not null && other.Coefficient == Coefficient && other.Symbols.SequenceEqual(Symbols);

        public override int GetHashCode() => HashCode.Combine(Coefficient, string.Join("*", Symbols));

        public static Size operator *(Size a, Size b) =>
            new(checked(a.Coefficient * b.Coefficient), a.Coefficient * b.Coefficient == 0 ? [] : a.Symbols.Concat(b.Symbols).Order(StringComparer.Ordinal).ToArray());

        /// <summary>a / b when it is exact (b's symbols among a's, coefficients divisible), else null.</summary>
        public static Size? Divide(Size a, Size b)
        {
            if (b.Coefficient == 0 || a.Coefficient % b.Coefficient != 0) return null;
            var rest = a.Symbols.ToList();
            foreach (var s in b.Symbols)
                if (!rest.Remove(s)) return null;
            return new Size(a.Coefficient / b.Coefficient, rest.ToArray());
        }

        /// <summary>a + b when both have the same symbols, else null.</summary>
        public static Size? Add(Size a, Size b) =>
            a.Symbols.SequenceEqual(b.Symbols) ? new Size(checked(a.Coefficient + b.Coefficient), a.Symbols) : null;

        public Dimension ToDimension()
        {
            if (IsConstant) return Dimension.Fixed(Coefficient);
            if (Symbols.Any(s => s.StartsWith('?'))) return Dimension.Unknown;
            if (Coefficient == 1 && Symbols.Length == 1) return Dimension.Symbolic(Symbols[0]);
            var parts = Coefficient == 1 ? Symbols : Symbols.Prepend(Coefficient.ToString(CultureInfo.InvariantCulture));
            return Dimension.Symbolic(string.Join("*", parts));
        }

        public override string ToString() => ToDimension().ToString();
    }

    private sealed class Inference(OnnxGraph graph)
    {
        public static readonly HashSet<string> SameShape = new(StringComparer.Ordinal)
        {
            "Identity", "Dropout", "Cast", "CastLike", "Abs", "Neg", "Exp", "Log", "Sqrt", "Erf", "Relu", "Tanh", "Sigmoid",
            "Softplus", "Softsign", "Elu", "Selu", "Celu", "HardSigmoid", "HardSwish", "LeakyRelu", "ThresholdedRelu", "Gelu",
            "Mish", "Softmax", "LogSoftmax", "Hardmax", "Clip", "Reciprocal", "Floor", "Ceil", "Round", "Sign", "Sin", "Cos",
            "Tan", "Sinh", "Cosh", "Asin", "Acos", "Atan", "Asinh", "Acosh", "Atanh", "Not", "IsNaN", "IsInf", "CumSum",
            "BatchNormalization", "LayerNormalization", "InstanceNormalization", "LpNormalization", "Shrink",
        };

        public static readonly HashSet<string> Broadcasting = new(StringComparer.Ordinal)
        {
            "Add", "Sub", "Mul", "Div", "Pow", "Max", "Min", "Sum", "Mean", "Where", "Equal", "Less", "LessOrEqual",
            "Greater", "GreaterOrEqual", "And", "Or", "Xor", "PRelu", "Mod", "BitShift",
        };

        public static readonly HashSet<string> Reductions = new(StringComparer.Ordinal)
        {
            "ReduceSum", "ReduceMean", "ReduceMax", "ReduceMin", "ReduceProd", "ReduceL1", "ReduceL2", "ReduceLogSum",
            "ReduceLogSumExp", "ReduceSumSquare",
        };

        private readonly Dictionary<string, Size?[]?> _shapes = new(StringComparer.Ordinal);

        /// <summary>The contents of small integer tensors (shapes, axes, indices), flattened, where known.</summary>
        private readonly Dictionary<string, Size?[]> _ints = new(StringComparer.Ordinal);

        private int _anonymous;

        private string Anonymous() => "?" + (_anonymous++).ToString(CultureInfo.InvariantCulture);

        private Size?[] FromDimensions(IEnumerable<Dimension> dims) => dims.Select(d => Size.From(d, Anonymous)).ToArray();

        public void SetInput(string name, IReadOnlyList<Dimension> shape) => _shapes[name] = FromDimensions(shape);

        public IReadOnlyDictionary<string, IReadOnlyList<Dimension>?> Result() =>
            _shapes.ToDictionary(kv => kv.Key,
                kv => kv.Value is null ? null : (IReadOnlyList<Dimension>)kv.Value.Select(s => s?.ToDimension() ?? Dimension.Unknown).ToArray(),
                StringComparer.Ordinal);

        public void Run()
        {
            foreach (var p in graph.Parameters) _shapes[p.OnnxName] = p.Shape.Select(d => Size.Of(d)).ToArray();
            foreach (var (name, t) in graph.Constants)
            {
                _shapes[name] = t.Shape.Select(d => Size.Of(d)).ToArray();
                if (IsInteger(t.SourceType) && t.Size <= 1024) _ints[name] = t.Data.Select(v => Size.Of((long)v)).ToArray();
            }
            foreach (var node in graph.Nodes)
            {
                if (node.Domain.Length > 0 && node.Domain != "ai.onnx")
                {
                    foreach (var o in node.Outputs) _shapes[o] = null;
                    continue;
                }
                Visit(node);
            }
        }

        private static bool IsInteger(ElementType type) => type is ElementType.Int64 or ElementType.Int32 or ElementType.Int16
            or ElementType.Int8 or ElementType.UInt8 or ElementType.UInt16 or ElementType.UInt32 or ElementType.UInt64 or ElementType.Bool;

        private Size?[]? Shape(Node node, int index) =>
            node.InputOrNull(index) is string n && _shapes.TryGetValue(n, out var s) ? s : null;

        private Size?[]? Ints(Node node, int index) =>
            node.InputOrNull(index) is string n && _ints.TryGetValue(n, out var v) ? v : null;

        /// <summary>The constant whole numbers of input <paramref name="index"/>, when every entry is known.</summary>
        private long[]? ConstInts(Node node, int index) =>
            Ints(node, index) is { } v && v.All(s => s is { IsConstant: true }) ? v.Select(s => s!.Coefficient).ToArray() : null;

        private void Set(Node node, Size?[]? shape, int output = 0)
        {
            if (output < node.Outputs.Count && node.Outputs[output].Length > 0) _shapes[node.Outputs[output]] = shape;
        }

        private void SetInts(Node node, Size?[]? values)
        {
            if (values is not null) _ints[node.Outputs[0]] = values;
        }

        private static string Label(Node node) => node.Name.Length > 0 ? node.Name : node.Outputs.FirstOrDefault() ?? "?";

        private static InvalidDataException Mismatch(Node node, string what) =>
            new($"model: op {node.OpType} (node '{Label(node)}'): {what}");

        private static string Text(Size?[] shape) => "[" + string.Join(", ", shape.Select(s => s?.ToString() ?? "?")) + "]";

        private static int? Axis(long axis, int rank)
        {
            long a = axis < 0 ? axis + rank : axis;
            return a >= 0 && a < rank ? (int)a : null;
        }

        private static Size? Product(IEnumerable<Size?> dims)
        {
            Size result = Size.Of(1);
            foreach (var d in dims)
            {
                if (d is null) return null;
                result *= d;
            }
            return result;
        }

        private void Visit(Node node)
        {
            string op = node.OpType;
            if (SameShape.Contains(op))
            {
                var x = Shape(node, 0);
                Set(node, x);
                if (op == "Dropout") Set(node, x, 1);
                if (op is "Identity" or "Cast" && Ints(node, 0) is { } v && (op == "Identity" || IsInteger((ElementType)node.GetInt("to", 1))))
                    SetInts(node, v);
                return;
            }
            if (Broadcasting.Contains(op))
            {
                Size?[]? shape = Shape(node, 0);
                for (int i = 1; i < node.Inputs.Count && shape is not null; i++)
                    shape = Shape(node, i) is { } other ? Broadcast(node, shape, other) : null;
                Set(node, shape);
                SetInts(node, IntArithmetic(node));
                return;
            }
            if (Reductions.Contains(op))
            {
                Reduce(node);
                return;
            }
            switch (op)
            {
                case "Constant": Constant(node); return;
                case "Gemm": Gemm(node); return;
                case "MatMul": Set(node, MatMul(node, Shape(node, 0), Shape(node, 1))); return;
                case "Reshape": Reshape(node); return;
                case "Flatten": Flatten(node); return;
                case "Squeeze": Squeeze(node); return;
                case "Unsqueeze": Unsqueeze(node); return;
                case "Transpose": Transpose(node); return;
                case "Concat": Concat(node); return;
                case "Shape": ShapeOf(node); return;
                case "Size":
                    Set(node, []);
                    SetInts(node, Shape(node, 0) is { } s ? [Product(s)] : null);
                    return;
                case "Gather": Gather(node); return;
                case "Slice": Slice(node); return;
                case "Expand":
                    Set(node, Shape(node, 0) is { } e && Ints(node, 1) is { } target ? Broadcast(node, e, target) : null);
                    return;
                case "ConstantOfShape": Set(node, Ints(node, 0)); return;
                case "Tile": Tile(node); return;
                case "ArgMax" or "ArgMin": ArgReduce(node); return;
                case "Split": Split(node); return;
                default:
                    foreach (var o in node.Outputs) _shapes[o] = null;
                    return;
            }
        }

        private Size?[] Broadcast(Node node, Size?[] a, Size?[] b)
        {
            int rank = Math.Max(a.Length, b.Length);
            var shape = new Size?[rank];
            for (int i = 0; i < rank; i++)
            {
                var da = i - (rank - a.Length) >= 0 ? a[i - (rank - a.Length)] : Size.Of(1);
                var db = i - (rank - b.Length) >= 0 ? b[i - (rank - b.Length)] : Size.Of(1);
                if (da is not null && db is not null && da.Equals(db)) shape[i] = da;
                else if (da is { IsConstant: true, Coefficient: 1 }) shape[i] = db;
                else if (db is { IsConstant: true, Coefficient: 1 }) shape[i] = da;
                else if (da is { IsConstant: true } && db is { IsConstant: true })
                    throw Mismatch(node, $"{Text(a)} and {Text(b)} do not broadcast");
                else if (da is { IsConstant: true }) shape[i] = da;
                else if (db is { IsConstant: true }) shape[i] = db;
                else shape[i] = da is not null && db is not null ? null : da ?? db; // two different symbols: unknown
            }
            return shape;
        }

        /// <summary>Elementwise whole-number arithmetic on known shape values (Add, Sub, Mul, Div of shape entries).</summary>
        private Size?[]? IntArithmetic(Node node)
        {
            if (node.OpType is not ("Add" or "Sub" or "Mul" or "Div") || Ints(node, 0) is not { } a || Ints(node, 1) is not { } b) return null;
            if (a.Length != b.Length && a.Length != 1 && b.Length != 1) return null;
            int n = Math.Max(a.Length, b.Length);
            var result = new Size?[n];
            for (int i = 0; i < n; i++)
            {
                var x = a[a.Length == 1 ? 0 : i];
                var y = b[b.Length == 1 ? 0 : i];
                if (x is null || y is null) continue;
                result[i] = node.OpType switch
                {
                    "Mul" => x * y,
                    "Div" when x.IsConstant && y is { IsConstant: true, Coefficient: not 0 } => Size.Of(x.Coefficient / y.Coefficient),
                    "Div" => Size.Divide(x, y),
                    "Add" => Size.Add(x, y),
                    _ => Size.Add(x, new Size(-y.Coefficient, y.Symbols)) is { } d ? (d.Coefficient == 0 ? Size.Of(0) : d) : null,
                };
            }
            return result;
        }

        private void Constant(Node node)
        {
            var a = node.Attributes;
            if (a.TryGetValue("value", out var v) && v.Tensor is Tensor t)
            {
                Set(node, t.Shape.Select(d => Size.Of(d)).ToArray());
                if (IsInteger(t.SourceType) && t.Size <= 1024) SetInts(node, t.Data.Select(x => Size.Of((long)x)).ToArray());
            }
            else if (a.ContainsKey("value_float")) Set(node, []);
            else if (a.TryGetValue("value_int", out v)) { Set(node, []); SetInts(node, [Size.Of(v.Int)]); }
            else if (a.TryGetValue("value_floats", out v) && v.Floats is not null) Set(node, [Size.Of(v.Floats.Count)]);
            else if (a.TryGetValue("value_ints", out v) && v.Ints is not null)
            {
                Set(node, [Size.Of(v.Ints.Count)]);
                SetInts(node, v.Ints.Select(Size.Of).ToArray());
            }
            else Set(node, null);
        }

        private void Gemm(Node node)
        {
            if (Shape(node, 0) is not { Length: 2 } a || Shape(node, 1) is not { Length: 2 } b)
            {
                Set(node, null);
                return;
            }
            bool transA = node.GetInt("transA", 0) != 0, transB = node.GetInt("transB", 0) != 0;
            var (m, k) = transA ? (a[1], a[0]) : (a[0], a[1]);
            var (kb, n) = transB ? (b[1], b[0]) : (b[0], b[1]);
            if (k is { IsConstant: true } && kb is { IsConstant: true } && !k.Equals(kb))
                throw Mismatch(node, $"A {Text(a)} and B {Text(b)} do not conform");
            Set(node, [m, n]);
        }

        private Size?[]? MatMul(Node node, Size?[]? a, Size?[]? b)
        {
            if (a is not { Length: > 0 } || b is not { Length: > 0 }) return null;
            var ash = a.Length == 1 ? [Size.Of(1), a[0]] : a;
            var bsh = b.Length == 1 ? [b[0], Size.Of(1)] : b;
            Size? k = ash[^1], kb = bsh[^2];
            if (k is { IsConstant: true } && kb is { IsConstant: true } && !k.Equals(kb))
                throw Mismatch(node, $"A {Text(a)} and B {Text(b)} do not conform");
            var batch = Broadcast(node, ash[..^2], bsh[..^2]).ToList();
            if (a.Length > 1) batch.Add(ash[^2]);
            if (b.Length > 1) batch.Add(bsh[^1]);
            return batch.ToArray();
        }

        private void Reshape(Node node)
        {
            var x = Shape(node, 0);
            Size?[]? target = Ints(node, 1) ?? node.GetInts("shape")?.Select(Size.Of).ToArray();
            if (target is null)
            {
                Set(node, Shape(node, 1) is [{ IsConstant: true } r] ? Enumerable.Repeat<Size?>(null, (int)r.Coefficient).ToArray() : null);
                return;
            }
            bool allowZero = node.GetInt("allowzero", 0) != 0;
            var shape = new Size?[target.Length];
            int infer = -1;
            for (int i = 0; i < target.Length; i++)
            {
                var t = target[i];
                if (t is { IsConstant: true, Coefficient: 0 } && !allowZero) shape[i] = x is not null && i < x.Length ? x[i] : null;
                else if (t is { IsConstant: true, Coefficient: -1 }) infer = i;
                else shape[i] = t;
            }
            if (infer >= 0)
            {
                var rest = Product(shape.Where((_, i) => i != infer));
                shape[infer] = x is not null && Product(x) is { } total && rest is not null ? Size.Divide(total, rest) : null;
            }
            Set(node, shape);
            if (Ints(node, 0) is { } values) SetInts(node, values);
        }

        private void Flatten(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            long axis = node.GetInt("axis", 1);
            if (axis < 0) axis += x.Length;
            if (axis < 0 || axis > x.Length) throw Mismatch(node, $"axis {node.GetInt("axis", 1)} is out of range for {Text(x)}");
            Set(node, [Product(x.Take((int)axis)), Product(x.Skip((int)axis))]);
        }

        private long[]? AxesOf(Node node, int inputIndex) => ConstInts(node, inputIndex) ?? node.GetInts("axes")?.ToArray();

        private void Squeeze(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            var axesRaw = AxesOf(node, 1);
            if (axesRaw is null && node.InputOrNull(1) is not null)
            {
                Set(node, null);
                return;
            }
            HashSet<int> axes;
            if (axesRaw is null)
            {
                if (x.Any(d => d is null || !d.IsConstant))
                {
                    Set(node, null);
                    return;
                }
                axes = Enumerable.Range(0, x.Length).Where(i => x[i]!.Coefficient == 1).ToHashSet();
            }
            else axes = axesRaw.Select(a => Axis(a, x.Length) ?? throw Mismatch(node, $"axis {a} is out of range for {Text(x)}")).ToHashSet();
            Set(node, Enumerable.Range(0, x.Length).Where(i => !axes.Contains(i)).Select(i => x[i]).ToArray());
            if (Ints(node, 0) is { } v) SetInts(node, v);
        }

        private void Unsqueeze(Node node)
        {
            if (Shape(node, 0) is not { } x || AxesOf(node, 1) is not { } axesRaw)
            {
                Set(node, null);
                return;
            }
            int rank = x.Length + axesRaw.Length;
            var axes = axesRaw.Select(a => Axis(a, rank) ?? throw Mismatch(node, $"axis {a} is out of range for rank {rank}")).ToHashSet();
            var shape = new Size?[rank];
            int src = 0;
            for (int i = 0; i < rank; i++) shape[i] = axes.Contains(i) ? Size.Of(1) : x[src++];
            Set(node, shape);
            if (Ints(node, 0) is { } v) SetInts(node, v);
        }

        private void Transpose(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            var perm = node.GetInts("perm")?.Select(p => (int)p).ToArray() ?? Enumerable.Range(0, x.Length).Reverse().ToArray();
            if (perm.Length != x.Length || perm.Any(p => p < 0 || p >= x.Length))
                throw Mismatch(node, $"perm [{string.Join(", ", perm)}] does not fit {Text(x)}");
            Set(node, perm.Select(p => x[p]).ToArray());
        }

        private void Concat(Node node)
        {
            var parts = Enumerable.Range(0, node.Inputs.Count).Where(i => node.InputOrNull(i) is not null).Select(i => Shape(node, i)).ToArray();
            if (parts.Length == 0 || parts.Any(p => p is null) || parts.Select(p => p!.Length).Distinct().Count() != 1)
            {
                Set(node, null);
                return;
            }
            int rank = parts[0]!.Length;
            int axis = Axis(node.GetInt("axis", 0), rank) ?? throw Mismatch(node, $"axis {node.GetInt("axis", 0)} is out of range for rank {rank}");
            var shape = new Size?[rank];
            for (int d = 0; d < rank; d++)
            {
                if (d == axis)
                {
                    Size? sum = parts[0]![d];
                    foreach (var p in parts.Skip(1)) sum = sum is not null && p![d] is { } s ? Size.Add(sum, s) : null;
                    shape[d] = sum;
                    continue;
                }
                shape[d] = parts.Select(p => p![d]).FirstOrDefault(s => s is { IsConstant: true }) ?? parts[0]![d];
                foreach (var p in parts)
                    if (p![d] is { IsConstant: true } s && shape[d] is { IsConstant: true } known && !s.Equals(known))
                        throw Mismatch(node, $"inputs {string.Join(" and ", parts.Select(q => Text(q!)))} differ off the concatenation axis");
            }
            Set(node, shape);
            if (rank == 1)
            {
                var values = new List<Size?>();
                foreach (int i in Enumerable.Range(0, node.Inputs.Count).Where(i => node.InputOrNull(i) is not null))
                {
                    if (Ints(node, i) is not { } v)
                    {
                        values = null;
                        break;
                    }
                    values.AddRange(v);
                }
                SetInts(node, values?.ToArray());
            }
        }

        private void ShapeOf(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            int rank = x.Length;
            long start = node.GetInt("start", 0), end = node.GetInt("end", rank);
            if (start < 0) start += rank;
            if (end < 0) end += rank;
            start = Math.Clamp(start, 0, rank);
            end = Math.Clamp(end, start, rank);
            var values = x.Skip((int)start).Take((int)(end - start)).ToArray();
            Set(node, [Size.Of(values.Length)]);
            SetInts(node, values);
        }

        private void Gather(Node node)
        {
            var data = Shape(node, 0);
            var indices = Shape(node, 1);
            if (data is null || indices is null)
            {
                Set(node, null);
                return;
            }
            int axis = Axis(node.GetInt("axis", 0), data.Length) ?? throw Mismatch(node, $"axis {node.GetInt("axis", 0)} is out of range for {Text(data)}");
            Set(node, [.. data[..axis], .. indices, .. data[(axis + 1)..]]);
            if (data.Length == 1 && Ints(node, 0) is { } values && ConstInts(node, 1) is { } index)
                SetInts(node, index.Select(i => i < 0 ? i + values.Length : i).Select(i => i >= 0 && i < values.Length ? values[i] : null).ToArray());
        }

        private void Slice(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            // Opset 10 moved starts, ends, axes and steps from attributes to inputs; a computed one leaves the sliced sizes unknown.
            bool fromInputs = graph.Opset >= 10;
            long[]? starts = fromInputs ? ConstInts(node, 1) : node.GetInts("starts")?.ToArray();
            long[]? ends = fromInputs ? ConstInts(node, 2) : node.GetInts("ends")?.ToArray();
            long[]? axes = fromInputs ? ConstInts(node, 3) : node.GetInts("axes")?.ToArray();
            long[]? steps = fromInputs ? ConstInts(node, 4) : null;
            bool computed = fromInputs && (node.InputOrNull(3) is not null && axes is null || node.InputOrNull(4) is not null && steps is null);
            if (starts is null || ends is null || starts.Length != ends.Length || computed)
            {
                Set(node, x.Select(_ => (Size?)null).ToArray());
                return;
            }
            axes ??= Enumerable.Range(0, starts.Length).Select(i => (long)i).ToArray();
            steps ??= Enumerable.Repeat(1L, starts.Length).ToArray();
            var shape = (Size?[])x.Clone();
            var ranges = new (long Start, long End, long Step)?[x.Length];
            for (int i = 0; i < starts.Length; i++)
            {
                int a = Axis(axes[i], x.Length) ?? throw Mismatch(node, $"axis {axes[i]} is out of range for {Text(x)}");
                long step = steps[i];
                if (step == 0) throw Mismatch(node, "a step is 0");
                if (x[a] is { IsConstant: true } d)
                {
                    long n = d.Coefficient;
                    long s = Clamp(starts[i], n, step), e = Clamp(ends[i], n, step);
                    long count = step > 0 ? Math.Max(0, (e - s + step - 1) / step) : Math.Max(0, (s - e - step - 1) / -step);
                    shape[a] = Size.Of(count);
                    ranges[a] = (s, e, step);
                }
                else shape[a] = starts[i] == 0 && ends[i] >= int.MaxValue && step == 1 ? x[a] : null;
            }
            Set(node, shape);
            if (x.Length == 1 && Ints(node, 0) is { } values)
                SetInts(node, ranges[0] is not { } r ? values
                    : Enumerable.Range(0, (int)shape[0]!.Coefficient).Select(k => values[(int)(r.Start + k * r.Step)]).ToArray());

            static long Clamp(long v, long n, long step)
            {
                if (v < 0) v += n;
                return step > 0 ? Math.Clamp(v, 0, n) : Math.Clamp(v, -1, n - 1);
            }
        }

        private void Tile(Node node)
        {
            if (Shape(node, 0) is not { } x || Ints(node, 1) is not { } repeats || repeats.Length != x.Length)
            {
                Set(node, null);
                return;
            }
            Set(node, x.Select((d, i) => d is not null && repeats[i] is { } r ? d * r : null).ToArray());
        }

        private void Reduce(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            bool keep = node.GetInt("keepdims", 1) != 0;
            bool axesAsInput = node.OpType == "ReduceSum" ? graph.Opset >= 13 : graph.Opset >= 18;
            long[]? axesRaw = axesAsInput ? ConstInts(node, 1) : node.GetInts("axes")?.ToArray();
            if (axesAsInput && axesRaw is null && node.InputOrNull(1) is not null)
            {
                Set(node, keep ? x.Select(_ => (Size?)null).ToArray() : null);
                return;
            }
            if (axesRaw is null or { Length: 0 } && node.GetInt("noop_with_empty_axes", 0) != 0)
            {
                Set(node, x);
                return;
            }
            var axes = axesRaw is null or { Length: 0 }
                ? Enumerable.Range(0, x.Length).ToHashSet()
                : axesRaw.Select(a => Axis(a, x.Length) ?? throw Mismatch(node, $"axis {a} is out of range for {Text(x)}")).ToHashSet();
            Set(node, keep
                ? x.Select((d, i) => axes.Contains(i) ? Size.Of(1) : d).ToArray()
                : x.Where((_, i) => !axes.Contains(i)).ToArray());
        }

        private void ArgReduce(Node node)
        {
            if (Shape(node, 0) is not { } x)
            {
                Set(node, null);
                return;
            }
            int axis = Axis(node.GetInt("axis", 0), x.Length) ?? throw Mismatch(node, $"axis {node.GetInt("axis", 0)} is out of range for {Text(x)}");
            Set(node, node.GetInt("keepdims", 1) != 0
                ? x.Select((d, i) => i == axis ? Size.Of(1) : d).ToArray()
                : x.Where((_, i) => i != axis).ToArray());
        }

        private void Split(Node node)
        {
            var x = Shape(node, 0);
            int outputs = node.Outputs.Count;
            if (x is null)
            {
                foreach (var o in node.Outputs) _shapes[o] = null;
                return;
            }
            int axis = Axis(node.GetInt("axis", 0), x.Length) ?? throw Mismatch(node, $"axis {node.GetInt("axis", 0)} is out of range for {Text(x)}");
            long[]? sizes = (graph.Opset >= 13 ? ConstInts(node, 1) : null) ?? node.GetInts("split")?.ToArray();
            if (sizes is null && x[axis] is { IsConstant: true } d)
            {
                long n = d.Coefficient, chunk = (n + outputs - 1) / outputs;
                sizes = Enumerable.Range(0, outputs).Select(i => Math.Clamp(n - i * chunk, 0, chunk)).ToArray();
            }
            for (int i = 0; i < outputs; i++)
            {
                var shape = (Size?[])x.Clone();
                shape[axis] = sizes is not null && i < sizes.Length ? Size.Of(sizes[i]) : null;
                Set(node, shape, i);
            }
        }
    }
}
