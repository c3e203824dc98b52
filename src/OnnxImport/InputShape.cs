using System.Globalization;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// The non-batch dimensions of a data input, resolved to sizes: the file's fixed sizes, sizes given by name for its
/// symbolic dimensions, and at most one remaining dimension taken from the number of values per row.
/// </summary>
/// <param name="Input">The data input as declared.</param>
/// <param name="SampleShape">The resolved sizes of the dimensions after the batch axis, or null when <see cref="Unresolved"/> is not empty.</param>
/// <param name="Unresolved">The dimensions (symbol, or <c>?</c>) left without a size: empty when resolved.</param>
/// <param name="FromRowWidth">When one dimension's size came from the row width: a line saying which and why; otherwise null.</param>
internal sealed record InputShape(ValueInfo Input, int[]? SampleShape, IReadOnlyList<string> Unresolved, string? FromRowWidth)
{
    /// <summary>Values per row: the product of <see cref="SampleShape"/>.</summary>
    public int Width => SampleShape?.Aggregate(1, (a, b) => checked(a * b))
        ?? throw new InvalidOperationException($"input '{Input.Name}' has unresolved dimensions ({string.Join(", ", Unresolved)})");

    /// <summary>The input's declared shape as text, <c>[batch, seq, 1]</c>.</summary>
    public string DeclaredText => "[" + string.Join(", ", Input.Shape) + "]";

    /// <summary>
    /// Resolves the non-batch dimensions of <paramref name="input"/> (axis 0 is the batch). Symbolic dimensions take their
    /// size from <paramref name="given"/> (by symbol); when exactly one is left (symbolic or unnamed) and
    /// <paramref name="rowWidth"/> is known, it takes rowWidth / (the product of the others).
    /// </summary>
    /// <exception cref="ArgumentException">A name in <paramref name="given"/> is not a symbolic non-batch dimension of the input, or a size is not positive.</exception>
    /// <exception cref="InvalidDataException">The row width is not a positive multiple of the other dimensions' product.</exception>
    /// <exception cref="NotSupportedException">The input is a scalar (no batch axis).</exception>
    public static InputShape Resolve(ValueInfo input, IReadOnlyDictionary<string, int>? given = null, int? rowWidth = null)
    {
        if (input.Shape.Count == 0)
            throw new NotSupportedException($"model: input '{input.Name}' is a scalar; it needs a batch axis");
        var dims = input.Shape.Skip(1).ToArray();
        string text = "[" + string.Join(", ", input.Shape) + "]";
        var symbols = dims.Where(d => d.Value is null && d.Symbol is not null).Select(d => d.Symbol!).Distinct().ToArray();
        foreach (var (name, size) in given ?? new Dictionary<string, int>())
        {
            if (!symbols.Contains(name))
            {
                string why = input.Shape[0].Symbol == name ? $"'{name}' is the batch axis, whose size is the number of rows"
                    : symbols.Length == 0 ? "it has no symbolic dimensions besides the batch"
                    : $"its symbolic dimensions besides the batch: {string.Join(", ", symbols)}";
                throw new ArgumentException($"{name}={size}: input '{input.Name}' {text} has no dimension '{name}' ({why})");
            }
            if (size <= 0) throw new ArgumentException($"{name}={size}: a dimension's size must be positive");
        }

        var sizes = dims.Select(d => d.Value is long v ? (int?)checked((int)v)
            : d.Symbol is string s && given is not null && given.TryGetValue(s, out int g) ? g : null).ToArray();
        var open = Enumerable.Range(0, dims.Length).Where(i => sizes[i] is null).ToArray();
        if (open.Length == 0) return new InputShape(input, sizes.Select(s => s!.Value).ToArray(), [], null);
        var unresolved = open.Select(i => dims[i].ToString()).ToArray();
        if (open.Length > 1 || rowWidth is null) return new InputShape(input, null, unresolved, null);

        int known = sizes.Where(s => s is not null).Aggregate(1, (a, s) => checked(a * s!.Value));
        int width = rowWidth.Value;
        if (width <= 0 || width % known != 0)
            throw new InvalidDataException(
                $"{Values(width)} per row do not fill input '{input.Name}' {text}: its other dimensions take {known} per step, so a row needs a multiple of {known}");
        int filled = width / known;
        sizes[open[0]] = filled;
        string label = dims[open[0]].Symbol is string symbol ? symbol : $"dimension {open[0] + 1}";
        return new InputShape(input, sizes.Select(s => s!.Value).ToArray(), [],
            $"input '{input.Name}' {text}: {label} = {filled.ToString(CultureInfo.InvariantCulture)}, from the {Values(width)} per row");
    }

    /// <summary>
    /// <paramref name="graph"/> with its data input (<c>Inputs[0]</c>) declared as [batch, <see cref="SampleShape"/>…]: the batch
    /// dimension as in the file, every other dimension fixed, so that shape inference and backends see static sizes.
    /// </summary>
    public OnnxGraph Bind(OnnxGraph graph)
    {
        var sample = SampleShape ?? throw new InvalidOperationException($"input '{Input.Name}' has unresolved dimensions ({string.Join(", ", Unresolved)})");
        if (graph.Inputs.Count == 0 || graph.Inputs[0].Name != Input.Name)
            throw new InvalidOperationException($"input '{Input.Name}' is not the graph's first input");
        var declared = graph.Inputs[0];
        if (declared.Shape.Skip(1).Select(d => d.Value).SequenceEqual(sample.Select(s => (long?)s))) return graph;
        var bound = declared with { Shape = [declared.Shape[0], .. sample.Select(s => Dimension.Fixed(s))] };
        return new OnnxGraph
        {
            Producer = graph.Producer,
            ProducerVersion = graph.ProducerVersion,
            IrVersion = graph.IrVersion,
            Opsets = graph.Opsets,
            Inputs = [bound, .. graph.Inputs.Skip(1)],
            Outputs = graph.Outputs,
            Nodes = graph.Nodes,
            Parameters = graph.Parameters,
            Constants = graph.Constants,
            Sha256 = graph.Sha256,
            ExportedBatchSize = graph.ExportedBatchSize,
            SourcePath = graph.SourcePath,
        };
    }

    private static string Values(int n) => n == 1 ? "1 value" : $"{n.ToString(CultureInfo.InvariantCulture)} values";
}
