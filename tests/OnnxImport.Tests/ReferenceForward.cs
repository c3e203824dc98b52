using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A deliberately plain forward pass over the imported graph, used only to check that the imported weights, their
/// layouts and the committed expected outputs agree. Every value is viewed as a matrix: its last axis is the
/// columns and all the others together the rows (vectors broadcast along rows); shape ops change the ONNX shape
/// and leave the data as it is.
/// </summary>
internal static class ReferenceForward
{
    private sealed record Mat(int[] Shape, double[] Data)
    {
        public Mat(int rows, int cols, double[] data) : this([rows, cols], data) { }

        public int Rows => Shape.Length <= 1 ? 1 : Shape[..^1].Aggregate(1, (a, b) => a * b);

        public int Cols => Shape.Length == 0 ? 1 : Shape[^1];

        public double this[int r, int c] => Data[(Rows == 1 ? 0 : r) * Cols + (Cols == 1 ? 0 : c)];

        public long[] Longs => Data.Select(v => (long)v).ToArray();
    }

    public static double[][] Run(OnnxGraph graph, double[][] rows)
    {
        var values = new Dictionary<string, Mat>();
        int n = rows.Length, f = rows[0].Length;
        values[graph.Inputs[0].Name] = new Mat(n, f, rows.SelectMany(r => r).ToArray());
        foreach (var p in graph.Parameters) values[p.OnnxName] = new Mat(p.Shape, p.Values);
        foreach (var (name, t) in graph.Constants) values[name] = new Mat(t.Shape, t.Data);

        foreach (var node in graph.Nodes)
        {
            Mat In(int i) => values[node.Inputs[i]];
            long[]? Axes() => node.InputOrNull(1) is string axes ? values[axes].Longs : node.GetInts("axes")?.ToArray();
            Mat result = node.OpType switch
            {
                "Gemm" => Gemm(In(0), In(1), node.GetInt("transB", 0) != 0, node.InputOrNull(2) is null ? null : In(2),
                    node.GetFloat("alpha", 1), node.GetFloat("beta", 1)),
                "MatMul" => MatMul(In(0), In(1)),
                "Add" => Zip(In(0), In(1), (a, b) => a + b),
                "Sub" => Zip(In(0), In(1), (a, b) => a - b),
                "Mul" => Zip(In(0), In(1), (a, b) => a * b),
                "Div" => Zip(In(0), In(1), (a, b) => a / b),
                "Softplus" => Map(In(0), x => Math.Log(1 + Math.Exp(x))),
                "Tanh" => Map(In(0), Math.Tanh),
                "Relu" => Map(In(0), x => Math.Max(0, x)),
                "Neg" => Map(In(0), x => -x),
                "Sqrt" => Map(In(0), Math.Sqrt),
                "Pow" => Zip(In(0), In(1), Math.Pow),
                "ReduceMean" when Axes() is [var axis] && (axis == -1 || axis == In(0).Shape.Length - 1) && node.GetInt("keepdims", 1) == 1 => MeanOfRows(In(0)),
                "Abs" => Map(In(0), Math.Abs),
                "Log" => Map(In(0), Math.Log),
                "Erf" => Map(In(0), Erf),
                "Elu" => Map(In(0), x => x > 0 ? x : node.GetFloat("alpha", 1) * (Math.Exp(x) - 1)),
                "Selu" => Map(In(0), x => node.GetFloat("gamma", 1.05070102214813232421875)
                    * (x > 0 ? x : node.GetFloat("alpha", 1.67326319217681884765625) * (Math.Exp(x) - 1))),
                "LeakyRelu" => Map(In(0), x => x >= 0 ? x : node.GetFloat("alpha", 0.01) * x),
                "Shrink" => Map(In(0), x => x > node.GetFloat("lambd", 0.5) ? x - node.GetFloat("bias", 0)
                    : x < -node.GetFloat("lambd", 0.5) ? x + node.GetFloat("bias", 0) : 0),
                "Clip" => Map(In(0), x => Math.Clamp(x,
                    node.InputOrNull(1) is string lo ? values[lo].Data[0] : node.GetFloat("min", double.NegativeInfinity),
                    node.InputOrNull(2) is string hi ? values[hi].Data[0] : node.GetFloat("max", double.PositiveInfinity))),
                "LogSoftmax" => Map(Softmax(In(0)), Math.Log),
                "Sigmoid" => Map(In(0), x => 1 / (1 + Math.Exp(-x))),
                "HardSigmoid" => Map(In(0), x => Math.Clamp(node.GetFloat("alpha", 0.2) * x + node.GetFloat("beta", 0.5), 0, 1)),
                "HardSwish" => Map(In(0), x => x * Math.Clamp(x / 6 + 0.5, 0, 1)),
                "Celu" => Map(In(0), x => Math.Max(0, x) + Math.Min(0, node.GetFloat("alpha", 1) * (Math.Exp(x / node.GetFloat("alpha", 1)) - 1))),
                "Identity" or "Cast" => In(0),
                "Transpose" => Transpose(In(0)),
                "Reshape" => Reshape(In(0), In(1).Longs),
                "Flatten" => Flatten(In(0), (int)node.GetInt("axis", 1)),
                "Squeeze" => Squeeze(In(0), Axes()),
                "Unsqueeze" => Unsqueeze(In(0), Axes()!),
                "Softmax" => Softmax(In(0)),
                "Concat" when node.GetInt("axis", 0) is 1 or -1 => Concat(node.Inputs.Select(i => values[i]).ToArray()),
                "BatchNormalization" => BatchNorm(In(0), In(1), In(2), In(3), In(4), node.GetFloat("epsilon", 1e-5)),
                "Gelu" => node.GetString("approximate") == "tanh"
                    ? Map(In(0), x => 0.5 * x * (1 + Math.Tanh(Math.Sqrt(2 / Math.PI) * (x + 0.044715 * x * x * x))))
                    : throw new NotSupportedException("exact Gelu"),
                _ => throw new NotSupportedException(node.OpType),
            };
            values[node.Outputs[0]] = result;
        }
        var y = values[graph.Outputs[0].Name];
        return Enumerable.Range(0, y.Rows).Select(r => Enumerable.Range(0, y.Cols).Select(c => y[r, c]).ToArray()).ToArray();
    }

