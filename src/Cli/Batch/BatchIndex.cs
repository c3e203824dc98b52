using System.Globalization;
using System.Text;
using System.Text.Json;
using Parquet;
using Parquet.Schema;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>One row of a batch's index: a job, where it stands, and its diagnostics when it finished.</summary>
internal sealed record BatchIndexRow(string Name, JobStatus Status, int? ExitCode, string? Message, bool? Converged, double? MaxRhat,
    double? MinEssBulk, long? Divergences, long? GradientEvaluations, double? Seconds, string? ModelSha256, string? DataSha256,
    string RunDir, string? Ensemble);

/// <summary>
/// A batch's index, <c>DIR/index.csv</c> and <c>DIR/index.parquet</c>: one row per job of <c>DIR/jobs.json</c>, in
/// row order, from each job's <c>job.json</c>. Paths are relative to DIR. Several processes (shards) may write it at
/// once: each write reads every marker and replaces both files atomically under a lock on <c>DIR/.index.lock</c>,
/// so the last writer's index holds what every finished job wrote.
/// </summary>
internal static class BatchIndex
{
    public const string CsvFile = "index.csv";
    public const string ParquetFile = "index.parquet";

    /// <summary>The batch's job list (written by every <c>bnn batch</c> run, read by <c>bnn batch status</c>).</summary>
    public const string JobsFile = "batch-jobs.json";

    public static readonly string[] Columns =
    [
        "name", "status", "exit_code", "message", "converged", "max_rhat", "min_ess_bulk", "divergences",
        "gradient_evaluations", "seconds", "model_sha256", "data_sha256", "run_dir", "ensemble",
    ];

    private static readonly JsonSerializerOptions Json = new() { PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower, WriteIndented = true };

    /// <summary>Records the job list in <paramref name="outDir"/> (atomically; every shard writes the same).</summary>
    public static void SaveJobs(string outDir, IReadOnlyList<BatchJob> jobs) =>
        BatchFiles.WriteAtomically(Path.Combine(outDir, JobsFile), JsonSerializer.Serialize(jobs, Json) + "\n");

    public static IReadOnlyList<BatchJob> LoadJobs(string outDir)
    {
        string path = Path.Combine(outDir, JobsFile);
        if (!File.Exists(path)) throw new FileNotFoundException($"{outDir}: no {JobsFile} (not a bnn batch output folder)", path);
        try
        {
            return JsonSerializer.Deserialize<List<BatchJob>>(File.ReadAllText(path), Json)
                ?? throw new InvalidDataException($"{path}: empty");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{path}: not a job list ({CliRunner.OneLine(ex.Message)})");
        }
    }

    /// <summary>The index as the markers say now.</summary>
    public static IReadOnlyList<BatchIndexRow> Build(string outDir) => LoadJobs(outDir).Select(job =>
    {
        var marker = JobMarker.Load(Path.Combine(outDir, job.Name));
        if (marker is null)
            return new BatchIndexRow(job.Name, JobStatus.Pending, null, null, null, null, null, null, null, null, null, null, job.Name, null);
        return new BatchIndexRow(job.Name, marker.EffectiveStatus(), marker.ExitCode, marker.Message, marker.Converged, marker.MaxRhat,
            marker.MinEssBulk, marker.Divergences, marker.GradientEvaluations, marker.Seconds, marker.ModelSha256, marker.DataSha256,
            job.Name, marker.Ensemble is null ? null : Path.Combine(job.Name, marker.Ensemble));
    }).ToList();

    /// <summary>Writes index.csv and index.parquet (under the lock) and returns the rows written.</summary>
    public static IReadOnlyList<BatchIndexRow> Write(string outDir)
    {
        IReadOnlyList<BatchIndexRow> rows = [];
        BatchFiles.WithLock(Path.Combine(outDir, ".index.lock"), () =>
        {
            rows = Build(outDir);
            BatchFiles.WriteAtomically(Path.Combine(outDir, CsvFile), Csv(rows));
            BatchFiles.WriteAtomically(Path.Combine(outDir, ParquetFile), stream => WriteParquet(stream, rows));
        });
        return rows;
    }

    /// <summary>The index as CSV (header, then one line per job; numbers round-trip, absent values empty).</summary>
    public static string Csv(IReadOnlyList<BatchIndexRow> rows)
    {
        var text = new StringBuilder(string.Join(',', Columns)).Append('\n');
        foreach (var r in rows)
        {
            string[] cells =
            [
                r.Name, Word(r.Status), Number(r.ExitCode), Quote(r.Message), r.Converged is { } c ? (c ? "true" : "false") : "",
                Number(r.MaxRhat), Number(r.MinEssBulk), Number(r.Divergences), Number(r.GradientEvaluations), Number(r.Seconds),
                r.ModelSha256 ?? "", r.DataSha256 ?? "", Quote(r.RunDir), Quote(r.Ensemble),
            ];
            text.Append(string.Join(',', cells)).Append('\n');
        }
        return text.ToString();
    }

