using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Bnn.Onnx.GraphToPotential.Torch;

/// <summary>
/// The TorchSharp backend (<c>--backend torch</c>): every supported ONNX op as a libtorch op, autograd for ∇ log p,
/// float64 by default or float32, on <c>cpu</c> or <c>cuda</c>, and lockstep chains evaluated in one call with a
/// leading chain dimension on the parameters.
/// </summary>
internal sealed class TorchBackend : IPotentialBackendFactory
{
    public string Name => "torch";

    public string? Unsupported(OnnxGraph graph) =>
        graph.Nodes.Select(TorchOps.Unsupported).FirstOrDefault(reason => reason is not null);

    public IGraphFunction CompileGraph(OnnxGraph graph, BackendOptions options) => new TorchGraphFunction(graph, options);

    public IPotential CreatePotential(PosteriorModel model, BackendOptions options) => model.Integrated is null
        ? new TorchPotential(model, options)
        : throw new NotSupportedException("--integrate-output: the torch backend does not integrate the output layer; the cpu backend does (--backend cpu), for the graphs it covers");
}

/// <summary>
/// The network alone on TorchSharp, at given parameters (<see cref="Forward"/>) or with arbitrary named inputs
/// (<see cref="Evaluate"/>, used by <c>bnn eval</c> and the ONNX conformance cases). Not thread-safe.
/// </summary>
internal sealed class TorchGraphFunction : IGraphFunction
{
    private readonly TorchGraph _graph;
    private readonly Lazy<int> _inputWidth;
    private readonly Lazy<int> _outputWidth;

    public TorchGraphFunction(OnnxGraph graph, BackendOptions options)
    {
        _graph = new TorchGraph(graph, options);
        _inputWidth = new Lazy<int>(() => GraphShapes.InputWidth(graph));
        _outputWidth = new Lazy<int>(() => GraphShapes.OutputWidth(graph, 0));
    }

    public int InputWidth => _inputWidth.Value;

    public int OutputWidth => _outputWidth.Value;

    public void Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> inputs, int rows, Span<double> outputs)
    {
        var graph = _graph.Graph;
        int d = graph.TotalParameters;
        if (parameters.Length < d)
            throw new ArgumentException($"parameters: {parameters.Length} values, the graph has {d}");
        if (inputs.Length != rows * InputWidth)
            throw new ArgumentException($"inputs: {inputs.Length} values, expected {rows} rows × {InputWidth}");
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal);
        var theta = torch.tensor(parameters[..d].ToArray(), [d], ScalarType.Float64, _graph.Context.Device);
        _graph.AddParameters(values, theta, batched: false);
        var input = graph.Inputs[0];
        long[] shape = [rows, .. input.Shape.Skip(1).Select(x => x.Value!.Value)]; // fixed: InputWidth resolved them
        values[input.Name] = new TorchValue(torch.tensor(inputs.ToArray(), shape, _graph.Context.Compute, _graph.Context.Device), input.ElementType, false);
        var name = graph.Outputs[0].Name;
        _graph.Run(values, [name]);
        CopyOut(values[name].Tensor, outputs[..(rows * OutputWidth)]);
    }

    /// <summary>
    /// Evaluates every graph output from named inputs, at <paramref name="parameters"/> (graph order; null = the
    /// file's own weights). Outputs keep their ONNX element type (values held as double).
    /// </summary>
    public IReadOnlyList<OnnxImport.Tensor> Evaluate(IReadOnlyDictionary<string, OnnxImport.Tensor> inputs, double[]? parameters = null)
    {
        var graph = _graph.Graph;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal);
        parameters ??= graph.Parameters.SelectMany(p => p.Values).ToArray();
        if (parameters.Length != graph.TotalParameters)
            throw new ArgumentException($"parameters: {parameters.Length} values, the graph has {graph.TotalParameters}");
        _graph.AddParameters(values, torch.tensor(parameters, [parameters.Length], ScalarType.Float64, _graph.Context.Device), batched: false);
        foreach (var input in graph.Inputs)
        {
            if (!inputs.TryGetValue(input.Name, out var t))
                throw new ArgumentException($"input '{input.Name}' was not given");
            var type = t.SourceType == ElementType.Undefined ? input.ElementType : t.SourceType;
            values[input.Name] = new TorchValue(_graph.Context.FromData(t.Data, t.Shape.Select(s => (long)s).ToArray(), type), type, false);
        }
        var names = graph.Outputs.Select(o => o.Name).ToArray();
        _graph.Run(values, names);
        return names.Select(n =>
        {
            var v = values[n];
            return new OnnxImport.Tensor(n, v.Type, v.Shape.Select(s => checked((int)s)).ToArray(), ToDoubles(v.Tensor));
        }).ToArray();
    }

    /// <summary>The tensor's values, row-major, as double (TorchSharp's accessor fails on empty tensors).</summary>
    internal static double[] ToDoubles(Tensor t)
    {
        if (t.numel() == 0) return [];
        using var cpu = t.to(ScalarType.Float64).cpu().contiguous();
        return cpu.data<double>().ToArray();
    }

    internal static void CopyOut(Tensor t, Span<double> destination)
    {
        using var cpu = t.to(ScalarType.Float64).cpu().contiguous();
        if (cpu.numel() != destination.Length)
            throw new InvalidDataException($"output has {cpu.numel()} values, expected {destination.Length}");
        cpu.data<double>().CopyTo(destination);
    }

    public void Dispose() => _graph.Dispose();
}

