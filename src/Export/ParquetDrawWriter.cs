using Bnn.Onnx.Nuts;
using Parquet;
using Parquet.Schema;

namespace Bnn.Onnx.Export;

/// <summary>Settings of a <see cref="ParquetDrawWriter"/>.</summary>
/// <param name="RowGroupDraws">Draws per chain in one row group: row group k holds draws [k·n, (k+1)·n) of every chain.</param>
/// <param name="Layout">Scalar or tensor columns (<see cref="DrawsLayout.Auto"/>: by size).</param>
/// <param name="RunJson">The run's settings, seed and model SHA-256 as a JSON object, stored under <c>bnn.run</c>.</param>
/// <param name="MaxBufferedBytes">
/// Completed row-group blocks of chains that run ahead are held in memory up to this many bytes, then spilled to a
/// scratch file next to the output, so memory does not grow with the number of draws whatever order chains arrive in.
/// </param>
public sealed record ParquetDrawWriterOptions(
    int RowGroupDraws = 100,
    DrawsLayout Layout = DrawsLayout.Auto,
    string? RunJson = null,
    long MaxBufferedBytes = 64L << 20);

/// <summary>
/// Streams post-warmup draws into <c>draws.parquet</c> while sampling runs (an <see cref="IDrawSink"/>).
/// <para>
/// Thread-safe: chains may call <see cref="Write"/> from different threads. The bytes written do not depend on the
/// order in which chains arrive: row group k holds draws [k·n, (k+1)·n) of every chain, in chain order, and is
/// written once every chain has passed it; <see cref="Complete"/> writes the last, partial groups.
/// </para>
/// <para>
/// The file is written under a temporary name (<c>PATH.partial</c>) and renamed on <see cref="Complete"/>; after
/// <c>Complete(interrupted: true)</c> (Ctrl-C) it is a valid file holding every completed draw, with
/// <c>bnn.status = interrupted</c>. Disposing without <see cref="Complete"/> completes as interrupted.
/// </para>
/// </summary>
public sealed class ParquetDrawWriter : IDrawSink, IDisposable, IAsyncDisposable
{
    private const int StatWidth = 7;

    private readonly object _gate = new();
    private readonly string _path;
    private readonly string _partialPath;
    private readonly ParameterLayout _layout;
    private readonly ParquetDrawWriterOptions _options;
    private readonly DrawsLayout _drawsLayout;
    private readonly int _width;
    private readonly ChainBuffer[] _chains;
    private readonly List<Field> _fields;
    private readonly FileStream _stream;
    private readonly ParquetWriter _writer;
    private long _bufferedBytes;
    private int _nextGroup;
    private bool _completed;

