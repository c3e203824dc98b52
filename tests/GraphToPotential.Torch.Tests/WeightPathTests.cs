using System.Globalization;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// TorchSharp on an export without constant folding (<c>weight → Transpose → MatMul</c>): the same log posterior and
/// gradient as the folded export of the same network, one chain at a time and several chains batched.
/// </summary>
public class WeightPathTests
{
    private static string Model(string name) => Path.Combine(SharedData.RepositoryRoot!, "models", name);

    private static DataSet Regression8()
    {
        var rows = File.ReadAllLines(Model("regression8_data.csv")).Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        return new DataSet(rows.SelectMany(r => r[..8]).ToArray(), 8, rows.Select(r => r[8]).ToArray());
    }

    /// <summary>A position (or gradient) of <paramref name="from"/> laid out for <paramref name="to"/>: parameters by name, transposed where stored transposed.</summary>
    private static double[] MapPosition(OnnxGraph from, OnnxGraph to, ReadOnlySpan<double> position)
    {
        var mapped = position.ToArray();
        var offsets = new Dictionary<string, int>();
        int offset = 0;
        foreach (var p in from.Parameters) { offsets[p.Name] = offset; offset += p.Size; }
        int at = 0;
        foreach (var q in to.Parameters)
        {
            var p = from.Parameters.Single(p => p.Name == q.Name);
            int source = offsets[p.Name];
            if (p.Shape.SequenceEqual(q.Shape))
                position.Slice(source, p.Size).CopyTo(mapped.AsSpan(at));
            else
            {
                Assert.Equal([p.Shape[1], p.Shape[0]], q.Shape);
                int rows = p.Shape[0], cols = p.Shape[1];
                for (int i = 0; i < rows; i++)
                    for (int j = 0; j < cols; j++) mapped[at + j * rows + i] = position[source + i * cols + j];
            }
            at += q.Size;
        }
        return mapped;
    }

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void Folded_and_unfolded_exports_have_the_same_log_posterior_and_gradient(int opset)
    {
        var folded = OnnxImporter.Import(Model($"step_mlp_op{opset}_folded.onnx"));
        var unfolded = OnnxImporter.Import(Model($"step_mlp_op{opset}_unfolded.onnx"));
        var data = Regression8();
        var foldedModel = PosteriorModel.Create(folded, PosteriorOptions.Default, data);
        var unfoldedModel = PosteriorModel.Create(unfolded, PosteriorOptions.Default, data);
        using var foldedPotential = new TorchBackend().CreatePotential(foldedModel, BackendOptions.Default);
        using var unfoldedPotential = new TorchBackend().CreatePotential(unfoldedModel, BackendOptions.Default);
        int d = foldedModel.Layout.Dimension;
        Assert.Equal(d, unfoldedModel.Layout.Dimension);

        const int chains = 3;
        var rng = new Random(opset);
        var positions = new double[chains * d];
        var start = foldedModel.PositionAtFileWeights(0.3);
        for (int c = 0; c < chains; c++)
            for (int i = 0; i < d; i++) positions[c * d + i] = start[i] + 0.05 * (rng.NextDouble() - 0.5);
        var mappedPositions = new double[chains * d];
        for (int c = 0; c < chains; c++)
            MapPosition(folded, unfolded, positions.AsSpan(c * d, d)).CopyTo(mappedPositions, c * d);

        var foldedDensity = foldedPotential.CreateLogDensity();
        var unfoldedDensity = unfoldedPotential.CreateLogDensity();
        var unfoldedBatched = unfoldedPotential.CreateBatched(chains)!;
        var batchedLp = new double[chains];
        var batchedGradients = new double[chains * d];
        unfoldedBatched.LogDensityAndGradient(chains, mappedPositions, batchedLp, batchedGradients);

        var gFolded = new double[d];
        var gUnfolded = new double[d];
        for (int c = 0; c < chains; c++)
        {
            double lpFolded = foldedDensity.LogDensityAndGradient(positions.AsSpan(c * d, d), gFolded);
            double lpUnfolded = unfoldedDensity.LogDensityAndGradient(mappedPositions.AsSpan(c * d, d), gUnfolded);
            var expected = MapPosition(folded, unfolded, gFolded);
            double scale = expected.Max(Math.Abs);

            foreach (var (lp, gradient, how) in new[] { (lpUnfolded, gUnfolded, "single"), (batchedLp[c], batchedGradients[(c * d)..((c + 1) * d)], "batched") })
            {
                Assert.True(Math.Abs(lpFolded - lp) <= 1e-12 * Math.Abs(lpFolded), $"chain {c} {how}: log density folded {lpFolded:R}, unfolded {lp:R}");
                for (int i = 0; i < d; i++)
                    Assert.True(Math.Abs(expected[i] - gradient[i]) <= 1e-12 * scale,
                        $"chain {c} {how} ∂/∂{unfoldedModel.Layout.ScalarNames()[i]}: folded {expected[i]:R}, unfolded {gradient[i]:R}");
            }
        }
    }
}
