using System.Globalization;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Whole models (every file in models/ and ../shared/onnx): the exporter's recorded outputs, the log posterior's
/// gradient against central finite differences, batched against single evaluation, and agreement with the compiled
/// CPU backend to 1e-10 on value and gradient.
/// </summary>
public class ModelTests
{
    public static TheoryData<string> Models()
    {
        var data = new TheoryData<string>();
        var repo = SharedData.RepositoryRoot;
        if (repo is not null)
            foreach (var f in Directory.GetFiles(Path.Combine(repo, "models"), "*.onnx").Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(repo, f));
        if (SharedData.Root is not null)
            foreach (var f in Directory.GetFiles(SharedData.Path("onnx"), "*.onnx", SearchOption.AllDirectories)
                         .Where(f => !f.Contains("conformance", StringComparison.Ordinal)).Order(StringComparer.Ordinal))
                data.Add(Path.GetRelativePath(repo!, f));
        if (data.Count == 0) data.Add("(no models found)");
        return data;
    }

    private static string FullPath(string relative) => Path.GetFullPath(Path.Combine(SharedData.RepositoryRoot!, relative));

    /// <summary>Recorded input/output CSVs beside a model: <c>name.input.csv</c>, or the shared files' <c>stem.input.csv</c> (without <c>_opNN</c>).</summary>
    internal static (double[][] Inputs, double[][] Outputs)? Recorded(string model)
    {
        var dir = Path.GetDirectoryName(model)!;
        var stem = Path.GetFileNameWithoutExtension(model);
        foreach (var candidate in new[] { stem, System.Text.RegularExpressions.Regex.Replace(stem, "_op[0-9]+$", "") })
        {
            var input = Path.Combine(dir, candidate + ".input.csv");
            var output = Path.Combine(dir, candidate + ".output.csv");
            if (File.Exists(input) && File.Exists(output)) return (ReadCsv(input), ReadCsv(output));
        }
        if (stem.StartsWith("flax_dense_softplus", StringComparison.Ordinal))
            return Recorded(Path.Combine(dir, "..", "pytorch", "bnn_softplus_op17.onnx"));
        return null;
    }

