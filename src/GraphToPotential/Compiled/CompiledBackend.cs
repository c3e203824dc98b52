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
        if (new CompiledBackend().Unsupported(graph) is string reason) throw new NotSupportedException($"model: {reason}");
        _graph = graph;
        InputWidth = GraphShapes.InputWidth(graph);
        OutputWidth = GraphShapes.OutputWidth(graph, 0);
    }

    public int InputWidth { get; }
    public int OutputWidth { get; }

    private ProgramState<T> State(int rows)
    {
        if (!_states.TryGetValue(rows, out var state))
        {
            var program = ProgramBuilder<T>.Build(_graph, new CompileSettings(rows, _graph.Inputs[0].Name, ParameterGradients: false,
                KeepValues: [_graph.Outputs[0].Name]));
            var output = program.Value(_graph.Outputs[0].Name);
            if (output.RowAxis != 0 || output.PhysCount != OutputWidth)
                throw new NotSupportedException($"model: output '{output.Name}' {output.ShapeText} is not [batch, {OutputWidth}] as compiled");
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

/// <summary>
/// The compiled log posterior. Every op is row-wise (nothing mixes data rows), so the data are evaluated in blocks of
/// at most <see cref="BlockRows"/> rows through one program compiled for that block size (plus one for the last,
/// shorter block): a block's activations and their gradients stay in the core's L2 cache through the forward and the
/// reverse pass, and the parameter gradients accumulate over blocks. A state per chain.
/// </summary>
internal sealed class CompiledPotential<T> : IPotential where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Rows per block: a multiple of the register tile (3 vectors) for float32 and float64; ~0.6 MB of
    /// activations and gradients per block for a 64-wide MLP in float64.</summary>
    public const int BlockRows = 192;

    private readonly CompiledProgram<T> _program;
    private readonly CompiledProgram<T>? _lastProgram;
    private readonly object _predictLock = new();
    private CompiledGraphFunction<T>? _predict;

    public CompiledPotential(PosteriorModel model)
    {
        Model = model;
        var graph = CompiledBackend.LikelihoodGraph(model);
        int rows = model.Data.Rows;
        int block = Math.Max(1, Math.Min(rows, BlockRows)), last = rows % block;
        _program = Build(graph, model, block);
        if (last != 0) _lastProgram = Build(graph, model, last);
    }

    private static CompiledProgram<T> Build(OnnxGraph graph, PosteriorModel model, int rows)
    {
        var program = ProgramBuilder<T>.Build(graph, new CompileSettings(rows, model.InputName, ParameterGradients: true,
            KeepValues: [model.LikelihoodValue]));
        var predictor = program.Value(model.LikelihoodValue);
        if (predictor.RowAxis != 0 || predictor.PhysCount != model.OutputWidth)
            throw new NotSupportedException($"model: value '{predictor.Name}' {predictor.ShapeText} read by the likelihood must be [batch, {model.OutputWidth}]");
        return program;
    }

    public PosteriorModel Model { get; }

    public ILogDensity CreateLogDensity() => new CompiledLogDensity<T>(Model, _program, _lastProgram);

    /// <summary>Null: the compiled backend evaluates one position per call (chains run on threads, one state each).</summary>
    public IBatchedLogDensity? CreateBatched(int maxBatch) => null;

    public void Predict(ReadOnlySpan<double> position, ReadOnlySpan<double> inputs, int rows, Span<double> outputs)
    {
        var parameters = new double[Model.ParameterDimension];
        Model.NetworkParameters(position, parameters);
        lock (_predictLock)
        {
            _predict ??= new CompiledGraphFunction<T>(Model.Graph);
            _predict.Forward(parameters, inputs, rows, outputs);
        }
    }

    public void Dispose() => _predict?.Dispose();
}

/// <summary>
/// log p(θ | D) on one chain's states. The likelihood reads the predictor in its physical layout ([K, R], rows
/// innermost) and seeds its gradient directly; sums are accumulated in double whatever the compute precision, block
/// by block in a fixed order.
/// </summary>
internal sealed class CompiledLogDensity<T> : ILogDensity where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>One block of rows: its state, its inputs (physical layout, already in the compute type) and targets.</summary>
    private sealed record Block(ProgramState<T> State, Value Input, Value Predictor, T[] Inputs, double[] Targets, int[] Labels, int Rows);

    private readonly PosteriorModel _model;
    private readonly ProgramState<T> _state;
    private readonly ProgramState<T>? _lastState;
    private readonly Block[] _blocks;
    private readonly int _k;
    private readonly double[] _network; // w under a hierarchical prior (the position's prefix holds z); empty otherwise

    public CompiledLogDensity(PosteriorModel model, CompiledProgram<T> program, CompiledProgram<T>? lastProgram)
    {
        _model = model;
        _k = model.OutputWidth;
        _network = model.HasLayerScales ? new double[model.ParameterDimension] : [];
        _state = new ProgramState<T>(program);
        _lastState = lastProgram is null ? null : new ProgramState<T>(lastProgram);
        var data = model.Data;
        int rows = data.Rows, block = program.Rows, width = data.Features.Length / rows, tw = data.TargetWidth;
        var blocks = new List<Block>();
        for (int r0 = 0; r0 < rows; r0 += block)
        {
            int n = Math.Min(block, rows - r0);
            var state = n == block ? _state : _lastState!;
            var input = state.Program.Value(model.InputName);
            // Rows innermost: element (r, f) at f·n + r; targets (r, k) at k·n + r.
            var inputs = new T[n * width];
            for (int r = 0; r < n; r++)
                for (int f = 0; f < width; f++) inputs[f * n + r] = T.CreateTruncating(data.Features[(r0 + r) * width + f]);
            var targets = new double[n * tw];
            for (int r = 0; r < n; r++)
                for (int k = 0; k < tw; k++) targets[k * n + r] = data.Targets[(r0 + r) * tw + k];
            int[] labels = model.Options.Likelihood == LikelihoodKind.Categorical
                ? Enumerable.Range(r0, n).Select(r => (int)data.Targets[r]).ToArray() : [];
            blocks.Add(new Block(state, input, state.Program.Value(model.LikelihoodValue), inputs, targets, labels, n));
        }
        _blocks = blocks.ToArray();
        // With one block the inputs are written once, here; otherwise before each block's forward pass.
        if (_blocks.Length == 1) _blocks[0].Inputs.CopyTo(_state.V.AsSpan(_blocks[0].Input.Offset));
        Dimension = model.Layout.Dimension;
    }

    public int Dimension { get; }

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        double logSigma = _model.LogSigma(position);
        double ll = 0, dLogSigma = 0;
        var network = position;
        if (_model.HasLayerScales)
        {
            _model.NetworkParameters(position, _network);
            network = _network;
        }
        PrepareState(_state, network);
        if (_lastState is not null) PrepareState(_lastState, network);
        bool single = _blocks.Length == 1;
        foreach (var b in _blocks)
        {
            var state = b.State;
            if (!single) b.Inputs.CopyTo(state.V.AsSpan(b.Input.Offset));
            state.ForwardPrepared(true);
            state.ClearActivationGradients();
            ll += LogLikelihood(b, logSigma, out double dls);
            dLogSigma += dls;
            state.Backward();
        }
        _state.ReadParameterGradients(gradient);
        _lastState?.AddParameterGradients(gradient);
        if (_model.SigmaOffset >= 0) gradient[_model.SigmaOffset] = dLogSigma;
        _model.PullBackNetworkGradient(position, gradient);
        return ll + _model.LogPrior(position, gradient);
    }

    private static void PrepareState(ProgramState<T> state, ReadOnlySpan<double> position)
    {
        state.SetParameters(position);
        state.Prepare();
        Array.Clear(state.G, 0, state.Program.ParameterGradSize);
    }

    private double LogLikelihood(Block b, double logSigma, out double dLogSigma)
    {
        var v = b.State.V;
        var g = b.State.G;
        var targets = b.Targets;
        int off = b.Predictor.Offset, goff = b.Predictor.GradOffset, rows = b.Rows;
        bool grad = goff >= 0;
        dLogSigma = 0;
        switch (_model.Options.Likelihood)
        {
            case LikelihoodKind.Normal:
            {
                double invVar = Math.Exp(-2 * logSigma), ss = 0;
                int n = targets.Length;
                for (int i = 0; i < n; i++)
                {
                    double r = targets[i] - double.CreateTruncating(v[off + i]);
                    ss += r * r;
                    if (grad) g[goff + i] = T.CreateTruncating(r * invVar);
                }
                if (_model.SigmaOffset >= 0) dLogSigma = ss * invVar - n;
                return -n * (LogLikelihoods.HalfLogTwoPi + logSigma) - 0.5 * ss * invVar;
            }
            case LikelihoodKind.Bernoulli:
            {
                double sum = 0;
                for (int i = 0; i < rows; i++)
                {
                    double z = double.CreateTruncating(v[off + i]), y = targets[i];
                    double e = Math.Exp(-Math.Abs(z));
                    sum += y * z - (Math.Max(z, 0) + Math.Log(1 + e));
                    if (grad) g[goff + i] = T.CreateTruncating(y - (z >= 0 ? 1 / (1 + e) : e / (1 + e)));
                }
                return sum;
            }
            default:
            {
                double sum = 0;
                int k = _k;
                var labels = b.Labels;
                for (int r = 0; r < rows; r++)
                {
                    double max = double.NegativeInfinity;
                    for (int c = 0; c < k; c++) max = Math.Max(max, double.CreateTruncating(v[off + c * rows + r]));
                    double s = 0;
                    for (int c = 0; c < k; c++) s += Math.Exp(double.CreateTruncating(v[off + c * rows + r]) - max);
                    double lse = max + Math.Log(s);
                    int label = labels[r];
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
