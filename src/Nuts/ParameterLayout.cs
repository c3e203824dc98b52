using System.Globalization;
using System.Text;

namespace Bnn.Onnx.Nuts;

/// <summary>How a block is stored in the unconstrained position vector.</summary>
public enum BlockTransform
{
    /// <summary>Stored as is.</summary>
    Identity,

    /// <summary>Stored as log x (a positive scale such as σ); reported as exp of the stored value.</summary>
    Log,
}

/// <summary>
/// One named block of the position vector: a tensor of <see cref="Shape"/> stored row-major at
/// [<see cref="Offset"/>, <see cref="Offset"/> + <see cref="Size"/>). <see cref="Source"/> is where the block
/// came from (the ONNX initializer name), or null for blocks the posterior adds (σ).
/// </summary>
public sealed record ParameterBlock(string Name, int[] Shape, int Offset, BlockTransform Transform = BlockTransform.Identity, string? Source = null)
{
    public int Size => Shape.Aggregate(1, (a, b) => a * b);

    /// <summary>
    /// The scalar names of this block in row-major order, Stan style with 0-based indices:
    /// <c>0.weight[3,0]</c>; a scalar block (shape [] or [1] of a rank-0 source) is named bare.
    /// </summary>
    public IEnumerable<string> ScalarNames()
    {
        if (Shape.Length == 0)
        {
            yield return Name;
            yield break;
        }

        var index = new int[Shape.Length];
        var sb = new StringBuilder();
        for (int flat = 0; flat < Size; flat++)
        {
            sb.Clear().Append(Name).Append('[');
            for (int k = 0; k < index.Length; k++)
            {
                if (k > 0) sb.Append(',');
                sb.Append(index[k].ToString(CultureInfo.InvariantCulture));
            }
            sb.Append(']');
            yield return sb.ToString();

            for (int k = index.Length - 1; k >= 0; k--)
            {
                if (++index[k] < Shape[k]) break;
                index[k] = 0;
            }
        }
    }
}

/// <summary>
/// Maps the flat position vector θ to named tensors and back. Blocks are contiguous and in order.
/// </summary>
public sealed class ParameterLayout
{
    public ParameterLayout(IEnumerable<ParameterBlock> blocks)
    {
        Blocks = blocks.ToArray();
        int offset = 0;
        foreach (var b in Blocks)
        {
            if (b.Offset != offset)
                throw new ArgumentException($"block '{b.Name}' starts at {b.Offset}, expected {offset}: blocks must be contiguous and in order");
            offset += b.Size;
        }
        Dimension = offset;
    }

    /// <summary>Builds a layout from (name, shape) pairs, assigning offsets in order.</summary>
    public static ParameterLayout FromShapes(IEnumerable<(string Name, int[] Shape, BlockTransform Transform, string? Source)> blocks)
    {
        var list = new List<ParameterBlock>();
        int offset = 0;
        foreach (var (name, shape, transform, source) in blocks)
        {
            var block = new ParameterBlock(name, shape, offset, transform, source);
            list.Add(block);
            offset += block.Size;
        }
        return new ParameterLayout(list);
    }

    public IReadOnlyList<ParameterBlock> Blocks { get; }

    /// <summary>d, the length of θ.</summary>
    public int Dimension { get; }

    /// <summary>Every scalar name in position order (<c>0.weight[0,0]</c>, …, <c>sigma</c>).</summary>
    public IReadOnlyList<string> ScalarNames() => Blocks.SelectMany(b => b.ScalarNames()).ToArray();

    /// <summary>Writes the reported (constrained) values of <paramref name="position"/> into <paramref name="constrained"/>.</summary>
    public void Constrain(ReadOnlySpan<double> position, Span<double> constrained)
    {
        foreach (var b in Blocks)
        {
            var src = position.Slice(b.Offset, b.Size);
            var dst = constrained.Slice(b.Offset, b.Size);
            switch (b.Transform)
            {
                case BlockTransform.Log:
                    for (int i = 0; i < src.Length; i++) dst[i] = Math.Exp(src[i]);
                    break;
                default:
                    src.CopyTo(dst);
                    break;
            }
        }
    }

    /// <summary>The inverse of <see cref="Constrain"/>.</summary>
    public void Unconstrain(ReadOnlySpan<double> constrained, Span<double> position)
    {
        foreach (var b in Blocks)
        {
            var src = constrained.Slice(b.Offset, b.Size);
            var dst = position.Slice(b.Offset, b.Size);
            switch (b.Transform)
            {
                case BlockTransform.Log:
                    for (int i = 0; i < src.Length; i++) dst[i] = Math.Log(src[i]);
                    break;
                default:
                    src.CopyTo(dst);
                    break;
            }
        }
    }

    public ParameterBlock? Find(string name) => Blocks.FirstOrDefault(b => b.Name == name);
}
