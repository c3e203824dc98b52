using Bnn.Onnx.Nuts;
using Parquet;
using Parquet.Schema;

namespace Bnn.Onnx.Export;

/// <summary>
/// Which draws of each chain a streamed read keeps: draws <c>0, Thin, 2·Thin, …</c> below
/// <paramref name="DrawsPerChain"/> (an even thinning of the first <paramref name="DrawsPerChain"/> draws).
/// </summary>
/// <param name="DrawsPerChain">Draws of each chain considered; chains holding fewer keep what they have.</param>
/// <param name="Thin">Keep every <c>Thin</c>-th draw (1: all of them).</param>
internal sealed record DrawSelection(int DrawsPerChain = int.MaxValue, int Thin = 1)
{
    /// <summary>Every draw of every chain.</summary>
    public static DrawSelection All { get; } = new();

    /// <summary>How many draws a chain holding <paramref name="available"/> draws keeps.</summary>
    public int Kept(int available)
    {
        int n = Math.Min(Math.Max(available, 0), DrawsPerChain);
        return n == 0 ? 0 : (n - 1) / Thin + 1;
    }

    internal void Validate()
    {
        ArgumentOutOfRangeException.ThrowIfNegative(DrawsPerChain);
        ArgumentOutOfRangeException.ThrowIfLessThan(Thin, 1);
    }
}

/// <summary>
/// Reads a <c>draws.parquet</c> written by <see cref="ParquetDrawWriter"/> one row group at a time, decoding only
/// the column chunks asked for, so memory is bounded by the columns returned plus one row group of one column
/// (whatever the number of draws). <see cref="Open"/> reads the footer and the <c>chain</c>/<c>draw</c> columns
/// (8 bytes per row) and checks that every chain's draws are in order; each <see cref="ReadColumns"/> call is one
/// pass over the row groups. With scalar columns a pass reads just the requested columns; with tensor columns
/// (LIST&lt;DOUBLE&gt;) it decodes the whole tensor of every block it touches.
/// The file is opened for each pass and closed after it; the reader holds no handle between calls.
/// </summary>
internal sealed class ParquetDrawStreamReader
{
    /// <summary>After decoding this many bytes of tensor chunks, a full garbage collection frees their page buffers.</summary>
    private const long LargeChunkBytes = 64L << 20;

    /// <summary>Tensor bytes decoded since the last collection.</summary>
    private long _decodedSinceCollect;

    private readonly int[][] _chainIds;  // [row group][row]
    private readonly int[][] _drawIds;   // [row group][row]
    private readonly Dictionary<string, int> _columnIndex;
    private double[] _values = [];
    private int[] _definition = [], _repetition = [];

