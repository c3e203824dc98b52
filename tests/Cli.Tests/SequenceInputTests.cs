using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Bnn.Onnx.Tests.TestSupport;
using Google.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A model whose input has a symbolic non-batch dimension (models/sequence_mean_pytorch.onnx, <c>x [batch, seq, 1]</c>)
/// through <c>bnn eval</c>, <c>sample</c>, <c>export</c> and <c>predict</c>: a single symbolic dimension takes its size from
/// the row width (said on stderr), <c>--input-shape NAME=SIZE</c> gives it explicitly, and what cannot be resolved exits 2.
/// </summary>
public class SequenceInputTests
{
    private static readonly string Model = Repo.Model("sequence_mean_pytorch.onnx");

    private static double[][] Rows(string path) => File.ReadLines(path).Where(l => l.Trim().Length > 0)
        .Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    /// <summary>The sequence model with its input declared as <paramref name="dims"/> (strings are symbols).</summary>
    private static string WithInputShape(TempDir dir, params object[] dims)
    {
        var model = ModelProto.Parser.ParseFrom(File.ReadAllBytes(Model));
        var shape = model.Graph.Input[0].Type.TensorType.Shape;
        shape.Dim.Clear();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        string path = dir["model.onnx"];
        File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    private static void AssertPytorchOutputs(string stdout, string expectedCsv)
    {
        var actual = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        var expected = Rows(expectedCsv).Select(r => r[0]).ToArray();
        Assert.Equal(expected.Length, actual.Length);
        for (int r = 0; r < expected.Length; r++)
            Assert.True(Math.Abs(actual[r] - expected[r]) <= 2e-6 * (1 + Math.Abs(expected[r])), $"row {r}: {actual[r]} vs PyTorch {expected[r]}");
    }

    [Theory]
    [InlineData("sequence_mean_pytorch", 5, "cpu")]
    [InlineData("sequence_mean_pytorch.seq7", 7, "cpu")]
    [InlineData("sequence_mean_pytorch.seq7", 7, "torch")]
    public void Eval_takes_the_sequence_length_from_the_row_width_and_reproduces_pytorch(string stem, int length, string backend)
    {
        var result = BnnProcess.Run("eval", Model, "--input", Repo.Model(stem + ".input.csv"), "--backend", backend);

        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal($"note: input 'x' [batch, seq, 1]: seq = {length}, from the {length} values per row", Assert.Single(result.ErrorLines));
        AssertPytorchOutputs(result.Stdout, Repo.Model(stem + ".output.csv"));
    }

    [Fact]
    public void Eval_with_two_symbolic_dimensions_needs_input_shape_for_one_of_them()
    {
        using var dir = new TempDir();
        string model = WithInputShape(dir, "batch", "seq", "feature");
        string input = Repo.Model("sequence_mean_pytorch.seq7.input.csv");

        var refused = InProcessCli.Run("eval", model, "--input", input);
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.Equal("error: model input 'x' [batch, seq, feature] has 2 dimensions of unknown size besides the batch (seq, feature): " +
            "give all but one with --input-shape (e.g. --input-shape seq=5; repeatable)", Assert.Single(refused.ErrorLines));

        var given = BnnProcess.Run("eval", model, "--input", input, "--input-shape", "feature=1");
        Assert.True(given.ExitCode == 0, given.ToString());
        Assert.Equal("note: input 'x' [batch, seq, feature]: seq = 7, from the 7 values per row", Assert.Single(given.ErrorLines));
        AssertPytorchOutputs(given.Stdout, Repo.Model("sequence_mean_pytorch.seq7.output.csv"));

        var both = BnnProcess.Run("eval", model, "--input", input, "--input-shape", "feature=1", "--input-shape", "seq=7");
        Assert.True(both.ExitCode == 0, both.ToString());
        Assert.Empty(both.ErrorLines);
        AssertPytorchOutputs(both.Stdout, Repo.Model("sequence_mean_pytorch.seq7.output.csv"));
    }

    [Theory]
    [InlineData("time=7", "error: --input-shape time=7: input 'x' [batch, seq, 1] has no dimension 'time' (its symbolic dimensions besides the batch: seq)")]
    [InlineData("batch=7", "error: --input-shape batch=7: input 'x' [batch, seq, 1] has no dimension 'batch' ('batch' is the batch axis, whose size is the number of rows)")]
    [InlineData("seq", "error: --input-shape 'seq': expected NAME=SIZE with a positive whole SIZE, e.g. seq=5")]
    [InlineData("seq=0", "error: --input-shape 'seq=0': expected NAME=SIZE with a positive whole SIZE, e.g. seq=5")]
    [InlineData("seq=5", "error: INPUT: 7 values per row, but model input 'x' [batch, seq, 1] takes 5 with seq = 5")]
    public void Eval_refuses_an_input_shape_that_does_not_fit_with_exit_2(string option, string expected)
    {
        string input = Repo.Model("sequence_mean_pytorch.seq7.input.csv");
        var result = InProcessCli.Run("eval", Model, "--input", input, "--input-shape", option);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        Assert.Equal(expected.Replace("INPUT", input), Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void Eval_refuses_a_row_width_the_fixed_dimensions_do_not_divide_with_exit_2()
    {
        using var dir = new TempDir();
        string model = WithInputShape(dir, "batch", "seq", 2);
        string input = Repo.Model("sequence_mean_pytorch.seq7.input.csv");

        var result = InProcessCli.Run("eval", model, "--input", input);

        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.Equal($"error: {input}: 7 values per row do not fill input 'x' [batch, seq, 2]: its other dimensions take 2 per step, so a row needs a multiple of 2",
            Assert.Single(result.ErrorLines));
    }

    [Fact]
    public void Sample_refuses_feature_columns_that_do_not_fill_the_input_with_exit_2()
    {
        using var dir = new TempDir();
        var given = InProcessCli.Run("sample", Model, "--data", Repo.Model("sequence_data.csv"), "--out", dir["run"],
            "--input-shape", "seq=4", "--no-progress");
        Assert.True(given.ExitCode == 2, given.ToString());
        Assert.Equal("error: sequence_data.csv (5 feature columns): 5 values per row, but model input 'x' [batch, seq, 1] takes 4 with seq = 4",
            Assert.Single(given.ErrorLines));

        string model = WithInputShape(dir, "batch", "seq", 2);
        var odd = InProcessCli.Run("sample", model, "--data", Repo.Model("sequence_data.csv"), "--out", dir["run"], "--no-progress");
        Assert.True(odd.ExitCode == 2, odd.ToString());
        Assert.Equal("error: sequence_data.csv (5 feature columns): 5 values per row do not fill input 'x' [batch, seq, 2]: its other dimensions take 2 per step, so a row needs a multiple of 2",
            Assert.Single(odd.ErrorLines));
        Assert.False(Directory.Exists(dir["run"]));
    }

    [Fact]
    public void Sample_export_and_predict_a_sequence_model_whose_length_comes_from_the_feature_columns()
    {
        using var dir = new TempDir();
        string run = dir["run"];
        var sample = BnnProcess.Run("sample", Model, "--data", Repo.Model("sequence_data.csv"), "--out", run,
            "--chains", "2", "--warmup", "100", "--draws", "40", "--seed", "5", "--no-progress");
        Assert.True(sample.ExitCode is 0, sample.ToString());
        Assert.Contains("note: input 'x' [batch, seq, 1]: seq = 5, from the 5 values per row", sample.ErrorLines);

        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", run, "--members", "80", "--out", ensemble, "--dtype", "float64");
        Assert.True(export.ExitCode == 0, export.ToString());

        // Every draw is a member: the ensemble's mean is the mean over draws of the compiled forward, at both lengths.
        var graph = OnnxImporter.Import(Model);
        var draws = ParquetDrawReader.Read(Path.Combine(run, "draws.parquet"));
        var names = graph.Parameters.SelectMany(p => ElementNames(p.Name, p.Shape)).ToArray();
        var columns = names.Select(n => draws.Column(n).SelectMany(c => c).ToArray()).ToArray();
        int members = columns[0].Length;
        Assert.Equal(80, members);
        foreach (var (stem, length) in new[] { ("sequence_mean_pytorch", 5), ("sequence_mean_pytorch.seq7", 7) })
        {
            string input = Repo.Model(stem + ".input.csv");
            string output = dir[stem + ".predict.csv"];
            var predict = BnnProcess.Run("predict", ensemble, "--input", input, "--out", output);
            Assert.True(predict.ExitCode == 0, predict.ToString());
            Assert.Equal($"note: input 'x' [batch, seq, 1]: seq = {length}, from the {length} values per row", Assert.Single(predict.ErrorLines));

            var x = Rows(input);
            var mean = CsvTable.Read(output).Column("mean_0");
            var shape = InputShape.Resolve(graph.Inputs[0], rowWidth: length);
            using var f = new CompiledBackend().CompileGraph(shape.Bind(graph), BackendOptions.Default);
            var expected = new double[x.Length];
            var y = new double[x.Length];
            for (int s = 0; s < members; s++)
            {
                f.Forward(columns.Select(c => c[s]).ToArray(), x.SelectMany(r => r).ToArray(), x.Length, y);
                for (int r = 0; r < x.Length; r++) expected[r] += y[r] / members;
            }
            for (int r = 0; r < x.Length; r++) Assert.Equal(expected[r], mean[r], 1e-9);
        }

        var refused = InProcessCli.Run("predict", ensemble, "--input", Repo.Model("sequence_mean_pytorch.input.csv"), "--input-shape", "seq=7");
        Assert.True(refused.ExitCode == 2, refused.ToString());
        Assert.StartsWith("error: ", Assert.Single(refused.ErrorLines));
        Assert.Contains("5 values per row, but model input 'x' [batch, seq, 1] takes 7 with seq = 7", refused.ErrorLines[0]);
    }

    /// <summary>The draws' column names of one parameter: <c>name[i,j]</c> in row-major order.</summary>
    private static IEnumerable<string> ElementNames(string name, int[] shape)
    {
        int count = shape.Aggregate(1, (a, b) => a * b);
        for (int flat = 0; flat < count; flat++)
        {
            var index = new int[shape.Length];
            for (int d = shape.Length - 1, rest = flat; d >= 0; d--)
            {
                index[d] = rest % shape[d];
                rest /= shape[d];
            }
            yield return $"{name}[{string.Join(",", index)}]";
        }
    }
}
