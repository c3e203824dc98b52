namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// A tensor of the compiled program. Its logical shape is the ONNX shape; when it carries the data rows
/// (<see cref="RowAxis"/> ≥ 0) the rows are stored innermost: physically it is [<see cref="Phys"/>…, R] row-major,
/// so each feature's R values are contiguous and kernels run SIMD across rows. A value without rows is plain
/// row-major (R = 1).
/// </summary>
internal sealed class Value
{
    public Value(string name, int[] shape, int rowAxis)
    {
        Name = name;
        Shape = shape;
        RowAxis = rowAxis;
        Inner = rowAxis >= 0 ? shape[rowAxis] : 1;
        Phys = rowAxis >= 0 ? shape.Where((_, i) => i != rowAxis).ToArray() : shape;
        PhysCount = Phys.Aggregate(1, (a, b) => a * b);
    }

    public string Name { get; }

    /// <summary>The ONNX (logical) shape.</summary>
    public int[] Shape { get; }

    /// <summary>Logical axis holding the data rows, or −1.</summary>
    public int RowAxis { get; }

    /// <summary>R for a value with rows, else 1: the length of the contiguous innermost block.</summary>
    public int Inner { get; }

    /// <summary>The logical shape without the row axis.</summary>
    public int[] Phys { get; }

    public int PhysCount { get; }

    public int Size => PhysCount * Inner;

    public int Rank => Shape.Length;

    public bool HasRows => RowAxis >= 0;

    /// <summary>Offset in the value arena.</summary>
    public int Offset { get; set; }

    /// <summary>Offset in the gradient arena, or −1 when no gradient flows to this value.</summary>
    public int GradOffset { get; set; } = -1;

    public bool NeedsGrad => GradOffset >= 0;

    /// <summary>For constants: the data, logical row-major.</summary>
    public double[]? Const { get; set; }

    /// <summary>True for graph parameters (their data is the position).</summary>
    public bool IsParameter { get; set; }

    public string ShapeText => "[" + string.Join(", ", Shape.Select((d, i) => i == RowAxis ? "rows" : d.ToString(System.Globalization.CultureInfo.InvariantCulture))) + "]";

    /// <summary>Row-major strides of the physical non-row dimensions (in units of Inner blocks).</summary>
    public int[] PhysStrides()
    {
        var s = new int[Phys.Length];
        int acc = 1;
        for (int i = Phys.Length - 1; i >= 0; i--) { s[i] = acc; acc *= Phys[i]; }
        return s;
    }

    /// <summary>Maps a logical row-major flat index to the physical flat index.</summary>
    public int PhysicalIndex(int logical)
    {
        if (!HasRows) return logical;
        int phys = 0, row = 0, physStride = 1, rem = logical;
        // Walk dimensions from last to first, peeling off each one's coordinate (no allocation: this runs per element).
        for (int d = Rank - 1; d >= 0; d--)
        {
            int pos = rem % Shape[d];
            rem /= Shape[d];
            if (d == RowAxis) { row = pos; continue; }
            phys += pos * physStride;
            physStride *= Shape[d];
        }
        return phys * Inner + row;
    }
}
