using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Export;

/// <summary>Settings of a <see cref="StreamedDrawTable"/>.</summary>
/// <param name="MemoryBudgetBytes">
/// The most bytes of parameter draws held at once. Parameters are loaded in batches of columns that fit it, one pass
/// over the file per batch; only when a single file column (one scalar, or one tensor in the tensor layout) does not
/// fit are the parameter draws thinned evenly.
/// </param>
/// <param name="DrawsPerChain">Draws of each chain used (null: the shortest chain's count, as for an interrupted run).</param>
/// <param name="SamplerColumns">Also serve <c>lp__</c> … <c>energy__</c> (every draw, never thinned, outside the budget).</param>
internal sealed record StreamedDrawTableOptions(
    long MemoryBudgetBytes = StreamedDrawTableOptions.DefaultMemoryBudgetBytes,
    int? DrawsPerChain = null,
    bool SamplerColumns = true)
{
    /// <summary>512 MiB.</summary>
    public const long DefaultMemoryBudgetBytes = 512L << 20;
}

/// <summary>
/// A draws file seen as an <see cref="IDrawTable"/> for the posterior summary, in bounded memory: every parameter
/// (by scalar name, in layout order), then the sampler columns. A per-parameter summary needs all draws of that
/// parameter at once (rank normalisation, ESS), so parameters are read in batches of columns whose draws fit
/// <see cref="StreamedDrawTableOptions.MemoryBudgetBytes"/>, one pass over the row groups per batch; reading the
/// variables in order (as <see cref="PosteriorSummary.Summarize(IDrawTable, Func{string, bool}?)"/> does) reads each
/// file column once. When everything fits, one pass, and the values are those of <see cref="ParquetDrawReader.Read"/>.
/// <para>
/// When one file column alone exceeds the budget (a large tensor in the tensor layout; re-decoding it once per
/// slice would cost a pass over the whole file per slice), the parameter columns keep every
/// <see cref="Thinning"/>-th draw of each chain instead, and <see cref="Note"/> says so. Their
/// <c>[chain][draw]</c> arrays are then shorter than <see cref="DrawsPerChain"/>; sampler columns never are.
/// </para>
/// </summary>
internal sealed class StreamedDrawTable : IDrawTable
{
    private readonly ParquetDrawStreamReader _reader;
    private readonly StreamedDrawTableOptions _options;
    private readonly string[] _parameterNames;
    private readonly Dictionary<string, int> _parameterIndex;
    private readonly int[] _batchStart; // first scalar of each batch; one more entry = Dimension
    private readonly DrawSelection _parameterSelection;
    private int _loadedBatch = -1;
    private double[][][]? _loaded;
    private Dictionary<string, double[][]>? _samplerColumns;

    public StreamedDrawTable(ParquetDrawStreamReader reader, StreamedDrawTableOptions? options = null)
    {
        _reader = reader;
        _options = options ?? new StreamedDrawTableOptions();
        ArgumentOutOfRangeException.ThrowIfLessThan(_options.MemoryBudgetBytes, 1);
        Chains = reader.Chains;
        DrawsPerChain = Math.Min(_options.DrawsPerChain ?? reader.ShortestChain, reader.ShortestChain);
        ArgumentOutOfRangeException.ThrowIfNegative(DrawsPerChain);

        var layout = reader.Layout;
        _parameterNames = layout.ScalarNames().ToArray();
        _parameterIndex = new Dictionary<string, int>(_parameterNames.Length, StringComparer.Ordinal);
        for (int i = 0; i < _parameterNames.Length; i++) _parameterIndex.TryAdd(_parameterNames[i], i);
        Variables = _options.SamplerColumns ? [.. _parameterNames, .. SamplerStats.ColumnNames] : (string[])[.. _parameterNames];

        // The file's columns: one per scalar, or one per tensor (read whole).
        var units = reader.DrawsLayout == DrawsLayout.Scalar
            ? Enumerable.Range(0, layout.Dimension).Select(j => (Start: j, Size: 1)).ToArray()
            : layout.Blocks.Select(b => (Start: b.Offset, Size: b.Size)).ToArray();
        long budget = _options.MemoryBudgetBytes;
        long bytesPerDrawOfLargest = units.Length == 0 ? 0 : (long)units.Max(u => u.Size) * Math.Max(Chains, 1) * sizeof(double);
        int thin = 1;
        if (bytesPerDrawOfLargest > 0 && bytesPerDrawOfLargest * (long)DrawsPerChain > budget)
        {
            long keep = Math.Max(1, budget / bytesPerDrawOfLargest);
            thin = checked((int)((DrawsPerChain + keep - 1) / keep));
        }
        Thinning = thin;
        _parameterSelection = new DrawSelection(DrawsPerChain, thin);
        ParameterDrawsPerChain = _parameterSelection.Kept(DrawsPerChain);

        // Consecutive columns packed into batches that fit the budget (at least one column each).
        long bytesPerScalar = (long)ParameterDrawsPerChain * Chains * sizeof(double);
        var starts = new List<int>();
        long held = long.MaxValue;
        foreach (var (start, size) in units)
        {
            long bytes = size * bytesPerScalar;
            if (held == long.MaxValue || held + bytes > budget)
            {
                starts.Add(start);
                held = bytes;
            }
            else held += bytes;
        }
        starts.Add(layout.Dimension);
        _batchStart = starts.ToArray();
    }

