using System.CommandLine;
using System.Globalization;
using System.Text.Json;
using System.Text.RegularExpressions;
using Bnn.Onnx.Cli.Commands;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>
/// Reads and checks a jobs file: a CSV with a header row, or a JSON array of objects. <c>name</c>, <c>model</c> and
/// <c>data</c> are required; <c>members</c> is the export's ensemble size (default 100, 0: no export); any other
/// column is a <c>bnn sample</c> option by its long name without the dashes (<c>chains</c>, <c>seed</c>,
/// <c>prior-scale</c>), an empty cell meaning the option is not given. Relative paths are relative to the jobs file.
/// Every row is checked before any job runs, each option by the <c>bnn sample</c> parser itself; the first problem
/// is a <see cref="UsageException"/> naming the row (rows are numbered from 1 after the header, objects from 1).
/// </summary>
internal static partial class JobsFile
{
    private static readonly string[] Required = ["name", "model", "data"];
    private const string MembersColumn = "members";

    /// <summary>Options a job may not set: the batch decides them.</summary>
    private static readonly string[] Reserved = ["out", "data", "no-progress", "help", "verbose"];

    /// <summary>File names the batch writes in its output folder, which no job may take as its folder.</summary>
    public static readonly string[] ReservedNames = [BatchIndex.CsvFile, BatchIndex.ParquetFile, BatchIndex.JobsFile, SlurmScript.FileName];

    [GeneratedRegex("^[A-Za-z0-9][A-Za-z0-9._-]{0,99}$")]
    private static partial Regex SafeName();

