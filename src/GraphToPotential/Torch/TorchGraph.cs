using Bnn.Onnx.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;
using Tensor = TorchSharp.torch.Tensor;

namespace Bnn.Onnx.GraphToPotential.Torch;

/// <summary>Process-wide TorchSharp setup: loading the native library, devices, threads.</summary>
internal static class TorchRuntime
{
    private static readonly object Gate = new();
    private static bool _loaded;

    /// <summary>
    /// Loads libtorch once, turning TorchSharp's load failure into one line. (On Linux with an older libstdc++,
    /// the build marks TorchSharp's GLIBCXX_3.4.32 need weak; see build/GlibcxxCompat.cs.)
    /// </summary>
    public static void EnsureLoaded()
    {
        if (_loaded) return;
        lock (Gate)
        {
            if (_loaded) return;
            try
            {
                using var probe = torch.zeros(1);
            }
            catch (Exception e) when (e is NotSupportedException or DllNotFoundException or TypeInitializationException or InvalidOperationException)
            {
                var message = (e.InnerException ?? e).Message.ReplaceLineEndings(" ");
                throw new NotSupportedException($"the TorchSharp backend cannot load libtorch: {message}");
            }
            _loaded = true;
        }
    }

    /// <summary>The device named by <c>--device</c>; <c>cuda</c> needs a GPU that libtorch can see.</summary>
    public static Device ResolveDevice(string name)
    {
        EnsureLoaded();
        var normalized = name.Trim().ToLowerInvariant();
        if (normalized == "cpu") return torch.CPU;
        if (normalized == "cuda" || normalized.StartsWith("cuda:", StringComparison.Ordinal))
        {
            if (!torch.cuda.is_available())
                throw new NotSupportedException($"--device {name}: libtorch sees no CUDA GPU (this build uses the CPU-only libtorch package); use --device cpu");
            return torch.device(normalized);
        }
        throw new ArgumentException($"--device '{name}': expected cpu or cuda");
    }

    public static ScalarType ComputeType(ComputePrecision precision) =>
        precision == ComputePrecision.Float32 ? ScalarType.Float32 : ScalarType.Float64;

    /// <summary>Sets libtorch's intra-op thread count (one per chain by default, so chains do not oversubscribe cores).</summary>
    public static void SetThreads(int threads)
    {
        if (threads < 1) throw new ArgumentException($"--threads {threads}: must be at least 1");
        torch.set_num_threads(threads);
    }
}

/// <summary>
/// An imported graph ready to run on TorchSharp: checked once, constants on the device, and the nodes each
/// requested value depends on. Runs are eager; callers own the dispose scope around each run.
/// Constant tensors are shared and only read, so one instance may serve several threads.
/// </summary>
internal sealed class TorchGraph : IDisposable
{
    private readonly Dictionary<string, TorchValue> _constants = new(StringComparer.Ordinal);
    private readonly Dictionary<string, long[]> _constantLongs = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Node[]> _plans = new(StringComparer.Ordinal);
    private readonly object _plansGate = new();

    public TorchGraph(OnnxGraph graph, BackendOptions options)
    {
        Graph = graph;
        foreach (var node in graph.Nodes)
        {
            if (TorchOps.Unsupported(node) is string reason)
                throw new NotSupportedException(reason);
        }
        var device = TorchRuntime.ResolveDevice(options.Device);
        TorchRuntime.SetThreads(options.Threads);
        Context = new TorchContext(TorchRuntime.ComputeType(options.Precision), device, graph.Opset);

        foreach (var (name, tensor) in graph.Constants)
        {
            var shape = tensor.Shape.Select(d => (long)d).ToArray();
            var value = Context.FromData(tensor.Data, shape, tensor.SourceType).DetachFromDisposeScope();
            _constants[name] = new TorchValue(value, tensor.SourceType, false);
            if (!ElementTypes.IsFloating(tensor.SourceType) && tensor.Shape.Length <= 1)
                _constantLongs[name] = tensor.Data.Select(d => (long)d).ToArray();
        }
    }

    public OnnxGraph Graph { get; }

    public TorchContext Context { get; }

    /// <summary>
    /// Runs the nodes that <paramref name="wanted"/> depends on, reading graph inputs and parameters from
    /// <paramref name="values"/> (by ONNX value name) and adding every computed value to it.
    /// </summary>
    public void Run(Dictionary<string, TorchValue> values, IReadOnlyList<string> wanted)
    {
        foreach (var node in Plan(wanted))
        {
            var inputs = new TorchValue?[node.Inputs.Count];
            for (int i = 0; i < inputs.Length; i++)
            {
                var name = node.Inputs[i];
                if (name.Length == 0) continue;
                if (values.TryGetValue(name, out var v) || _constants.TryGetValue(name, out v)) inputs[i] = v;
                else throw new InvalidDataException($"node '{node.Name}' ({node.OpType}): input '{name}' has no value");
            }
            var outputs = TorchOps.Apply(node, new OpInputs(node, inputs, n => _constantLongs.GetValueOrDefault(n)), Context);
            for (int i = 0; i < outputs.Length && i < node.Outputs.Count; i++)
            {
                if (node.Outputs[i].Length > 0) values[node.Outputs[i]] = outputs[i];
            }
        }
        foreach (var name in wanted)
        {
            if (!values.ContainsKey(name) && _constants.TryGetValue(name, out var c)) values[name] = c;
        }
    }

    /// <summary>The nodes, in graph order, that the values in <paramref name="wanted"/> depend on.</summary>
    private Node[] Plan(IReadOnlyList<string> wanted)
    {
        var key = string.Join('\n', wanted);
        lock (_plansGate)
        {
            if (_plans.TryGetValue(key, out var plan)) return plan;
            var needed = new HashSet<string>(wanted, StringComparer.Ordinal);
            var keep = new bool[Graph.Nodes.Count];
            for (int i = Graph.Nodes.Count - 1; i >= 0; i--)
            {
                var node = Graph.Nodes[i];
                if (!node.Outputs.Any(needed.Contains)) continue;
                keep[i] = true;
                foreach (var input in node.Inputs)
                    if (input.Length > 0) needed.Add(input);
            }
            plan = Graph.Nodes.Where((_, i) => keep[i]).ToArray();
            _plans[key] = plan;
            return plan;
        }
    }

    /// <summary>The graph's parameters as values, sliced from <paramref name="parameters"/> ([C, d] when batched, else [d]).</summary>
    public void AddParameters(Dictionary<string, TorchValue> values, Tensor parameters, bool batched)
    {
        long offset = 0;
        foreach (var p in Graph.Parameters)
        {
            var slice = parameters.narrow(batched ? 1 : 0, offset, p.Size);
            long[] shape = p.Shape.Select(d => (long)d).ToArray();
            var t = slice.reshape(batched ? [parameters.shape[0], .. shape] : shape);
            if (t.dtype != Context.Compute) t = t.to(Context.Compute);
            var type = ElementTypes.IsFloating(p.SourceType) ? p.SourceType : ElementType.Float;
            values[p.OnnxName] = new TorchValue(t, type, batched);
            offset += p.Size;
        }
    }

    public void Dispose()
    {
        foreach (var c in _constants.Values) c.Tensor.Dispose();
        _constants.Clear();
    }
}
