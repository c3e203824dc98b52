using System.Globalization;
using System.Text;

namespace Bnn.Onnx.Nuts;

/// <summary>
/// One named block of the position vector: a tensor of <see cref="Shape"/> stored row-major at
/// [<see cref="Offset"/>, <see cref="Offset"/> + <see cref="Size"/>). <see cref="Source"/> is where the block
/// came from (the ONNX initializer name), or null for blocks the posterior adds (σ).
/// </summary>
internal sealed record ParameterBlock(string Name, int[] Shape, int Offset, BlockTransform Transform = BlockTransform.Identity, string? Source = null)
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
