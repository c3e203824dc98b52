using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// The compiled CPU backend: the graph becomes a straight-line forward and reverse program over preallocated
/// arenas (no allocation per call), with the data rows innermost so every kernel runs SIMD across rows
/// (System.Numerics.Tensors), and dense layers fused with their bias and activation. One state per chain.
/// Float64 by default; <see cref="ComputePrecision.Float32"/> computes the network in float32 (likelihood sums in double).
/// </summary>
internal sealed class CompiledBackend : IPotentialBackendFactory
{
    /// <summary>The ONNX ops (default domain) the compiled backend claims: the <see cref="OpStage.CompiledBackend"/> column of <see cref="OpCapabilities"/>.</summary>
    public static IReadOnlySet<string> SupportedOps => OpCapabilities.OpsFor(OpStage.CompiledBackend);

    /// <summary>Row count of the trial build that checks coverage (a prime, so no other dimension is mistaken for the batch); shapes come from <see cref="ShapeInference"/>.</summary>
    private const int ProbeRows = 97;

    public string Name => "cpu";

    public string? Unsupported(OnnxGraph graph)
    {
        if (OpCapabilities.Unsupported(graph, OpStage.CompiledBackend) is string reason) return reason;
        if (graph.Inputs.Count != 1)
            return $"the graph has {graph.Inputs.Count} data inputs; one input with the batch on axis 0 is supported";
        try
        {
            ProgramBuilder<double>.Build(graph, new CompileSettings(ProbeRows, graph.Inputs[0].Name, ParameterGradients: true));
            return null;
        }
        catch (NotSupportedException ex)
        {
            return ex.Message;
        }
    }

    public IGraphFunction CompileGraph(OnnxGraph graph, BackendOptions options) => options.Precision == ComputePrecision.Float32
        ? new CompiledGraphFunction<float>(graph)
        : new CompiledGraphFunction<double>(graph);

    public IPotential CreatePotential(PosteriorModel model, BackendOptions options) => options.Precision == ComputePrecision.Float32
        ? new CompiledPotential<float>(model, options.Threads)
        : new CompiledPotential<double>(model, options.Threads);

    /// <summary>The graph cut so that its only output is the value the likelihood reads (drops a final Sigmoid/Softmax/LogSoftmax).</summary>
    internal static OnnxGraph LikelihoodGraph(PosteriorModel model)
    {
        var g = model.Graph;
        if (model.Head == OutputHead.None && g.Outputs.Count == 1) return g;
        var nodes = model.Head == OutputHead.None ? g.Nodes : g.Nodes.Take(g.Nodes.Count - 1).ToArray();
        if (model.Head != OutputHead.None && !g.Nodes[^1].Outputs.Contains(model.OutputName))
            nodes = g.Nodes.Where(n => !n.Outputs.Contains(model.OutputName)).ToArray();
        return new OnnxGraph
        {
            Producer = g.Producer,
            ProducerVersion = g.ProducerVersion,
            IrVersion = g.IrVersion,
            Opsets = g.Opsets,
            Inputs = g.Inputs,
            Outputs = [new ValueInfo(model.LikelihoodValue, ElementType.Double, [])],
            Nodes = nodes,
            Parameters = g.Parameters,
            Constants = g.Constants,
            Sha256 = g.Sha256,
        };
    }
}