/// <summary>
/// log p(θ | D) of a <see cref="PosteriorModel"/> on TorchSharp. The data live on the device once; each
/// <see cref="CreateLogDensity"/>/<see cref="CreateBatched"/> evaluator is independent (one per chain or per lockstep group).
/// </summary>
internal sealed class TorchPotential : IPotential
{
    private readonly TorchGraph _graph;

    public TorchPotential(PosteriorModel model, BackendOptions options)
    {
        Model = model;
        Options = options;
        _graph = new TorchGraph(model.Graph, options);
        var ctx = _graph.Context;
        var data = model.Data;
        long[] inputShape = [data.Rows, .. model.InputSampleShape.Select(d => (long)d)];
        Features = torch.tensor(data.Features, inputShape, ctx.Compute, ctx.Device).DetachFromDisposeScope();
        Targets = torch.tensor(data.Targets, [data.Targets.Length], ScalarType.Float64, ctx.Device).DetachFromDisposeScope();
        if (model.Options.Likelihood == LikelihoodKind.Categorical)
        {
            using var labels = torch.tensor(data.Targets.Select(t => (long)t).ToArray(), [data.Rows], ScalarType.Int64, ctx.Device);
            OneHot = torch.nn.functional.one_hot(labels, model.OutputWidth).to(ScalarType.Float64).DetachFromDisposeScope();
        }
    }

    public PosteriorModel Model { get; }

    public BackendOptions Options { get; }

    internal TorchGraph Graph => _graph;

    internal Tensor Features { get; }

    /// <summary>y, N·K values (float64).</summary>
    internal Tensor Targets { get; }

    /// <summary>For categorical: onehot(y), N × K (float64).</summary>
    internal Tensor? OneHot { get; }

    public ILogDensity CreateLogDensity() => new TorchLogDensity(this, 1);

    public IBatchedLogDensity? CreateBatched(int maxBatch)
    {
        if (maxBatch < 1) throw new ArgumentException($"maxBatch {maxBatch}: must be at least 1");
        return new TorchLogDensity(this, maxBatch);
    }

    public void Predict(ReadOnlySpan<double> position, ReadOnlySpan<double> inputs, int rows, Span<double> outputs)
    {
        int width = Model.Data.FeatureWidth;
        if (inputs.Length != rows * width)
            throw new ArgumentException($"inputs: {inputs.Length} values, expected {rows} rows × {width}");
        var ctx = _graph.Context;
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal);
        int d = Model.ParameterDimension;
        var parameters = new double[d];
        Model.NetworkParameters(position, parameters);
        _graph.AddParameters(values, torch.tensor(parameters, [d], ScalarType.Float64, ctx.Device), batched: false);
        long[] shape = [rows, .. Model.InputSampleShape.Select(x => (long)x)];
        values[Model.InputName] = new TorchValue(torch.tensor(inputs.ToArray(), shape, ctx.Compute, ctx.Device), Model.Graph.Inputs[0].ElementType, false);
        _graph.Run(values, [Model.OutputName]);
        TorchGraphFunction.CopyOut(values[Model.OutputName].Tensor, outputs[..(rows * Model.OutputWidth)]);
    }

    public void Dispose()
    {
        Features.Dispose();
        Targets.Dispose();
        OneHot?.Dispose();
        _graph.Dispose();
    }
}

/// <summary>
/// log p(θ | D) and ∇ log p at C positions per call. The positions become one [C, d] leaf tensor; each graph
/// parameter is a [C, …shape] slice of it, so the graph runs once for all chains and one backward pass gives every
/// chain's gradient (chains are independent, so ∇ of Σ_c log p_c is row c's gradient). The prior is the model's
/// own (<see cref="PosteriorModel.LogPrior"/>); the likelihood is computed in float64 whatever the network's precision.
/// Under a hierarchical prior the leaf tensor holds the network's w (<see cref="PosteriorModel.NetworkParameters"/>)
/// and the model carries ∂/∂w back to the position (<see cref="PosteriorModel.PullBackNetworkGradient"/>), the same
/// code the compiled backend uses. Every call runs in its own dispose scope: no tensor outlives it.
/// </summary>
internal sealed class TorchLogDensity : ILogDensity, IBatchedLogDensity
{
    private readonly TorchPotential _potential;
    private readonly TorchValue _input;
    private readonly string[] _wanted;

