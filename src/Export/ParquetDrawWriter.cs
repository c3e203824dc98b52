using System.Runtime.InteropServices;
using Bnn.Onnx.Nuts;
using Parquet;
using Parquet.Schema;

namespace Bnn.Onnx.Export;

/// <summary>Settings of a <see cref="ParquetDrawWriter"/>.</summary>
/// <param name="RowGroupDraws">
/// Draws per chain in one row group at most: row group k holds draws [k·n, (k+1)·n) of every chain. Wide draws
/// use fewer (see <paramref name="MaxRowGroupBytes"/>); <see cref="ParquetDrawWriter.RowGroupDraws"/> is the n used.
/// </param>
/// <param name="Layout">Scalar or tensor columns (<see cref="DrawsLayout.Auto"/>: by size).</param>
/// <param name="RunJson">The run's settings, seed and model SHA-256 as a JSON object, stored under <c>bnn.run</c>.</param>
/// <param name="MaxBufferedBytes">
/// Completed row-group blocks of chains that run ahead are held in memory up to this many bytes, then spilled to a
/// scratch file next to the output, so memory does not grow with the number of draws whatever order chains arrive in.
/// </param>
/// <param name="MaxRowGroupBytes">
/// Values (8 bytes each, sampler columns included) in one Parquet row group at most: n is lowered to
/// <c>MaxRowGroupBytes / (chains · row bytes)</c> (at least 1), and a group of n draws of every chain that is still
/// larger (very wide rows, many chains) is written as several row groups of consecutive rows. Memory while writing
/// is a small multiple of this, whatever the width of a draw.
/// </param>
internal sealed record ParquetDrawWriterOptions(
    int RowGroupDraws = 100,
    DrawsLayout Layout = DrawsLayout.Auto,
    string? RunJson = null,
    long MaxBufferedBytes = 64L << 20,
    long MaxRowGroupBytes = 64L << 20);

/// <summary>
/// Streams post-warmup draws into <c>draws.parquet</c> while sampling runs (an <see cref="IDrawSink"/>).
/// <para>
/// Thread-safe: chains may call <see cref="Write"/> from different threads. The bytes written do not depend on the
/// order in which chains arrive: group k holds draws [k·n, (k+1)·n) of every chain, in chain order, and is written
/// once every chain has passed it (as one Parquet row group, or several of consecutive rows when it exceeds
/// <see cref="ParquetDrawWriterOptions.MaxRowGroupBytes"/>); <see cref="Complete"/> writes the last, partial groups.
/// </para>
/// <para>
/// Memory does not grow with the number of draws: one block of n draws per chain, completed blocks of chains that
/// run ahead up to <see cref="ParquetDrawWriterOptions.MaxBufferedBytes"/> (the rest in fixed-size slots of a scratch
/// file, reused once written, so the scratch file is bounded by the largest lag between chains), and column buffers
/// for one row group, reused from one row group to the next.
/// </para>
/// <para>
/// The file is written under a temporary name (<c>PATH.partial</c>) and renamed on <see cref="Complete"/>; after
/// <c>Complete(interrupted: true)</c> (Ctrl-C) it is a valid file holding every completed draw, with
/// <c>bnn.status = interrupted</c>. Disposing without <see cref="Complete"/> completes as interrupted.
/// </para>
/// </summary>
internal sealed class ParquetDrawWriter : IDrawSink, IDisposable, IAsyncDisposable
{
    private const int StatWidth = 7;

    /// <summary>
    /// Row groups holding at least this many bytes of values are followed by a full garbage collection: Parquet.Net
    /// encodes and compresses each column chunk into fresh large-object-heap buffers, which the GC would otherwise let
    /// pile up to several times the live heap before collecting them.
    /// </summary>
    private const long CollectAfterBytes = 16L << 20;

    private readonly object _gate = new();
    private readonly string _path;
    private readonly string _partialPath;
    private readonly ParameterLayout _layout;
    private readonly ParquetDrawWriterOptions _options;
    private readonly DrawsLayout _drawsLayout;
    private readonly int _width;          // values per row: sampler columns, then parameters
    private readonly int _groupDraws;     // n: draws per chain in one group
    private readonly int _rowsPerRowGroup; // rows per Parquet row group at most
    private readonly int _blockLength;    // doubles in one chain's block of n draws
    private readonly ChainBuffer[] _chains;
    private readonly List<Field> _fields;
    private readonly FileStream _stream;
    private readonly ParquetWriter _writer;
    private readonly Stack<double[]> _freeBlocks = new();
    private long _bufferedBytes;
    private int _nextGroup;
    private bool _completed;