    /// <param name="path">The output file (replaced on <see cref="Complete"/>).</param>
    /// <param name="layout">The posterior layout; values given to <see cref="Write"/> are constrained, in its order.</param>
    /// <param name="chains">The number of chains that will write (0-based chain ids below it).</param>
    public ParquetDrawWriter(string path, ParameterLayout layout, int chains, ParquetDrawWriterOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chains, 1);
        _options = options ?? new ParquetDrawWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.RowGroupDraws, 1);
        _path = Path.GetFullPath(path);
        _partialPath = _path + ".partial";
        _layout = layout;
        _drawsLayout = DrawsSchema.Resolve(_options.Layout, layout.Dimension);
        _width = StatWidth + layout.Dimension;
        _chains = Enumerable.Range(0, chains).Select(_ => new ChainBuffer(_options.RowGroupDraws * _width)).ToArray();

        _fields = DrawsSchema.LeadingFields();
        if (_drawsLayout == DrawsLayout.Scalar)
        {
            foreach (var name in layout.ScalarNames()) _fields.Add(new DataField<double>(name));
        }
        else
        {
            foreach (var b in layout.Blocks)
                _fields.Add(b.Shape.Length == 0 ? new DataField<double>(b.Name) : new ListField(b.Name, new DataField<double>("element")));
        }

        _stream = new FileStream(_partialPath, FileMode.Create, FileAccess.ReadWrite, FileShare.Read);
        _writer = ParquetWriter.CreateAsync(new ParquetSchema(_fields), _stream).GetAwaiter().GetResult();
        _writer.CustomMetadata = Metadata("running");
    }

    /// <summary>The layout actually used (never <see cref="DrawsLayout.Auto"/>).</summary>
    public DrawsLayout DrawsLayout => _drawsLayout;

    /// <summary>The final path of the file.</summary>
    public string OutputPath => _path;

    /// <inheritdoc/>
    public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained)
    {
        lock (_gate)
        {
            if (_completed) throw new InvalidOperationException("the draws file is already complete");
            if ((uint)chain >= (uint)_chains.Length)
                throw new ArgumentOutOfRangeException(nameof(chain), $"chain {chain} is outside [0, {_chains.Length})");
            if (constrained.Length != _layout.Dimension)
                throw new ArgumentException($"draw has {constrained.Length} values, the layout has {_layout.Dimension}", nameof(constrained));
            var c = _chains[chain];
            if (draw != c.Count)
                throw new ArgumentException($"chain {chain}: expected draw {c.Count}, got {draw} (draws arrive in order per chain)", nameof(draw));

            int row = c.Count % _options.RowGroupDraws;
            var dst = c.Current.AsSpan(row * _width, _width);
            dst[0] = stats.LogDensity;
            dst[1] = stats.AcceptStat;
            dst[2] = stats.StepSize;
            dst[3] = stats.TreeDepth;
            dst[4] = stats.LeapfrogSteps;
            dst[5] = stats.Divergent ? 1 : 0;
            dst[6] = stats.Energy;
            constrained.CopyTo(dst[StatWidth..]);
            c.Count++;

            if (row == _options.RowGroupDraws - 1)
            {
                Park(chain, c, c.Count / _options.RowGroupDraws - 1);
                FlushReadyGroups();
            }
        }
    }

    /// <inheritdoc/>
    public void Complete(bool interrupted)
    {
        lock (_gate)
        {
            if (_completed) return;
            _completed = true;
            try
            {
                // Remaining groups in order; a chain's current buffer is the partial tail of its draws.
                while (true)
                {
                    bool any = false;
                    var rows = new List<(int Chain, int FirstDraw, double[] Data, int Rows)>();
                    for (int k = 0; k < _chains.Length; k++)
                    {
                        var c = _chains[k];
                        if (c.Parked.Count > 0 && c.Parked.Peek().Group == _nextGroup)
                        {
                            rows.Add(Take(k, c));
                            any = true;
                        }
                        else if (c.Count / _options.RowGroupDraws == _nextGroup && c.Count % _options.RowGroupDraws > 0)
                        {
                            rows.Add((k, _nextGroup * _options.RowGroupDraws, c.Current, c.Count % _options.RowGroupDraws));
                            any = true;
                        }
                        else if (c.Parked.Count > 0 || c.Count / _options.RowGroupDraws > _nextGroup)
                        {
                            any = true; // this chain has later draws: keep going
                        }
                    }
                    if (!any) break;
                    if (rows.Count > 0) WriteRowGroup(rows);
                    _nextGroup++;
                }

                _writer.CustomMetadata = Metadata(interrupted ? "interrupted" : "complete");
                _writer.DisposeAsync().AsTask().GetAwaiter().GetResult();
                _stream.Flush(flushToDisk: true);
                _stream.Dispose();
                File.Move(_partialPath, _path, overwrite: true);
            }
            finally
            {
                _stream.Dispose();
                foreach (var c in _chains) c.DisposeSpill();
            }
        }
    }

    public void Dispose()
    {
        if (!_completed) Complete(interrupted: true);
    }

    public ValueTask DisposeAsync()
    {
        Dispose();
        return ValueTask.CompletedTask;
    }

    private Dictionary<string, string> Metadata(string status)
    {
        var metadata = new Dictionary<string, string>
        {
            [DrawsSchema.LayoutKey] = _drawsLayout == DrawsLayout.Tensor ? "tensor" : "scalar",
            [DrawsSchema.ParametersKey] = DrawsSchema.ParametersJson(_layout),
            [DrawsSchema.StatusKey] = status,
            [DrawsSchema.ChainsKey] = _chains.Length.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        if (_options.RunJson is not null) metadata[DrawsSchema.RunKey] = _options.RunJson;
        return metadata;
    }

    /// <summary>Moves a chain's full current buffer to its parked queue, in memory or spilled to disk.</summary>
    private void Park(int chain, ChainBuffer c, int group)
    {
        long bytes = (long)c.Current.Length * sizeof(double);
        if (_bufferedBytes + bytes <= _options.MaxBufferedBytes || IsNextForAll(chain, group))
        {
            c.Parked.Enqueue(new ParkedBlock(group, c.Current, -1));
            _bufferedBytes += bytes;
            c.Current = new double[c.Current.Length];
        }
        else
        {
            c.Spill ??= new FileStream($"{_partialPath}.chain{chain}.spill", FileMode.Create, FileAccess.ReadWrite, FileShare.None,
                4096, FileOptions.DeleteOnClose);
            long offset = c.Spill.Length;
            c.Spill.Seek(offset, SeekOrigin.Begin);
            c.Spill.Write(System.Runtime.InteropServices.MemoryMarshal.AsBytes(c.Current.AsSpan()));
            c.Parked.Enqueue(new ParkedBlock(group, null, offset));
        }
    }

    /// <summary>True when every other chain has already parked <paramref name="group"/> (this block completes it).</summary>
    private bool IsNextForAll(int chain, int group)
    {
        if (group != _nextGroup) return false;
        for (int k = 0; k < _chains.Length; k++)
            if (k != chain && (_chains[k].Parked.Count == 0 || _chains[k].Parked.Peek().Group != group)) return false;
        return true;
    }

    private (int Chain, int FirstDraw, double[] Data, int Rows) Take(int chain, ChainBuffer c)
    {
        var block = c.Parked.Dequeue();
        double[] data;
        if (block.Data is not null)
        {
            data = block.Data;
            _bufferedBytes -= (long)data.Length * sizeof(double);
        }
        else
        {
            data = new double[c.Current.Length];
            c.Spill!.Seek(block.SpillOffset, SeekOrigin.Begin);
            c.Spill.ReadExactly(System.Runtime.InteropServices.MemoryMarshal.AsBytes(data.AsSpan()));
            c.Spill.Seek(0, SeekOrigin.End);
        }
        return (chain, block.Group * _options.RowGroupDraws, data, _options.RowGroupDraws);
    }

    private void FlushReadyGroups()
    {
        while (_chains.All(c => c.Parked.Count > 0 && c.Parked.Peek().Group == _nextGroup))
        {
            var rows = new List<(int, int, double[], int)>(_chains.Length);
            for (int k = 0; k < _chains.Length; k++) rows.Add(Take(k, _chains[k]));
            WriteRowGroup(rows);
            _nextGroup++;
        }
    }

    private void WriteRowGroup(List<(int Chain, int FirstDraw, double[] Data, int Rows)> blocks)
    {
        int n = blocks.Sum(b => b.Rows);
        var chain = new int[n];
        var draw = new int[n];
        int r = 0;
        foreach (var b in blocks)
            for (int i = 0; i < b.Rows; i++, r++)
            {
                chain[r] = b.Chain;
                draw[r] = b.FirstDraw + i;
            }

        using var group = _writer.CreateRowGroup();
        var fields = _fields;
        Sync(group.WriteAsync<int>((DataField)fields[0], chain));
        Sync(group.WriteAsync<int>((DataField)fields[1], draw));
        Sync(group.WriteAsync<double>((DataField)fields[2], Gather(blocks, n, 0)));
        Sync(group.WriteAsync<double>((DataField)fields[3], Gather(blocks, n, 1)));
        Sync(group.WriteAsync<double>((DataField)fields[4], Gather(blocks, n, 2)));
        Sync(group.WriteAsync<int>((DataField)fields[5], Gather(blocks, n, 3).Select(v => (int)v).ToArray()));
        Sync(group.WriteAsync<int>((DataField)fields[6], Gather(blocks, n, 4).Select(v => (int)v).ToArray()));
        Sync(group.WriteAsync<bool>((DataField)fields[7], Gather(blocks, n, 5).Select(v => v != 0).ToArray()));
        Sync(group.WriteAsync<double>((DataField)fields[8], Gather(blocks, n, 6)));

        int f = DrawsSchema.LeadingColumns;
        if (_drawsLayout == DrawsLayout.Scalar)
        {
            for (int j = 0; j < _layout.Dimension; j++, f++)
                Sync(group.WriteAsync<double>((DataField)fields[f], Gather(blocks, n, StatWidth + j)));
        }
        else
        {
            foreach (var block in _layout.Blocks)
            {
                if (block.Shape.Length == 0)
                {
                    Sync(group.WriteAsync<double>((DataField)fields[f++], Gather(blocks, n, StatWidth + block.Offset)));
                    continue;
                }
                int size = block.Size;
                var values = new double[n * size];
                var repetition = new int[n * size];
                r = 0;
                foreach (var b in blocks)
                    for (int i = 0; i < b.Rows; i++, r++)
                    {
                        b.Data.AsSpan(i * _width + StatWidth + block.Offset, size).CopyTo(values.AsSpan(r * size, size));
                        for (int e = 1; e < size; e++) repetition[r * size + e] = 1;
                    }
                // Every row holds a full list of non-null values: all definition levels are at their maximum.
                var item = (DataField)((ListField)fields[f++]).Item;
                var definition = new int[n * size];
                Array.Fill(definition, item.MaxDefinitionLevel);
                Sync(group.WriteAllPartsAsync<double>(item, values, definition, repetition, CancellationToken.None));
            }
        }
    }

    private double[] Gather(List<(int Chain, int FirstDraw, double[] Data, int Rows)> blocks, int n, int column)
    {
        var result = new double[n];
        int r = 0;
        foreach (var b in blocks)
            for (int i = 0; i < b.Rows; i++) result[r++] = b.Data[i * _width + column];
        return result;
    }

    private static void Sync(Task task) => task.GetAwaiter().GetResult();

    private sealed record ParkedBlock(int Group, double[]? Data, long SpillOffset);

    private sealed class ChainBuffer(int capacity)
    {
        public int Count;
        public double[] Current = new double[capacity];
        public readonly Queue<ParkedBlock> Parked = new();
        public FileStream? Spill;

        public void DisposeSpill()
        {
            Spill?.Dispose();
            Spill = null;
        }
    }
}
