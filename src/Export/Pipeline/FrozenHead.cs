using System.Diagnostics;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// <c>--freeze PATTERN</c> and <c>--sample PATTERN</c> (repeatable): a Bayesian head on any model. The frozen part
/// (<see cref="HeadCut"/>) runs once on ONNX Runtime (<see cref="FrozenPartSession"/>) and its feature tensor becomes
/// the data of the sampled head, which the usual posterior and sampler take as a model of its own.
/// </summary>
internal static class FrozenHead
{
    /// <summary>The selection the two options give.</summary>
    public static ParameterSelection Selection(string[]? freeze, string[]? sample)
    {
        foreach (string pattern in (freeze ?? []).Concat(sample ?? []))
            if (string.IsNullOrWhiteSpace(pattern)) throw new UsageException("--freeze/--sample: a pattern is empty");
        return new ParameterSelection(freeze ?? [], sample ?? []);
    }

    /// <summary>
    /// Imports <paramref name="modelPath"/>: as usual without patterns, otherwise accepting every op (the cut then
    /// checks that the sampled part is supported).
    /// </summary>
    public static OnnxGraph Import(string modelPath, ParameterSelection selection) =>
        selection.IsEverything ? OnnxImporter.Import(modelPath) : OnnxImporter.Import(modelPath, new ImportOptions { AcceptAnyOp = true });

    /// <summary>The cut; a bad selection exits 2 with its one line.</summary>
    public static HeadCut Cut(OnnxGraph graph, ParameterSelection selection) => UserInput.Validated(() => HeadCut.Create(graph, selection));

    /// <summary>
    /// The head and its data: ONNX Runtime computes the feature tensor of <paramref name="rows"/> samples
    /// (<paramref name="inputs"/>, row-major, each of <paramref name="sampleShape"/>) when a frozen part precedes the
    /// head; otherwise the inputs are the head's data as they are.
    /// </summary>
    public static (OnnxGraph Head, double[] Features, FrozenPartRecord Record) Split(HeadCut cut, string modelPath, double[] inputs, int rows,
        IReadOnlyList<int> sampleShape)
    {
        OnnxGraph head;
        double[] features = inputs;
        int[] featureShape = sampleShape.ToArray();
        var type = cut.Graph.Inputs.FirstOrDefault(i => i.Name == cut.Feature)?.ElementType ?? ElementType.Float;
        double seconds = 0;
        if (cut.HasFrozenPart)
        {
            var clock = Stopwatch.StartNew();
            using var session = new FrozenPartSession(ModelFiles.Read(modelPath), cut.Feature);
            (features, featureShape, type) = session.Compute(inputs, rows, sampleShape);
            seconds = clock.Elapsed.TotalSeconds;
            head = cut.Head(new ValueInfo(cut.Feature, type, [Dimension.Symbolic("batch"), .. featureShape.Select(d => Dimension.Fixed(d))]));
        }
        else
        {
            head = cut.Head();
        }
        var record = new FrozenPartRecord(cut.Selection.Freeze, cut.Selection.Sample, cut.FrozenNodes.Select(n => n.OpType).ToList(),
            cut.FrozenWeights, cut.Feature, featureShape, ElementTypes.Name(type), cut.Sampled.Select(p => p.Name).ToList(), seconds);
        return (head, features, record);
    }

    /// <summary>
    /// The head a run sampled, rebuilt from its record, with the features of <paramref name="rows"/> other samples
    /// (held-out rows) computed the same way.
    /// </summary>
    public static (OnnxGraph Head, double[] Features) Apply(FrozenPartRecord record, OnnxGraph graph, string modelPath, double[] inputs, int rows,
        IReadOnlyList<int> sampleShape)
    {
        var cut = Cut(graph, record.Selection);
        if (!cut.HasFrozenPart) return (cut.Head(), inputs);
        using var session = new FrozenPartSession(ModelFiles.Read(modelPath), cut.Feature);
        var (features, _, _) = session.Compute(inputs, rows, sampleShape);
        return (cut.Head(record.FeatureInput), features);
    }

    /// <summary>The head a run sampled, rebuilt from its record (for export).</summary>
    public static HeadCut Rebuild(FrozenPartRecord record, OnnxGraph graph, out OnnxGraph head)
    {
        var cut = Cut(graph, record.Selection);
        head = cut.HasFrozenPart ? cut.Head(record.FeatureInput) : cut.Head();
        return cut;
    }

    /// <summary>One line for the log: what is frozen, what the head reads, what is sampled.</summary>
    public static string Describe(HeadCut cut, FrozenPartRecord record, int rows) =>
        cut.HasFrozenPart
            ? $"frozen part: {cut.FrozenNodes.Count} nodes ({Ops(cut)}) run by ONNX Runtime on {rows} rows in {record.FeatureSeconds:F2} s; " +
              $"the head reads '{record.Feature}' [{string.Join(",", record.FeatureShape)}]; sampling {cut.Sampled.Sum(p => p.Size)} parameter values ({cut.Sampled.Count} tensors), {cut.FrozenValues} frozen"
            : $"nothing before the head is frozen; sampling {cut.Sampled.Sum(p => p.Size)} parameter values ({cut.Sampled.Count} tensors), {cut.FrozenValues} frozen";

    /// <summary>The frozen ops with counts, in order of first use (<c>Conv ×2, Relu ×2, MaxPool ×2, Flatten</c>).</summary>
    public static string Ops(HeadCut cut) =>
        string.Join(", ", cut.FrozenNodes.GroupBy(n => n.OpType).Select(g => g.Count() == 1 ? g.Key : $"{g.Key} ×{g.Count()}"));
}
