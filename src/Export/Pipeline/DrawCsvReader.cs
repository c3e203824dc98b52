using System.Globalization;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Pipeline;

/// <summary>
/// Reads draws from CSV: CmdStan output files (comment lines starting with '#', a header with <c>lp__</c>,
/// <c>accept_stat__</c>, …; one file per chain, sampling draws after "# Adaptation terminated") or a long table with a
/// <c>chain</c> column and an <c>iteration</c> or <c>draw</c> column (posterior's <c>.chain</c>/<c>.iteration</c>/<c>.draw</c>
/// also accepted). Bad input throws <see cref="InvalidDataException"/> naming the file, row and column.
/// </summary>
internal static class DrawCsvReader
{
    /// <summary>Reads one or more CSV files into a table; several CmdStan files are chains 1, 2, ….</summary>
    public static InMemoryDrawTable Read(IReadOnlyList<string> paths)
    {
        if (paths.Count == 0) throw new ArgumentException("no draws file given");
        var files = paths.Select(ReadFile).ToList();
        if (files.All(f => f.Chain is null))
        {
            // CmdStan: one file per chain.
            var header = files[0].Header;
            for (int i = 1; i < files.Count; i++)
                if (!files[i].Header.SequenceEqual(header))
                    throw new InvalidDataException($"{files[i].Path}: its columns differ from those of {files[0].Path}");
            int draws = files.Min(f => f.Rows.Count);
            if (files.Any(f => f.Rows.Count != draws))
                throw new InvalidDataException($"chains have different numbers of draws ({string.Join(", ", files.Select(f => f.Rows.Count))})");
            var columns = header.Select((_, j) => files.Select(f => f.Rows.Select(r => r[j]).ToArray()).ToArray()).ToList();
            return new InMemoryDrawTable(header, columns);
        }
        if (files.Count > 1)
            throw new InvalidDataException("give one long-format CSV (with a chain column), or one CmdStan CSV per chain");
        return LongTable(files[0]);
    }

    private sealed record CsvFile(string Path, string[] Header, List<double[]> Rows, int? Chain, int? Iteration, List<int> RowNumbers);

