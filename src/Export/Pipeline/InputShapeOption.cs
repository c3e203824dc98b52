using System.Globalization;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// <c>--input-shape NAME=SIZE</c> (repeatable): sizes for the symbolic non-batch dimensions of a model's data input
/// (<c>x [batch, seq, 1]</c> with <c>--input-shape seq=5</c>). A single symbolic dimension left open takes its size
/// from the number of values per row, and the command says so on stderr.
/// </summary>
internal static class InputShapeOption
{
    /// <summary>The given sizes by name; exit 2 on a malformed entry or a name given twice.</summary>
    public static IReadOnlyDictionary<string, int> Parse(IEnumerable<string>? values)
    {
        var sizes = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var value in values ?? [])
        {
            int eq = value.IndexOf('=');
            string name = eq > 0 ? value[..eq].Trim() : "";
            if (eq <= 0 || name.Length == 0
                || !int.TryParse(value[(eq + 1)..].Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out int size) || size <= 0)
                throw new UsageException($"--input-shape '{value}': expected NAME=SIZE with a positive whole SIZE, e.g. seq=5");
            if (!sizes.TryAdd(name, size))
                throw new UsageException($"--input-shape: '{name}' is given twice");
        }
        return sizes;
    }

    /// <summary>
    /// The data input's non-batch sizes for rows of <paramref name="rowWidth"/> values (read from <paramref name="widthSource"/>).
    /// Writes a <c>note:</c> line to <paramref name="log"/> when a dimension's size came from the row width. Exit 2 when a
    /// given name is not a symbolic dimension, when the width does not divide, or when more than one dimension is left open.
    /// </summary>
    public static InputShape Resolve(OnnxGraph graph, IReadOnlyDictionary<string, int> given, int rowWidth, string widthSource, TextWriter log)
    {
        if (graph.Inputs.Count != 1)
            throw new NotSupportedException($"model: the graph has {graph.Inputs.Count} data inputs; one input with the batch on axis 0 is supported");
        return Resolve(graph.Inputs[0], given, rowWidth, widthSource, log);
    }

    /// <inheritdoc cref="Resolve(OnnxGraph, IReadOnlyDictionary{string, int}, int, string, TextWriter)"/>
    public static InputShape Resolve(ValueInfo input, IReadOnlyDictionary<string, int> given, int rowWidth, string widthSource, TextWriter log)
    {
        if (rowWidth <= 0) throw new FormatException($"{widthSource}: no samples");
        InputShape shape;
        try
        {
            shape = InputShape.Resolve(input, given, rowWidth);
        }
        catch (ArgumentException ex)
        {
            throw new UsageException($"--input-shape {ex.Message}");
        }
        catch (InvalidDataException ex)
        {
            throw new UsageException($"{widthSource}: {ex.Message}");
        }
        if (shape.SampleShape is null)
        {
            string open = string.Join(", ", shape.Unresolved);
            string example = shape.Unresolved.FirstOrDefault(u => u != "?") ?? "NAME";
            throw new UsageException(
                $"model input '{input.Name}' {shape.DeclaredText} has {shape.Unresolved.Count} dimensions of unknown size besides the batch ({open}): " +
                $"give all but one with --input-shape (e.g. --input-shape {example}=5; repeatable)");
        }
        if (shape.Width != rowWidth && input.Shape.Skip(1).Any(d => d.Value is null))
        {
            var sizes = input.Shape.Skip(1).Select((d, i) => (d, i)).Where(p => p.d.Value is null)
                .Select(p => $"{p.d} = {shape.SampleShape[p.i].ToString(CultureInfo.InvariantCulture)}");
            throw new UsageException(
                $"{widthSource}: {rowWidth} values per row, but model input '{input.Name}' {shape.DeclaredText} takes {shape.Width} with {string.Join(", ", sizes)}");
        }
        if (shape.FromRowWidth is string note) log.WriteLine($"note: {note}");
        return shape;
    }

    /// <summary>Values in the first non-empty line of a headerless CSV (0 when there is none).</summary>
    public static int FirstRowWidth(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"input file not found: {path}", path);
        foreach (var line in File.ReadLines(path))
            if (!string.IsNullOrWhiteSpace(line)) return line.Split(',').Length;
        return 0;
    }
}
