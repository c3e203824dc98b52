using Bnn.Onnx.Export;

namespace Bnn.Onnx;

/// <summary>
/// The draws of a run, read from its <c>draws.parquet</c> on demand: only the columns asked for are decoded, in one
/// pass over the file, so memory follows what is read rather than the network's size.
/// </summary>
public sealed class PosteriorDraws
{
    private readonly ParquetDrawStreamReader _reader;

    internal PosteriorDraws(ParquetDrawStreamReader reader) => _reader = reader;

    /// <summary>The draws file (full path).</summary>
    public string Path => System.IO.Path.GetFullPath(_reader.Path);

    /// <summary>
    /// The columns: Stan's sampler columns (<c>lp__</c>, <c>accept_stat__</c>, <c>stepsize__</c>, <c>treedepth__</c>,
    /// <c>n_leapfrog__</c>, <c>divergent__</c>, <c>energy__</c>), then every parameter scalar by name (<c>0.weight[3,0]</c>, <c>sigma</c>).
    /// </summary>
    public IReadOnlyList<string> Variables => _reader.ColumnNames;

    /// <summary>Number of chains.</summary>
    public int Chains => _reader.Chains;

    /// <summary>Draws held per chain (equal unless the run was interrupted).</summary>
    public IReadOnlyList<int> DrawsPerChain => _reader.DrawCounts;

    /// <summary>All draws, every chain.</summary>
    public int TotalDraws => _reader.TotalDraws;

    /// <summary>One variable's draws: <c>[chain][draw]</c>. Throws <see cref="ArgumentException"/> for a name not in <see cref="Variables"/>.</summary>
    /// <param name="variable">A name from <see cref="Variables"/>.</param>
    public double[][] Read(string variable) => Read([variable])[variable];

    /// <summary>Several variables' draws in one pass over the file: by name, each <c>[chain][draw]</c>.</summary>
    /// <param name="variables">Names from <see cref="Variables"/>.</param>
    public IReadOnlyDictionary<string, double[][]> Read(IReadOnlyList<string> variables)
    {
        ArgumentNullException.ThrowIfNull(variables);
        foreach (var v in variables)
            if (!Variables.Contains(v)) throw new ArgumentException($"no variable '{v}' in {System.IO.Path.GetFileName(_reader.Path)}", nameof(variables));
        var columns = _reader.ReadColumns(variables);
        var result = new Dictionary<string, double[][]>(StringComparer.Ordinal);
        for (int i = 0; i < variables.Count; i++) result[variables[i]] = columns[i];
        return result;
    }
}
