using System.Security.Cryptography;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The draws writer's bounded memory: scratch slots reused when chains run apart, wide draws split into row groups
/// of bounded size, and every draw still read back exactly and in order.
/// </summary>
public sealed class WriterMemoryTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-writer-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary>316 scalars: 20·15 weights, 15 biases, σ.</summary>
    private static ParameterLayout WideLayout() => ParameterLayout.FromShapes(
    [
        ("0.weight", [20, 15], BlockTransform.Identity, "0.weight"),
        ("0.bias", [15], BlockTransform.Identity, "0.bias"),
        ("sigma", [], BlockTransform.Log, null),
    ]);

    private static void WriteDraw(ParquetDrawWriter writer, int chain, int draw, int dimension)
    {
        var (stats, values) = SyntheticDraws.MakeDraw(chain, draw, dimension);
        writer.Write(chain, draw, stats, values);
    }

    private static string Hash(string path) => Convert.ToHexString(SHA256.HashData(File.ReadAllBytes(path)));

    private static async Task<long[]> RowGroupSizes(string path)
    {
        await using var reader = await Parquet.ParquetReader.CreateAsync(path);
        var sizes = new long[reader.RowGroupCount];
        for (int g = 0; g < sizes.Length; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            sizes[g] = rg.RowCount;
        }
        return sizes;
    }

    [Fact]
    public void Given_one_chain_far_ahead_for_many_groups_Then_scratch_slots_are_reused_and_the_scratch_file_stays_bounded()
    {
        var layout = SyntheticDraws.SmallLayout();
        int d = layout.Dimension;
        const int groupDraws = 2, lead = 6, groups = 160;
        string path = Path.Combine(_dir, "lead.parquet");
        long slotBytes, largest = 0, spilled;
        using (var writer = new ParquetDrawWriter(path, layout, chains: 2,
                   new ParquetDrawWriterOptions(RowGroupDraws: groupDraws, RunJson: "{}", MaxBufferedBytes: 0)))
        {
            int[] next = [0, 0];
            void Advance(int chain, int count)
            {
                for (int i = 0; i < count; i++, next[chain]++) WriteDraw(writer, chain, next[chain], d);
                largest = Math.Max(largest, writer.ScratchFileBytes);
            }

            Advance(0, groupDraws);
            slotBytes = writer.ScratchFileBytes; // one spilled block
            Assert.True(slotBytes > 0);
            Advance(0, (lead - 1) * groupDraws);
            Assert.Equal(lead * slotBytes, writer.ScratchFileBytes);

            // Chain 0 stays `lead` groups ahead: each group chain 1 completes frees a slot that chain 0's next block reuses.
            for (int g = 0; g < groups; g++)
            {
                Advance(1, groupDraws);
                Advance(0, groupDraws);
            }
            Assert.Equal(lead * slotBytes, writer.ScratchFileBytes);

            // Chain 1 catches up: every slot is freed and the file shrinks to nothing.
            Advance(1, lead * groupDraws);
            Assert.Equal(0, writer.ScratchFileBytes);

            // Then chain 0 runs ahead again (and half a group more, left in its current buffer).
            Advance(0, lead * groupDraws + 1);
            Assert.Equal(lead * slotBytes, writer.ScratchFileBytes);
            Advance(1, lead * groupDraws);
            Assert.Equal(0, writer.ScratchFileBytes);
            spilled = writer.SpilledBlocks;
            Assert.Equal([next[0], next[1]], new[] { (groups + 2 * lead) * groupDraws + 1, (groups + 2 * lead) * groupDraws });
            writer.Complete(interrupted: true);
        }

        // A scratch file that only grew would have reached spilled × slot bytes.
        Assert.Equal(groups + 2 * lead, spilled);
        Assert.Equal(lead * slotBytes, largest);
        Assert.Empty(Directory.GetFiles(_dir, "*.spill"));
        int n = (groups + 2 * lead) * groupDraws;
        SyntheticDraws.AssertHolds(ParquetDrawReader.Read(path), [n + 1, n], d);

        // The same draws written in lockstep (nothing spilled) give the same bytes.
        string lockstep = Path.Combine(_dir, "lockstep.parquet");
        using (var writer = new ParquetDrawWriter(lockstep, layout, chains: 2, new ParquetDrawWriterOptions(RowGroupDraws: groupDraws, RunJson: "{}")))
        {
            for (int i = 0; i <= n; i++)
                for (int c = 0; c < 2; c++)
                    if (i < n || c == 0) WriteDraw(writer, c, i, d);
            Assert.Equal(0, writer.SpilledBlocks);
            writer.Complete(interrupted: true);
        }
        Assert.Equal(Hash(lockstep), Hash(path));
    }

    [Theory]
    // One draw is 323 values (2,584 bytes). 3 chains × 4 draws fit 31,008 bytes: groups of 4 draws, one row group each
    // (chains hold 14, 9 and 13 draws).
    [InlineData(nameof(DrawsLayout.Tensor), 31_008, 4, new long[] { 12, 12, 9, 3 })]
    [InlineData(nameof(DrawsLayout.Scalar), 31_008, 4, new long[] { 12, 12, 9, 3 })]
    // 6,000 bytes hold 2 rows: groups of 1 draw per chain (3 rows), written as row groups of 2 + 1 rows.
    // (Draws 9-12 exist in two chains only, draw 13 in one.)
    [InlineData(nameof(DrawsLayout.Tensor), 6_000, 1, new long[] { 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 2, 2, 2, 1 })]
    [InlineData(nameof(DrawsLayout.Scalar), 6_000, 1, new long[] { 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 1, 2, 2, 2, 2, 1 })]
    // Smaller than one row: one row per row group.
    [InlineData(nameof(DrawsLayout.Tensor), 1_000, 1, null)]
    public async Task Given_wide_draws_When_row_groups_are_capped_by_bytes_Then_every_draw_round_trips_exactly_and_in_order(
        string drawsLayoutName, long maxRowGroupBytes, int expectedGroupDraws, long[]? expectedRowGroups)
    {
        var drawsLayout = Enum.Parse<DrawsLayout>(drawsLayoutName);
        var layout = WideLayout();
        int d = layout.Dimension;
        int[] counts = [14, 9, 13]; // interrupted: chains hold different numbers of draws
        string path = Path.Combine(_dir, "wide.parquet");
        using (var writer = new ParquetDrawWriter(path, layout, chains: 3,
                   new ParquetDrawWriterOptions(RowGroupDraws: 100, Layout: drawsLayout, RunJson: "{}", MaxRowGroupBytes: maxRowGroupBytes)))
        {
            Assert.Equal(expectedGroupDraws, writer.RowGroupDraws);
            for (int i = 0; i < counts.Max(); i++)
                for (int c = 0; c < counts.Length; c++)
                    if (i < counts[c]) WriteDraw(writer, c, i, d);
            writer.Complete(interrupted: true);
        }

        var sizes = await RowGroupSizes(path);
        Assert.Equal(counts.Sum(), sizes.Sum());
        Assert.Equal(expectedRowGroups ?? Enumerable.Repeat(1L, counts.Sum()).ToArray(), sizes);

        var table = ParquetDrawReader.Read(path);
        Assert.Equal(drawsLayout, table.DrawsLayout);
        SyntheticDraws.AssertHolds(table, counts, d);

        // The streamed reader sees the same draws in the same order.
        var stream = ParquetDrawStreamReader.Open(path);
        Assert.Equal(counts, stream.DrawCounts);
        string[] names = ["lp__", "divergent__", "0.weight[0,0]", "0.weight[19,14]", "0.bias[7]", "sigma"];
        var columns = stream.ReadColumns(names);
        for (int k = 0; k < names.Length; k++) Assert.Equal(table.Column(names[k]), columns[k]);
    }

    [Fact]
    public void Given_wide_draws_arriving_in_different_thread_orders_Then_the_bytes_are_identical()
    {
        var layout = WideLayout();
        int d = layout.Dimension;
        const int chains = 4, draws = 23;
        var options = new ParquetDrawWriterOptions(RowGroupDraws: 10, Layout: DrawsLayout.Tensor, RunJson: "{}",
            MaxBufferedBytes: 10_000, MaxRowGroupBytes: 8_000); // groups of 1 draw per chain (4 rows), row groups of 3 + 1 rows

        string Threads(string name, int seed)
        {
            string path = Path.Combine(_dir, name);
            using var writer = new ParquetDrawWriter(path, layout, chains, options);
            Assert.Equal(1, writer.RowGroupDraws);
            var rng = new Random(seed);
            var delays = Enumerable.Range(0, chains).Select(_ => Enumerable.Range(0, draws).Select(_ => rng.Next(3) == 0).ToArray()).ToArray();
            Parallel.For(0, chains, new ParallelOptions { MaxDegreeOfParallelism = chains }, c =>
            {
                for (int i = 0; i < draws; i++)
                {
                    if (delays[c][i]) Thread.Sleep(1);
                    WriteDraw(writer, c, i, d);
                }
            });
            writer.Complete(false);
            return Hash(path);
        }

        // Chains one after another, last first: every block of the later chains waits, most of them in scratch slots.
        string sequentialPath = Path.Combine(_dir, "sequential.parquet");
        using (var writer = new ParquetDrawWriter(sequentialPath, layout, chains, options))
        {
            for (int c = chains - 1; c >= 0; c--)
                for (int i = 0; i < draws; i++) WriteDraw(writer, c, i, d);
            Assert.True(writer.SpilledBlocks > 0);
            writer.Complete(false);
        }
        SyntheticDraws.AssertHolds(ParquetDrawReader.Read(sequentialPath), [draws, draws, draws, draws], d);

        string sequential = Hash(sequentialPath);
        Assert.Equal(sequential, Threads("a.parquet", 1));
        Assert.Equal(sequential, Threads("b.parquet", 2));
        Assert.Empty(Directory.GetFiles(_dir, "*.spill"));
    }

    [Fact]
    public void Given_a_100k_parameter_network_When_the_writer_is_created_Then_a_row_group_holds_about_64_MiB()
    {
        // 1→300→300→32→1 MLP plus σ: 100,566 scalars, 4 chains, default options.
        var layout = ParameterLayout.FromShapes(
        [
            ("0.weight", [300, 1], BlockTransform.Identity, null), ("0.bias", [300], BlockTransform.Identity, null),
            ("2.weight", [300, 300], BlockTransform.Identity, null), ("2.bias", [300], BlockTransform.Identity, null),
            ("4.weight", [32, 300], BlockTransform.Identity, null), ("4.bias", [32], BlockTransform.Identity, null),
            ("6.weight", [1, 32], BlockTransform.Identity, null), ("6.bias", [1], BlockTransform.Identity, null),
            ("sigma", [], BlockTransform.Log, null),
        ]);
        string path = Path.Combine(_dir, "big.parquet");
        using var writer = new ParquetDrawWriter(path, layout, chains: 4);
        Assert.Equal(DrawsLayout.Tensor, writer.DrawsLayout);
        long groupBytes = 4L * writer.RowGroupDraws * (7 + layout.Dimension) * sizeof(double);
        Assert.InRange(groupBytes, 32L << 20, 64L << 20);
        Assert.Equal(20, writer.RowGroupDraws);
        WriteDraw(writer, 0, 0, layout.Dimension);
        writer.Complete(interrupted: true);
        SyntheticDraws.AssertHolds(ParquetDrawReader.Read(path), [1, 0, 0, 0], layout.Dimension);
    }
}
