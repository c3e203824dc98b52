using System.Text.Json;
using System.Text.Json.Serialization;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>Where a batch job stands (the <c>status</c> column of the index).</summary>
internal enum JobStatus
{
    /// <summary>Not started yet (no <c>job.json</c>).</summary>
    Pending,

    /// <summary>A process is running it now.</summary>
    Running,

    /// <summary>Sampled (and exported) with exit code 0; a rerun with the same inputs skips it.</summary>
    Completed,

    /// <summary>Ended with a nonzero exit code (bad model or data: 2, sampling failed: 3, internal fault: 70).</summary>
    Failed,

    /// <summary>Stopped before it finished (Ctrl-C, SIGTERM, or its process died); a rerun runs it again.</summary>
    Interrupted,
}

/// <summary>
/// <c>DIR/NAME/job.json</c>: a batch job's record, written atomically when it starts (status running, with the
/// host and process) and when it ends. A completed marker whose model and data SHA-256, options and ensemble size
/// match the job's is what makes a rerun skip the job.
/// </summary>
internal sealed record JobMarker
{
    public const string FileName = "job.json";

    public required string Name { get; init; }
    public required JobStatus Status { get; init; }
    public int? ExitCode { get; init; }
    public string? Message { get; init; }
    public required string Model { get; init; }
    public required string ModelSha256 { get; init; }
    public required string Data { get; init; }
    public required string DataSha256 { get; init; }

    /// <summary>The <c>bnn sample</c> options as typed (<c>--chains</c>, <c>2</c>, …).</summary>
    public required IReadOnlyList<string> Options { get; init; }

    public required int Members { get; init; }
    public required string Host { get; init; }
    public required int ProcessId { get; init; }
    public required DateTimeOffset Started { get; init; }
    public DateTimeOffset? Finished { get; init; }
    public double? Seconds { get; init; }

    /// <summary>The function-space verdict, its worst R-hat and bulk-ESS (over lp__ and the predictive means).</summary>
    public bool? Converged { get; init; }
    public double? MaxRhat { get; init; }
    public double? MinEssBulk { get; init; }
    public long? Divergences { get; init; }
    public long? GradientEvaluations { get; init; }

    /// <summary>The ensemble file, when one was exported.</summary>
    public string? Ensemble { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>The marker in <paramref name="jobDir"/>, or null when there is none or it cannot be read (then the job runs again).</summary>
    public static JobMarker? Load(string jobDir)
    {
        string path = Path.Combine(jobDir, FileName);
        if (!File.Exists(path)) return null;
        try
        {
            return JsonSerializer.Deserialize<JobMarker>(File.ReadAllText(path), Json);
        }
        catch (Exception ex) when (ex is JsonException or IOException or NotSupportedException)
        {
            return null;
        }
    }

    /// <summary>Writes the marker under a unique temporary name and renames it into place.</summary>
    public void Save(string jobDir) => BatchFiles.WriteAtomically(Path.Combine(jobDir, FileName), ToJson() + "\n");

    /// <summary>
    /// The status to report: a running marker whose process is gone (on this host) is interrupted; one on another
    /// host is taken at its word.
    /// </summary>
    public JobStatus EffectiveStatus()
    {
        if (Status != JobStatus.Running || Host != Environment.MachineName) return Status;
        return BatchFiles.IsRunning(ProcessId) ? JobStatus.Running : JobStatus.Interrupted;
    }
}
