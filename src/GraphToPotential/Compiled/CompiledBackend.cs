using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;
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
/// reverse pass, and the parameter gradients accumulate over the blocks of a shard. States per chain and per thread
/// (<see cref="CompiledLogDensity{T}"/>).
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

    private readonly int _threads;

    /// <param name="threads">Threads each chain's gradient runs on (<see cref="CompiledLogDensity{T}"/>).</param>
    public CompiledPotential(PosteriorModel model, int threads = 1)
    {
        Model = model;
        _threads = Math.Max(1, threads);
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

    public ILogDensity CreateLogDensity() => new CompiledLogDensity<T>(Model, _program, _lastProgram, _threads);

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
/// innermost) and seeds its gradient directly; sums are accumulated in double whatever the compute precision.
/// <para>
/// The blocks of rows are grouped into at most <see cref="MaxShards"/> contiguous shards, fixed by the row count alone.
/// A shard's blocks run in order on one state (its parameter gradients accumulate in the compute type), and the
/// shards' log likelihoods and gradients are added in double, shard 0 first. With <c>threads</c> &gt; 1 the chain's
/// own thread and <c>threads − 1</c> helpers take shards as they come free, each on its own states: which thread ran a
/// shard changes nothing in its result, and the final sums run in shard order, so the value and the gradient are the
/// same bits on any number of threads.
/// </para>
/// </summary>
internal sealed partial class CompiledLogDensity<T> : ILogDensity, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Most shards a gradient is split into (enough to balance a few threads over uneven blocks).</summary>
    public const int MaxShards = 16;

    /// <summary>One block of rows: its inputs (physical layout, already in the compute type), targets and labels.</summary>
    private sealed record Block(int Index, bool Last, T[] Inputs, double[] Targets, int[] Labels, int Rows);

    /// <summary>The states one thread evaluates shards on.</summary>
    private sealed class Lane(CompiledProgram<T> program, CompiledProgram<T>? lastProgram, int classes)
    {
        /// <summary>The categorical likelihood's scratch: e^(z − max) per class and row, and per row max and Σ.</summary>
        public double[] Exps { get; } = new double[classes * PaddedRows(program.Rows)];
        public double[] RowMax { get; } = new double[PaddedRows(program.Rows)];
        public double[] RowSum { get; } = new double[PaddedRows(program.Rows)];

        public ProgramState<T> State { get; } = new(program);
        public ProgramState<T>? LastState { get; } = lastProgram is null ? null : new ProgramState<T>(lastProgram);
        public int LoadedBlock { get; set; } = -1;
        public long PreparedJob { get; set; } = -1;
    }

    private readonly PosteriorModel _model;
    private readonly CompiledProgram<T> _program;
    private readonly CompiledProgram<T>? _lastProgram;
    private readonly Block[] _blocks;
    private readonly int[] _shardStart; // shard s holds blocks [_shardStart[s], _shardStart[s + 1])
    private readonly int _k, _threads, _parameters;
    private readonly double[] _network; // the network's parameters for the current job
    private readonly double[][] _shardGradient;
    private readonly double[] _shardLogLikelihood, _shardDLogSigma;
    private readonly Lane[] _lanes;
    private readonly int _inputOffset, _lastInputOffset;
    private readonly Value _predictor;
    private readonly Value? _lastPredictor;
    private double _logSigma;
    private long _job;
    private int _nextShard, _doneShards;
    private SemaphoreSlim? _start;
    private volatile bool _disposed;

    public CompiledLogDensity(PosteriorModel model, CompiledProgram<T> program, CompiledProgram<T>? lastProgram, int threads = 1)
    {
        _model = model;
        _k = model.OutputWidth;
        _program = program;
        _lastProgram = lastProgram;
        _parameters = program.ParameterDimension;
        _inputOffset = program.Value(model.InputName).Offset;
        _lastInputOffset = lastProgram?.Value(model.InputName).Offset ?? -1;
        _predictor = program.Value(model.LikelihoodValue);
        _lastPredictor = lastProgram?.Value(model.LikelihoodValue);
        _network = new double[Math.Max(_parameters, model.HasLayerScales ? model.ParameterDimension : 0)];
        var data = model.Data;
        int rows = data.Rows, block = program.Rows, width = data.Features.Length / rows, tw = data.TargetWidth;
        var blocks = new List<Block>();
        for (int r0 = 0; r0 < rows; r0 += block)
        {
            int n = Math.Min(block, rows - r0);
            // Rows innermost: element (r, f) at f·n + r; targets (r, k) at k·n + r.
            var inputs = new T[n * width];
            for (int r = 0; r < n; r++)
                for (int f = 0; f < width; f++) inputs[f * n + r] = T.CreateTruncating(data.Features[(r0 + r) * width + f]);
            var targets = new double[n * tw];
            for (int r = 0; r < n; r++)
                for (int k = 0; k < tw; k++) targets[k * n + r] = data.Targets[(r0 + r) * tw + k];
            int[] labels = model.Options.Likelihood == LikelihoodKind.Categorical
                ? Enumerable.Range(r0, n).Select(r => (int)data.Targets[r]).ToArray() : [];
            blocks.Add(new Block(blocks.Count, n != block, inputs, targets, labels, n));
        }
        _blocks = blocks.ToArray();
        int shards = Math.Min(_blocks.Length, MaxShards);
        _shardStart = Enumerable.Range(0, shards + 1).Select(s => (int)((long)s * _blocks.Length / shards)).ToArray();
        _shardGradient = Enumerable.Range(0, shards).Select(_ => new double[_parameters]).ToArray();
        _shardLogLikelihood = new double[shards];
        _shardDLogSigma = new double[shards];
        _threads = Math.Clamp(threads, 1, shards);
        int classes = model.Options.Likelihood == LikelihoodKind.Categorical ? _k : 0;
        _lanes = Enumerable.Range(0, _threads).Select(_ => new Lane(program, lastProgram, classes)).ToArray();
        Dimension = model.Layout.Dimension;
        InitialiseCollapsed();
    }

    public int Dimension { get; }

    /// <summary>Threads that evaluate this chain's gradient (the chain's own and its helpers).</summary>
    public int Threads => _threads;

    public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        _logSigma = _model.LogSigma(position);
        if (_model.HasLayerScales) _model.NetworkParameters(position, _network);
        else position[.._parameters].CopyTo(_network);
        if (_collapsed is not null) return CollapsedLogDensityAndGradient(position, gradient);
        int shards = _shardStart.Length - 1;
        if (_threads == 1)
        {
            _job++;
            for (int s = 0; s < shards; s++) RunShard(_lanes[0], s);
        }
        else
        {
            StartHelpers();
            // Publish the job before the shard counter: a helper that takes a shard of this job sees its parameters.
            Interlocked.Increment(ref _job);
            Volatile.Write(ref _doneShards, 0);
            Volatile.Write(ref _nextShard, 0);
            _start!.Release(_threads - 1);
            RunShards(_lanes[0]);
            var spin = new SpinWait();
            while (Volatile.Read(ref _doneShards) < shards) spin.SpinOnce(sleep1Threshold: -1);
        }

        double ll = 0, dLogSigma = 0;
        var network = gradient[.._parameters];
        _shardGradient[0].CopyTo(network);
        for (int s = 0; s < shards; s++)
        {
            ll += _shardLogLikelihood[s];
            dLogSigma += _shardDLogSigma[s];
            if (s == 0) continue;
            TensorPrimitives.Add(network, _shardGradient[s], network);
        }
        if (_model.SigmaOffset >= 0) gradient[_model.SigmaOffset] = dLogSigma;
        _model.PullBackNetworkGradient(position, gradient);
        return ll + _model.LogPrior(position, gradient);
    }

    /// <summary>For the kernel profile: the first lane's state for a full block (<paramref name="last"/> false) or for the
    /// last, shorter block (null when every block is full), as the last call left it.</summary>
    internal ProgramState<T>? ProfileState(bool last) => last ? _lanes[0].LastState : _lanes[0].State;

    /// <summary>For the kernel profile: the number of full blocks per call.</summary>
    internal int ProfileFullBlocks => _blocks.Count(b => !b.Last);

    /// <summary>For the kernel profile: the likelihood of a full block (or the last one) on <see cref="ProfileState"/>, seeding its predictor's gradient.</summary>
    internal double ProfileLikelihood(bool last) =>
        LogLikelihood(last ? _blocks[^1] : _blocks[0], ProfileState(last)!, _lanes[0], _logSigma, out _);

    /// <summary>For the kernel profile: copies a full block's inputs (or the last block's) into its state, as a call does per block.</summary>
    internal void ProfileLoadInputs(bool last, int block = 0)
    {
        if (last) _blocks[^1].Inputs.CopyTo(_lanes[0].LastState!.V.AsSpan(_lastInputOffset));
        else _blocks[block].Inputs.CopyTo(_lanes[0].State.V.AsSpan(_inputOffset));
        _lanes[0].LoadedBlock = -1;
    }

    /// <summary>For the kernel profile: a full block's inputs (or the last block's), in the compute type and physical layout.</summary>
    internal T[] ProfileInputs(bool last) => last ? _blocks[^1].Inputs : _blocks[0].Inputs;

    /// <summary>For the kernel profile: every block of one call in order on the first lane's states (inputs, forward,
    /// likelihood, reverse), without the shards' bookkeeping.</summary>
    internal void ProfileBlocks()
    {
        var lane = _lanes[0];
        foreach (var b in _blocks)
        {
            var state = b.Last ? lane.LastState! : lane.State;
            bool direct = state.Program.RowInputDirect;
            if (!direct) b.Inputs.CopyTo(state.V.AsSpan(b.Last ? _lastInputOffset : _inputOffset));
            var input = direct ? b.Inputs : default(ReadOnlySpan<T>);
            state.ForwardPrepared(true, input);
            state.ClearActivationGradients();
            LogLikelihood(b, state, lane, _logSigma, out _);
            state.Backward(input);
        }
        lane.LoadedBlock = -1;
    }

    /// <summary>Takes shards of the current job until none is left.</summary>
    private void RunShards(Lane lane)
    {
        int shards = _shardStart.Length - 1, s;
        while ((s = Interlocked.Increment(ref _nextShard) - 1) < shards)
        {
            RunShard(lane, s);
            Interlocked.Increment(ref _doneShards);
        }
    }

    private void RunShard(Lane lane, int shard)
    {
        long job = Volatile.Read(ref _job);
        if (lane.PreparedJob != job)
        {
            lane.State.SetParameters(_network);
            lane.State.Prepare();
            if (lane.LastState is { } last)
            {
                last.SetParameters(_network);
                last.Prepare();
            }
            lane.PreparedJob = job;
        }
        Array.Clear(lane.State.G, 0, _program.ParameterGradSize);
        bool usedLast = false;
        double ll = 0, dLogSigma = 0;
        for (int bi = _shardStart[shard]; bi < _shardStart[shard + 1]; bi++)
        {
            var b = _blocks[bi];
            var state = b.Last ? lane.LastState! : lane.State;
            // The dense layers on the input read it from the block's own array when they are its only readers.
            bool direct = state.Program.RowInputDirect;
            if (b.Last)
            {
                if (!usedLast) Array.Clear(state.G, 0, _lastProgram!.ParameterGradSize);
                usedLast = true;
                if (!direct) b.Inputs.CopyTo(state.V.AsSpan(_lastInputOffset));
            }
            else if (!direct && lane.LoadedBlock != bi)
            {
                b.Inputs.CopyTo(state.V.AsSpan(_inputOffset));
                lane.LoadedBlock = bi;
            }
            var input = direct ? b.Inputs : default(ReadOnlySpan<T>);
            state.ForwardPrepared(true, input);
            state.ClearActivationGradients();
            ll += LogLikelihood(b, state, lane, _logSigma, out double dls);
            dLogSigma += dls;
            state.Backward(input);
        }
        var gradient = _shardGradient[shard];
        lane.State.ReadParameterGradients(gradient);
        if (usedLast) lane.LastState!.AddParameterGradients(gradient);
        _shardLogLikelihood[shard] = ll;
        _shardDLogSigma[shard] = dLogSigma;
    }

    private void StartHelpers()
    {
        if (_start is not null) return;
        _start = new SemaphoreSlim(0);
        for (int t = 1; t < _threads; t++)
        {
            var lane = _lanes[t];
            new Thread(() => Help(lane)) { IsBackground = true, Name = "bnn gradient helper" }.Start();
        }
    }

    private void Help(Lane lane)
    {
        while (true)
        {
            _start!.Wait();
            if (_disposed) return;
            RunShards(lane);
        }
    }

    /// <summary>Stops the helper threads (if any were started).</summary>
    public void Dispose()
    {
        _disposed = true;
        _start?.Release(_threads);
    }

    private double LogLikelihood(Block b, ProgramState<T> state, Lane lane, double logSigma, out double dLogSigma)
    {
        var v = state.V;
        var g = state.G;
        var predictor = b.Last ? _lastPredictor! : _predictor;
        var targets = b.Targets;
        int off = predictor.Offset, goff = predictor.GradOffset, rows = b.Rows;
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
                return Categorical(b.Labels, rows, v, off, grad ? g : null, goff, lane);
        }
    }

    /// <summary>
    /// Σ_r z[label_r, r] − log Σ_c e^{z[c, r]} and its gradient onehot − softmax, in double, vectorised across rows
    /// (classes are rows-innermost blocks, widened into the scratch with a stride padded to a whole 512-bit vector):
    /// the row max, then e^{z − max} once per element (kept for the gradient), one vectorised log and one reciprocal
    /// per row; the sums over rows run in row order. Each row goes through the same vector code whatever its
    /// position, on 512-bit vectors where AVX-512 is accelerated (the same operations as the 256-bit ones).
    /// </summary>
    private double Categorical(int[] labels, int rows, T[] v, int off, T[]? g, int goff, Lane lane)
    {
        int k = _k, p = PaddedRows(rows);
        var z = lane.Exps.AsSpan(0, k * p);
        var max = lane.RowMax.AsSpan(0, p);
        var s = lane.RowSum.AsSpan(0, p);
        for (int c = 0; c < k; c++)
        {
            var zt = v.AsSpan(off + c * rows, rows);
            var zc = z.Slice(c * p, p);
            if (typeof(T) == typeof(double)) MemoryMarshal.Cast<T, double>(zt).CopyTo(zc);
            else if (typeof(T) == typeof(float)) TensorPrimitives.ConvertTruncating<float, double>(MemoryMarshal.Cast<T, float>(zt), zc);
            else for (int i = 0; i < rows; i++) zc[i] = double.CreateTruncating(zt[i]);
            zc[rows..].Clear();
        }
        z[..p].CopyTo(max);
        for (int c = 1; c < k; c++) TensorPrimitives.Max(max, z.Slice(c * p, p), max);
        double sum = 0;
        for (int r = 0; r < rows; r++) sum += z[labels[r] * p + r] - max[r];
        s.Clear();
        ref double zr = ref MemoryMarshal.GetReference(z);
        ref double mr = ref MemoryMarshal.GetReference(max);
        ref double sr = ref MemoryMarshal.GetReference(s);
        bool wide = Vector512.IsHardwareAccelerated;
        int vl = Vector<double>.Count;
        for (int c = 0; c < k; c++)
        {
            ref double zc = ref Unsafe.Add(ref zr, c * p);
            if (wide)
                for (int r = 0; r < p; r += 8)
                {
                    var e = SimdMath.ExpNonPositive512(Vector512.LoadUnsafe(ref zc, (nuint)r) - Vector512.LoadUnsafe(ref mr, (nuint)r));
                    e.StoreUnsafe(ref zc, (nuint)r);
                    (Vector512.LoadUnsafe(ref sr, (nuint)r) + e).StoreUnsafe(ref sr, (nuint)r);
                }
            else
                for (int r = 0; r < p; r += vl)
                {
                    var e = SimdMath.ExpNonPositive(Vector.LoadUnsafe(ref zc, (nuint)r) - Vector.LoadUnsafe(ref mr, (nuint)r));
                    e.StoreUnsafe(ref zc, (nuint)r);
                    (Vector.LoadUnsafe(ref sr, (nuint)r) + e).StoreUnsafe(ref sr, (nuint)r);
                }
        }
        // log Σ into max (no longer needed), 1/Σ into s.
        if (wide)
            for (int r = 0; r < p; r += 8)
            {
                var sv = Vector512.LoadUnsafe(ref sr, (nuint)r);
                SimdMath.LogAtLeastOne512(sv).StoreUnsafe(ref mr, (nuint)r);
                (Vector512<double>.One / sv).StoreUnsafe(ref sr, (nuint)r);
            }
        else
            for (int r = 0; r < p; r += vl)
            {
                var sv = Vector.LoadUnsafe(ref sr, (nuint)r);
                SimdMath.LogAtLeastOne(sv).StoreUnsafe(ref mr, (nuint)r);
                (Vector<double>.One / sv).StoreUnsafe(ref sr, (nuint)r);
            }
        for (int r = 0; r < rows; r++) sum -= max[r];
        if (g is null) return sum;
        // ∂/∂z = onehot − softmax: −e^{z − max}/Σ per class (in double), then to the compute type.
        for (int c = 0; c < k; c++)
        {
            ref double zc = ref Unsafe.Add(ref zr, c * p);
            if (wide)
                for (int r = 0; r < p; r += 8)
                    (-(Vector512.LoadUnsafe(ref zc, (nuint)r) * Vector512.LoadUnsafe(ref sr, (nuint)r))).StoreUnsafe(ref zc, (nuint)r);
            else
                for (int r = 0; r < p; r += vl)
                    (-(Vector.LoadUnsafe(ref zc, (nuint)r) * Vector.LoadUnsafe(ref sr, (nuint)r))).StoreUnsafe(ref zc, (nuint)r);
            var src = z.Slice(c * p, rows);
            var gz = g.AsSpan(goff + c * rows, rows);
            if (typeof(T) == typeof(double)) src.CopyTo(MemoryMarshal.Cast<T, double>(gz));
            else if (typeof(T) == typeof(float)) TensorPrimitives.ConvertTruncating<double, float>(src, MemoryMarshal.Cast<T, float>(gz));
            else for (int i = 0; i < rows; i++) gz[i] = T.CreateTruncating(src[i]);
        }
        for (int r = 0; r < rows; r++) g[goff + labels[r] * rows + r] += T.One;
        return sum;
    }

    /// <summary>Rows rounded up to a whole 512-bit vector of doubles (the categorical scratch's stride).</summary>
    private static int PaddedRows(int rows) => (rows + 7) & ~7;
}