    private static double[][] ReadCsv(string path) =>
        File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
            .Select(l => l.Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Forward_at_the_files_weights_reproduces_the_exporters_outputs(string relative)
    {
        var path = FullPath(relative);
        if (Recorded(path) is not var (inputs, outputs)) return; // jax2onnx files carry no recorded outputs
        var imported = OnnxImporter.Import(path);
        var graph = InputShape.Resolve(imported.Inputs[0], rowWidth: inputs[0].Length).Bind(imported); // symbolic non-batch dimensions from the row width
        using var f = new TorchBackend().CompileGraph(graph, BackendOptions.Default);
        var x = inputs.SelectMany(r => r).ToArray();
        var y = new double[inputs.Length * f.OutputWidth];

        f.Forward(graph.Parameters.SelectMany(p => p.Values).ToArray(), x, inputs.Length, y);

        var expected = outputs.SelectMany(r => r).ToArray();
        Assert.Equal(expected.Length, y.Length);
        for (int i = 0; i < y.Length; i++)
            Assert.True(Math.Abs(y[i] - expected[i]) <= 1e-5 * Math.Max(1, Math.Abs(expected[i])), $"{relative}[{i}]: expected {expected[i]:R}, got {y[i]:R}");
    }

    /// <summary>A posterior for any model: recorded (or pseudo-random) inputs; targets made from the outputs so every likelihood is exercised.</summary>
    internal static PosteriorModel Posterior(string path, out double[] position)
    {
        var graph = OnnxImporter.Import(path);
        if (Recorded(path) is var (rows, _)) graph = InputShape.Resolve(graph.Inputs[0], rowWidth: rows[0].Length).Bind(graph);
        int inWidth = GraphShapes.InputWidth(graph);
        int outWidth = GraphShapes.OutputWidth(graph, 0);
        double[][] inputs;
        if (Recorded(path) is var (recorded, _)) inputs = recorded;
        else
        {
            var rng = new Random(11);
            inputs = Enumerable.Range(0, 20).Select(_ => Enumerable.Range(0, inWidth).Select(_ => Normal(rng)).ToArray()).ToArray();
        }
        var features = inputs.SelectMany(r => r).ToArray();
        var outputs = new double[inputs.Length * outWidth];
        using (var f = new TorchBackend().CompileGraph(graph, BackendOptions.Default))
            f.Forward(graph.Parameters.SelectMany(p => p.Values).ToArray(), features, inputs.Length, outputs);

        var noise = new Random(5);
        var name = Path.GetFileName(path);
        PosteriorOptions options;
        double[] targets;
        int targetWidth = outWidth;
        if (outWidth > 1 && (name.Contains("clf", StringComparison.Ordinal) || name.Contains("multiclass", StringComparison.Ordinal)))
        {
            // Labels: the predicted class, every third row moved to the next class.
            targets = Enumerable.Range(0, inputs.Length).Select(n =>
            {
                var row = outputs.AsSpan(n * outWidth, outWidth);
                int label = row.IndexOf(row.ToArray().Max());
                return (double)((n % 3 == 0 ? label + 1 : label) % outWidth);
            }).ToArray();
            targetWidth = 1;
            options = new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Categorical);
        }
        else if (name.Contains("binary", StringComparison.Ordinal))
        {
            targets = outputs.Select((z, n) => (z > 0) ^ (n % 4 == 0) ? 1.0 : 0.0).ToArray();
            options = new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Bernoulli);
        }
        else
        {
            targets = outputs.Select(o => o + 0.2 * Normal(noise)).ToArray();
            options = name.StartsWith("linreg_flax_matmul", StringComparison.Ordinal)
                ? new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Normal, FixedSigma: 0.3)
                : new PosteriorOptions(new PriorOptions(0.8, []));
        }
        var model = PosteriorModel.Create(graph, options, new DataSet(features, inWidth, targets, targetWidth));
        position = model.PositionAtFileWeights(0.3);
        var jitter = new Random(3);
        for (int i = 0; i < model.ParameterDimension; i++) position[i] += 0.05 * Normal(jitter);
        return model;
    }

    private static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Gradient_matches_central_finite_differences(string relative)
    {
        var model = Posterior(FullPath(relative), out var position);
        using var potential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        var density = potential.CreateLogDensity();
        int d = density.Dimension;
        var gradient = new double[d];
        double lp = density.LogDensityAndGradient(position, gradient);
        Assert.True(double.IsFinite(lp), $"log density {lp}");

        var scratch = new double[d];
        var probe = (double[])position.Clone();
        // Every coordinate for small models; an even spread of 12 (always including σ, the last) for large ones.
        var coordinates = d <= 200 ? Enumerable.Range(0, d) : Enumerable.Range(0, 12).Select(k => (int)((long)k * (d - 1) / 11));
        double scale = Math.Max(1, gradient.Max(Math.Abs));
        foreach (int i in coordinates)
        {
            double h = 1e-5 * Math.Max(1, Math.Abs(position[i]));
            probe[i] = position[i] + h;
            double up = density.LogDensityAndGradient(probe, scratch);
            probe[i] = position[i] - h;
            double down = density.LogDensityAndGradient(probe, scratch);
            probe[i] = position[i];
            double fd = (up - down) / (2 * h);
            Assert.True(Math.Abs(fd - gradient[i]) <= 1e-6 * scale, $"{relative} ∂/∂{model.Layout.ScalarNames()[i]}: autograd {gradient[i]:R}, finite difference {fd:R}");
        }
    }

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Batched_chains_equal_single_evaluations(string relative)
    {
        var model = Posterior(FullPath(relative), out var position);
        using var potential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        var single = potential.CreateLogDensity();
        var batched = potential.CreateBatched(4)!;
        int d = single.Dimension;
        var rng = new Random(17);
        var positions = new double[4 * d];
        for (int c = 0; c < 4; c++)
            for (int i = 0; i < d; i++) positions[c * d + i] = position[i] + 0.1 * c * Normal(rng);
        var logDensities = new double[4];
        var gradients = new double[4 * d];

        batched.LogDensityAndGradient(3, positions, logDensities, gradients);

        var g = new double[d];
        for (int c = 0; c < 3; c++)
        {
            double lp = single.LogDensityAndGradient(positions.AsSpan(c * d, d), g);
            Assert.Equal(lp, logDensities[c], 1e-10 * Math.Max(1, Math.Abs(lp)));
            double scale = Math.Max(1, g.Max(Math.Abs));
            for (int i = 0; i < d; i++)
                Assert.True(Math.Abs(g[i] - gradients[c * d + i]) <= 1e-10 * scale, $"chain {c} ∂/∂θ[{i}]: single {g[i]:R}, batched {gradients[c * d + i]:R}");
        }
        Assert.Equal(0, logDensities[3]);
    }

    [SharedTheory]
    [MemberData(nameof(Models))]
    public void Agrees_with_the_compiled_backend_to_1e_10(string relative)
    {
        var model = Posterior(FullPath(relative), out var position);
        var compiled = new CompiledBackend();
        if (compiled.Unsupported(model.Graph) is string reason)
        {
            Assert.Null(new TorchBackend().Unsupported(model.Graph));
            return; // the compiled backend does not claim this graph (reason names the op); TorchSharp covers it alone
        }
        using var torchPotential = new TorchBackend().CreatePotential(model, BackendOptions.Default);
        using var compiledPotential = compiled.CreatePotential(model, BackendOptions.Default);
        int d = model.Layout.Dimension;
        var gTorch = new double[d];
        var gCompiled = new double[d];

        double lpTorch = torchPotential.CreateLogDensity().LogDensityAndGradient(position, gTorch);
        double lpCompiled = compiledPotential.CreateLogDensity().LogDensityAndGradient(position, gCompiled);

        Assert.True(Math.Abs(lpTorch - lpCompiled) <= 1e-10 * Math.Max(1, Math.Abs(lpCompiled)), $"{relative}: log density torch {lpTorch:R}, compiled {lpCompiled:R}");
        double scale = Math.Max(1, gCompiled.Max(Math.Abs));
        for (int i = 0; i < d; i++)
        {
            // The message (and the scalar names, 264k of them for the jax2onnx model) only when it fails.
            if (!(Math.Abs(gTorch[i] - gCompiled[i]) <= 1e-10 * scale))
                Assert.Fail($"{relative} ∂/∂{model.Layout.ScalarNames()[i]}: torch {gTorch[i]:R}, compiled {gCompiled[i]:R}");
        }
    }
}
