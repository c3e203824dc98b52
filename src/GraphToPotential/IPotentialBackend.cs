using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// A way of evaluating imported graphs: the compiled CPU backend (<see cref="CompiledBackend"/>) or
/// TorchSharp. Stateless; everything it creates is independent of everything else it creates.
/// </summary>
internal interface IPotentialBackendFactory
{
    /// <summary>The name used by <c>--backend</c>: <c>cpu</c> or <c>torch</c>.</summary>
    string Name { get; }

    /// <summary>Null when the backend can evaluate every node of <paramref name="graph"/>, otherwise a one-line reason naming the first node it cannot.</summary>
    string? Unsupported(OnnxGraph graph);

    /// <summary>The network alone, for <c>bnn eval</c> and predictions. Throws <see cref="NotSupportedException"/> naming the op and node when not covered.</summary>
    IGraphFunction CompileGraph(OnnxGraph graph, BackendOptions options);

    /// <summary>The log posterior. Throws <see cref="NotSupportedException"/> naming the op and node when not covered.</summary>
    IPotential CreatePotential(PosteriorModel model, BackendOptions options);
}

/// <summary>
/// The network f(x; θ) as a function of its parameters and a batch of inputs.
/// Not thread-safe: create one per thread.
/// </summary>
internal interface IGraphFunction : IDisposable
{
    /// <summary>Values per input row (product of the data input's non-batch dimensions).</summary>
    int InputWidth { get; }

    /// <summary>Values per output row of the first graph output.</summary>
    int OutputWidth { get; }

    /// <summary>
    /// Evaluates the first graph output for <paramref name="rows"/> inputs.
    /// <paramref name="parameters"/>: the graph's parameters concatenated in graph order (the position's prefix; longer spans are fine, e.g. a position with σ);
    /// <paramref name="inputs"/>: rows × InputWidth row-major; <paramref name="outputs"/>: rows × OutputWidth row-major.
    /// </summary>
    void Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> inputs, int rows, Span<double> outputs);
}

/// <summary>
/// −U(θ) = log p(θ | D) of one <see cref="PosteriorModel"/> on one backend. Creates the per-chain evaluators.
/// </summary>
internal interface IPotential : IDisposable
{
    PosteriorModel Model { get; }

    /// <summary>A new, independent evaluator with its own buffers (one per chain).</summary>
    ILogDensity CreateLogDensity();

    /// <summary>An evaluator for up to <paramref name="maxBatch"/> positions per call, or null when the backend has no batched path.</summary>
    IBatchedLogDensity? CreateBatched(int maxBatch);

    /// <summary>The network output (first graph output, including any final Sigmoid/Softmax) at <paramref name="position"/> for new inputs (rows × InputWidth), into rows × OutputWidth.</summary>
    void Predict(ReadOnlySpan<double> position, ReadOnlySpan<double> inputs, int rows, Span<double> outputs);
}

/// <summary>Helpers over any backend.</summary>
internal static class PotentialExtensions
{
    /// <summary>
    /// The position at the file's trained weights; when σ is sampled it starts at the residual RMS of the network's
    /// own predictions on the data (<see cref="PosteriorModel.ResidualSigma"/>; with the output layer integrated, its
    /// file weights applied to the final hidden activations).
    /// </summary>
    public static double[] PositionAtFileWeights(this IPotential potential)
    {
        var model = potential.Model;
        var position = model.PositionAtFileWeights();
        if (model.SigmaOffset >= 0)
        {
            var predictions = new double[model.Data.Rows * model.OutputWidth];
            potential.Predict(position, model.Data.Features, model.Data.Rows, predictions);
            if (model.Integrated is { } integrated) predictions = integrated.ApplyFileWeights(predictions);
            position[model.SigmaOffset] = Math.Log(model.ResidualSigma(predictions));
        }
        return position;
    }
}