    // Scratch file of fixed-size slots, one block each; freed slots are reused, lowest first.
    private FileStream? _spill;
    private readonly SortedSet<int> _freeSlots = [];
    private int _slotCount;
    private long _spilledBlocks;

    // Column buffers of one Parquet row group, reused across row groups.
    private int[] _ints = [], _ints2 = [];
    private bool[] _bools = [];
    private double[] _doubles = [], _values = [];
    private int[] _repetition = [], _definition = [];

    /// <param name="path">The output file (replaced on <see cref="Complete"/>).</param>
    /// <param name="layout">The posterior layout; values given to <see cref="Write"/> are constrained, in its order.</param>
    /// <param name="chains">The number of chains that will write (0-based chain ids below it).</param>
    public ParquetDrawWriter(string path, ParameterLayout layout, int chains, ParquetDrawWriterOptions? options = null)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chains, 1);
        _options = options ?? new ParquetDrawWriterOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.RowGroupDraws, 1);
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MaxRowGroupBytes, 1);
        _path = Path.GetFullPath(path);
        _partialPath = _path + ".partial";
        _layout = layout;
        _drawsLayout = DrawsSchema.Resolve(_options.Layout, layout.Dimension);
        _width = StatWidth + layout.Dimension;

        long rowBytes = (long)_width * sizeof(double);
        _groupDraws = (int)Math.Clamp(_options.MaxRowGroupBytes / (rowBytes * chains), 1, _options.RowGroupDraws);
        _rowsPerRowGroup = (int)Math.Clamp(_options.MaxRowGroupBytes / rowBytes, 1, (long)_groupDraws * chains);
        _blockLength = checked(_groupDraws * _width);
        _chains = new ChainBuffer[chains];
        for (int k = 0; k < chains; k++) _chains[k] = new ChainBuffer(new double[_blockLength]);

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

    /// <summary>
    /// n, the draws per chain in one group: <see cref="ParquetDrawWriterOptions.RowGroupDraws"/>, or fewer when
    /// that many draws of every chain would exceed <see cref="ParquetDrawWriterOptions.MaxRowGroupBytes"/>.
    /// </summary>
    public int RowGroupDraws => _groupDraws;

    /// <summary>The size of the scratch file now, in bytes (0 when nothing was spilled).</summary>
    public long ScratchFileBytes
    {
        get
        {
            lock (_gate) return _spill?.Length ?? 0;
        }
    }

    /// <summary>How many blocks have been spilled to the scratch file so far.</summary>
    public long SpilledBlocks
    {
        get
        {
            lock (_gate) return _spilledBlocks;
        }
    }

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

            int row = c.Count % _groupDraws;
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

            if (row == _groupDraws - 1)
            {
                Park(chain, c, c.Count / _groupDraws - 1);
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
                var blocks = new List<Block>(_chains.Length);
                while (true)
                {
                    bool any = false;
                    blocks.Clear();
                    for (int k = 0; k < _chains.Length; k++)
                    {
                        var c = _chains[k];
                        if (c.Parked.Count > 0 && c.Parked.Peek().Group == _nextGroup)
                        {
                            blocks.Add(Take(k, c));
                            any = true;
                        }
                        else if (c.Count / _groupDraws == _nextGroup && c.Count % _groupDraws > 0)
                        {
                            blocks.Add(new Block(k, _nextGroup * _groupDraws, c.Current, c.Count % _groupDraws));
                            any = true;
                        }
                        else if (c.Parked.Count > 0 || c.Count / _groupDraws > _nextGroup)
                        {
                            any = true; // this chain has later draws: keep going
                        }
                    }
                    if (!any) break;
                    if (blocks.Count > 0) WriteGroup(blocks);
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
                _spill?.Dispose();
                _spill = null;
                _freeBlocks.Clear();
                _ints = _ints2 = _repetition = _definition = [];
                _bools = [];
                _doubles = _values = [];
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

    /// <summary>A block buffer from the free list, or a new one.</summary>
    private double[] RentBlock() => _freeBlocks.Count > 0 ? _freeBlocks.Pop() : new double[_blockLength];

    /// <summary>Moves a chain's full current buffer to its parked queue, in memory or spilled to a scratch slot.</summary>
    private void Park(int chain, ChainBuffer c, int group)
    {
        long bytes = (long)_blockLength * sizeof(double);
        if (_bufferedBytes + bytes <= _options.MaxBufferedBytes || IsNextForAll(chain, group))
        {
            c.Parked.Enqueue(new ParkedBlock(group, c.Current, -1));
            _bufferedBytes += bytes;
            c.Current = RentBlock();
        }
        else
        {
            // The current buffer is copied to disk and stays the chain's current buffer.
            _spill ??= new FileStream($"{_partialPath}.spill", FileMode.Create, FileAccess.ReadWrite, FileShare.None,
                4096, FileOptions.DeleteOnClose);
            int slot;
            if (_freeSlots.Count > 0)
            {
                slot = _freeSlots.Min;
                _freeSlots.Remove(slot);
            }
            else
            {
                slot = _slotCount++;
            }
            _spill.Seek(slot * bytes, SeekOrigin.Begin);
            _spill.Write(MemoryMarshal.AsBytes(c.Current.AsSpan()));
            c.Parked.Enqueue(new ParkedBlock(group, null, slot));
            _spilledBlocks++;
        }
    }

    /// <summary>Returns a scratch slot to the free list; trailing free slots are cut off the file.</summary>
    private void FreeSlot(int slot)
    {
        _freeSlots.Add(slot);
        if (slot != _slotCount - 1) return;
        while (_slotCount > 0 && _freeSlots.Remove(_slotCount - 1)) _slotCount--;
        _spill!.SetLength(_slotCount * (long)_blockLength * sizeof(double));
    }

    /// <summary>True when every other chain has already parked <paramref name="group"/> (this block completes it).</summary>
    private bool IsNextForAll(int chain, int group)
    {
        if (group != _nextGroup) return false;
        for (int k = 0; k < _chains.Length; k++)
            if (k != chain && (_chains[k].Parked.Count == 0 || _chains[k].Parked.Peek().Group != group)) return false;
        return true;
    }

    private Block Take(int chain, ChainBuffer c)
    {
        var parked = c.Parked.Dequeue();
        double[] data;
        if (parked.Data is not null)
        {
            data = parked.Data;
            _bufferedBytes -= (long)data.Length * sizeof(double);
        }
        else
        {
            data = RentBlock();
            _spill!.Seek(parked.Slot * (long)_blockLength * sizeof(double), SeekOrigin.Begin);
            _spill.ReadExactly(MemoryMarshal.AsBytes(data.AsSpan()));
            FreeSlot(parked.Slot);
        }
        return new Block(chain, parked.Group * _groupDraws, data, _groupDraws);
    }

    private void FlushReadyGroups()
    {
        List<Block>? blocks = null;
        while (_chains.All(c => c.Parked.Count > 0 && c.Parked.Peek().Group == _nextGroup))
        {
            blocks ??= new List<Block>(_chains.Length);
            blocks.Clear();
            for (int k = 0; k < _chains.Length; k++) blocks.Add(Take(k, _chains[k]));
            WriteGroup(blocks);
            foreach (var b in blocks) _freeBlocks.Push(b.Data);
            _nextGroup++;
        }
    }

    /// <summary>
    /// Writes one group (blocks in chain order) as Parquet row groups of at most <see cref="_rowsPerRowGroup"/>
    /// consecutive rows; the cuts depend only on the row counts, so the bytes do not depend on thread timing.
    /// </summary>
    private void WriteGroup(List<Block> blocks)
    {
        var slices = new List<Block>(blocks.Count);
        int b = 0, offset = 0;
        while (b < blocks.Count)
        {
            slices.Clear();
            int rows = 0;
            while (b < blocks.Count && rows < _rowsPerRowGroup)
            {
                var block = blocks[b];
                int take = Math.Min(block.Rows - offset, _rowsPerRowGroup - rows);
                slices.Add(block with { FirstDraw = block.FirstDraw + offset, FirstRow = offset, Rows = take });
                rows += take;
                offset += take;
                if (offset == block.Rows)
                {
                    b++;
                    offset = 0;
                }
            }
            WriteRowGroup(slices, rows);
        }
    }

    private void WriteRowGroup(List<Block> slices, int n)
    {
        Grow(ref _ints, n);
        Grow(ref _ints2, n);
        Grow(ref _bools, n);
        Grow(ref _doubles, n);
        int r = 0;
        foreach (var s in slices)
            for (int i = 0; i < s.Rows; i++, r++)
            {
                _ints[r] = s.Chain;
                _ints2[r] = s.FirstDraw + i;
            }

        using var group = _writer.CreateRowGroup();
        var fields = _fields;
        Sync(group.WriteAsync<int>((DataField)fields[0], _ints.AsMemory(0, n)));
        Sync(group.WriteAsync<int>((DataField)fields[1], _ints2.AsMemory(0, n)));
        WriteDoubles(group, fields[2], slices, n, 0);
        WriteDoubles(group, fields[3], slices, n, 1);
        WriteDoubles(group, fields[4], slices, n, 2);
        WriteInts(group, fields[5], slices, n, 3);
        WriteInts(group, fields[6], slices, n, 4);
        Gather(slices, 5, _doubles);
        for (int i = 0; i < n; i++) _bools[i] = _doubles[i] != 0;
        Sync(group.WriteAsync<bool>((DataField)fields[7], _bools.AsMemory(0, n)));
        WriteDoubles(group, fields[8], slices, n, 6);

        int f = DrawsSchema.LeadingColumns;
        if (_drawsLayout == DrawsLayout.Scalar)
        {
            for (int j = 0; j < _layout.Dimension; j++, f++) WriteDoubles(group, fields[f], slices, n, StatWidth + j);
        }
        else
        {
            foreach (var block in _layout.Blocks)
            {
                if (block.Shape.Length == 0)
                {
                    WriteDoubles(group, fields[f++], slices, n, StatWidth + block.Offset);
                    continue;
                }
                // One LIST<DOUBLE> chunk: the block's values row after row; each row's list starts at repetition
                // level 0 and continues at 1; every value is present, so all definition levels are at their maximum.
                int size = block.Size;
                int count = checked(n * size);
                var item = (DataField)((ListField)fields[f++]).Item;
                Grow(ref _values, count);
                if (_repetition.Length < count)
                {
                    _repetition = [];
                    _definition = [];
                    _repetition = new int[count];
                    _definition = new int[count];
                }
                r = 0;
                foreach (var s in slices)
                    for (int i = 0; i < s.Rows; i++, r++)
                        s.Data.AsSpan((s.FirstRow + i) * _width + StatWidth + block.Offset, size).CopyTo(_values.AsSpan(r * size, size));
                Array.Fill(_repetition, 1, 0, count);
                for (int row = 0; row < n; row++) _repetition[row * size] = 0;
                Array.Fill(_definition, item.MaxDefinitionLevel, 0, count);
                Sync(group.WriteAllPartsAsync<double>(item, _values.AsMemory(0, count), _definition.AsMemory(0, count),
                    _repetition.AsMemory(0, count), CancellationToken.None));
            }
        }

        if ((long)n * _width * sizeof(double) >= CollectAfterBytes) GC.Collect();
    }

    private void WriteDoubles(ParquetRowGroupWriter group, Field field, List<Block> slices, int n, int column)
    {
        Gather(slices, column, _doubles);
        Sync(group.WriteAsync<double>((DataField)field, _doubles.AsMemory(0, n)));
    }

    private void WriteInts(ParquetRowGroupWriter group, Field field, List<Block> slices, int n, int column)
    {
        Gather(slices, column, _doubles);
        for (int i = 0; i < n; i++) _ints[i] = (int)_doubles[i];
        Sync(group.WriteAsync<int>((DataField)field, _ints.AsMemory(0, n)));
    }

    private void Gather(List<Block> slices, int column, double[] destination)
    {
        int r = 0;
        foreach (var s in slices)
            for (int i = 0; i < s.Rows; i++) destination[r++] = s.Data[(s.FirstRow + i) * _width + column];
    }

    /// <summary>Makes <paramref name="buffer"/> hold at least <paramref name="length"/> elements (contents not kept).</summary>
    private static void Grow<T>(ref T[] buffer, int length)
    {
        if (buffer.Length >= length) return;
        buffer = []; // let the old buffer go before the new one is allocated
        buffer = new T[length];
    }

    private static void Sync(Task task) => task.GetAwaiter().GetResult();

    /// <summary>Rows [FirstRow, FirstRow + Rows) of a chain's block, the first being draw <paramref name="FirstDraw"/>.</summary>
    private readonly record struct Block(int Chain, int FirstDraw, double[] Data, int Rows, int FirstRow = 0);

    /// <summary>A completed block: in memory (<paramref name="Data"/>) or in scratch slot <paramref name="Slot"/>.</summary>
    private readonly record struct ParkedBlock(int Group, double[]? Data, int Slot);

    private sealed class ChainBuffer(double[] current)
    {
        public int Count;
        public double[] Current = current;
        public readonly Queue<ParkedBlock> Parked = new();
    }
}