    private ParquetDrawStreamReader(string path, ParameterLayout layout, DrawsLayout drawsLayout,
        IReadOnlyDictionary<string, string> metadata, int[] drawCounts, int[][] chainIds, int[][] drawIds)
    {
        Path = path;
        Layout = layout;
        DrawsLayout = drawsLayout;
        Metadata = metadata;
        DrawCounts = drawCounts;
        _chainIds = chainIds;
        _drawIds = drawIds;
        ColumnNames = [.. SamplerStats.ColumnNames, .. layout.ScalarNames()];
        _columnIndex = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < ColumnNames.Count; i++) _columnIndex.TryAdd(ColumnNames[i], i);
    }

    public string Path { get; }

    public ParameterLayout Layout { get; }

    /// <summary>How the file stores parameters (scalar or tensor columns).</summary>
    public DrawsLayout DrawsLayout { get; }

    /// <summary>The file's key-value metadata (<c>bnn.parameters</c>, <c>bnn.run</c>, <c>bnn.status</c>, …).</summary>
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>True when the run that wrote the file stopped early.</summary>
    public bool Interrupted => Metadata.TryGetValue(DrawsSchema.StatusKey, out var v) && v != "complete";

    /// <summary>The run's settings (<c>bnn.run</c> metadata), if recorded.</summary>
    public string? RunJson => Metadata.TryGetValue(DrawsSchema.RunKey, out var v) ? v : null;

    /// <summary>Draws in all chains.</summary>
    public int TotalDraws => DrawCounts.Sum();

    public int Chains => DrawCounts.Count;

    /// <summary>Draws per chain.</summary>
    public IReadOnlyList<int> DrawCounts { get; }

    /// <summary>The draws every chain holds (the shortest chain's count; 0 without chains).</summary>
    public int ShortestChain => DrawCounts.Count == 0 ? 0 : DrawCounts.Min();

    public int RowGroupCount => _chainIds.Length;

    /// <summary>
    /// As <see cref="DrawsTable.ColumnNames"/>: the sampler columns (<c>lp__</c> … <c>energy__</c>) then one per
    /// scalar parameter (<c>0.weight[3,0]</c>, <c>sigma</c>), whatever the file's layout.
    /// </summary>
    public IReadOnlyList<string> ColumnNames { get; }

    /// <summary>Number of passes over the row groups made by <see cref="ReadColumns"/> so far.</summary>
    public int Passes { get; private set; }

    /// <summary>
    /// The largest decoding buffer a pass has held for one column chunk of one row group, in bytes (values plus
    /// repetition and definition levels of a tensor column; zero for scalar columns, which need one row group's doubles).
    /// </summary>
    public long LargestChunkBufferBytes { get; private set; }

    /// <summary>Opens <paramref name="path"/>: reads the footer and the chain and draw ids, and checks them.</summary>
    public static ParquetDrawStreamReader Open(string path) => OpenAsync(path).GetAwaiter().GetResult();

    /// <inheritdoc cref="Open"/>
    public static async Task<ParquetDrawStreamReader> OpenAsync(string path, CancellationToken cancellationToken = default)
    {
        await using var reader = await OpenFile(path, cancellationToken);
        var metadata = new Dictionary<string, string>(reader.CustomMetadata ?? new Dictionary<string, string>());
        if (!metadata.TryGetValue(DrawsSchema.ParametersKey, out var parametersJson))
            throw new InvalidDataException($"{path}: no '{DrawsSchema.ParametersKey}' metadata (not a bnn draws file)");
        var layout = DrawsSchema.ParseParametersJson(parametersJson);
        var drawsLayout = metadata.TryGetValue(DrawsSchema.LayoutKey, out var l) && l == "tensor" ? DrawsLayout.Tensor : DrawsLayout.Scalar;
        var fields = reader.Schema.Fields;
        int expected = DrawsSchema.LeadingColumns + (drawsLayout == DrawsLayout.Scalar ? layout.Dimension : layout.Blocks.Count);
        if (fields.Count != expected)
            throw new InvalidDataException($"{path}: {fields.Count} columns, the layout needs {expected}");

        var chainIds = new int[reader.RowGroupCount][];
        var drawIds = new int[reader.RowGroupCount][];
        var drawSeen = new List<int>();
        for (int g = 0; g < reader.RowGroupCount; g++)
        {
            using var rg = reader.OpenRowGroupReader(g);
            int n = checked((int)rg.RowCount);
            var chain = chainIds[g] = new int[n];
            var draw = drawIds[g] = new int[n];
            await rg.ReadAsync<int>((DataField)fields[0], chain.AsMemory(), null, cancellationToken);
            await rg.ReadAsync<int>((DataField)fields[1], draw.AsMemory(), null, cancellationToken);
            for (int i = 0; i < n; i++)
            {
                int c = chain[i];
                if (c < 0) throw new InvalidDataException($"{path}: negative chain id {c}");
                while (drawSeen.Count <= c) drawSeen.Add(0);
                if (draw[i] != drawSeen[c])
                    throw new InvalidDataException($"{path}: chain {c} draw {draw[i]} out of order (expected {drawSeen[c]})");
                drawSeen[c]++;
            }
        }
        if (metadata.TryGetValue(DrawsSchema.ChainsKey, out var chainsText) && int.TryParse(chainsText, out int declared))
            while (drawSeen.Count < declared) drawSeen.Add(0);
        return new ParquetDrawStreamReader(path, layout, drawsLayout, metadata, drawSeen.ToArray(), chainIds, drawIds);
    }

    /// <summary>
    /// Reads the named columns (names from <see cref="ColumnNames"/>) in one pass over the row groups, keeping the
    /// draws <paramref name="selection"/> picks. The result is <c>[column][chain][kept draw]</c>, in the order of
    /// <paramref name="names"/>. Integer and boolean sampler columns are converted exactly.
    /// </summary>
    public double[][][] ReadColumns(IReadOnlyList<string> names, DrawSelection? selection = null) =>
        ReadColumnsAsync(names, selection).GetAwaiter().GetResult();

    /// <inheritdoc cref="ReadColumns"/>
    public async Task<double[][][]> ReadColumnsAsync(IReadOnlyList<string> names, DrawSelection? selection = null,
        CancellationToken cancellationToken = default)
    {
        selection ??= DrawSelection.All;
        selection.Validate();
        int statCount = SamplerStats.ColumnNames.Count;

        // Requested column -> its source: a sampler column, a scalar column, or an element of a tensor block.
        var result = new double[names.Count][][];
        var statTargets = new List<(int Stat, int Result)>();
        var scalarTargets = new List<(int Scalar, int Result)>();
        var blockTargets = new SortedDictionary<int, List<(int Element, int Result)>>();
        for (int k = 0; k < names.Count; k++)
        {
            if (!_columnIndex.TryGetValue(names[k], out int column))
                throw new ArgumentException($"{Path}: no column '{names[k]}'", nameof(names));
            result[k] = DrawCounts.Select(n => new double[selection.Kept(n)]).ToArray();
            if (column < statCount) statTargets.Add((column, k));
            else if (DrawsLayout == DrawsLayout.Scalar) scalarTargets.Add((column - statCount, k));
            else
            {
                int scalar = column - statCount;
                int b = BlockOf(scalar);
                if (!blockTargets.TryGetValue(b, out var list)) blockTargets[b] = list = [];
                list.Add((scalar - Layout.Blocks[b].Offset, k));
            }
        }
        Passes++;
        if (names.Count == 0) return result;

        await using var reader = await OpenFile(Path, cancellationToken);
        var fields = reader.Schema.Fields;
        var rowValues = Array.Empty<double>();
        var rowInts = Array.Empty<int>();
        var rowBools = Array.Empty<bool>();
        for (int g = 0; g < _chainIds.Length; g++)
        {
            // The rows of this group that the selection keeps, and where each goes.
            var chain = _chainIds[g];
            var draw = _drawIds[g];
            var rows = new List<(int Row, int Chain, int Slot)>();
            for (int i = 0; i < chain.Length; i++)
            {
                int d = draw[i];
                if (d < selection.DrawsPerChain && d % selection.Thin == 0) rows.Add((i, chain[i], d / selection.Thin));
            }
            if (rows.Count == 0) continue;

            using var rg = reader.OpenRowGroupReader(g);
            int n = chain.Length;
            if (rowValues.Length < n)
            {
                rowValues = new double[n];
                rowInts = new int[n];
                rowBools = new bool[n];
            }

            foreach (var (stat, k) in statTargets)
            {
                var field = (DataField)fields[2 + stat];
                if (field.ClrType == typeof(int))
                {
                    await rg.ReadAsync<int>(field, rowInts.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, c, slot) in rows) result[k][c][slot] = rowInts[row];
                }
                else if (field.ClrType == typeof(bool))
                {
                    await rg.ReadAsync<bool>(field, rowBools.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, c, slot) in rows) result[k][c][slot] = rowBools[row] ? 1.0 : 0.0;
                }
                else
                {
                    await rg.ReadAsync<double>(field, rowValues.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, c, slot) in rows) result[k][c][slot] = rowValues[row];
                }
            }

            foreach (var (scalar, k) in scalarTargets)
            {
                await rg.ReadAsync<double>((DataField)fields[DrawsSchema.LeadingColumns + scalar], rowValues.AsMemory(0, n), null, cancellationToken);
                foreach (var (row, c, slot) in rows) result[k][c][slot] = rowValues[row];
            }

            foreach (var (b, targets) in blockTargets)
            {
                var block = Layout.Blocks[b];
                int size = block.Size;
                var field = fields[DrawsSchema.LeadingColumns + b];
                if (field is not ListField list)
                {
                    // Rank-0 blocks (σ) are plain DOUBLE columns in the tensor layout too.
                    await rg.ReadAsync<double>((DataField)field, rowValues.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, c, slot) in rows)
                        foreach (var (element, k) in targets) result[k][c][slot] = rowValues[row];
                    continue;
                }
                await DecodeTensorAsync(rg, (DataField)list.Item, n, block, g, cancellationToken);
                foreach (var (row, c, slot) in rows)
                {
                    int first = row * size;
                    foreach (var (element, k) in targets) result[k][c][slot] = _values[first + element];
                }
            }
        }
        return result;
    }

    /// <summary>
    /// The whole draws (constrained values, layout order) at <paramref name="picks"/> (chain, draw), in that order,
    /// in one pass over the row groups: memory is the picked draws plus one row group of one column, whatever the
    /// number of draws in the file.
    /// </summary>
    public double[][] ReadDraws(IReadOnlyList<(int Chain, int Draw)> picks) => ReadDrawsAsync(picks).GetAwaiter().GetResult();

    /// <inheritdoc cref="ReadDraws"/>
    public async Task<double[][]> ReadDrawsAsync(IReadOnlyList<(int Chain, int Draw)> picks, CancellationToken cancellationToken = default)
    {
        var result = new double[picks.Count][];
        var wanted = new Dictionary<(int, int), List<int>>();
        for (int i = 0; i < picks.Count; i++)
        {
            var (chain, draw) = picks[i];
            if (chain < 0 || chain >= Chains || draw < 0 || draw >= DrawCounts[chain])
                throw new ArgumentOutOfRangeException(nameof(picks), $"{Path}: no draw {draw} in chain {chain}");
            if (!wanted.TryGetValue((chain, draw), out var slots)) wanted[(chain, draw)] = slots = [];
            slots.Add(i);
        }
        Passes++;
        if (picks.Count == 0) return result;

        await using var reader = await OpenFile(Path, cancellationToken);
        var fields = reader.Schema.Fields;
        var rowValues = Array.Empty<double>();
        for (int g = 0; g < _chainIds.Length; g++)
        {
            var rows = new List<(int Row, List<int> Slots)>();
            for (int i = 0; i < _chainIds[g].Length; i++)
                if (wanted.TryGetValue((_chainIds[g][i], _drawIds[g][i]), out var slots)) rows.Add((i, slots));
            if (rows.Count == 0) continue;

            using var rg = reader.OpenRowGroupReader(g);
            int n = _chainIds[g].Length;
            if (rowValues.Length < n) rowValues = new double[n];
            foreach (var (_, slots) in rows)
                foreach (int slot in slots) result[slot] ??= new double[Layout.Dimension];

            if (DrawsLayout == DrawsLayout.Scalar)
            {
                for (int j = 0; j < Layout.Dimension; j++)
                {
                    await rg.ReadAsync<double>((DataField)fields[DrawsSchema.LeadingColumns + j], rowValues.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, slots) in rows)
                        foreach (int slot in slots) result[slot][j] = rowValues[row];
                }
                continue;
            }
            for (int b = 0; b < Layout.Blocks.Count; b++)
            {
                var block = Layout.Blocks[b];
                var field = fields[DrawsSchema.LeadingColumns + b];
                if (field is not ListField list)
                {
                    await rg.ReadAsync<double>((DataField)field, rowValues.AsMemory(0, n), null, cancellationToken);
                    foreach (var (row, slots) in rows)
                        foreach (int slot in slots) result[slot][block.Offset] = rowValues[row];
                    continue;
                }
                await DecodeTensorAsync(rg, (DataField)list.Item, n, block, g, cancellationToken);
                foreach (var (row, slots) in rows)
                    foreach (int slot in slots) _values.AsSpan(row * block.Size, block.Size).CopyTo(result[slot].AsSpan(block.Offset));
            }
        }
        return result;
    }

    /// <summary>
    /// Decodes one row group (<paramref name="n"/> rows) of a tensor column into <see cref="_values"/> (row-major,
    /// <c>block.Size</c> values a row), checking that every row holds exactly that many values.
    /// </summary>
    private async Task DecodeTensorAsync(ParquetRowGroupReader rg, DataField dataField, int n, ParameterBlock block, int g, CancellationToken cancellationToken)
    {
        int size = block.Size;
        int count = checked(n * size);
        if (_values.Length < count)
        {
            // One row group of one tensor: bounded by the writer's row-group size, not by the number of draws.
            _values = [];
            _definition = [];
            _repetition = [];
            _values = new double[count];
            _definition = new int[count];
            _repetition = new int[count];
            LargestChunkBufferBytes = Math.Max(LargestChunkBufferBytes, (long)count * (sizeof(double) + 2 * sizeof(int)));
        }
        Array.Fill(_definition, -1, 0, count); // a short column chunk must not pass on a previous group's levels
        await rg.ReadRawAsync<double>(dataField, _values.AsMemory(0, count), _definition.AsMemory(0, count), _repetition.AsMemory(0, count), cancellationToken);
        int maxDefinition = dataField.MaxDefinitionLevel;
        for (int row = 0, i = 0; row < n; row++)
            for (int e = 0; e < size; e++, i++)
                if ((_repetition[i] == 0) != (e == 0) || _definition[i] != maxDefinition)
                    throw new InvalidDataException($"{Path}: column '{block.Name}' in row group {g} does not hold {size} values per row");
        // Decoding large chunks leaves hundreds of MB of dead page buffers on the large-object heap, which the
        // GC would otherwise let pile up to several GB before a full collection; collect them every 64 MB
        // decoded (row groups of wide files are capped near that size, so no single chunk need reach it).
        _decodedSinceCollect += (long)count * sizeof(double);
        if (_decodedSinceCollect >= LargeChunkBytes)
        {
            _decodedSinceCollect = 0;
            GC.Collect();
        }
    }

    /// <summary>Lets go of the decoding buffers kept between passes.</summary>
    public void ReleaseBuffers()
    {
        _values = [];
        _definition = [];
        _repetition = [];
    }

    private int BlockOf(int scalar)
    {
        var blocks = Layout.Blocks;
        int lo = 0, hi = blocks.Count - 1;
        while (lo < hi)
        {
            int mid = (lo + hi + 1) / 2;
            if (blocks[mid].Offset <= scalar) lo = mid; else hi = mid - 1;
        }
        return lo;
    }

    private static async Task<ParquetReader> OpenFile(string path, CancellationToken cancellationToken)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"draws file not found: {path}", path);
        try
        {
            return await ParquetReader.CreateAsync(path, cancellationToken: cancellationToken);
        }
        catch (Exception ex) when (ex is not OperationCanceledException and not FileNotFoundException
            and not DirectoryNotFoundException and not UnauthorizedAccessException)
        {
            throw new InvalidDataException($"{path}: not a readable Parquet file ({ex.Message})");
        }
    }
}
