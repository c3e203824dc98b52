using BenchmarkDotNet.Attributes;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// TorchSharp backend: log p(θ | D) and its gradient per call, for the blog's 1→5→10→1 softplus MLP on its 100
/// points and an 8→64→64→1 tanh MLP on 10,000 rows, in float64 and float32, for C = 1, 4, 64 lockstep chains
/// (C = 1 through <see cref="ILogDensity"/>, otherwise one batched call). One libtorch thread, as per chain.
/// Run: <c>dotnet run -c Release --project bench/Benchmarks -- --filter '*TorchBenchmarks*' --job short</c>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class TorchBenchmarks
{
    public enum Network { Blog1x5x10x1N100, Mlp8x64x64x1N10000 }

    [Params(Network.Blog1x5x10x1N100, Network.Mlp8x64x64x1N10000)]
    public Network Model { get; set; }

    /// <summary>The engine's arithmetic, by name (BenchmarkDotNet parameters must be public, the enum is internal).</summary>
    [Params(nameof(ComputePrecision.Float64), nameof(ComputePrecision.Float32))]
    public string PrecisionName { get; set; } = nameof(ComputePrecision.Float64);

    private ComputePrecision Precision => Enum.Parse<ComputePrecision>(PrecisionName);

    [Params(1, 4, 64)]
    public int Chains { get; set; }

    private IPotential _potential = null!;
    private ILogDensity _single = null!;
    private IBatchedLogDensity _batched = null!;
    private double[] _positions = [];
    private double[] _gradients = [];
    private double[] _logDensities = [];

    [GlobalSetup]
    public void Setup()
    {
        var (graph, data) = Model == Network.Blog1x5x10x1N100
            ? (Mlp([1, 5, 10, 1], "Softplus"), BlogData())
            : (Mlp([8, 64, 64, 1], "Tanh"), RandomData(10_000, 8));
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, data);
        _potential = new TorchBackend().CreatePotential(model, new BackendOptions(Precision));
        _single = _potential.CreateLogDensity();
        _batched = _potential.CreateBatched(Chains)!;
        int d = model.Layout.Dimension;
        var rng = new Random(1);
        _positions = Enumerable.Range(0, Chains * d).Select(_ => 0.3 * (rng.NextDouble() - 0.5)).ToArray();
        _gradients = new double[Chains * d];
        _logDensities = new double[Chains];
    }

    [GlobalCleanup]
    public void Cleanup() => _potential.Dispose();

    [Benchmark(Description = "log p + gradient, C chains per call")]
    public double LogDensityAndGradient()
    {
        if (Chains == 1) return _single.LogDensityAndGradient(_positions, _gradients);
        _batched.LogDensityAndGradient(Chains, _positions, _logDensities, _gradients);
        return _logDensities[0];
    }

    /// <summary>A PyTorch-layout MLP (Gemm transB=1, <paramref name="activation"/> between layers) with zero weights; the position sets them.</summary>
    internal static OnnxGraph Mlp(int[] widths, string activation)
    {
        var nodes = new List<Node>();
        var parameters = new List<Parameter>();
        string value = "x";
        for (int l = 0; l + 1 < widths.Length; l++)
        {
            string w = $"{2 * l}.weight", b = $"{2 * l}.bias";
            parameters.Add(new Parameter(w, w, [widths[l + 1], widths[l]], new double[widths[l + 1] * widths[l]]));
            parameters.Add(new Parameter(b, b, [widths[l + 1]], new double[widths[l + 1]]));
            string output = l + 2 == widths.Length ? "y" : $"h{l}";
            nodes.Add(new Node($"gemm{l}", "Gemm", "", [value, w, b], [output],
                new Dictionary<string, NodeAttribute> { ["transB"] = new("transB", AttributeKind.Int, Int: 1) }));
            value = output;
            if (l + 2 < widths.Length)
            {
                nodes.Add(new Node($"act{l}", activation, "", [value], [$"a{l}"], new Dictionary<string, NodeAttribute>()));
                value = $"a{l}";
            }
        }
        return new OnnxGraph
        {
            Producer = "benchmark",
            ProducerVersion = "0",
            IrVersion = 8,
            Opsets = new Dictionary<string, long> { [""] = 17 },
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(widths[0])])],
            Outputs = [new ValueInfo("y", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(1)])],
            Nodes = nodes,
            Parameters = parameters,
            Constants = new Dictionary<string, OnnxImport.Tensor>(),
            Sha256 = "",
        };
    }

    /// <summary>The blog's design: x = linspace(−1, 1, 100), y = 0.3 + sin(2πx/2.5) + 0.2·ε.</summary>
    internal static DataSet BlogData()
    {
        var rng = new Random(0);
        var x = Enumerable.Range(0, 100).Select(i => -1 + 2.0 * i / 99).ToArray();
        var y = x.Select(v => 0.3 + Math.Sin(2 * Math.PI * v / 2.5) + 0.2 * (rng.NextDouble() - 0.5) * 3.46).ToArray();
        return new DataSet(x, 1, y);
    }

    internal static DataSet RandomData(int rows, int width)
    {
        var rng = new Random(0);
        var x = Enumerable.Range(0, rows * width).Select(_ => rng.NextDouble() * 2 - 1).ToArray();
        var y = Enumerable.Range(0, rows).Select(n => Math.Sin(x[n * width]) + 0.1 * (rng.NextDouble() - 0.5)).ToArray();
        return new DataSet(x, width, y);
    }
}
