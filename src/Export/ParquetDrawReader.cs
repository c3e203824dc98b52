using Bnn.Onnx.Nuts;
using Parquet;
using Parquet.Schema;

namespace Bnn.Onnx.Export;

/// <summary>
/// A draws file read into memory: the layout, the metadata, and every column as [chain][draw] arrays.
/// Chains may hold different numbers of draws (a run interrupted mid-way).
/// </summary>
internal sealed class DrawsTable
{
    private readonly Dictionary<string, int> _columnIndex;
    private readonly double[][][] _columns; // [column][chain][draw]

    internal DrawsTable(ParameterLayout layout, DrawsLayout drawsLayout, IReadOnlyDictionary<string, string> metadata,
        IReadOnlyList<string> columnNames, double[][][] columns)
    {
        Layout = layout;
        DrawsLayout = drawsLayout;
        Metadata = metadata;
        ColumnNames = columnNames;
        _columns = columns;
        _columnIndex = columnNames.Select((n, i) => (n, i)).ToDictionary(p => p.n, p => p.i);
        Chains = columns.Length > 0 ? columns[0].Length : 0;
        DrawCounts = Enumerable.Range(0, Chains).Select(c => columns[0][c].Length).ToArray();
    }

    public ParameterLayout Layout { get; }

    /// <summary>How the file stores parameters (scalar or tensor columns).</summary>
    public DrawsLayout DrawsLayout { get; }

    /// <summary>The file's key-value metadata (<c>bnn.parameters</c>, <c>bnn.run</c>, <c>bnn.status</c>, …).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>The <c>bnn.run</c> JSON, or null.</summary>
    public string? RunJson => Metadata.TryGetValue(DrawsSchema.RunKey, out var v) ? v : null;

    /// <summary>True when the run that wrote the file stopped early.</summary>
    public bool Interrupted => Metadata.TryGetValue(DrawsSchema.StatusKey, out var v) && v != "complete";

    public int Chains { get; }

    /// <summary>Draws per chain.</summary>
    public IReadOnlyList<int> DrawCounts { get; }

    public int TotalDraws => DrawCounts.Sum();

    /// <summary>
    /// The sampler columns (<c>lp__</c> … <c>energy__</c>, as doubles) then one per scalar parameter
    /// (<c>0.weight[3,0]</c>, <c>sigma</c>), whatever the file's layout.
    /// </summary>
    public IReadOnlyList<string> ColumnNames { get; }

    /// <summary>A column as [chain][draw]. Integer and boolean sampler columns are converted exactly.</summary>
    public double[][] Column(string name) =>
        _columnIndex.TryGetValue(name, out int i) ? _columns[i] : throw new ArgumentException($"draws file has no column '{name}'", nameof(name));

    /// <summary>The constrained parameter vector of one draw, in <see cref="Layout"/> order.</summary>
    public double[] Draw(int chain, int draw)
    {
        var result = new double[Layout.Dimension];
        int first = SamplerStats.ColumnNames.Count;
        for (int j = 0; j < result.Length; j++) result[j] = _columns[first + j][chain][draw];
        return result;
    }

    /// <summary>The sampler statistics of one draw.</summary>
    public SamplerStats Stats(int chain, int draw) => new(
        _columns[0][chain][draw], _columns[1][chain][draw], _columns[2][chain][draw], (int)_columns[3][chain][draw],
        (int)_columns[4][chain][draw], _columns[5][chain][draw] != 0, _columns[6][chain][draw]);
}

/// <summary>Reads a <c>draws.parquet</c> written by <see cref="ParquetDrawWriter"/>.</summary>
internal static class ParquetDrawReader
{
    public static DrawsTable Read(string path) => ReadAsync(path).GetAwaiter().GetResult();

    /// <summary>
    /// Reads only the named columns (sampler columns or scalar parameter names, as in <see cref="DrawsTable.ColumnNames"/>)
    /// as <c>[column][chain][draw]</c>, one row group at a time, keeping the draws <paramref name="selection"/> picks
    /// (default: all). Memory holds the result plus one row group of one column; see <see cref="ParquetDrawStreamReader"/>.
    /// </summary>
    public static double[][][] ReadColumns(string path, IReadOnlyList<string> names, DrawSelection? selection = null) =>
        ParquetDrawStreamReader.Open(path).ReadColumns(names, selection);