    private static Mat MatMul(Mat a, Mat b)
    {
        Assert.Equal(2, b.Shape.Length);
        var y = Gemm(a, b, false, null, 1, 1);
        return y with { Shape = [.. a.Shape[..^1], b.Cols] };
    }

    private static Mat Transpose(Mat a)
    {
        Assert.Equal(2, a.Shape.Length);
        var data = new double[a.Data.Length];
        for (int r = 0; r < a.Rows; r++)
            for (int c = 0; c < a.Cols; c++) data[c * a.Rows + r] = a.Data[r * a.Cols + c];
        return new Mat(a.Cols, a.Rows, data);
    }

    private static Mat Reshape(Mat a, long[] target)
    {
        var shape = target.Select((d, i) => d == 0 ? a.Shape[i] : (int)d).ToArray();
        int known = shape.Where(d => d != -1).Aggregate(1, (p, d) => p * d);
        return a with { Shape = shape.Select(d => d == -1 ? a.Data.Length / known : d).ToArray() };
    }

    private static Mat Flatten(Mat a, int axis)
    {
        if (axis < 0) axis += a.Shape.Length;
        return a with { Shape = [a.Shape[..axis].Aggregate(1, (p, d) => p * d), a.Shape[axis..].Aggregate(1, (p, d) => p * d)] };
    }

    private static Mat Squeeze(Mat a, long[]? axes)
    {
        var drop = axes?.Select(x => x < 0 ? x + a.Shape.Length : x).ToHashSet()
            ?? Enumerable.Range(0, a.Shape.Length).Where(i => a.Shape[i] == 1).Select(i => (long)i).ToHashSet();
        return a with { Shape = a.Shape.Where((_, i) => !drop.Contains(i)).ToArray() };
    }

    private static Mat Unsqueeze(Mat a, long[] axes)
    {
        int rank = a.Shape.Length + axes.Length;
        var added = axes.Select(x => x < 0 ? x + rank : x).ToHashSet();
        var shape = new int[rank];
        for (int i = 0, from = 0; i < rank; i++) shape[i] = added.Contains(i) ? 1 : a.Shape[from++];
        return a with { Shape = shape };
    }

    private static Mat Gemm(Mat a, Mat b, bool transB, Mat? c, double alpha, double beta)
    {
        int inner = a.Cols, cols = transB ? b.Rows : b.Cols;
        Assert.Equal(inner, transB ? b.Cols : b.Rows);
        var data = new double[a.Rows * cols];
        for (int r = 0; r < a.Rows; r++)
            for (int j = 0; j < cols; j++)
            {
                double s = 0;
                for (int k = 0; k < inner; k++) s += a.Data[r * inner + k] * (transB ? b.Data[j * inner + k] : b.Data[k * cols + j]);
                data[r * cols + j] = alpha * s + (c is null ? 0 : beta * c[r, j]);
            }
        return new Mat(a.Rows, cols, data);
    }

    /// <summary>erf by Abramowitz and Stegun 7.1.26 (absolute error below 1.5e-7, well inside the comparison's tolerance).</summary>
    private static double Erf(double x)
    {
        double t = 1 / (1 + 0.3275911 * Math.Abs(x));
        double poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
        return Math.Sign(x) * (1 - poly * Math.Exp(-x * x));
    }

