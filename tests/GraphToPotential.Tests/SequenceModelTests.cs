using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A model whose input has a symbolic non-batch dimension (<c>x [batch, seq, 1]</c>, models/sequence_mean_pytorch.onnx):
/// bound to the row width it reproduces PyTorch at two sequence lengths, and its posterior takes the sequence length
/// from the feature count.
/// </summary>
public class SequenceModelTests
{
    private static string Model(string file) => Path.Combine(TestPaths.Models, file);

    private static OnnxGraph Import() => OnnxImporter.Import(Model("sequence_mean_pytorch.onnx"));

    private static (double[] Features, int Width, double[] Targets) TrainingData()
    {
        var lines = File.ReadAllLines(Model("sequence_data.csv"));
        Assert.Equal("t0,t1,t2,t3,t4,y", lines[0]);
        var rows = lines.Skip(1).Where(l => l.Length > 0)
            .Select(l => l.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray()).ToArray();
        return (rows.SelectMany(r => r[..5]).ToArray(), 5, rows.Select(r => r[5]).ToArray());
    }

    [Theory]
    [InlineData("sequence_mean_pytorch", 5)]
    [InlineData("sequence_mean_pytorch.seq7", 7)]
    public void Bound_to_the_row_width_the_compiled_network_reproduces_pytorch(string stem, int length)
    {
        var graph = Import();
        var x = TestPaths.ReadCsv(Model(stem + ".input.csv"));
        var expected = TestPaths.ReadCsv(Model(stem + ".output.csv"));
        var shape = InputShape.Resolve(graph.Inputs[0], rowWidth: x[0].Length);
        Assert.Equal([length, 1], shape.SampleShape!);
        Assert.Equal($"input 'x' [batch, seq, 1]: seq = {length}, from the {length} values per row", shape.FromRowWidth);

        using var f = new CompiledBackend().CompileGraph(shape.Bind(graph), BackendOptions.Default);
        Assert.Equal(length, f.InputWidth);
        Assert.Equal(1, f.OutputWidth);
        var y = new double[x.Length];
        f.Forward(graph.Parameters.SelectMany(p => p.Values).ToArray(), x.SelectMany(r => r).ToArray(), x.Length, y);
        for (int r = 0; r < x.Length; r++)
            Assert.True(Math.Abs(y[r] - expected[r][0]) <= 2e-6 * (1 + Math.Abs(expected[r][0])), $"row {r}: {y[r]} vs PyTorch {expected[r][0]}");
    }

    [Fact]
    public void The_posterior_takes_the_sequence_length_from_the_feature_count()
    {
        var (x, width, y) = TrainingData();
        var model = PosteriorModel.Create(Import(), PosteriorOptions.Default, new DataSet(x, width, y));

        Assert.Equal([5, 1], model.InputSampleShape);
        Assert.Equal(["batch", "5", "1"], model.Graph.Inputs[0].Shape.Select(d => d.ToString()));
        Assert.Equal(1, model.OutputWidth);
        Assert.Equal(13 + 1, model.Layout.Dimension);

        using var potential = new CompiledBackend().CreatePotential(model, BackendOptions.Default);
        var position = model.PositionAtFileWeights(0.3);
        var predictions = new double[y.Length];
        potential.Predict(position, x, y.Length, predictions);
        using var f = new CompiledBackend().CompileGraph(model.Graph, BackendOptions.Default);
        var forward = new double[y.Length];
        f.Forward(position, x, y.Length, forward);
        Assert.Equal(forward, predictions);
        // The network was trained on these data: its residuals are small next to the targets' spread.
        double rms = Math.Sqrt(predictions.Zip(y, (p, t) => (p - t) * (p - t)).Average());
        Assert.True(rms < 0.2, $"residual RMS {rms}");
        GradientAssert.MatchesFiniteDifferences(potential.CreateLogDensity(), position, 1e-6);
    }

    [Fact]
    public void Given_sizes_must_name_a_symbolic_dimension_and_fit_the_feature_count()
    {
        var (x, width, y) = TrainingData();
        var data = new DataSet(x, width, y);

        var wrongSize = Assert.Throws<InvalidDataException>(() =>
            PosteriorModel.Create(Import(), PosteriorOptions.Default, data, new Dictionary<string, int> { ["seq"] = 4 }));
        Assert.Equal("data: 5 feature columns, but model input 'x' [batch, seq, 1] takes 4 per row", wrongSize.Message);

        var unknown = Assert.Throws<ArgumentException>(() =>
            PosteriorModel.Create(Import(), PosteriorOptions.Default, data, new Dictionary<string, int> { ["time"] = 5 }));
        Assert.StartsWith("time=5: input 'x' [batch, seq, 1] has no dimension 'time'", unknown.Message);
    }

    [Fact]
    public void Two_symbolic_dimensions_need_a_given_size()
    {
        var graph = Import();
        var input = graph.Inputs[0] with { Shape = [Dimension.Symbolic("batch"), Dimension.Symbolic("seq"), Dimension.Symbolic("feature")] };
        var twoSymbols = new OnnxGraph
        {
            Producer = graph.Producer, ProducerVersion = graph.ProducerVersion, IrVersion = graph.IrVersion, Opsets = graph.Opsets,
            Inputs = [input], Outputs = graph.Outputs, Nodes = graph.Nodes, Parameters = graph.Parameters, Constants = graph.Constants,
            Sha256 = graph.Sha256,
        };
        var (x, width, y) = TrainingData();
        var data = new DataSet(x, width, y);

        var ex = Assert.Throws<NotSupportedException>(() => PosteriorModel.Create(twoSymbols, PosteriorOptions.Default, data));
        Assert.Equal("model: input 'x' [batch, seq, feature] has 2 dimensions of unknown size besides the batch (seq, feature); their sizes must be given", ex.Message);

        var model = PosteriorModel.Create(twoSymbols, PosteriorOptions.Default, data, new Dictionary<string, int> { ["feature"] = 1 });
        Assert.Equal([5, 1], model.InputSampleShape);
    }
}
