using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>Shapes of graph values that the file does not declare, found by compiling the graph for a probe row count.</summary>
public static class ShapeInference
{
    /// <summary>Values per row of graph output <paramref name="index"/> (product of its non-batch dimensions).</summary>
    public static int OutputWidth(OnnxGraph graph, int index)
    {
        if (graph.Inputs.Count != 1)
            throw new NotSupportedException($"model: output '{graph.Outputs[index].Name}' has dimensions of unknown size");
        var program = ProgramBuilder<double>.Build(graph, new CompileSettings(97, graph.Inputs[0].Name, ParameterGradients: false,
            KeepValues: [graph.Outputs[index].Name]));
        var value = program.Value(graph.Outputs[index].Name);
        if (value.RowAxis != 0)
            throw new NotSupportedException($"model: output '{value.Name}' {value.ShapeText} does not carry the batch on axis 0");
        return value.PhysCount;
    }
}
