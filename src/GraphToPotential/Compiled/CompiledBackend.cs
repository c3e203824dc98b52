using System.Numerics;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>The network alone, compiled once per distinct row count.</summary>
internal sealed class CompiledGraphFunction<T> : IGraphFunction where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly OnnxGraph _graph;
    private readonly Dictionary<int, ProgramState<T>> _states = [];

    public CompiledGraphFunction(OnnxGraph graph)
    {
        if (graph.Inputs.Count != 1)
            throw new NotSupportedException($"model: the graph has {graph.Inputs.Count} data inputs; one input with the batch on axis 0 is supported");
        _graph = graph;
        InputWidth = GraphShapes.InputWidth(graph);
        var probe = State(97);
        var output = probe.Program.Value(graph.Outputs[0].Name);
        if (output.RowAxis != 0)
            throw new NotSupportedException($"model: output '{output.Name}' {output.ShapeText} does not carry the batch on axis 0");
        OutputWidth = output.PhysCount;
    }

    public int InputWidth { get; }
    public int OutputWidth { get; }

    private ProgramState<T> State(int rows)
    {
        if (!_states.TryGetValue(rows, out var state))
        {
            var program = ProgramBuilder<T>.Build(_graph, new CompileSettings(rows, _graph.Inputs[0].Name, ParameterGradients: false,
                KeepValues: [_graph.Outputs[0].Name]));
            state = new ProgramState<T>(program);
            if (_states.Count > 4) _states.Clear();
            _states[rows] = state;
        }
        return state;
    }

    public void Forward(ReadOnlySpan<double> parameters, ReadOnlySpan<double> inputs, int rows, Span<double> outputs)
    {
        if (rows <= 0) throw new ArgumentException($"rows must be positive, got {rows}");
        if (inputs.Length < rows * InputWidth) throw new ArgumentException($"inputs: {inputs.Length} values for {rows} rows of {InputWidth}");
        if (outputs.Length < rows * OutputWidth) throw new ArgumentException($"outputs: room for {outputs.Length} values, need {rows * OutputWidth}");
        var state = State(rows);
        if (parameters.Length < state.Program.ParameterDimension)
            throw new ArgumentException($"parameters: {parameters.Length} values, the graph has {state.Program.ParameterDimension}");
        state.SetParameters(parameters);
        state.SetLogical(state.Program.Value(_graph.Inputs[0].Name), inputs[..(rows * InputWidth)]);
        state.Forward(false);
        state.ReadLogical(state.Program.Value(_graph.Outputs[0].Name), outputs[..(rows * OutputWidth)]);
    }

    public void Dispose() => _states.Clear();
}

/// <summary>The compiled log posterior: one program for the data, a state per chain.</summary>
internal sealed class CompiledPotential<T> : IPotential where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly CompiledProgram<T> _program;
    private readonly object _predictLock = new();
    private CompiledGraphFunction<T>? _predict;

    public CompiledPotential(PosteriorModel model)
    {
        Model = model;
        var graph = CompiledBackend.LikelihoodGraph(model);
        _program = ProgramBuilder<T>.Build(graph, new CompileSettings(model.Data.Rows, model.InputName, ParameterGradients: true,
            KeepValues: [model.LikelihoodValue]));
        var predictor = _program.Value(model.LikelihoodValue);
        if (predictor.RowAxis != 0 || predictor.PhysCount != model.OutputWidth)
            throw new NotSupportedException($"model: value '{predictor.Name}' {predictor.ShapeText} read by the likelihood must be [batch, {model.OutputWidth}]");
    }

    public PosteriorModel Model { get; }

    public ILogDensity CreateLogDensity() => new CompiledLogDensity<T>(Model, _program);

    public IBatchedLogDensity? CreateBatched(int maxBatch) => new SequentialBatchedLogDensity(CreateLogDensity(), maxBatch);

    public void Predict(ReadOnlySpan<double> position, ReadOnlySpan<double> inputs, int rows, Span<double> outputs)
    {
        lock (_predictLock)
        {
            _predict ??= new CompiledGraphFunction<T>(Model.Graph);
            _predict.Forward(position, inputs, rows, outputs);
        }
    }

    public void Dispose() => _predict?.Dispose();
}