    private static Mat Zip(Mat a, Mat b, Func<double, double, double> op)
    {
        if (NumpyBroadcast(a, b, op) is { } full) return full;
        int rows = Math.Max(a.Rows, b.Rows), cols = Math.Max(a.Cols, b.Cols);
        var data = new double[rows * cols];
        for (int r = 0; r < rows; r++)
            for (int c = 0; c < cols; c++) data[r * cols + c] = op(a[r, c], b[r, c]);
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        int Dim(int[] shape, int i) => i - (rank - shape.Length) is int j && j >= 0 ? shape[j] : 1;
        var broadcast = Enumerable.Range(0, rank).Select(i => Math.Max(Dim(a.Shape, i), Dim(b.Shape, i))).ToArray();
        return rank >= 1 && broadcast[..^1].Aggregate(1, (p, d) => p * d) == rows && broadcast[^1] == cols
            ? new Mat(broadcast, data)
            : new Mat(rows, cols, data);
    }

    /// <summary>
    /// Element-wise op by numpy's broadcasting over the full shapes, when those shapes describe the data and one of
    /// them has a leading axis the other broadcasts along (a per-channel [C, 1] scale on [N, C, 1]); null otherwise.
    /// </summary>
    private static Mat? NumpyBroadcast(Mat a, Mat b, Func<double, double, double> op)
    {
        static int Size(int[] shape) => shape.Aggregate(1, (p, d) => p * d);
        if (Size(a.Shape) != a.Data.Length || Size(b.Shape) != b.Data.Length || Math.Min(a.Shape.Length, b.Shape.Length) < 2) return null;
        int rank = Math.Max(a.Shape.Length, b.Shape.Length);
        int[] Padded(int[] shape) => [.. Enumerable.Repeat(1, rank - shape.Length), .. shape];
        int[] sa = Padded(a.Shape), sb = Padded(b.Shape);
        var shape = new int[rank];
        for (int i = 0; i < rank; i++)
        {
            if (sa[i] != sb[i] && sa[i] != 1 && sb[i] != 1) return null;
            shape[i] = Math.Max(sa[i], sb[i]);
        }
        var data = new double[Size(shape)];
        var index = new int[rank];
        for (int flat = 0; flat < data.Length; flat++)
        {
            int rest = flat, ia = 0, ib = 0, stepA = 1, stepB = 1;
            for (int i = rank - 1; i >= 0; i--)
            {
                index[i] = rest % shape[i];
                rest /= shape[i];
                ia += (sa[i] == 1 ? 0 : index[i]) * stepA;
                ib += (sb[i] == 1 ? 0 : index[i]) * stepB;
                stepA *= sa[i];
                stepB *= sb[i];
            }
            data[flat] = op(a.Data[ia], b.Data[ib]);
        }
        return new Mat(shape, data);
    }

    /// <summary>Matrices with the same rows side by side (Concat along axis 1).</summary>
    private static Mat Concat(Mat[] parts)
    {
        int rows = parts[0].Rows, cols = parts.Sum(m => m.Cols);
        var data = new double[rows * cols];
        for (int r = 0; r < rows; r++)
        {
            int at = 0;
            foreach (var m in parts)
                for (int c = 0; c < m.Cols; c++) data[r * cols + at++] = m[r, c];
        }
        return new Mat(rows, cols, data);
    }

    /// <summary>The mean of each row, kept as a column (ReduceMean over the last axis, keepdims = 1).</summary>
    private static Mat MeanOfRows(Mat a) =>
        new([.. a.Shape[..^1], 1], Enumerable.Range(0, a.Rows).Select(r => Enumerable.Range(0, a.Cols).Average(c => a[r, c])).ToArray());

    private static Mat Map(Mat a, Func<double, double> op) => a with { Data = a.Data.Select(op).ToArray() };

    private static Mat Softmax(Mat a)
    {
        var data = new double[a.Data.Length];
        for (int r = 0; r < a.Rows; r++)
        {
            double max = Enumerable.Range(0, a.Cols).Max(c => a[r, c]);
            double sum = Enumerable.Range(0, a.Cols).Sum(c => Math.Exp(a[r, c] - max));
            for (int c = 0; c < a.Cols; c++) data[r * a.Cols + c] = Math.Exp(a[r, c] - max) / sum;
        }
        return a with { Data = data };
    }

    private static Mat BatchNorm(Mat x, Mat scale, Mat bias, Mat mean, Mat variance, double epsilon) =>
        Zip(x, x, (v, _) => v) with
        {
            Data = Enumerable.Range(0, x.Rows * x.Cols).Select(i =>
            {
                int r = i / x.Cols, c = i % x.Cols;
                return scale[0, c] * (x[r, c] - mean[0, c]) / Math.Sqrt(variance[0, c] + epsilon) + bias[0, c];
            }).ToArray(),
        };
}
