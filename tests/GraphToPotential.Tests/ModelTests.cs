using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;
using Xunit.Abstractions;

namespace Bnn.Onnx.Tests;

/// <summary>Real exported files: the forward pass at the file's own weights reproduces the exporter's recorded outputs.</summary>
public class ModelTests(ITestOutputHelper output)
{
    /// <summary>(model, input csv, output csv) for every fixture with recorded outputs, in models/ and ../shared/onnx.</summary>
    public static IEnumerable<object[]> Fixtures()
    {
        var list = new List<object[]>();
        foreach (var onnx in Directory.Exists(TestPaths.Models) ? Directory.GetFiles(TestPaths.Models, "*.onnx") : [])
        {
            string stem = Path.ChangeExtension(onnx, null);
            if (File.Exists(stem + ".input.csv") && File.Exists(stem + ".output.csv"))
                list.Add(["models/" + Path.GetFileName(onnx)]);
        }
        if (TestPaths.Shared is string shared)
        {
            foreach (var onnx in Directory.GetFiles(Path.Combine(shared, "onnx", "pytorch"), "*.onnx"))
                list.Add(["shared/onnx/pytorch/" + Path.GetFileName(onnx)]);
            list.Add(["shared/onnx/flax-style/flax_dense_softplus_style_ir8_op17.onnx"]);
        }
        return list;
    }

    internal static string Resolve(string id) => id.StartsWith("models/", StringComparison.Ordinal)
        ? Path.Combine(TestPaths.Models, id["models/".Length..])
        : Path.Combine(TestPaths.Shared!, id["shared/".Length..]);

    /// <summary>The recorded input/output CSVs for a model (the pytorch exports name them without the opset suffix; the flax-style file shares bnn_softplus's).</summary>
    internal static (string Input, string Output) Csvs(string path)
    {
        string stem = Path.ChangeExtension(path, null);
        if (File.Exists(stem + ".input.csv")) return (stem + ".input.csv", stem + ".output.csv");
        string dir = Path.GetDirectoryName(path)!;
        if (path.Contains("flax-style")) dir = Path.Combine(dir, "..", "pytorch");
        string name = Path.GetFileName(stem);
        string baseName = path.Contains("flax-style") ? "bnn_softplus" : name[..name.LastIndexOf("_op", StringComparison.Ordinal)];
        return (Path.Combine(dir, baseName + ".input.csv"), Path.Combine(dir, baseName + ".output.csv"));
    }

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void ForwardAtFileWeightsReproducesRecordedOutputs(string id)
    {
        string path = Resolve(id);
        var (inCsv, outCsv) = Csvs(path);
        var x = TestPaths.ReadCsv(inCsv);
        var imported = OnnxImporter.Import(path);
        var graph = InputShape.Resolve(imported.Inputs[0], rowWidth: x[0].Length).Bind(imported); // symbolic non-batch dimensions from the row width
        var expected = TestPaths.ReadCsv(outCsv);
        var backend = new CompiledBackend();
        Assert.Null(backend.Unsupported(graph));
        var parameters = graph.Parameters.SelectMany(p => p.Values).ToArray();
        foreach (var precision in new[] { ComputePrecision.Float64, ComputePrecision.Float32 })
        {
            using var f = backend.CompileGraph(graph, new BackendOptions(precision));
            Assert.Equal(expected[0].Length, f.OutputWidth);
            var y = new double[x.Length * f.OutputWidth];
            f.Forward(parameters, x.SelectMany(r => r).ToArray(), x.Length, y);
            // Relative to the output's magnitude: the exporter computed in float32, so an output that is a small
            // difference of O(1) terms (the blog model near its zero crossing) carries float32 rounding of O(1e-7).
            double worst = 0;
            for (int k = 0; k < f.OutputWidth; k++)
            {
                double scale = expected.Max(row => Math.Abs(row[k]));
                for (int r = 0; r < x.Length; r++)
                {
                    double e = expected[r][k], a = y[r * f.OutputWidth + k];
                    double rel = Math.Abs(a - e) / Math.Max(Math.Abs(e), scale);
                    worst = Math.Max(worst, rel);
                    Assert.True(rel <= 1e-5, $"{id} {precision} row {r} output {k}: {a:R}, recorded {e:R}");
                }
            }
            output.WriteLine($"{id} {precision}: {x.Length} rows, worst relative error {worst:E2}");
        }
    }

