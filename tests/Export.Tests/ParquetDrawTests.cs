using System.Security.Cryptography;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

public sealed class ParquetDrawTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-draws-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void WriteAll(IDrawSink sink, int chains, int draws, int dimension)
    {
        for (int c = 0; c < chains; c++)
            for (int i = 0; i < draws; i++)
            {
                var (stats, values) = SyntheticDraws.MakeDraw(c, i, dimension);
                sink.Write(c, i, stats, values);
            }
    }

    [Theory]
    [InlineData(nameof(DrawsLayout.Scalar))]
    [InlineData(nameof(DrawsLayout.Tensor))]
    public void Given_draws_When_written_and_read_Then_values_and_metadata_round_trip_exactly(string drawsLayoutName)
    {
        var drawsLayout = Enum.Parse<DrawsLayout>(drawsLayoutName);
        var layout = SyntheticDraws.SmallLayout();
        string path = Path.Combine(_dir, "draws.parquet");
        const string run = """{"seed":42,"model_sha256":"abc","settings":{"num_warmup":1000}}""";

        using (var writer = new ParquetDrawWriter(path, layout, chains: 3, new ParquetDrawWriterOptions(RowGroupDraws: 7, Layout: drawsLayout, RunJson: run)))
        {
            WriteAll(writer, 3, 25, layout.Dimension);
            writer.Complete(interrupted: false);
        }

        Assert.False(File.Exists(path + ".partial"));
        var table = ParquetDrawReader.Read(path);
        Assert.Equal(drawsLayout, table.DrawsLayout);
        Assert.Equal(run, table.RunJson);
        Assert.False(table.Interrupted);
        Assert.Equal(["0.weight", "0.bias", "sigma"], table.Layout.Blocks.Select(b => b.Name));
        Assert.Equal([3, 2], table.Layout.Blocks[0].Shape);
        Assert.Equal("0.bias", table.Layout.Blocks[1].Source);
        Assert.Null(table.Layout.Blocks[2].Source);
        Assert.Equal(BlockTransform.Log, table.Layout.Blocks[2].Transform);
        Assert.Equal(6, table.Layout.Blocks[1].Offset);
        Assert.Equal(
            ["lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__", "0.weight[0,0]", "0.weight[0,1]"],
            table.ColumnNames.Take(9));
        SyntheticDraws.AssertHolds(table, [25, 25, 25], layout.Dimension);
    }

    [Fact]
    public void Non_centred_blocks_and_their_scales_survive_the_layout_metadata_and_constrain_to_weights()
    {
        var layout = ParameterLayout.FromShapes([
            ("0.weight", [2, 2], BlockTransform.NonCentered, "0.weight"),
            ("0.bias", [2], BlockTransform.Identity, "0.bias"),
            ("scale[0.weight]", [], BlockTransform.Log, null)]);
        var back = DrawsSchema.ParseParametersJson(DrawsSchema.ParametersJson(layout));
        Assert.Equal(layout.Blocks.Select(b => (b.Name, b.Transform, b.Source)), back.Blocks.Select(b => (b.Name, b.Transform, b.Source)));
        Assert.Equal(6, back.ScaleOffset(0));
        Assert.Equal(-1, back.ScaleOffset(1));

        double[] position = [1, -2, 0.5, 3, 7, 8, Math.Log(0.25)];
        var constrained = new double[7];
        back.Constrain(position, constrained);
        Assert.Equal([0.25, -0.5, 0.125, 0.75, 7, 8, 0.25], constrained);
        var unconstrained = new double[7];
        back.Unconstrain(constrained, unconstrained);
        Assert.Equal(position, unconstrained);

        // A non-centred block needs its scalar log-scale block.
        Assert.Throws<ArgumentException>(() => ParameterLayout.FromShapes([("w", [2], BlockTransform.NonCentered, "w")]));
        var orphan = DrawsSchema.ParametersJson(ParameterLayout.FromShapes([("w", [2], BlockTransform.Identity, "w")])).Replace("identity", "noncentered");
        Assert.Throws<InvalidDataException>(() => DrawsSchema.ParseParametersJson(orphan));
    }

    [Fact]
    public async Task Given_scalar_layout_Then_parquet_schema_has_the_documented_columns_in_order()
    {
        var layout = SyntheticDraws.SmallLayout();
        string path = Path.Combine(_dir, "draws.parquet");
        using (var writer = new ParquetDrawWriter(path, layout, chains: 1))
        {
            WriteAll(writer, 1, 3, layout.Dimension);
            writer.Complete(false);
        }

        await using var reader = await Parquet.ParquetReader.CreateAsync(path);
        var fields = reader.Schema.DataFields;
        Assert.Equal(
            new[] { "chain", "draw", "lp__", "accept_stat__", "stepsize__", "treedepth__", "n_leapfrog__", "divergent__", "energy__" }
                .Concat(layout.ScalarNames()),
            fields.Select(f => f.Name));
        Assert.Equal(
            new[] { typeof(int), typeof(int), typeof(double), typeof(double), typeof(double), typeof(int), typeof(int), typeof(bool), typeof(double) }
                .Concat(Enumerable.Repeat(typeof(double), layout.Dimension)),
            fields.Select(f => f.ClrType));
        Assert.All(fields, f => Assert.False(f.IsNullable));
        Assert.Equal("scalar", reader.CustomMetadata[DrawsSchema.LayoutKey]);
        Assert.Contains("\"onnx_name\":\"0.weight\"", reader.CustomMetadata[DrawsSchema.ParametersKey]);
    }

    [Fact]
    public void Given_more_than_4096_scalars_When_layout_is_auto_Then_tensor_columns_are_used()
    {
        var layout = ParameterLayout.FromShapes([("w", [70, 60], BlockTransform.Identity, "w"), ("sigma", [], BlockTransform.Log, null)]);
        string path = Path.Combine(_dir, "draws.parquet");
        using (var writer = new ParquetDrawWriter(path, layout, chains: 2, new ParquetDrawWriterOptions(RowGroupDraws: 3)))
        {
            Assert.Equal(DrawsLayout.Tensor, writer.DrawsLayout);
            WriteAll(writer, 2, 4, layout.Dimension);
            writer.Complete(false);
        }
        var table = ParquetDrawReader.Read(path);
        Assert.Equal(DrawsLayout.Tensor, table.DrawsLayout);
        SyntheticDraws.AssertHolds(table, [4, 4], layout.Dimension);
    }

    [Fact]
    public void Given_a_run_interrupted_mid_group_When_completed_as_interrupted_Then_the_file_holds_exactly_the_completed_draws()
    {
        var layout = SyntheticDraws.SmallLayout();
        string path = Path.Combine(_dir, "draws.parquet");
        int[] counts = [23, 9, 0, 17]; // chain 2 never produced a draw
        using (var writer = new ParquetDrawWriter(path, layout, chains: 4, new ParquetDrawWriterOptions(RowGroupDraws: 5)))
        {
            int longest = counts.Max();
            for (int i = 0; i < longest; i++)
                for (int c = 0; c < counts.Length; c++)
                    if (i < counts[c])
                    {
                        var (stats, values) = SyntheticDraws.MakeDraw(c, i, layout.Dimension);
                        writer.Write(c, i, stats, values);
                    }
            writer.Complete(interrupted: true);
        }

        var table = ParquetDrawReader.Read(path);
        Assert.True(table.Interrupted);
        // The reader sees chains 0..3; chain 2 has no rows, so only chains that wrote appear up to the last one.
        Assert.Equal(4, table.Chains);
        SyntheticDraws.AssertHolds(table, counts, layout.Dimension);
    }

    [Fact]
    public void Given_a_writer_disposed_without_complete_Then_the_file_is_valid_and_marked_interrupted()
    {
        var layout = SyntheticDraws.SmallLayout();
        string path = Path.Combine(_dir, "draws.parquet");
        using (var writer = new ParquetDrawWriter(path, layout, chains: 2, new ParquetDrawWriterOptions(RowGroupDraws: 4)))
        {
            WriteAll(writer, 2, 6, layout.Dimension);
        }
        var table = ParquetDrawReader.Read(path);
        Assert.True(table.Interrupted);
        SyntheticDraws.AssertHolds(table, [6, 6], layout.Dimension);
    }

    [Fact]
    public void Given_chains_arriving_in_different_thread_orders_Then_the_bytes_are_identical()
    {
        var layout = SyntheticDraws.SmallLayout();
        const int chains = 4, draws = 53;
        string Write(string name, int seed, long maxBuffered)
        {
            string path = Path.Combine(_dir, name);
            using var writer = new ParquetDrawWriter(path, layout, chains, new ParquetDrawWriterOptions(RowGroupDraws: 10, RunJson: "{}", MaxBufferedBytes: maxBuffered));
            var rng = new Random(seed);
            // Each chain on its own thread, with random pauses so that arrival order differs run to run.
            var delays = Enumerable.Range(0, chains).Select(_ => Enumerable.Range(0, draws).Select(_ => rng.Next(4) == 0).ToArray()).ToArray();
            Parallel.For(0, chains, new ParallelOptions { MaxDegreeOfParallelism = chains }, c =>
            {
                for (int i = 0; i < draws; i++)
                {
                    if (delays[c][i]) Thread.Sleep(1);
                    var (stats, values) = SyntheticDraws.MakeDraw(c, i, layout.Dimension);
                    writer.Write(c, i, stats, values);
                }
            });
            writer.Complete(false);
            return Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
        }

        // Sequential chains (chain 0 entirely first) with a tiny memory budget exercise the spill path.
        string sequential;
        {
            string path = Path.Combine(_dir, "sequential.parquet");
            using (var writer = new ParquetDrawWriter(path, layout, chains, new ParquetDrawWriterOptions(RowGroupDraws: 10, RunJson: "{}", MaxBufferedBytes: 1000)))
            {
                for (int c = chains - 1; c >= 0; c--)
                    for (int i = 0; i < draws; i++)
                    {
                        var (stats, values) = SyntheticDraws.MakeDraw(c, i, layout.Dimension);
                        writer.Write(c, i, stats, values);
                    }
                writer.Complete(false);
            }
            sequential = Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));
            SyntheticDraws.AssertHolds(ParquetDrawReader.Read(path), [draws, draws, draws, draws], layout.Dimension);
        }

        string a = Write("a.parquet", 1, 64L << 20);
        string b = Write("b.parquet", 2, 64L << 20);
        string c2 = Write("c.parquet", 3, 2000);
        Assert.Equal(a, b);
        Assert.Equal(a, c2);
        Assert.Equal(a, sequential);
        Assert.Empty(Directory.GetFiles(_dir, "*.spill"));
    }

    [Fact]
    public void Given_a_draw_out_of_order_Then_write_rejects_it()
    {
        var layout = SyntheticDraws.SmallLayout();
        using var writer = new ParquetDrawWriter(Path.Combine(_dir, "d.parquet"), layout, chains: 1);
        var (stats, values) = SyntheticDraws.MakeDraw(0, 0, layout.Dimension);
        Assert.Throws<ArgumentException>(() => writer.Write(0, 1, stats, values));
        Assert.Throws<ArgumentException>(() => writer.Write(0, 0, stats, values.AsSpan(1)));
        Assert.Throws<ArgumentOutOfRangeException>(() => writer.Write(1, 0, stats, values));
    }
}
