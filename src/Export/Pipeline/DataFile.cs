using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// A numeric data table read from CSV (header row, comma-separated) or Parquet, column-major.
/// Every cell is a finite double; <see cref="Read"/> refuses anything else before sampling starts,
/// naming the 1-based data row and the column.
/// </summary>
internal sealed class DataFile
{
    private DataFile(string path, IReadOnlyList<string> columns, double[][] values)
    {
        Path = path;
        Columns = columns;
        Values = values;
    }

    public string Path { get; }
    public IReadOnlyList<string> Columns { get; }

    /// <summary>Values[column][row].</summary>
    public double[][] Values { get; }

    public int Rows => Values.Length == 0 ? 0 : Values[0].Length;

    public int IndexOf(string column)
    {
        for (int i = 0; i < Columns.Count; i++)
            if (Columns[i] == column) return i;
        throw new InvalidDataException(
            $"{System.IO.Path.GetFileName(Path)}: no column '{column}' (columns: {string.Join(", ", Columns)})");
    }

    public static DataFile Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"data file not found: {path}");
        return System.IO.Path.GetExtension(path).Equals(".parquet", StringComparison.OrdinalIgnoreCase)
            ? ReadParquet(path)
            : ReadCsv(path);
    }

    /// <summary>Reads a CSV with a header row. Rows are numbered from 1 after the header.</summary>
    public static DataFile ReadCsv(string path)
    {
        string name = System.IO.Path.GetFileName(path);
        using var reader = new StreamReader(path);
        string? header = reader.ReadLine();
        while (header is not null && header.Trim().Length == 0) header = reader.ReadLine();
        if (header is null) throw new InvalidDataException($"{name}: the data file is empty");

        string[] columns = SplitCsv(header).Select(c => c.Trim().Trim('"')).ToArray();
        for (int c = 0; c < columns.Length; c++)
        {
            if (columns[c].Length == 0) throw new InvalidDataException($"{name}: header column {c + 1} has no name");
            if (Array.IndexOf(columns, columns[c]) != c)
                throw new InvalidDataException($"{name}: column '{columns[c]}' appears twice in the header");
        }

        var cols = columns.Select(_ => new List<double>()).ToArray();
        int row = 0;
        string? line;
        while ((line = reader.ReadLine()) is not null)
        {
            if (line.Trim().Length == 0) continue;
            row++;
            string[] cells = SplitCsv(line);
            if (cells.Length != columns.Length)
                throw new InvalidDataException(
                    $"{name}: row {row} has {cells.Length} cells but the header has {columns.Length}");
            for (int c = 0; c < cells.Length; c++)
            {
                string cell = cells[c].Trim().Trim('"');
                if (!double.TryParse(cell, NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new InvalidDataException($"{name}: row {row}, column '{columns[c]}': '{cell}' is not a number");
                if (!double.IsFinite(v))
                    throw new InvalidDataException($"{name}: row {row}, column '{columns[c]}': {cell} is not finite");
                cols[c].Add(v);
            }
        }
        if (row == 0) throw new InvalidDataException($"{name}: the data file has a header but no rows");
        return new DataFile(path, columns, cols.Select(c => c.ToArray()).ToArray());
    }

    private static DataFile ReadParquet(string path)
    {
        var (columns, values) = ParquetData.ReadNumericColumns(path);
        string name = System.IO.Path.GetFileName(path);
        if (columns.Count == 0 || values[0].Length == 0) throw new InvalidDataException($"{name}: the data file has no rows");
        for (int c = 0; c < columns.Count; c++)
            for (int r = 0; r < values[c].Length; r++)
                if (!double.IsFinite(values[c][r]))
                    throw new InvalidDataException($"{name}: row {r + 1}, column '{columns[c]}': {values[c][r]} is not finite");
        return new DataFile(path, columns, values);
    }

    private static string[] SplitCsv(string line) => DrawCsvReader.SplitCsvLine(line);
}