    /// <summary>Opens a draws file for a summary within <paramref name="options"/>' memory budget.</summary>
    public static StreamedDrawTable Open(string path, StreamedDrawTableOptions? options = null) =>
        new(ParquetDrawStreamReader.Open(path), options);

    public ParquetDrawStreamReader Reader => _reader;

    /// <summary>Parameters (scalar names, layout order), then the sampler columns when asked for.</summary>
    public IReadOnlyList<string> Variables { get; }

    public int Chains { get; }

    /// <summary>Draws per chain of the sampler columns (all chains cut to this length).</summary>
    public int DrawsPerChain { get; }

    /// <summary>1 when parameter columns hold every draw; k when they hold every k-th draw.</summary>
    public int Thinning { get; }

    /// <summary>Draws per chain of the parameter columns (<see cref="DrawsPerChain"/> unless thinned).</summary>
    public int ParameterDrawsPerChain { get; }

    /// <summary>Number of parameter batches (passes over the file when the variables are read in order).</summary>
    public int Batches => _batchStart.Length - 1;

    /// <summary>The most bytes of parameter draws held at once so far.</summary>
    public long PeakHeldBytes { get; private set; }

    /// <summary>The memory budget in force.</summary>
    public long MemoryBudgetBytes => _options.MemoryBudgetBytes;

    /// <summary>One line for the user when the parameter rows are thinned; null otherwise.</summary>
    public string? Note => Thinning == 1 ? null : string.Create(CultureInfo.InvariantCulture,
        $"per-parameter summary rows use every {Ordinal(Thinning)} draw ({ParameterDrawsPerChain} of {DrawsPerChain} per chain) to fit the summary memory budget of {MemoryBudgetBytes / (1024.0 * 1024.0):0.#} MiB; lp__ and predictive rows use every draw");

    private static string Ordinal(int n) =>
        n.ToString(CultureInfo.InvariantCulture) + ((n % 100) is 11 or 12 or 13 ? "th" : (n % 10) switch { 1 => "st", 2 => "nd", 3 => "rd", _ => "th" });

    public double[][] Column(string variable)
    {
        if (_parameterIndex.TryGetValue(variable, out int scalar)) return Parameter(scalar);
        if (_options.SamplerColumns && SamplerStats.ColumnNames.Contains(variable))
        {
            if (_samplerColumns is null)
            {
                var names = SamplerStats.ColumnNames;
                var columns = _reader.ReadColumns(names, new DrawSelection(DrawsPerChain));
                _samplerColumns = new Dictionary<string, double[][]>(StringComparer.Ordinal);
                for (int i = 0; i < names.Count; i++) _samplerColumns[names[i]] = columns[i];
            }
            return _samplerColumns[variable];
        }
        throw new KeyNotFoundException($"no variable '{variable}' in the draws");
    }

    private double[][] Parameter(int scalar)
    {
        int batch = Array.BinarySearch(_batchStart, scalar);
        if (batch < 0) batch = ~batch - 1;
        if (batch != _loadedBatch)
        {
            _loaded = null; // let the previous batch go before the next one is read
            _loadedBatch = -1;
            int first = _batchStart[batch], end = _batchStart[batch + 1];
            _loaded = _reader.ReadColumns(new ArraySegment<string>(_parameterNames, first, end - first), _parameterSelection);
            _loadedBatch = batch;
            long held = 0;
            foreach (var column in _loaded)
                foreach (var chain in column) held += (long)chain.Length * sizeof(double);
            PeakHeldBytes = Math.Max(PeakHeldBytes, held);
            if (batch == Batches - 1) _reader.ReleaseBuffers();
        }
        return _loaded![scalar - _batchStart[_loadedBatch]];
    }
}
