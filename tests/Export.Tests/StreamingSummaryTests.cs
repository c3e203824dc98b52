using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The summary of a draws file computed in bounded memory (<see cref="StreamedDrawTable"/>) against the summary of
/// the same file read whole (<see cref="ParquetDrawReader.Read"/>).
/// </summary>
public sealed class StreamingSummaryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-streaming-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>
    /// Writes a draws file whose parameters are AR(1) chains with their own means, scales and autocorrelations
    /// (so ESS, R-hat and quantiles differ from column to column), some chains shifted (R-hat above 1).
    /// </summary>
    private string WriteDraws(ParameterLayout layout, int[] drawCounts, DrawsLayout drawsLayout, int rowGroupDraws)
    {
        string path = Path.Combine(_dir, $"draws-{Guid.NewGuid():N}.parquet");
        int d = layout.Dimension;
        var rng = new Random(20240611);
        var mean = Enumerable.Range(0, d).Select(_ => rng.NextDouble() * 4 - 2).ToArray();
        var scale = Enumerable.Range(0, d).Select(_ => Math.Exp(rng.NextDouble() * 4 - 2)).ToArray();
        var rho = Enumerable.Range(0, d).Select(_ => rng.NextDouble() * 0.9).ToArray();
        using var writer = new ParquetDrawWriter(path, layout, drawCounts.Length,
            new ParquetDrawWriterOptions(RowGroupDraws: rowGroupDraws, Layout: drawsLayout, RunJson: "{}"));
        for (int c = 0; c < drawCounts.Length; c++)
        {
            var state = new double[d];
            for (int i = 0; i < drawCounts[c]; i++)
            {
                var values = new double[d];
                for (int j = 0; j < d; j++)
                {
                    state[j] = rho[j] * state[j] + Math.Sqrt(1 - rho[j] * rho[j]) * Normal(rng);
                    values[j] = mean[j] + (c == 1 && j % 5 == 0 ? 0.5 : 0) + scale[j] * state[j];
                }
                values[^1] = Math.Exp(values[^1] * 0.1); // σ is positive
                var stats = new SamplerStats(-100 + Normal(rng), rng.NextDouble(), 0.1, rng.Next(1, 6), rng.Next(1, 32), rng.Next(50) == 0, 120 + Normal(rng));
                writer.Write(c, i, stats, values);
            }
        }
        writer.Complete(interrupted: drawCounts.Distinct().Count() > 1);
        return path;
    }

    private static double Normal(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>The whole file in memory, chains cut to <paramref name="drawsPerChain"/>, every <paramref name="thin"/>-th draw.</summary>
    private static InMemoryDrawTable InMemory(string path, int drawsPerChain, int thin, bool samplerColumns)
    {
        var draws = ParquetDrawReader.Read(path);
        var names = draws.Layout.ScalarNames().ToList();
        var columns = names.Select(n => Thin(draws.Column(n), drawsPerChain, thin)).ToList();
        if (samplerColumns)
        {
            // Sampler columns are never thinned; the in-memory table needs equal lengths, so they go in a second table.
            Assert.Equal(1, thin);
            foreach (var s in SamplerStats.ColumnNames)
            {
                names.Add(s);
                columns.Add(Thin(draws.Column(s), drawsPerChain, 1));
            }
        }
        return new InMemoryDrawTable(names, columns);
    }

    private static double[][] Thin(double[][] column, int drawsPerChain, int thin) =>
        column.Select(c => c.Take(drawsPerChain).Where((_, i) => i % thin == 0).ToArray()).ToArray();

    private static IReadOnlyList<SummaryRow> Summarize(IDrawTable table) =>
        PosteriorSummary.Summarize(table, v => v == "lp__" || !v.EndsWith("__", StringComparison.Ordinal));

    private static long ParameterBytes(ParameterLayout layout, int chains, int drawsPerChain) =>
        (long)layout.Dimension * chains * drawsPerChain * sizeof(double);

    [Fact]
    public void Given_scalar_columns_over_the_budget_When_summarised_Then_several_passes_hold_at_most_the_budget_and_rows_equal_the_in_memory_summary()
    {
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [12, 20], BlockTransform.Identity, "0.weight"),
            ("0.bias", [12], BlockTransform.Identity, "0.bias"),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        string path = WriteDraws(layout, [230, 230, 230], DrawsLayout.Scalar, rowGroupDraws: 40);
        long budget = ParameterBytes(layout, 3, 230) / 7; // forces about 7 batches

        var table = StreamedDrawTable.Open(path, new StreamedDrawTableOptions(budget));
        var rows = Summarize(table);

        Assert.Equal(1, table.Thinning);
        Assert.Null(table.Note);
        Assert.InRange(table.Batches, 7, 9);
        Assert.InRange(table.PeakHeldBytes, 1, budget);
        Assert.Equal(table.Batches + 1, table.Reader.Passes); // each parameter batch once, the sampler columns once
        var expected = Summarize(InMemory(path, 230, 1, samplerColumns: true));
        Assert.Equal(expected.Count, rows.Count);
        Assert.Equal(expected, rows); // bit for bit: the same draws in the same order
        Assert.Equal(layout.Dimension + 1, rows.Count); // parameters and lp__
        Assert.Equal(230, table.Column("lp__")[0].Length);
    }

    [Fact]
    public void Given_tensor_columns_that_fit_one_by_one_When_summarised_Then_batches_of_whole_tensors_give_the_in_memory_summary()
    {
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [12, 20], BlockTransform.Identity, "0.weight"),
            ("0.bias", [12], BlockTransform.Identity, "0.bias"),
            ("2.weight", [25, 12], BlockTransform.Identity, "2.weight"),
            ("2.bias", [25], BlockTransform.Identity, "2.bias"),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        const int draws = 60;
        string path = WriteDraws(layout, [draws, draws], DrawsLayout.Tensor, rowGroupDraws: 25);
        long budget = 310L * 2 * draws * sizeof(double); // the largest tensor (300 scalars) fits, no two of the large ones do

        var table = StreamedDrawTable.Open(path, new StreamedDrawTableOptions(budget, SamplerColumns: false));
        var rows = Summarize(table);

        Assert.Equal(1, table.Thinning);
        Assert.True(table.Batches >= 3, $"{table.Batches} batches");
        Assert.InRange(table.PeakHeldBytes, 1, budget);
        Assert.Equal(table.Batches, table.Reader.Passes);
        Assert.Equal(Summarize(InMemory(path, draws, 1, samplerColumns: false)), rows);
        Assert.Equal(layout.Dimension, rows.Count);
    }

    [Fact]
    public void Given_one_tensor_larger_than_the_budget_When_summarised_Then_parameter_rows_are_thinned_evenly_and_say_so()
    {
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [20, 25], BlockTransform.Identity, "0.weight"),
            ("0.bias", [20], BlockTransform.Identity, "0.bias"),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        const int chains = 4, draws = 203;
        string path = WriteDraws(layout, [draws, draws, draws, draws], DrawsLayout.Tensor, rowGroupDraws: 30);
        long budget = 500L * chains * 50 * sizeof(double); // 50 draws per chain of the 500-scalar tensor

        var table = StreamedDrawTable.Open(path, new StreamedDrawTableOptions(budget));
        var rows = Summarize(table);

        Assert.Equal(5, table.Thinning); // ceil(203 / 50)
        Assert.Equal(41, table.ParameterDrawsPerChain); // draws 0, 5, …, 200
        Assert.InRange(table.PeakHeldBytes, 1, budget);
        Assert.Contains("every 5th draw (41 of 203 per chain)", table.Note);
        Assert.Equal(draws, table.DrawsPerChain);
        Assert.Equal(draws, table.Column("lp__")[3].Length); // lp__ keeps every draw

        var expectedParameters = Summarize(InMemory(path, draws, 5, samplerColumns: false));
        Assert.Equal(expectedParameters, rows.Take(layout.Dimension));
        var full = ParquetDrawReader.Read(path);
        Assert.Equal(PosteriorSummary.Summarize("lp__", full.Column("lp__")), rows[^1]);
    }

    [Fact]
    public void Given_an_interrupted_run_with_ragged_chains_Then_every_chain_is_cut_to_the_shortest_as_before()
    {
        var layout = ParameterLayout.FromShapes([("w", [6, 7], BlockTransform.Identity, "w"), ("sigma", [], BlockTransform.Log, null)]);
        string path = WriteDraws(layout, [47, 31, 52], DrawsLayout.Scalar, rowGroupDraws: 10);

        var table = StreamedDrawTable.Open(path, new StreamedDrawTableOptions(ParameterBytes(layout, 3, 31) / 3));
        var rows = Summarize(table);

        Assert.Equal(31, table.DrawsPerChain);
        Assert.True(table.Batches >= 3);
        Assert.Equal(Summarize(InMemory(path, 31, 1, samplerColumns: true)), rows);
    }

    [Theory]
    [InlineData(nameof(DrawsLayout.Scalar))]
    [InlineData(nameof(DrawsLayout.Tensor))]
    public void Given_a_selection_When_columns_are_read_Then_they_equal_the_whole_file_read_thinned(string drawsLayoutName)
    {
        var drawsLayout = Enum.Parse<DrawsLayout>(drawsLayoutName);
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [3, 4], BlockTransform.Identity, "0.weight"),
            ("0.bias", [3], BlockTransform.Identity, "0.bias"),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        string path = WriteDraws(layout, [29, 29], drawsLayout, rowGroupDraws: 6);
        var full = ParquetDrawReader.Read(path);
        string[] names = ["sigma", "0.bias[2]", "treedepth__", "0.weight[1,3]", "divergent__", "0.weight[0,0]", "lp__"];

        var all = ParquetDrawReader.ReadColumns(path, names);
        var some = ParquetDrawReader.ReadColumns(path, names, new DrawSelection(DrawsPerChain: 20, Thin: 3));

        for (int k = 0; k < names.Length; k++)
        {
            Assert.Equal(full.Column(names[k]), all[k]);
            Assert.Equal(Thin(full.Column(names[k]), 20, 3), some[k]);
            Assert.Equal(7, some[k][1].Length); // draws 0, 3, …, 18
        }
        Assert.Throws<ArgumentException>(() => ParquetDrawReader.ReadColumns(path, ["nope"]));
    }

    [Theory]
    [InlineData(nameof(DrawsLayout.Scalar))]
    [InlineData(nameof(DrawsLayout.Tensor))]
    public void Given_thinned_members_When_read_streamed_Then_each_equals_its_draw_in_the_whole_file(string drawsLayoutName)
    {
        var drawsLayout = Enum.Parse<DrawsLayout>(drawsLayoutName);
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [3, 4], BlockTransform.Identity, "0.weight"),
            ("0.bias", [3], BlockTransform.Identity, "0.bias"),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        string path = WriteDraws(layout, [29, 17, 23], drawsLayout, rowGroupDraws: 6);
        var full = ParquetDrawReader.Read(path);
        var reader = ParquetDrawStreamReader.Open(path);

        var members = MemberSelection.Select(reader, 10, out double thinning);
        Assert.Equal(6.9, thinning, 12);
        Assert.Equal(MemberSelection.Select(full, 10, out _), members);
        (int, int)[] picks = [(2, 22), (0, 0), (1, 16), (0, 0), (1, 5)]; // out of order, repeated, last draws of chains
        Assert.Equal(picks.Select(p => full.Draw(p.Item1, p.Item2)), reader.ReadDraws(picks));
        Assert.Throws<ArgumentOutOfRangeException>(() => reader.ReadDraws([(1, 17)]));
    }

    [Fact]
    public void Given_a_file_that_is_not_parquet_Then_opening_it_throws_invalid_data()
    {
        string path = Path.Combine(_dir, "draws.parquet");
        File.WriteAllText(path, "not parquet");
        Assert.Throws<InvalidDataException>(() => StreamedDrawTable.Open(path));
        Assert.Throws<FileNotFoundException>(() => StreamedDrawTable.Open(Path.Combine(_dir, "missing.parquet")));
    }
}
