using BenchmarkDotNet.Attributes;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// Value + gradient of the log posterior on the compiled CPU backend, one core, float64, with every weight sampled
/// (<see cref="PosteriorModel.Create"/>) and with the output layer integrated out
/// (<see cref="PosteriorModel.CreateIntegrated"/>, <c>bnn sample --integrate-output</c>), on three regression MLPs:
/// the blog's 1→5→10→1 softplus (N = 100), a 10→8→1 tanh (N = 442, the size of sklearn's diabetes table) and a
/// 13→50→1 ReLU (N = 455, the Boston regressor's). The ratio of the two is what an integrated gradient costs.
/// Run: <c>bench/run-micro.sh --filter '*IntegratedLogDensity*'</c>.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class IntegratedLogDensityBenchmarks
{
    private ILogDensity _density = null!;
    private double[] _position = [];
    private double[] _gradient = [];

    [Params("blog_1-5-10-1_N100", "tanh_10-8-1_N442", "relu_13-50-1_N455")]
    public string Model { get; set; } = "";

    [Params(false, true)]
    public bool Integrated { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var (widths, rows, activation) = Model switch
        {
            "blog_1-5-10-1_N100" => (new[] { 1, 5, 10, 1 }, 100, "Softplus"),
            "tanh_10-8-1_N442" => (new[] { 10, 8, 1 }, 442, "Tanh"),
            _ => (new[] { 13, 50, 1 }, 455, "Relu"),
        };
        var graph = CompiledBenchmarks.Mlp(widths, activation);
        var rng = new Random(1);
        var x = Enumerable.Range(0, rows * widths[0]).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
        var y = Enumerable.Range(0, rows).Select(i => Math.Sin(3 * x[i * widths[0]]) + 0.2 * (rng.NextDouble() - 0.5)).ToArray();
        var data = new DataSet(x, widths[0], y);
        var model = Integrated ? PosteriorModel.CreateIntegrated(graph, PosteriorOptions.Default, data) : PosteriorModel.Create(graph, PosteriorOptions.Default, data);
        var potential = new CompiledBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float64));
        _density = potential.CreateLogDensity();
        _position = model.PositionAtFileWeights(0.3);
        _gradient = new double[_position.Length];
    }

    [Benchmark]
    public double ValueAndGradient() => _density.LogDensityAndGradient(_position, _gradient);
}
