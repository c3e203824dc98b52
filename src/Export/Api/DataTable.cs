using System.Globalization;
using System.Text;
using Bnn.Onnx.Pipeline;

namespace Bnn.Onnx;

/// <summary>
/// Training rows for <see cref="BnnModel.Sample"/>: feature columns and one target column. Every cell is a finite
/// number, checked when the table is made. The feature columns fill the model input's non-batch dimensions in
/// row-major order; class labels (bernoulli, categorical) are whole numbers 0…K−1.
/// </summary>
public sealed class DataTable
{
    private readonly string? _path;
    private readonly double[,]? _features;
    private readonly double[]? _target;

    private DataTable(string? path, IReadOnlyList<string> features, string target, int rows, double[,]? x, double[]? y)
    {
        _path = path;
        Features = features;
        Target = target;
        RowCount = rows;
        _features = x;
        _target = y;
    }

    /// <summary>
    /// Reads a CSV file with a header row (as <c>bnn sample --data</c> does). Throws <see cref="FileNotFoundException"/>
    /// or <see cref="InvalidDataException"/> (naming the row and column) for a missing file, a cell that is not a
    /// finite number or a column that does not exist.
    /// </summary>
    /// <param name="path">The CSV file.</param>
    /// <param name="target">The target column; null: the last column.</param>
    /// <param name="features">The feature columns in input order; null: every column but the target.</param>
    public static DataTable FromCsv(string path, string? target = null, IReadOnlyList<string>? features = null)
    {
        ArgumentNullException.ThrowIfNull(path);
        var file = DataFile.Read(path);
        string y = target ?? file.Columns[^1];
        file.IndexOf(y);
        var x = features is { Count: > 0 } ? features.ToArray() : file.Columns.Where(c => c != y).ToArray();
        foreach (var column in x) file.IndexOf(column);
        if (x.Contains(y)) throw new ArgumentException($"the features include the target column '{y}'", nameof(features));
        if (x.Length == 0) throw new InvalidDataException($"{System.IO.Path.GetFileName(path)}: no feature columns besides the target '{y}'");
        return new DataTable(System.IO.Path.GetFullPath(path), x, y, file.Rows, null, null);
    }

    /// <summary>
    /// A table from arrays: <paramref name="features"/>[row, column] and <paramref name="target"/>[row]. When sampled,
    /// it is written to <c>data.csv</c> in the run directory (round-trip precision), which the run records as its data.
    /// </summary>
    /// <param name="features">The feature values, one row per sample.</param>
    /// <param name="target">The target value of each row.</param>
    /// <param name="featureNames">Column names; null: <c>x0</c>, <c>x1</c>, ….</param>
    /// <param name="targetName">The target column's name.</param>
    public static DataTable FromArrays(double[,] features, double[] target, IReadOnlyList<string>? featureNames = null, string targetName = "y")
    {
        ArgumentNullException.ThrowIfNull(features);
        ArgumentNullException.ThrowIfNull(target);
        int rows = features.GetLength(0), width = features.GetLength(1);
        if (rows == 0 || width == 0) throw new ArgumentException("the table needs at least one row and one feature column", nameof(features));
        if (target.Length != rows) throw new ArgumentException($"{target.Length} target values for {rows} rows", nameof(target));
        var names = featureNames?.ToArray() ?? Enumerable.Range(0, width).Select(j => $"x{j}").ToArray();
        if (names.Length != width) throw new ArgumentException($"{names.Length} feature names for {width} columns", nameof(featureNames));
        if (names.Append(targetName).Distinct(StringComparer.Ordinal).Count() != width + 1 || names.Append(targetName).Any(n => string.IsNullOrWhiteSpace(n) || n.IndexOfAny([',', '"', '\n', '\r']) >= 0))
            throw new ArgumentException("column names must be distinct, non-empty and free of commas, quotes and line breaks", nameof(featureNames));
        for (int r = 0; r < rows; r++)
        {
            if (!double.IsFinite(target[r])) throw new InvalidDataException($"row {r + 1}, column '{targetName}': {target[r]} is not finite");
            for (int j = 0; j < width; j++)
                if (!double.IsFinite(features[r, j])) throw new InvalidDataException($"row {r + 1}, column '{names[j]}': {features[r, j]} is not finite");
        }
        return new DataTable(null, names, targetName, rows, (double[,])features.Clone(), (double[])target.Clone());
    }

    /// <summary>The feature columns, in the order they fill the model input.</summary>
    public IReadOnlyList<string> Features { get; }

    /// <summary>The target column.</summary>
    public string Target { get; }

    /// <summary>Rows in the table.</summary>
    public int RowCount { get; }

    /// <summary>The file the pipeline reads: the CSV itself, or the arrays written to <c>OUT/data.csv</c>.</summary>
    internal string FileFor(string outDir)
    {
        if (_path is not null) return _path;
        var text = new StringBuilder();
        text.AppendJoin(',', Features).Append(',').Append(Target).Append('\n');
        for (int r = 0; r < RowCount; r++)
        {
            for (int j = 0; j < Features.Count; j++) text.Append(_features![r, j].ToString("R", CultureInfo.InvariantCulture)).Append(',');
            text.Append(_target![r].ToString("R", CultureInfo.InvariantCulture)).Append('\n');
        }
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(outDir, "data.csv"));
        AtomicFile.WriteAllText(path, text.ToString());
        return path;
    }
}