    [SharedFact("onnx/jax2onnx")]
    public void Jax2OnnxFilesAreCoveredByTheCompiledBackend()
    {
        if (TestPaths.Shared is not string shared) { output.WriteLine("SKIPPED: ../shared not found"); return; }
        foreach (var name in new[] { "my_callable.onnx", "model_with_function.onnx" })
        {
            var graph = OnnxImporter.Import(Path.Combine(shared, "onnx", "jax2onnx", name));
            string? reason = new CompiledBackend().Unsupported(graph);
            output.WriteLine($"{name}: {reason ?? "covered"}");
            Assert.Null(reason);
        }
    }

    [SharedFact("reference/seed")]
    public void BlogModelGradientMatchesFiniteDifferencesAndFloat32AgreesWithFloat64()
    {
        string path = Path.Combine(TestPaths.Models, "blog_mlp_pytorch.onnx");
        if (!File.Exists(path) || TestPaths.Shared is null) { output.WriteLine("SKIPPED: blog fixture or ../shared not found"); return; }
        var graph = OnnxImporter.Import(path);
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, BlogData());
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var density = potential.CreateLogDensity();
        var position = potential.PositionAtFileWeights();
        Assert.Equal(model.Layout.Dimension, position.Length);
        GradientAssert.MatchesFiniteDifferences(density, position, 1e-6);

        using var potential32 = new CompiledBackend().CreatePotential(model, new BackendOptions(ComputePrecision.Float32));
        var d32 = potential32.CreateLogDensity();
        var g64 = new double[position.Length];
        var g32 = new double[position.Length];
        double lp64 = density.LogDensityAndGradient(position, g64);
        double lp32 = d32.LogDensityAndGradient(position, g32);
        output.WriteLine($"lp64 {lp64:R} lp32 {lp32:R} rel {Math.Abs(lp32 - lp64) / Math.Abs(lp64):E2}");
        Assert.True(Math.Abs(lp32 - lp64) <= 1e-6 * Math.Abs(lp64), $"float32 {lp32:R} vs float64 {lp64:R}");
        double norm = Math.Sqrt(g64.Sum(v => v * v));
        double diff = Math.Sqrt(g64.Zip(g32, (a, b) => (a - b) * (a - b)).Sum());
        Assert.True(diff <= 1e-4 * norm, $"float32 gradient differs by {diff:E2} (norm {norm:E2})");
    }

    /// <summary>The blog's data (x, y columns of ../shared/reference/seed/data.csv).</summary>
    internal static DataSet BlogData()
    {
        var lines = File.ReadAllLines(Path.Combine(TestPaths.Shared!, "reference", "seed", "data.csv")).Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
        return new DataSet(lines.Select(r => r[0]).ToArray(), 1, lines.Select(r => r[2]).ToArray());
    }
}

internal static class GradientAssert
{
    /// <summary>Every gradient coordinate against a central finite difference (float64).</summary>
    public static void MatchesFiniteDifferences(Bnn.Onnx.Nuts.ILogDensity density, double[] position, double relTol)
    {
        var grad = new double[position.Length];
        density.LogDensityAndGradient(position, grad);
        var scratch = new double[position.Length];
        for (int i = 0; i < position.Length; i++)
        {
            double h = 1e-5 * Math.Max(1, Math.Abs(position[i]));
            var p = (double[])position.Clone();
            p[i] += h;
            double up = density.LogDensityAndGradient(p, scratch);
            p[i] -= 2 * h;
            double down = density.LogDensityAndGradient(p, scratch);
            double fd = (up - down) / (2 * h);
            Assert.True(Math.Abs(fd - grad[i]) <= relTol * (1 + Math.Abs(fd)) + 1e-6 * Math.Abs(up) * 1e-3,
                $"∂/∂θ[{i}] = {grad[i]:R}, finite difference {fd:R}");
        }
    }
}
