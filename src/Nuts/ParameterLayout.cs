namespace Bnn.Onnx.Nuts;

/// <summary>
/// Maps the flat position vector θ to named tensors and back. Blocks are contiguous and in order.
/// </summary>
internal sealed class ParameterLayout
{
    private readonly int[] _scaleOffsets; // per block: offset of its log-scale when non-centred, else −1

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
        _scaleOffsets = new int[Blocks.Count];
        for (int i = 0; i < Blocks.Count; i++)
        {
            _scaleOffsets[i] = -1;
            if (Blocks[i].Transform != BlockTransform.NonCentered) continue;
            string scaleName = ScaleBlockName(Blocks[i].Name);
            var scale = Blocks.FirstOrDefault(b => b.Name == scaleName);
            if (scale is null || scale.Transform != BlockTransform.Log || scale.Size != 1)
                throw new ArgumentException($"block '{Blocks[i].Name}' is non-centred but has no scalar log-scale block '{scaleName}'");
            _scaleOffsets[i] = scale.Offset;
        }
    }

    /// <summary>The name of the scale block of a <see cref="BlockTransform.NonCentered"/> block: <c>scale[0.weight]</c>.</summary>
    public static string ScaleBlockName(string blockName) => $"scale[{blockName}]";

    /// <summary>Offset of the block's log-scale u = log s when it is <see cref="BlockTransform.NonCentered"/>, else −1.</summary>
    public int ScaleOffset(int blockIndex) => _scaleOffsets[blockIndex];

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

    /// <summary>Every scalar name in position order (<c>0.weight[0,0]</c>, …, <c>sigma</c>, <c>scale[0.weight]</c>).</summary>
    public IReadOnlyList<string> ScalarNames() => Blocks.SelectMany(b => b.ScalarNames()).ToArray();

    /// <summary>Writes the reported (constrained) values of <paramref name="position"/> into <paramref name="constrained"/>.</summary>
    public void Constrain(ReadOnlySpan<double> position, Span<double> constrained)
    {
        for (int k = 0; k < Blocks.Count; k++)
        {
            var b = Blocks[k];
            var src = position.Slice(b.Offset, b.Size);
            var dst = constrained.Slice(b.Offset, b.Size);
            switch (b.Transform)
            {
                case BlockTransform.Log:
                    for (int i = 0; i < src.Length; i++) dst[i] = Math.Exp(src[i]);
                    break;
                case BlockTransform.NonCentered:
                    double s = Math.Exp(position[_scaleOffsets[k]]);
                    for (int i = 0; i < src.Length; i++) dst[i] = s * src[i];
                    break;
                default:
                    src.CopyTo(dst);
                    break;
            }
        }
    }

    /// <summary>The inverse of <see cref="Constrain"/> (a non-centred block divides by its scale's constrained value).</summary>
    public void Unconstrain(ReadOnlySpan<double> constrained, Span<double> position)
    {
        for (int k = 0; k < Blocks.Count; k++)
        {
            var b = Blocks[k];
            var src = constrained.Slice(b.Offset, b.Size);
            var dst = position.Slice(b.Offset, b.Size);
            switch (b.Transform)
            {
                case BlockTransform.Log:
                    for (int i = 0; i < src.Length; i++) dst[i] = Math.Log(src[i]);
                    break;
                case BlockTransform.NonCentered:
                    double s = constrained[_scaleOffsets[k]];
                    for (int i = 0; i < src.Length; i++) dst[i] = src[i] / s;
                    break;
                default:
                    src.CopyTo(dst);
                    break;
            }
        }
    }

    public ParameterBlock? Find(string name) => Blocks.FirstOrDefault(b => b.Name == name);
}