/// <summary>
/// log p(θ | D) on one state. The likelihood reads the predictor in its physical layout ([K, R], rows innermost)
/// and seeds its gradient directly; sums are accumulated in double whatever the compute precision.
/// </summary>
internal sealed class CompiledLogDensity<T> : ILogDensity where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly PosteriorModel _model;
    private readonly ProgramState<T> _state;
    private readonly Value _predictor;
    private readonly double[] _targets;
    private readonly int[] _labels;
    private readonly int _rows, _k;

    public CompiledLogDensity(PosteriorModel model, CompiledProgram<T> program)
    {
        _model = model;
        _state = new ProgramState<T>(program);
        _state.SetLogical(program.Value(model.InputName), model.Data.Features);
        _predictor = program.Value(model.LikelihoodValue);
        _rows = model.Data.Rows;
        _k = model.OutputWidth;
        // Targets rearranged to the predictor's physical layout: element (r, k) at k·R + r.
        _targets = new double[_rows * model.Data.TargetWidth];
        for (int r = 0; r < _rows; r++)
            for (int k = 0; k < model.Data.TargetWidth; k++)
                _targets[k * _rows + r] = model.Data.Targets[r * model.Data.TargetWidth + k];
        _labels = model.Options.Likelihood == LikelihoodKind.Categorical ? model.Data.Targets.Select(t => (int)t).ToArray() : [];
        Dimension = model.Layout.Dimension;
    }

    public int Dimension { get; }

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        _state.SetParameters(position);
        _state.Forward(true);
        _state.ClearGradients();
        double logSigma = _model.LogSigma(position);
        double ll = LogLikelihood(logSigma, out double dLogSigma);
        _state.Backward();
        _state.ReadParameterGradients(gradient);
        if (_model.SigmaOffset >= 0) gradient[_model.SigmaOffset] = dLogSigma;
        return ll + _model.LogPrior(position, gradient);
    }

    private double LogLikelihood(double logSigma, out double dLogSigma)
    {
        var v = _state.V;
        var g = _state.G;
        int off = _predictor.Offset, goff = _predictor.GradOffset;
        bool grad = goff >= 0;
        dLogSigma = 0;
        switch (_model.Options.Likelihood)
        {
            case LikelihoodKind.Normal:
            {
                double invVar = Math.Exp(-2 * logSigma), ss = 0;
                int n = _targets.Length;
                for (int i = 0; i < n; i++)
                {
                    double r = _targets[i] - double.CreateTruncating(v[off + i]);
                    ss += r * r;
                    if (grad) g[goff + i] = T.CreateTruncating(r * invVar);
                }
                if (_model.SigmaOffset >= 0) dLogSigma = ss * invVar - n;
                return -n * (LogLikelihoods.HalfLogTwoPi + logSigma) - 0.5 * ss * invVar;
            }
            case LikelihoodKind.Bernoulli:
            {
                double sum = 0;
                for (int i = 0; i < _rows; i++)
                {
                    double z = double.CreateTruncating(v[off + i]), y = _targets[i];
                    double e = Math.Exp(-Math.Abs(z));
                    sum += y * z - (Math.Max(z, 0) + Math.Log(1 + e));
                    if (grad) g[goff + i] = T.CreateTruncating(y - (z >= 0 ? 1 / (1 + e) : e / (1 + e)));
                }
                return sum;
            }
            default:
            {
                double sum = 0;
                int rows = _rows, k = _k;
                for (int r = 0; r < rows; r++)
                {
                    double max = double.NegativeInfinity;
                    for (int c = 0; c < k; c++) max = Math.Max(max, double.CreateTruncating(v[off + c * rows + r]));
                    double s = 0;
                    for (int c = 0; c < k; c++) s += Math.Exp(double.CreateTruncating(v[off + c * rows + r]) - max);
                    double lse = max + Math.Log(s);
                    int label = _labels[r];
                    sum += double.CreateTruncating(v[off + label * rows + r]) - lse;
                    if (grad)
                        for (int c = 0; c < k; c++)
                            g[goff + c * rows + r] = T.CreateTruncating((c == label ? 1.0 : 0.0) - Math.Exp(double.CreateTruncating(v[off + c * rows + r]) - lse));
                }
                return sum;
            }
        }
    }
}

/// <summary>The batched interface over one per-chain evaluator, one position after another (the compiled backend has no faster batched path: its kernels already run SIMD across rows).</summary>
internal sealed class SequentialBatchedLogDensity(ILogDensity inner, int maxBatch) : IBatchedLogDensity
{
    public int Dimension => inner.Dimension;
    public int MaxBatch => maxBatch;

    public void LogDensityAndGradient(int count, ReadOnlySpan<double> positions, Span<double> logDensities, Span<double> gradients)
    {
        if (count > maxBatch) throw new ArgumentException($"batch of {count} exceeds the maximum {maxBatch}");
        int d = inner.Dimension;
        for (int c = 0; c < count; c++)
            logDensities[c] = inner.LogDensityAndGradient(positions.Slice(c * d, d), gradients.Slice(c * d, d));
    }
}
