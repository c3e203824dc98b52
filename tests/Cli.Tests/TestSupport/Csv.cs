using System.Globalization;
using System.Text;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>A small RFC 4180 reader for the CSV files the CLI writes (quoted cells such as <c>"weight[0,0]"</c>).</summary>
public sealed class CsvTable
{
    private CsvTable(string[] header, List<string[]> rows)
    {
        Header = header;
        Rows = rows;
    }

    public string[] Header { get; }
    public IReadOnlyList<string[]> Rows { get; }

    public static CsvTable Read(string path) => Parse(File.ReadAllText(path));

    public static CsvTable Parse(string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        if (lines.Length == 0) throw new InvalidDataException("empty CSV");
        var header = SplitLine(lines[0]);
        var rows = lines.Skip(1).Select(SplitLine).ToList();
        foreach (var r in rows)
            if (r.Length != header.Length) throw new InvalidDataException($"CSV row has {r.Length} cells, header {header.Length}");
        return new CsvTable(header, rows);
    }

    public int ColumnIndex(string name)
    {
        int i = Array.IndexOf(Header, name);
        return i >= 0 ? i : throw new KeyNotFoundException($"no column '{name}' in {string.Join(",", Header)}");
    }

    /// <summary>The first column of each row (the variable names of a summary).</summary>
    public IReadOnlyList<string> Keys => Rows.Select(r => r[0]).ToList();

    /// <summary>The numeric cell of the row whose first column is <paramref name="key"/>.</summary>
    public double Value(string key, string column)
    {
        var row = Rows.FirstOrDefault(r => r[0] == key) ?? throw new KeyNotFoundException($"no row '{key}'");
        return double.Parse(row[ColumnIndex(column)], CultureInfo.InvariantCulture);
    }

    /// <summary>A numeric column.</summary>
    public double[] Column(string column)
    {
        int c = ColumnIndex(column);
        return Rows.Select(r => double.Parse(r[c], CultureInfo.InvariantCulture)).ToArray();
    }

    private static string[] SplitLine(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else cell.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(ch);
        }
        cells.Add(cell.ToString());
        return cells.ToArray();
    }
}
