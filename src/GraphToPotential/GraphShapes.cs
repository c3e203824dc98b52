using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// Per-row sizes of a graph's data input and outputs (batch on axis 0), from <see cref="ShapeInference"/> over the
/// graph with the input's batch dimension as a symbol. Backend-neutral: no backend is built to find them.
/// </summary>
internal static class GraphShapes
{
    /// <summary>The symbol the batch dimension gets when the file gives it none.</summary>
    private const string BatchSymbol = "batch";

    /// <summary>
    /// The shape of graph output <paramref name="index"/> with the batch as a symbol on axis 0 (inferred through the
    /// graph; the declared shape where inference cannot tell). Throws one-line <see cref="NotSupportedException"/>
    /// when the output does not carry the batch on axis 0 or its rank is unknown.
    /// </summary>
    public static IReadOnlyList<Dimension> OutputShape(OnnxGraph graph, int index)
    {
        var input = SingleInput(graph);
        var output = graph.Outputs[index];
        if (input.Shape.Count == 0)
            throw new NotSupportedException($"model: input '{input.Name}' is a scalar; it needs a batch axis");
        var batch = input.Shape[0].Symbol is string s ? Dimension.Symbolic(s) : Dimension.Symbolic(BatchSymbol);
        var shapes = ShapeInference.Infer(graph, new Dictionary<string, IReadOnlyList<Dimension>>
        {
            [input.Name] = [batch, .. input.Shape.Skip(1)],
        });
        var inferred = shapes.GetValueOrDefault(output.Name);
        var declared = output.Shape.Count > 0 ? output.Shape : null;

        // The batch on axis 0: the input's batch symbol, or (in a declared shape) any size not fixed.
        bool CarriesBatch(IReadOnlyList<Dimension>? shape) => shape is { Count: > 0 }
            && (shape[0] == batch || ReferenceEquals(shape, declared) && shape[0].Value is null);
        bool Complete(IReadOnlyList<Dimension>? shape) => CarriesBatch(shape) && shape!.Skip(1).All(d => d.Value is not null);

        // The inferred shape; the declared one only where inference could not complete it.
        var chosen = Complete(inferred) ? inferred : Complete(declared) ? declared : inferred ?? declared;
        if (chosen is null)
            throw new NotSupportedException($"model: the shape of output '{output.Name}' cannot be inferred and the file does not declare it");
        if (!CarriesBatch(chosen))
            throw new NotSupportedException($"model: output '{output.Name}' [{string.Join(", ", chosen)}] does not carry the batch on axis 0");
        return chosen;
    }

    /// <summary>Values per row of graph output <paramref name="index"/>: the product of its non-batch dimensions, which must be fixed given the input's shape.</summary>
    public static int OutputWidth(OnnxGraph graph, int index)
    {
        var shape = OutputShape(graph, index);
        if (shape.Skip(1).Any(d => d.Value is null))
            throw new NotSupportedException($"model: output '{graph.Outputs[index].Name}' [{string.Join(", ", shape)}] has non-batch dimensions of unknown size");
        return shape.Skip(1).Aggregate(1, (a, d) => checked(a * (int)d.Value!.Value));
    }

    /// <summary>Values per row of the data input (product of its non-batch dimensions); throws when one is symbolic (see <see cref="InputShape"/>).</summary>
    public static int InputWidth(OnnxGraph graph)
    {
        var input = SingleInput(graph);
        var resolved = InputShape.Resolve(input);
        if (resolved.SampleShape is null)
            throw new NotSupportedException($"model: input '{input.Name}' {resolved.DeclaredText} has non-batch dimensions of unknown size ({string.Join(", ", resolved.Unresolved)}); their sizes must be given");
        return resolved.Width;
    }

    private static ValueInfo SingleInput(OnnxGraph graph) => graph.Inputs.Count == 1 ? graph.Inputs[0]
        : throw new NotSupportedException($"model: the graph has {graph.Inputs.Count} data inputs; one input with the batch on axis 0 is supported");
}
