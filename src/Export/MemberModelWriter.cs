using System.Globalization;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.Export;

/// <summary>
/// One posterior member as its own ONNX file: the source model unchanged but for the sampled weights, for servers
/// that pick a member per request. Initializers (and weights held in <c>Constant</c> nodes, also inside
/// model-local functions) named by a block's <see cref="ParameterBlock.Source"/> get the draw's values in the
/// original tensor's element type.
/// </summary>
internal static class MemberModelWriter
{
    /// <summary>A copy of <paramref name="source"/> holding <paramref name="draw"/> (constrained, layout order).</summary>
    public static ModelProto Create(ModelProto source, ParameterLayout layout, ReadOnlySpan<double> draw)
    {
        if (draw.Length != layout.Dimension)
            throw new ArgumentException($"draw has {draw.Length} values, the layout has {layout.Dimension}");
        var model = source.Clone();
        Untie(model.Graph);
        var tensors = new Dictionary<string, TensorProto>();
        foreach (var t in model.Graph.Initializer) tensors.TryAdd(t.Name, t);
        void AddConstants(IEnumerable<NodeProto> nodes)
        {
            foreach (var n in nodes)
                if (n.OpType == "Constant" && n.Output.Count == 1 && n.Attribute.FirstOrDefault(a => a.Name == "value") is { T: not null } a)
                    tensors.TryAdd(n.Output[0], a.T);
        }
        AddConstants(model.Graph.Node);
        foreach (var f in model.Functions) AddConstants(f.Node);

        foreach (var block in layout.Blocks)
        {
            if (block.Source is null) continue; // σ and other posterior-only blocks are not in the network
            if (!tensors.TryGetValue(block.Source, out var tensor))
                throw new NotSupportedException($"parameter '{block.Name}': no initializer or Constant node named '{block.Source}' in the model");
            long size = tensor.Dims.Aggregate(1L, (x, y) => x * y);
            if (size != block.Size)
                throw new InvalidDataException($"parameter '{block.Name}': the model tensor '{block.Source}' holds {size} values, the draws {block.Size}");
            OnnxTensors.ReplaceValues(tensor, draw.Slice(block.Offset, block.Size));
        }
        return model;
    }

    /// <summary>
    /// The tensors the importer separates (PyTorch's exporter stores tensors of equal value once and writes the others
    /// as Identity of the first, <c>4.weight = Identity(1.weight)</c>): each Identity of an initializer that another
    /// node also reads becomes an initializer of its own, a copy, as the importer reads it, so a member holds the draw
    /// of each and running statistics stay constant.
    /// </summary>
    private static void Untie(GraphProto graph)
    {
        var initializers = new Dictionary<string, TensorProto>();
        foreach (var t in graph.Initializer) initializers.TryAdd(t.Name, t);
        var readers = new Dictionary<string, int>();
        foreach (var node in graph.Node)
            foreach (string input in node.Input.Distinct())
                if (initializers.ContainsKey(input)) readers[input] = readers.GetValueOrDefault(input) + 1;
        var outputs = graph.Output.Select(o => o.Name).ToHashSet();
        foreach (var identity in graph.Node.Where(n => n.OpType == "Identity" && n.Input.Count == 1 && n.Output.Count == 1).ToList())
        {
            if (!initializers.TryGetValue(identity.Input[0], out var stored) || readers[identity.Input[0]] < 2
                || outputs.Contains(identity.Output[0]) || initializers.ContainsKey(identity.Output[0]))
                continue;
            var copy = stored.Clone();
            copy.Name = identity.Output[0];
            graph.Node.Remove(identity);
            graph.Initializer.Add(copy);
        }
    }

    /// <summary>Writes <c>member_0000.onnx</c>, … into <paramref name="directory"/>; returns the paths.</summary>
    public static IReadOnlyList<string> WriteAll(string directory, ModelProto source, ParameterLayout layout, IReadOnlyList<double[]> members,
        IReadOnlyDictionary<string, string>? metadata = null)
    {
        Directory.CreateDirectory(directory);
        var paths = new List<string>(members.Count);
        for (int s = 0; s < members.Count; s++)
        {
            var model = Create(source, layout, members[s]);
            model.MetadataProps.Add(new StringStringEntryProto { Key = "bnn.member", Value = s.ToString(CultureInfo.InvariantCulture) });
            if (metadata is not null)
                foreach (var (k, v) in metadata) model.MetadataProps.Add(new StringStringEntryProto { Key = k, Value = v });
            string path = Path.Combine(directory, $"member_{s.ToString("D4", CultureInfo.InvariantCulture)}.onnx");
            ModelFiles.WriteAtomically(path, model);
            paths.Add(path);
        }
        return paths;
    }
}

/// <summary>Reading and writing ONNX model files.</summary>
internal static class ModelFiles
{
    public static ModelProto Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"model file not found: {path}", path);
        try
        {
            using var stream = File.OpenRead(path);
            return ModelProto.Parser.ParseFrom(stream);
        }
        catch (Google.Protobuf.InvalidProtocolBufferException ex)
        {
            throw new InvalidDataException($"{path}: not an ONNX model ({ex.Message})");
        }
    }

    /// <summary>Writes to <c>PATH.partial</c> then renames, so a reader never sees half a file.</summary>
    public static void WriteAtomically(string path, ModelProto model)
    {
        string partial = path + ".partial";
        using (var stream = File.Create(partial))
        {
            using var coded = new Google.Protobuf.CodedOutputStream(stream, leaveOpen: true);
            model.WriteTo(coded);
        }
        File.Move(partial, path, overwrite: true);
    }
}

/// <summary>Picks S members from a draws table, evenly thinned in (chain, draw) order.</summary>
internal static class MemberSelection
{
    /// <summary>
    /// Indices ⌊i·T/S⌋, i = 0..S−1, into the T draws in (chain, draw) order; <paramref name="thinning"/> is T/S.
    /// </summary>
    public static IReadOnlyList<(int Chain, int Draw)> Thin(IReadOnlyList<int> drawCounts, int members, out double thinning)
    {
        long total = drawCounts.Sum(c => (long)c);
        if (total == 0) throw new InvalidDataException("the draws file holds no draws");
        if (members < 1) throw new ArgumentException($"--members must be at least 1 (got {members})");
        if (members > total) throw new ArgumentException($"--members {members} exceeds the {total} draws in the run");
        thinning = (double)total / members;
        var picked = new List<(int, int)>(members);
        int chain = 0;
        long before = 0; // draws in chains before `chain`
        for (int i = 0; i < members; i++)
        {
            long k = (long)i * total / members;
            while (k - before >= drawCounts[chain]) before += drawCounts[chain++];
            picked.Add((chain, (int)(k - before)));
        }
        return picked;
    }

    /// <summary>The constrained draws of <paramref name="table"/> at the thinned positions.</summary>
    public static IReadOnlyList<double[]> Select(DrawsTable table, int members, out double thinning) =>
        Thin(table.DrawCounts, members, out thinning).Select(p => table.Draw(p.Chain, p.Draw)).ToArray();

    /// <summary>The same draws read straight from the file: one pass, holding only the picked draws.</summary>
    public static IReadOnlyList<double[]> Select(ParquetDrawStreamReader reader, int members, out double thinning) =>
        reader.ReadDraws(Thin(reader.DrawCounts, members, out thinning));
}