    public TorchLogDensity(TorchPotential potential, int maxBatch)
    {
        _potential = potential;
        MaxBatch = maxBatch;
        Dimension = potential.Model.Layout.Dimension;
        _input = new TorchValue(potential.Features, potential.Model.Graph.Inputs[0].ElementType, false);
        _wanted = [potential.Model.LikelihoodValue];
    }

    public int Dimension { get; }

    public int MaxBatch { get; }

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        Span<double> logDensity = stackalloc double[1];
        LogDensityAndGradient(1, position, logDensity, gradient);
        return logDensity[0];
    }

    public void LogDensityAndGradient(int count, ReadOnlySpan<double> positions, Span<double> logDensities, Span<double> gradients)
    {
        if (count < 1 || count > MaxBatch)
            throw new ArgumentException($"count {count}: must be in 1..{MaxBatch}");
        int d = Dimension;
        if (positions.Length < count * d || gradients.Length < count * d || logDensities.Length < count)
            throw new ArgumentException($"positions/gradients need {count} × {d} values and logDensities {count}");

        var model = _potential.Model;
        var graph = _potential.Graph;
        var ctx = graph.Context;
        using (var scope = torch.NewDisposeScope())
        {
            var leaf = positions[..(count * d)].ToArray();
            if (model.HasLayerScales)
                for (int c = 0; c < count; c++)
                    model.NetworkParameters(positions.Slice(c * d, d), leaf.AsSpan(c * d, model.ParameterDimension));
            var theta = torch.tensor(leaf, [count, d], ScalarType.Float64, ctx.Device, requires_grad: true);
            var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal) { [model.InputName] = _input };
            graph.AddParameters(values, theta, batched: true);
            graph.Run(values, _wanted);

            var f = values[model.LikelihoodValue];
            var predictor = f.Batched ? f.Tensor : f.Tensor.unsqueeze(0).expand([count, .. f.Tensor.shape]);
            var ll = LogLikelihood(predictor.reshape(count, -1).to(ScalarType.Float64), theta, count);
            var grad = torch.autograd.grad([ll.sum()], [theta], allow_unused: true)[0];

            using (var cpu = ll.detach().cpu().contiguous())
                cpu.data<double>().CopyTo(logDensities[..count]);
            if (grad is null || grad.IsInvalid)
            {
                gradients[..(count * d)].Clear();
            }
            else
            {
                using var cpu = grad.cpu().contiguous();
                cpu.data<double>().CopyTo(gradients[..(count * d)]);
            }
        }

        for (int c = 0; c < count; c++)
        {
            model.PullBackNetworkGradient(positions.Slice(c * d, d), gradients.Slice(c * d, d));
            logDensities[c] += model.LogPrior(positions.Slice(c * d, d), gradients.Slice(c * d, d));
        }
    }

    /// <summary>Σ_n log p(y_n | f_n) per chain, [C]; the formulas of <see cref="LogLikelihoods"/>, normalising constants kept.</summary>
    private Tensor LogLikelihood(Tensor f, Tensor theta, int count)
    {
        var model = _potential.Model;
        var y = _potential.Targets;
        switch (model.Options.Likelihood)
        {
            case LikelihoodKind.Normal:
            {
                // Σ −½ log 2π − u − ½ (y − f)² e^{−2u}
                long n = f.shape[1];
                var ss = y.sub(f).square().sum(1);
                if (model.SigmaOffset >= 0)
                {
                    var u = theta.select(1, model.SigmaOffset);
                    return u.add(LogLikelihoods.HalfLogTwoPi).mul(-n).sub(ss.mul(u.mul(-2).exp()).mul(0.5));
                }
                double logSigma = Math.Log(model.Options.FixedSigma ?? 1.0);
                return ss.mul(-0.5 * Math.Exp(-2 * logSigma)).sub(n * (LogLikelihoods.HalfLogTwoPi + logSigma));
            }
            case LikelihoodKind.Bernoulli:
            {
                // Σ y z − softplus(z), softplus(z) = logaddexp(z, 0)
                using var zero = torch.zeros(1, ScalarType.Float64, f.device);
                return y.mul(f).sub(f.logaddexp(zero)).sum(1);
            }
            default:
            {
                // Σ_n z_n[y_n] − logsumexp(z_n) = Σ onehot ⊙ log_softmax(z)
                var z = f.reshape(count, model.Data.Rows, model.OutputWidth);
                return z.log_softmax(-1).mul(_potential.OneHot!).sum([1, 2]);
            }
        }
    }
}