    private static CsvFile ReadFile(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"draws file not found: {path}", path);
        string[]? header = null;
        var rows = new List<double[]>();
        var rowNumbers = new List<int>();
        bool cmdStan = false;
        int lineNumber = 0;
        foreach (var raw in File.ReadLines(path))
        {
            lineNumber++;
            var line = raw.TrimEnd('\r');
            if (line.Length == 0) continue;
            if (line.StartsWith('#'))
            {
                cmdStan = true;
                if (line.Contains("Adaptation terminated", StringComparison.Ordinal))
                {
                    // Draws before this line were saved warmup iterations.
                    rows.Clear();
                    rowNumbers.Clear();
                }
                continue;
            }
            var fields = SplitCsvLine(line);
            if (header is null)
            {
                header = fields.Select(f => f.Trim()).ToArray();
                continue;
            }
            if (fields.Length != header.Length)
                throw new InvalidDataException($"{path}: row {lineNumber} has {fields.Length} fields, the header has {header.Length}");
            var values = new double[fields.Length];
            for (int j = 0; j < fields.Length; j++)
            {
                var f = fields[j].Trim();
                if (!TryParse(f, out values[j]))
                    throw new InvalidDataException($"{path}: row {lineNumber}, column '{header[j]}': '{f}' is not a number");
            }
            rows.Add(values);
            rowNumbers.Add(lineNumber);
        }
        if (header is null) throw new InvalidDataException($"{path}: no header row");
        int? chain = IndexOf(header, "chain", ".chain", "chain__");
        int? iteration = IndexOf(header, "iteration", ".iteration", "draw", ".draw");
        if (cmdStan && chain is null && !header.Contains("lp__"))
            throw new InvalidDataException($"{path}: a CmdStan CSV must have an lp__ column");
        if (!cmdStan && chain is null)
        {
            if (!header.Contains("lp__"))
                throw new InvalidDataException($"{path}: no 'chain' column (long format) and no 'lp__' column (CmdStan format)");
        }
        if (rows.Count == 0) throw new InvalidDataException($"{path}: no draws");
        return new CsvFile(path, header, rows, chain, iteration, rowNumbers);
    }

    private static InMemoryDrawTable LongTable(CsvFile f)
    {
        int chainColumn = f.Chain!.Value;
        var byChain = new SortedDictionary<double, List<(double Order, int Row)>>();
        for (int i = 0; i < f.Rows.Count; i++)
        {
            double c = f.Rows[i][chainColumn];
            if (c != Math.Floor(c))
                throw new InvalidDataException($"{f.Path}: row {f.RowNumbers[i]}, column '{f.Header[chainColumn]}': '{c}' is not a chain number");
            if (!byChain.TryGetValue(c, out var list)) byChain[c] = list = [];
            list.Add((f.Iteration is int it ? f.Rows[i][it] : list.Count, i));
        }
        int draws = byChain.Values.First().Count;
        foreach (var (c, list) in byChain)
        {
            if (list.Count != draws)
                throw new InvalidDataException($"{f.Path}: chain {c} has {list.Count} draws, chain {byChain.Keys.First()} has {draws}");
            list.Sort((a, b) => a.Order.CompareTo(b.Order));
        }
        var skip = new HashSet<int> { chainColumn };
        foreach (var name in new[] { "iteration", ".iteration", "draw", ".draw" })
            if (Array.IndexOf(f.Header, name) is int k and >= 0) skip.Add(k);
        var variables = new List<string>();
        var columns = new List<double[][]>();
        for (int j = 0; j < f.Header.Length; j++)
        {
            if (skip.Contains(j)) continue;
            variables.Add(f.Header[j]);
            columns.Add(byChain.Values.Select(list => list.Select(e => f.Rows[e.Row][j]).ToArray()).ToArray());
        }
        return new InMemoryDrawTable(variables, columns);
    }

    private static int? IndexOf(string[] header, params string[] names)
    {
        foreach (var n in names)
        {
            int i = Array.IndexOf(header, n);
            if (i >= 0) return i;
        }
        return null;
    }

    private static bool TryParse(string s, out double value)
    {
        if (double.TryParse(s, NumberStyles.Float, CultureInfo.InvariantCulture, out value)) return true;
        switch (s)
        {
            case "NA" or "NaN" or "nan" or "": value = double.NaN; return true;
            case "Inf" or "inf" or "Infinity": value = double.PositiveInfinity; return true;
            case "-Inf" or "-inf" or "-Infinity": value = double.NegativeInfinity; return true;
            case "TRUE" or "True" or "true": value = 1; return true;
            case "FALSE" or "False" or "false": value = 0; return true;
            default: return false;
        }
    }

    /// <summary>Splits one CSV line, honouring double quotes (RFC 4180, no embedded newlines).</summary>
    public static string[] SplitCsvLine(string line)
    {
        if (!line.Contains('"')) return line.Split(',');
        var fields = new List<string>();
        var sb = new System.Text.StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char ch = line[i];
            if (quoted)
            {
                if (ch == '"' && i + 1 < line.Length && line[i + 1] == '"') { sb.Append('"'); i++; }
                else if (ch == '"') quoted = false;
                else sb.Append(ch);
            }
            else if (ch == '"') quoted = true;
            else if (ch == ',') { fields.Add(sb.ToString()); sb.Clear(); }
            else sb.Append(ch);
        }
        fields.Add(sb.ToString());
        return fields.ToArray();
    }

    /// <summary>The <c>max_depth</c> recorded in a CmdStan CSV's comments, if any.</summary>
    public static int? CmdStanMaxDepth(string path)
    {
        foreach (var line in File.ReadLines(path))
        {
            if (!line.StartsWith('#')) continue;
            var t = line.TrimStart('#').Trim();
            if (t.StartsWith("max_depth", StringComparison.Ordinal))
            {
                var parts = t.Split('=');
                if (parts.Length >= 2 && int.TryParse(parts[1].Trim().Split(' ')[0], NumberStyles.Integer, CultureInfo.InvariantCulture, out int d))
                    return d;
            }
        }
        return null;
    }
}
