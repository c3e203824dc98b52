using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The compiled engine on weights that reach their layer through other nodes: an export without constant folding
/// (<c>weight → Transpose → MatMul</c>) has the same log posterior and gradient as the folded export of the same
/// network, and gradients flow back through reshapes, casts and constant factors to the stored tensors.
/// </summary>
public class WeightPathTests
{
    /// <summary>regression8_data.csv, its 100 rows repeated to <paramref name="rows"/> (more than one block of rows when above 192).</summary>
    internal static DataSet Regression8(int rows)
    {
        var table = File.ReadAllLines(Path.Combine(TestPaths.Models, "regression8_data.csv")).Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(s => double.Parse(s, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
        var picked = Enumerable.Range(0, rows).Select(r => table[r % table.Length]).ToArray();
        return new DataSet(picked.SelectMany(r => r[..8]).ToArray(), 8, picked.Select(r => r[8]).ToArray());
    }

    /// <summary>
    /// The position of <paramref name="to"/> that holds the same network as <paramref name="position"/> of
    /// <paramref name="from"/>: parameters matched by name, a weight stored transposed in one file transposed.
    /// Also maps gradients, which are laid out like positions.
    /// </summary>
    internal static double[] MapPosition(OnnxGraph from, OnnxGraph to, double[] position)
    {
        var mapped = (double[])position.Clone();
        int fromOffset = 0;
        var offsets = new Dictionary<string, int>();
        foreach (var p in from.Parameters) { offsets[p.Name] = fromOffset; fromOffset += p.Size; }
        int toOffset = 0;
        foreach (var q in to.Parameters)
        {
            var p = from.Parameters.Single(p => p.Name == q.Name);
            int at = offsets[p.Name];
            if (p.Shape.SequenceEqual(q.Shape))
                Array.Copy(position, at, mapped, toOffset, p.Size);
            else
            {
                Assert.Equal([p.Shape[1], p.Shape[0]], q.Shape);
                int rows = p.Shape[0], cols = p.Shape[1];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) mapped[toOffset + j * rows + i] = position[at + i * cols + j];
            }
            toOffset += q.Size;
        }
        return mapped;
    }

    internal static double[] Jittered(PosteriorModel model, int seed)
    {
        var position = model.PositionAtFileWeights(0.3);
        var rng = new Random(seed);
        for (int i = 0; i < model.ParameterDimension; i++) position[i] += 0.05 * (rng.NextDouble() - 0.5);
        return position;
    }

    [Theory]
    [InlineData(13, 100)]
    [InlineData(17, 100)]
    [InlineData(17, 250)]
    public void Folded_and_unfolded_exports_have_the_same_log_posterior_and_gradient(int opset, int rows)
    {
        var folded = OnnxImporter.Import(Path.Combine(TestPaths.Models, $"step_mlp_op{opset}_folded.onnx"));
        var unfolded = OnnxImporter.Import(Path.Combine(TestPaths.Models, $"step_mlp_op{opset}_unfolded.onnx"));
        var data = Regression8(rows);
        var foldedModel = PosteriorModel.Create(folded, PosteriorOptions.Default, data);
        var unfoldedModel = PosteriorModel.Create(unfolded, PosteriorOptions.Default, data);
        Assert.Equal(foldedModel.Layout.Dimension, unfoldedModel.Layout.Dimension);
        using var foldedPotential = new CompiledBackend().CreatePotential(foldedModel, BackendOptions.Default);
        using var unfoldedPotential = new CompiledBackend().CreatePotential(unfoldedModel, BackendOptions.Default);
        var foldedDensity = foldedPotential.CreateLogDensity();
        var unfoldedDensity = unfoldedPotential.CreateLogDensity();

        for (int seed = 0; seed < 3; seed++)
        {
            var position = Jittered(foldedModel, seed);
            var gFolded = new double[position.Length];
            var gUnfolded = new double[position.Length];

            double lpFolded = foldedDensity.LogDensityAndGradient(position, gFolded);
            double lpUnfolded = unfoldedDensity.LogDensityAndGradient(MapPosition(folded, unfolded, position), gUnfolded);

            Assert.True(Math.Abs(lpFolded - lpUnfolded) <= 1e-12 * Math.Abs(lpFolded), $"log density folded {lpFolded:R}, unfolded {lpUnfolded:R}");
            var expected = MapPosition(folded, unfolded, gFolded);
            double scale = expected.Max(Math.Abs);
            for (int i = 0; i < expected.Length; i++)
                Assert.True(Math.Abs(expected[i] - gUnfolded[i]) <= 1e-12 * scale,
                    $"∂/∂{unfoldedModel.Layout.ScalarNames()[i]}: folded {expected[i]:R}, unfolded {gUnfolded[i]:R}");
        }
    }

    [Theory]
    [InlineData("step_mlp_op17_unfolded.onnx", 100)]
    [InlineData("step_mlp_op17_unfolded.onnx", 250)]
    [InlineData("weight_paths_pytorch.onnx", 100)]
    [InlineData("weight_paths_pytorch.onnx", 250)]
    public void Gradient_through_the_path_nodes_matches_finite_differences(string file, int rows)
    {
        var graph = OnnxImporter.Import(Path.Combine(TestPaths.Models, file));
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, Regression8(rows));
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);

        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), Jittered(model, 7), 1e-6);
    }

    [Fact]
    public void A_new_position_reaches_the_layers_through_the_path_nodes()
    {
        // The weights prepared for one position must not linger into the next: evaluate at b, then a, then b again.
        var graph = OnnxImporter.Import(Path.Combine(TestPaths.Models, "weight_paths_pytorch.onnx"));
        var model = PosteriorModel.Create(graph, PosteriorOptions.Default, Regression8(250));
        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var density = potential.CreateLogDensity();
        var a = Jittered(model, 1);
        var b = Jittered(model, 2);
        var g = new double[a.Length];

        double first = density.LogDensityAndGradient(b, g);
        var firstGradient = (double[])g.Clone();
        double other = density.LogDensityAndGradient(a, g);
        double again = density.LogDensityAndGradient(b, g);

        Assert.NotEqual(first, other);
        Assert.Equal(first, again);
        Assert.Equal(firstGradient, g);
    }
}
