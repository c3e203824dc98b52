using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.InteropServices;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>Where a graph parameter lives: its slice of the position and of the arenas.</summary>
internal readonly record struct ParameterSlot(int PositionOffset, int Size, int Offset, int GradOffset);

/// <summary>
/// A graph compiled for a fixed row count: a straight-line list of ops over one value arena and one gradient arena.
/// Immutable; each <see cref="ProgramState{T}"/> owns its own arenas, so one program serves many chains.
/// </summary>
internal sealed class CompiledProgram<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public required Op<T>[] Ops { get; init; }

    /// <summary>Per op: whether a gradient reaches its output (otherwise its reverse step is skipped).</summary>
    public required bool[] OpNeedsBackward { get; init; }

    /// <summary>
    /// Per op: whether its output is a function of the parameters and constants alone (no rows). Such an op runs in
    /// <see cref="ProgramState{T}.Prepare"/>, once per position, so that the ops after it prepare from its result.
    /// </summary>
    public required bool[] OpPerPosition { get; init; }

    /// <summary>
    /// Per op: a dense layer that may read the row input from the caller's array instead of the arena
    /// (<see cref="ProgramState{T}.ForwardPrepared(bool, ReadOnlySpan{T})"/>); true only when such layers are the row
    /// input's only readers.
    /// </summary>
    public required bool[] ReadsRowInputDirectly { get; init; }

    /// <summary>Whether every reader of the row input can take it from the caller's array (so it need not be copied in).</summary>
    public required bool RowInputDirect { get; init; }

    public required int ValueSize { get; init; }
    public required int GradSize { get; init; }

    /// <summary>The gradient arena starts with the parameters' gradients, [0, ParameterGradSize); activations' gradients follow.</summary>
    public required int ParameterGradSize { get; init; }
    public required (int Offset, double[] Data)[] Initializers { get; init; }
    public required ParameterSlot[] Parameters { get; init; }
    public required IReadOnlyDictionary<string, Value> Values { get; init; }
    public required int Rows { get; init; }

    /// <summary>Number of position scalars the parameters occupy.</summary>
    public int ParameterDimension => Parameters.Length == 0 ? 0 : Parameters[^1].PositionOffset + Parameters[^1].Size;

    public Value Value(string name) =>
        Values.TryGetValue(name, out var v) ? v : throw new InvalidOperationException($"value '{name}' is not materialised by the compiled program");
}

