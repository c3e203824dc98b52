using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>Static sizes read from a graph's declared inputs and outputs (batch on axis 0).</summary>
public static class GraphShapes
{
    /// <summary>Values per row of graph output <paramref name="index"/>: the product of its non-batch dimensions, inferred through the graph when not declared.</summary>
    public static int OutputWidth(OnnxGraph graph, int index)
    {
        var output = graph.Outputs[index];
        if (output.Shape.Count >= 1 && output.Shape.Skip(1).All(d => d.Value is not null))
            return output.Shape.Skip(1).Aggregate(1, (a, d) => checked(a * (int)d.Value!.Value));
        return Compiled.ShapeInference.OutputWidth(graph, index);
    }

    /// <summary>Values per row of the data input (product of its non-batch dimensions); throws when unknown.</summary>
    public static int InputWidth(OnnxGraph graph)
    {
        if (graph.Inputs.Count != 1)
            throw new NotSupportedException($"model: the graph has {graph.Inputs.Count} data inputs; one input with the batch on axis 0 is supported");
        var input = graph.Inputs[0];
        if (input.Shape.Count >= 1 && input.Shape.Skip(1).All(d => d.Value is not null))
            return input.Shape.Skip(1).Aggregate(1, (a, d) => checked(a * (int)d.Value!.Value));
        throw new NotSupportedException($"model: input '{input.Name}' [{string.Join(", ", input.Shape)}] has non-batch dimensions of unknown size");
    }
}
