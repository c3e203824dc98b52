using BenchmarkDotNet.Attributes;
using Bnn.Onnx.GraphToPotential;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// The integrated output layer's own cost per evaluation (<c>bnn sample --integrate-output</c>): the collapsed log
/// likelihood and its gradient in every activation and log σ, at the size of the efficiency benchmark's Boston
/// regressor (N = 455 rows, H = 50 hidden units, so P = 51): ΦᵀΦ (N·P²/2 multiply-adds over the lower triangle), the
/// Cholesky factor and A⁻¹ (~P³/2) and ∂L/∂h (N·(P + 1)·H), ~1.8 million multiply-adds in all; and at the blog
/// network's (N = 100, H = 10). Run: <c>bench/run-micro.sh --filter '*Collapsed*'</c>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class CollapsedOutputLayerBenchmarks
{
    private CollapsedOutputLayer _layer = null!;
    private double[] _hidden = [], _dHidden = [];

    [Params("boston_N455_H50", "blog_N100_H10")]
    public string Size { get; set; } = "";

    [GlobalSetup]
    public void Setup()
    {
        var (rows, width) = Size.StartsWith("boston", StringComparison.Ordinal) ? (455, 50) : (100, 10);
        var rng = new Random(3);
        _hidden = Enumerable.Range(0, rows * width).Select(_ => Math.Max(0, 2 * rng.NextDouble() - 1)).ToArray();
        var y = Enumerable.Range(0, rows).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
        _layer = new CollapsedOutputLayer(y, new double[width + 1], Enumerable.Repeat(1.0, width + 1).ToArray());
        _dHidden = new double[rows * width];
    }

    [Benchmark]
    public double LogLikelihoodAndGradient() => _layer.LogLikelihood(_hidden, Math.Log(0.3), _dHidden, out _);
}
