using BenchmarkDotNet.Attributes;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// Value + gradient of log p(θ | D) on the compiled CPU backend, one core:
/// the blog's 1→5→10→1 softplus MLP on N = 100 rows, and an 8→64→64→1 softplus MLP on N = 10,000 rows,
/// in float64 and float32. Run: <c>dotnet run -c Release --project bench/Benchmarks -- --filter '*Compiled*' --job short</c>
/// (add <c>--inProcess</c> when building with <c>--artifacts-path</c>).
/// Arithmetic per call: the blog's model 19,000 multiply–adds and 1,500 softplus (each an exp, a log1p and two
/// divisions, shared with its derivative); 8→64→64→1 at N = 10,000: 135 million multiply–adds (forward 4,672, weight
/// gradient 4,672 and input gradient 4,160 per row) and 1.28 million softplus.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class CompiledBenchmarks
{
    private ILogDensity _density = null!;
    private double[] _position = [];
    private double[] _gradient = [];

    [Params("blog_1-5-10-1_N100", "mlp_8-64-64-1_N10000")]
    public string Model { get; set; } = "";

    /// <summary>The engine's arithmetic, by name (BenchmarkDotNet parameters must be public, the enum is internal).</summary>
    [Params(nameof(ComputePrecision.Float64), nameof(ComputePrecision.Float32))]
    public string PrecisionName { get; set; } = nameof(ComputePrecision.Float64);

    private ComputePrecision Precision => Enum.Parse<ComputePrecision>(PrecisionName);

    [GlobalSetup]
    public void Setup()
    {
        var (widths, rows) = Model.StartsWith("blog", StringComparison.Ordinal) ? (new[] { 1, 5, 10, 1 }, 100) : (new[] { 8, 64, 64, 1 }, 10_000);
        var graph = Mlp(widths, "Softplus");
        var rng = new Random(1);
        var x = Enumerable.Range(0, rows * widths[0]).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
        var y = Enumerable.Range(0, rows).Select(i => Math.Sin(3 * x[i * widths[0]]) + 0.2 * (rng.NextDouble() - 0.5)).ToArray();
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, new DataSet(x, widths[0], y));
        var potential = new CompiledBackend().CreatePotential(model, new BackendOptions(Precision));
        _density = potential.CreateLogDensity();
        _position = model.PositionAtFileWeights(0.3);
        _gradient = new double[_position.Length];
    }

    [Benchmark]
    public double ValueAndGradient() => _density.LogDensityAndGradient(_position, _gradient);

    /// <summary>PyTorch-layout MLP (Gemm transB = 1) with seeded weights.</summary>
    internal static OnnxGraph Mlp(int[] widths, string activation)
    {
        var rng = new Random(7);
        var nodes = new List<Node>();
        var parameters = new List<Parameter>();
        string current = "x";
        var noAttributes = new Dictionary<string, NodeAttribute>();
        for (int l = 0; l < widths.Length - 1; l++)
        {
            int fin = widths[l], fout = widths[l + 1];
            double scale = 1 / Math.Sqrt(fin);
            parameters.Add(new Parameter($"{l}.weight", $"w{l}", [fout, fin], Enumerable.Range(0, fout * fin).Select(_ => scale * (2 * rng.NextDouble() - 1)).ToArray()));
            parameters.Add(new Parameter($"{l}.bias", $"b{l}", [fout], Enumerable.Range(0, fout).Select(_ => scale * (2 * rng.NextDouble() - 1)).ToArray()));
            nodes.Add(new Node($"gemm{l}", "Gemm", "", [current, $"w{l}", $"b{l}"], [$"z{l}"],
                new Dictionary<string, NodeAttribute> { ["transB"] = new("transB", AttributeKind.Int, Int: 1) }));
            current = $"z{l}";
            if (l < widths.Length - 2)
            {
                nodes.Add(new Node($"act{l}", activation, "", [current], [$"h{l}"], noAttributes));
                current = $"h{l}";
            }
        }
        return new OnnxGraph
        {
            Producer = "bench", ProducerVersion = "0", IrVersion = 8, Opsets = new Dictionary<string, long> { [""] = 17 },
            Inputs = [new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(widths[0])])],
            Outputs = [new ValueInfo(current, ElementType.Float, [Dimension.Symbolic("batch"), Dimension.Fixed(widths[^1])])],
            Nodes = nodes, Parameters = parameters, Constants = new Dictionary<string, Tensor>(), Sha256 = "",
        };
    }
}