    public static IReadOnlyList<BatchJob> Read(string path)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"jobs file not found: {path}", path);
        string file = Path.GetFileName(path);
        string baseDir = Path.GetDirectoryName(Path.GetFullPath(path))!;
        var rows = path.EndsWith(".json", StringComparison.OrdinalIgnoreCase) ? ReadJson(path, file) : ReadCsv(path, file);
        if (rows.Count == 0) throw new UsageException($"{file}: no jobs");

        var sample = SampleCommand.Create(out _);
        var known = sample.Options.SelectMany(o => new[] { o.Name }.Concat(o.Aliases)).Where(n => n.StartsWith("--", StringComparison.Ordinal))
            .Select(n => n[2..]).ToHashSet(StringComparer.Ordinal);
        var jobs = new List<BatchJob>();
        var names = new Dictionary<string, int>(StringComparer.OrdinalIgnoreCase);
        for (int i = 0; i < rows.Count; i++)
        {
            var (where, cells) = rows[i];
            string Fail(string message) => throw new UsageException($"{file}, {where}: {message}");
            foreach (var column in Required)
                if (!cells.TryGetValue(column, out var v) || string.IsNullOrWhiteSpace(v)) Fail($"the required column '{column}' is missing or empty");
            string name = cells["name"].Trim();
            if (!SafeName().IsMatch(name) || ReservedNames.Contains(name, StringComparer.OrdinalIgnoreCase))
                Fail($"name '{name}' is not safe as a folder name (letters, digits, '.', '_', '-'; starting with a letter or digit; not {string.Join(", ", ReservedNames)})");
            if (names.TryGetValue(name, out int earlier)) Fail($"name '{name}' repeats {rows[earlier].Where}'s");
            names[name] = i;
            string where2 = $"{where}, job '{name}'";
            string FailNamed(string message) => throw new UsageException($"{file}, {where2}: {message}");

            string model = Resolve(baseDir, cells["model"].Trim());
            string data = Resolve(baseDir, cells["data"].Trim());
            if (!File.Exists(model)) FailNamed($"model not found: {model}");
            if (!File.Exists(data)) FailNamed($"data not found: {data}");

            int members = BatchJob.DefaultMembers;
            var options = new List<string>();
            foreach (var (column, raw) in cells)
            {
                if (Required.Contains(column)) continue;
                string value = raw.Trim();
                if (column == MembersColumn)
                {
                    if (value.Length > 0 && (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out members) || members < 0))
                        FailNamed($"members '{value}' is not a whole number from 0 (0: no ensemble)");
                    continue;
                }
                if (Reserved.Contains(column)) FailNamed($"'{column}' is set by bnn batch (DIR/NAME), not by a job");
                if (!known.Contains(column)) FailNamed($"unknown column '{column}': not a bnn sample option (long name without dashes), nor {string.Join(", ", Required)}, {MembersColumn}");
                if (value.Length == 0) continue;
                options.Add("--" + column);
                options.Add(value);
            }
            var job = new BatchJob(i, name, model, data, options, members);
            // Each job's options are parsed by bnn sample's own parser, so they mean what they mean there.
            var parse = sample.Parse(job.SampleArguments("out").ToArray());
            if (parse.Errors.Count > 0) FailNamed(CliRunner.OneLine(parse.Errors[0].Message));
            jobs.Add(job);
        }
        return jobs;
    }

    private static string Resolve(string baseDir, string path) => Path.GetFullPath(Path.IsPathRooted(path) ? path : Path.Combine(baseDir, path));

    private static List<(string Where, Dictionary<string, string> Cells)> ReadCsv(string path, string file)
    {
        var lines = File.ReadAllLines(path).Select((l, n) => (Text: l.TrimEnd('\r'), Line: n + 1)).Where(l => l.Text.Trim().Length > 0).ToList();
        if (lines.Count == 0) throw new UsageException($"{file}: empty (expected a header row: name,model,data,…)");
        var header = DrawCsvReader.SplitCsvLine(lines[0].Text).Select(h => h.Trim()).ToArray();
        var duplicate = header.GroupBy(h => h).FirstOrDefault(g => g.Count() > 1);
        if (duplicate is not null) throw new UsageException($"{file}, header: column '{duplicate.Key}' appears twice");
        var rows = new List<(string, Dictionary<string, string>)>();
        for (int r = 1; r < lines.Count; r++)
        {
            var cells = DrawCsvReader.SplitCsvLine(lines[r].Text);
            string where = $"row {r} (line {lines[r].Line})";
            if (cells.Length != header.Length)
                throw new UsageException($"{file}, {where}: {cells.Length} cells, the header has {header.Length}");
            rows.Add((where, header.Select((h, j) => (h, cells[j])).ToDictionary(p => p.h, p => p.Item2, StringComparer.Ordinal)));
        }
        return rows;
    }

    private static List<(string Where, Dictionary<string, string> Cells)> ReadJson(string path, string file)
    {
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(File.ReadAllText(path));
        }
        catch (JsonException ex)
        {
            throw new UsageException($"{file}: not valid JSON ({CliRunner.OneLine(ex.Message)})");
        }
        using (document)
        {
            if (document.RootElement.ValueKind != JsonValueKind.Array) throw new UsageException($"{file}: expected a JSON array of job objects");
            var rows = new List<(string, Dictionary<string, string>)>();
            int r = 0;
            foreach (var element in document.RootElement.EnumerateArray())
            {
                r++;
                string where = $"row {r}";
                if (element.ValueKind != JsonValueKind.Object) throw new UsageException($"{file}, {where}: expected an object");
                var cells = new Dictionary<string, string>(StringComparer.Ordinal);
                foreach (var p in element.EnumerateObject())
                    cells[p.Name] = p.Value.ValueKind switch
                    {
                        JsonValueKind.String => p.Value.GetString()!,
                        JsonValueKind.Number => p.Value.GetRawText(),
                        JsonValueKind.True => "true",
                        JsonValueKind.False => "false",
                        JsonValueKind.Null => "",
                        _ => throw new UsageException($"{file}, {where}: '{p.Name}' must be a string, number or boolean"),
                    };
                rows.Add((where, cells));
            }
            return rows;
        }
    }
}