    public static async Task<DrawsTable> ReadAsync(string path, CancellationToken cancellationToken = default)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"draws file not found: {path}", path);
        ParquetReader reader;
        try
        {
            reader = await ParquetReader.CreateAsync(path, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is not IOException and not OperationCanceledException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})");
        }

        await using (reader)
        {
            var metadata = reader.CustomMetadata ?? new Dictionary<string, string>();
            if (!metadata.TryGetValue(DrawsSchema.ParametersKey, out var parametersJson))
                throw new InvalidDataException($"{path}: no '{DrawsSchema.ParametersKey}' metadata (not a bnn draws file)");
            var layout = DrawsSchema.ParseParametersJson(parametersJson);
            var drawsLayout = metadata.TryGetValue(DrawsSchema.LayoutKey, out var l) && l == "tensor" ? DrawsLayout.Tensor : DrawsLayout.Scalar;

            var fields = reader.Schema.Fields;
            int expected = DrawsSchema.LeadingColumns +
                (drawsLayout == DrawsLayout.Scalar ? layout.Dimension : layout.Blocks.Count);
            if (fields.Count != expected)
                throw new InvalidDataException($"{path}: {fields.Count} columns, the layout needs {expected}");

            int d = layout.Dimension;
            int statCount = SamplerStats.ColumnNames.Count;
            // Row buffers per chain: stats then parameters, as doubles.
            var perChain = new List<List<double[]>>();
            var drawSeen = new List<int>();

            for (int g = 0; g < reader.RowGroupCount; g++)
            {
                using var rg = reader.OpenRowGroupReader(g);
                int n = checked((int)rg.RowCount);
                var chain = await ReadInts(rg, (DataField)fields[0], n, cancellationToken);
                var draw = await ReadInts(rg, (DataField)fields[1], n, cancellationToken);
                var rows = new double[n][];
                for (int i = 0; i < n; i++) rows[i] = new double[statCount + d];

                for (int s = 0; s < statCount; s++)
                {
                    var field = (DataField)fields[2 + s];
                    double[] values = field.ClrType == typeof(int) ? (await ReadInts(rg, field, n, cancellationToken)).Select(v => (double)v).ToArray()
                        : field.ClrType == typeof(bool) ? (await ReadBools(rg, field, n, cancellationToken)).Select(v => v ? 1.0 : 0.0).ToArray()
                        : await ReadDoubles(rg, field, n, cancellationToken);
                    for (int i = 0; i < n; i++) rows[i][s] = values[i];
                }

                if (drawsLayout == DrawsLayout.Scalar)
                {
                    for (int j = 0; j < d; j++)
                    {
                        var values = await ReadDoubles(rg, (DataField)fields[DrawsSchema.LeadingColumns + j], n, cancellationToken);
                        for (int i = 0; i < n; i++) rows[i][statCount + j] = values[i];
                    }
                }
                else
                {
                    for (int b = 0; b < layout.Blocks.Count; b++)
                    {
                        var block = layout.Blocks[b];
                        var field = fields[DrawsSchema.LeadingColumns + b];
                        var dataField = field is ListField list ? (DataField)list.Item : (DataField)field;
                        var values = new double[n * block.Size];
                        var repetition = new int[n * block.Size];
                        var definition = new int[n * block.Size];
                        await rg.ReadRawAsync<double>(dataField, values.AsMemory(), definition.AsMemory(), repetition.AsMemory(), cancellationToken);
                        for (int i = 0; i < values.Length; i++)
                            if ((repetition[i] == 0) != (i % block.Size == 0) || definition[i] != dataField.MaxDefinitionLevel)
                                throw new InvalidDataException($"{path}: column '{block.Name}' in row group {g} does not hold {block.Size} values per row");
                        for (int i = 0; i < n; i++)
                            values.AsSpan(i * block.Size, block.Size).CopyTo(rows[i].AsSpan(statCount + block.Offset, block.Size));
                    }
                }

                for (int i = 0; i < n; i++)
                {
                    int c = chain[i];
                    if (c < 0) throw new InvalidDataException($"{path}: negative chain id {c}");
                    while (perChain.Count <= c)
                    {
                        perChain.Add([]);
                        drawSeen.Add(0);
                    }
                    if (draw[i] != drawSeen[c])
                        throw new InvalidDataException($"{path}: chain {c} draw {draw[i]} out of order (expected {drawSeen[c]})");
                    drawSeen[c]++;
                    perChain[c].Add(rows[i]);
                }
            }

            if (metadata.TryGetValue(DrawsSchema.ChainsKey, out var chainsText) && int.TryParse(chainsText, out int declared))
                while (perChain.Count < declared) perChain.Add([]);

            var names = new List<string>(SamplerStats.ColumnNames);
            names.AddRange(layout.ScalarNames());
            var columns = new double[names.Count][][];
            for (int col = 0; col < names.Count; col++)
            {
                columns[col] = new double[perChain.Count][];
                for (int c = 0; c < perChain.Count; c++)
                {
                    var list = perChain[c];
                    var column = new double[list.Count];
                    for (int i = 0; i < column.Length; i++) column[i] = list[i][col];
                    columns[col][c] = column;
                }
            }
            return new DrawsTable(layout, drawsLayout, new Dictionary<string, string>(metadata), names, columns);
        }
    }

    private static async Task<int[]> ReadInts(ParquetRowGroupReader rg, DataField field, int n, CancellationToken ct)
    {
        var values = new int[n];
        await rg.ReadAsync<int>(field, values.AsMemory(), null, ct);
        return values;
    }

    private static async Task<bool[]> ReadBools(ParquetRowGroupReader rg, DataField field, int n, CancellationToken ct)
    {
        var values = new bool[n];
        await rg.ReadAsync<bool>(field, values.AsMemory(), null, ct);
        return values;
    }

    private static async Task<double[]> ReadDoubles(ParquetRowGroupReader rg, DataField field, int n, CancellationToken ct)
    {
        var values = new double[n];
        await rg.ReadAsync<double>(field, values.AsMemory(), null, ct);
        return values;
    }
}
