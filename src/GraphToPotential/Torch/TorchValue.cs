using Bnn.Onnx.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Bnn.Onnx.GraphToPotential.Torch;

/// <summary>
/// One graph value while the graph runs: the tensor, the ONNX element type it stands for, and whether it carries a
/// leading chain dimension (C positions evaluated at once). A batched value's ONNX ("logical") shape is its tensor
/// shape without dimension 0. Floating values of every ONNX width live in the compute precision; integers in the
/// narrowest torch type that wraps like the ONNX type (uint16/uint32/uint64 as int64).
/// </summary>
internal readonly record struct TorchValue(Tensor Tensor, ElementType Type, bool Batched)
{
    /// <summary>The ONNX shape (without the chain dimension).</summary>
    public long[] Shape => Batched ? Tensor.shape[1..] : Tensor.shape;

    /// <summary>The ONNX rank (without the chain dimension).</summary>
    public int Rank => (int)Tensor.dim() - (Batched ? 1 : 0);

    public bool IsFloating => ElementTypes.IsFloating(Type);

    /// <summary>Maps an ONNX axis (negative counts from the end) of this value to its tensor dimension.</summary>
    public long Dim(long axis, string where)
    {
        int rank = Rank;
        long a = axis < 0 ? axis + rank : axis;
        if (a < 0 || a >= rank)
            throw new InvalidDataException($"{where}: axis {axis} is out of range for rank {rank}");
        return Batched ? a + 1 : a;
    }

    /// <summary>A value of the same kind holding <paramref name="tensor"/>.</summary>
    public TorchValue With(Tensor tensor) => new(tensor, Type, Batched);
}

/// <summary>Where and in what precision tensors are made; shared by every op of one graph.</summary>
internal sealed class TorchContext
{
    public TorchContext(ScalarType compute, Device device, long opset)
    {
        Compute = compute;
        Device = device;
        Opset = opset;
    }

    /// <summary>The floating type every floating ONNX value is held in (float64 or float32).</summary>
    public ScalarType Compute { get; }

    public Device Device { get; }

    /// <summary>The default-domain opset version, which selects attribute or input forms.</summary>
    public long Opset { get; }

    /// <summary>The torch type that holds values of ONNX type <paramref name="type"/>.</summary>
    public ScalarType Storage(ElementType type) => type switch
    {
        ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16 => Compute,
        ElementType.Int8 => ScalarType.Int8,
        ElementType.UInt8 => ScalarType.Byte,
        ElementType.Int16 => ScalarType.Int16,
        ElementType.Int32 => ScalarType.Int32,
        ElementType.Int64 or ElementType.UInt16 or ElementType.UInt32 or ElementType.UInt64 => ScalarType.Int64,
        ElementType.Bool => ScalarType.Bool,
        _ => throw new NotSupportedException($"element type {ElementTypes.Name(type)} is not supported by the TorchSharp backend"),
    };

    /// <summary>A tensor of ONNX type <paramref name="type"/> from row-major values held as double.</summary>
    public Tensor FromData(double[] data, long[] shape, ElementType type)
    {
        var storage = Storage(type);
        if (storage == Compute)
            return torch.tensor(data, shape, Compute, Device);
        var longs = new long[data.Length];
        for (int i = 0; i < data.Length; i++)
            longs[i] = type == ElementType.UInt64 && data[i] >= 9.2233720368547758e18 ? unchecked((long)(ulong)data[i]) : (long)data[i];
        return torch.tensor(longs, shape, ScalarType.Int64, Device).to(storage);
    }

    /// <summary>Re-establishes the wrap-around of unsigned types held in int64 after integer arithmetic.</summary>
    public static Tensor Wrap(Tensor t, ElementType type) => type switch
    {
        ElementType.UInt16 => t.bitwise_and(0xFFFF),
        ElementType.UInt32 => t.bitwise_and(0xFFFFFFFFL),
        _ => t,
    };
}