    /// <summary>The index as a table for the terminal.</summary>
    public static string Table(IReadOnlyList<BatchIndexRow> rows)
    {
        string[] header = ["name", "status", "exit", "converged", "max_rhat", "min_ess_bulk", "divergences", "seconds", "message"];
        var lines = rows.Select(r => new[]
        {
            r.Name, Word(r.Status), Number(r.ExitCode), r.Converged is { } c ? (c ? "yes" : "no") : "",
            r.MaxRhat is { } rh ? rh.ToString("F3", CultureInfo.InvariantCulture) : "",
            r.MinEssBulk is { } e ? e.ToString("F0", CultureInfo.InvariantCulture) : "",
            Number(r.Divergences), r.Seconds is { } s ? s.ToString("F1", CultureInfo.InvariantCulture) : "",
            r.Message is { Length: > 60 } m ? m[..57] + "..." : r.Message ?? "",
        }).ToList();
        var widths = header.Select((h, j) => Math.Max(h.Length, lines.Select(l => l[j].Length).DefaultIfEmpty(0).Max())).ToArray();
        var text = new StringBuilder();
        foreach (var line in lines.Prepend(header))
            text.Append(string.Join("  ", line.Select((cell, j) => j == line.Length - 1 ? cell : cell.PadRight(widths[j]))).TrimEnd()).Append('\n');
        return text.ToString();
    }

    public static string Word(JobStatus status) => status.ToString().ToLowerInvariant();

    private static string Number<T>(T? value) where T : struct, IFormattable =>
        value is { } v ? v.ToString(typeof(T) == typeof(double) ? "R" : null, CultureInfo.InvariantCulture) : "";

    private static string Quote(string? text) =>
        text is null ? "" : text.IndexOfAny([',', '"', '\n']) >= 0 ? "\"" + text.Replace("\"", "\"\"") + "\"" : text;

    private static void WriteParquet(Stream stream, IReadOnlyList<BatchIndexRow> rows)
    {
        var fields = new DataField[]
        {
            new DataField<string>("name", false), new DataField<string>("status", false), new DataField<int?>("exit_code"),
            new DataField<string>("message", true), new DataField<bool?>("converged"), new DataField<double?>("max_rhat"),
            new DataField<double?>("min_ess_bulk"), new DataField<long?>("divergences"), new DataField<long?>("gradient_evaluations"),
            new DataField<double?>("seconds"), new DataField<string>("model_sha256", true), new DataField<string>("data_sha256", true),
            new DataField<string>("run_dir", false), new DataField<string>("ensemble", true),
        };
        Task.Run(async () =>
        {
            await using var writer = await ParquetWriter.CreateAsync(new ParquetSchema(fields), stream);
            using var group = writer.CreateRowGroup();
            await group.WriteAsync(fields[0], rows.Select(r => r.Name).ToArray());
            await group.WriteAsync(fields[1], rows.Select(r => Word(r.Status)).ToArray());
            await group.WriteAsync<int>(fields[2], rows.Select(r => r.ExitCode).ToArray().AsMemory());
            await group.WriteAsync(fields[3], rows.Select(r => r.Message).ToArray()!);
            await group.WriteAsync<bool>(fields[4], rows.Select(r => r.Converged).ToArray().AsMemory());
            await group.WriteAsync<double>(fields[5], rows.Select(r => r.MaxRhat).ToArray().AsMemory());
            await group.WriteAsync<double>(fields[6], rows.Select(r => r.MinEssBulk).ToArray().AsMemory());
            await group.WriteAsync<long>(fields[7], rows.Select(r => r.Divergences).ToArray().AsMemory());
            await group.WriteAsync<long>(fields[8], rows.Select(r => r.GradientEvaluations).ToArray().AsMemory());
            await group.WriteAsync<double>(fields[9], rows.Select(r => r.Seconds).ToArray().AsMemory());
            await group.WriteAsync(fields[10], rows.Select(r => r.ModelSha256).ToArray()!);
            await group.WriteAsync(fields[11], rows.Select(r => r.DataSha256).ToArray()!);
            await group.WriteAsync(fields[12], rows.Select(r => r.RunDir).ToArray());
            await group.WriteAsync(fields[13], rows.Select(r => r.Ensemble).ToArray()!);
        }).GetAwaiter().GetResult();
    }
}