/// <summary>The arenas of one evaluation context (one chain).</summary>
internal sealed class ProgramState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public ProgramState(CompiledProgram<T> program)
    {
        Program = program;
        V = new T[program.ValueSize];
        G = new T[program.GradSize];
        foreach (var (offset, data) in program.Initializers)
            for (int i = 0; i < data.Length; i++) V[offset + i] = T.CreateTruncating(data[i]);
    }

    public CompiledProgram<T> Program { get; }

    /// <summary>Scratch for a parameter's gradient widened to double (float32 programs).</summary>
    private double[]? _widened;

    public T[] V { get; }
    public T[] G { get; }

    public void SetParameters(ReadOnlySpan<double> position)
    {
        foreach (var s in Program.Parameters)
            Convert(position.Slice(s.PositionOffset, s.Size), V.AsSpan(s.Offset, s.Size));
    }

    /// <summary>dst ← src in the compute type, vectorised (the same rounding as an element-by-element conversion).</summary>
    private static void Convert(ReadOnlySpan<double> src, Span<T> dst)
    {
        if (typeof(T) == typeof(double)) src.CopyTo(MemoryMarshal.Cast<T, double>(dst));
        else if (typeof(T) == typeof(float)) TensorPrimitives.ConvertTruncating<double, float>(src, MemoryMarshal.Cast<T, float>(dst));
        else for (int i = 0; i < src.Length; i++) dst[i] = T.CreateTruncating(src[i]);
    }

    /// <summary>dst ← src in double, vectorised (exact).</summary>
    private static void Convert(ReadOnlySpan<T> src, Span<double> dst)
    {
        if (typeof(T) == typeof(double)) MemoryMarshal.Cast<T, double>(src).CopyTo(dst);
        else if (typeof(T) == typeof(float)) TensorPrimitives.ConvertTruncating<float, double>(MemoryMarshal.Cast<T, float>(src), dst);
        else for (int i = 0; i < src.Length; i++) dst[i] = double.CreateTruncating(src[i]);
    }

    /// <summary>Writes a value from logical row-major data (rows: R × per-row values, for a value with rows on axis 0).</summary>
    public void SetLogical(Value value, ReadOnlySpan<double> data)
    {
        if (value.HasRows && value.RowAxis == 0)
        {
            int rows = value.Inner, width = value.PhysCount;
            for (int r = 0; r < rows; r++)
                for (int f = 0; f < width; f++)
                    V[value.Offset + f * rows + r] = T.CreateTruncating(data[r * width + f]);
            return;
        }
        for (int l = 0; l < value.Size; l++) V[value.Offset + value.PhysicalIndex(l)] = T.CreateTruncating(data[l]);
    }

    /// <summary>Reads a value as logical row-major data.</summary>
    public void ReadLogical(Value value, Span<double> data)
    {
        if (value.HasRows && value.RowAxis == 0)
        {
            int rows = value.Inner, width = value.PhysCount;
            for (int r = 0; r < rows; r++)
                for (int f = 0; f < width; f++)
                    data[r * width + f] = double.CreateTruncating(V[value.Offset + f * rows + r]);
            return;
        }
        for (int l = 0; l < value.Size; l++) data[l] = double.CreateTruncating(V[value.Offset + value.PhysicalIndex(l)]);
    }

    /// <summary>Adds a logical row-major seed into a value's gradient.</summary>
    public void AddGradientLogical(Value value, ReadOnlySpan<double> seed)
    {
        if (!value.NeedsGrad) return;
        for (int l = 0; l < value.Size; l++) G[value.GradOffset + value.PhysicalIndex(l)] += T.CreateTruncating(seed[l]);
    }

    /// <summary>Prepares the ops for the current parameters (packs weights), then runs the forward pass.</summary>
    public void Forward(bool withGradient)
    {
        Prepare();
        ForwardPrepared(withGradient);
    }

    /// <summary>
    /// Per-position work, done once whatever the number of row blocks: the ops on parameters alone (a weight's
    /// Transpose or Reshape) in graph order, each op's own preparation (packed weights) after its inputs are ready.
    /// </summary>
    public void Prepare()
    {
        var v = V.AsSpan();
        var ops = Program.Ops;
        for (int i = 0; i < ops.Length; i++)
        {
            if (Program.OpPerPosition[i]) ops[i].Forward(v, withGradient: true);
            ops[i].Prepare(v);
        }
    }

    /// <summary>The forward pass over the rows, after <see cref="Prepare"/> for the current parameters.</summary>
    public void ForwardPrepared(bool withGradient) => ForwardPrepared(withGradient, default);

    /// <summary>
    /// The forward pass, the dense layers on the row input reading it from <paramref name="input"/> (its physical
    /// layout, as the arena would hold it) when it is not empty and <see cref="CompiledProgram{T}.RowInputDirect"/>.
    /// </summary>
    public void ForwardPrepared(bool withGradient, ReadOnlySpan<T> input)
    {
        var v = V.AsSpan();
        var ops = Program.Ops;
        var direct = Program.ReadsRowInputDirectly;
        for (int i = 0; i < ops.Length; i++)
        {
            if (Program.OpPerPosition[i]) continue;
            if (direct[i] && !input.IsEmpty) ((DenseOp<T>)ops[i]).ForwardParts(v, withGradient, DenseOp<T>.ForwardAll, input);
            else ops[i].Forward(v, withGradient);
        }
    }

    public void ClearGradients() => Array.Clear(G);

    /// <summary>Clears every gradient but the parameters' (which keep accumulating over row blocks).</summary>
    public void ClearActivationGradients() => Array.Clear(G, Program.ParameterGradSize, G.Length - Program.ParameterGradSize);

    public void Backward() => Backward(default);

    /// <summary>The reverse pass, reading the row input from <paramref name="input"/> as <see cref="ForwardPrepared(bool, ReadOnlySpan{T})"/> does.</summary>
    public void Backward(ReadOnlySpan<T> input)
    {
        var v = V.AsSpan();
        var g = G.AsSpan();
        var ops = Program.Ops;
        var direct = Program.ReadsRowInputDirectly;
        for (int i = ops.Length - 1; i >= 0; i--)
        {
            if (!Program.OpNeedsBackward[i]) continue;
            if (direct[i] && !input.IsEmpty) ((DenseOp<T>)ops[i]).BackwardParts(v, g, DenseOp<T>.BackwardAll, input);
            else ops[i].Backward(v, g);
        }
    }

    /// <summary>Adds ∂/∂θ of the parameters (graph order) into <paramref name="gradient"/>.</summary>
    public void AddParameterGradients(Span<double> gradient)
    {
        foreach (var s in Program.Parameters)
        {
            if (s.GradOffset < 0) continue;
            var dst = gradient.Slice(s.PositionOffset, s.Size);
            if (typeof(T) == typeof(double))
            {
                TensorPrimitives.Add(dst, MemoryMarshal.Cast<T, double>(G.AsSpan(s.GradOffset, s.Size)), dst);
                continue;
            }
            _widened ??= new double[Program.Parameters.Max(p => p.Size)];
            var wide = _widened.AsSpan(0, s.Size);
            Convert(G.AsSpan(s.GradOffset, s.Size), wide);
            TensorPrimitives.Add(dst, wide, dst);
        }
    }

    /// <summary>Writes ∂/∂θ of the parameters (graph order) into <paramref name="gradient"/> (overwrites that prefix).</summary>
    public void ReadParameterGradients(Span<double> gradient)
    {
        foreach (var s in Program.Parameters)
        {
            var dst = gradient.Slice(s.PositionOffset, s.Size);
            if (s.GradOffset < 0) { dst.Clear(); continue; }
            Convert(G.AsSpan(s.GradOffset, s.Size), dst);
        }
    }
}
