using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Cli.Sampling;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>What one job of a run ended as.</summary>
internal sealed record JobOutcome(BatchJob Job, JobStatus Status, int ExitCode, string? Message, bool Skipped);

/// <summary>
/// Runs a shard of a batch: each job as <c>bnn sample</c> then <c>bnn export</c> would, in this process (the same
/// settings parser, <see cref="SampleRun"/> and <see cref="ExportCommand.Run"/>), into <c>DIR/NAME/</c>, with its log
/// in <c>DIR/NAME/bnn.log</c> and its record in <c>DIR/NAME/job.json</c> (<see cref="JobMarker"/>). A job that fails
/// is recorded with its exit code and message and the others go on; a job completed earlier for the same model and
/// data (SHA-256), options and ensemble size is skipped. Cancellation (Ctrl-C, SIGTERM) stops the running jobs as
/// <c>bnn sample</c> stops, saves them as interrupted and starts no more.
/// </summary>
internal static class BatchRunner
{
    public const string LogFile = "bnn.log";

    /// <summary>Jobs run at once by default: as many as the cores allow for the largest job's chains.</summary>
    public static int DefaultParallelism(IEnumerable<BatchJob> jobs) =>
        Math.Max(1, Environment.ProcessorCount / Math.Max(1, jobs.Select(j => j.Chains).DefaultIfEmpty(1).Max()));

    public static IReadOnlyList<JobOutcome> Run(IReadOnlyList<BatchJob> shard, string outDir, int parallelism, TextWriter output,
        CancellationToken cancellationToken)
    {
        var outcomes = new JobOutcome?[shard.Count];
        var gate = new Lock();
        int done = 0;
        var options = new ParallelOptions { MaxDegreeOfParallelism = Math.Max(1, parallelism) };
        // In row order, one job at a time per worker (no chunking), so --parallel 1 runs them one after another.
        var partitioner = Partitioner.Create(Enumerable.Range(0, shard.Count), EnumerablePartitionerOptions.NoBuffering);
        Parallel.ForEach(partitioner, options, i =>
        {
            if (cancellationToken.IsCancellationRequested) return;
            var outcome = RunJob(shard[i], outDir, cancellationToken);
            outcomes[i] = outcome;
            lock (gate)
            {
                done++;
                output.WriteLine($"[{done}/{shard.Count}] {Describe(outcome)}");
            }
        });
        return outcomes.Select((o, i) => o ?? new JobOutcome(shard[i], JobStatus.Pending, CliRunner.ExitInterrupted, "not started", false)).ToList();
    }

    private static string Describe(JobOutcome o) =>
        o.Skipped ? $"{o.Job.Name}: completed earlier for the same inputs, skipped"
        : o.Status == JobStatus.Completed ? $"{o.Job.Name}: completed"
        : $"{o.Job.Name}: {BatchIndex.Word(o.Status)} (exit {o.ExitCode}): {o.Message}";

    /// <summary>True when <paramref name="marker"/> records this job completed for the inputs it has now, and its outputs are there.</summary>
    public static bool IsComplete(JobMarker? marker, BatchJob job, string jobDir, string modelSha256, string dataSha256) =>
        marker is { Status: JobStatus.Completed }
        && marker.ModelSha256 == modelSha256 && marker.DataSha256 == dataSha256
        && marker.Options.SequenceEqual(job.SampleOptions) && marker.Members == job.Members
        && new[] { SampleRun.DrawsFile, SampleRun.SummaryFile, SampleRun.PredictiveFile, SampleRun.RunFile }
            .Concat(job.Members > 0 ? [EnsembleFile] : [])
            .All(f => File.Exists(Path.Combine(jobDir, f)));

    public const string EnsembleFile = "ensemble.onnx";

    private static JobOutcome RunJob(BatchJob job, string outDir, CancellationToken cancellationToken)
    {
        string jobDir = Path.Combine(outDir, job.Name);
        Directory.CreateDirectory(jobDir);
        string modelSha, dataSha;
        try
        {
            (modelSha, dataSha) = (BatchFiles.Sha256(job.Model), BatchFiles.Sha256(job.Data));
        }
        catch (Exception ex) when (CliRunner.IsUserError(ex))
        {
            // The file was there when the jobs file was checked; it is gone or unreadable now.
            string gone = CliRunner.OneLine(ex.Message);
            new JobMarker
            {
                Name = job.Name, Status = JobStatus.Failed, ExitCode = CliRunner.ExitBadInput, Message = gone, Model = job.Model, ModelSha256 = "",
                Data = job.Data, DataSha256 = "", Options = job.SampleOptions, Members = job.Members, Host = Environment.MachineName,
                ProcessId = Environment.ProcessId, Started = DateTimeOffset.UtcNow, Finished = DateTimeOffset.UtcNow, Seconds = 0,
            }.Save(jobDir);
            return new JobOutcome(job, JobStatus.Failed, CliRunner.ExitBadInput, gone, Skipped: false);
        }
        var previous = JobMarker.Load(jobDir);
        if (IsComplete(previous, job, jobDir, modelSha, dataSha))
            return new JobOutcome(job, JobStatus.Completed, 0, null, Skipped: true);
        if (previous is { } other && other.ProcessId != Environment.ProcessId && other.EffectiveStatus() == JobStatus.Running)
            return new JobOutcome(job, JobStatus.Running, 0, $"running in process {other.ProcessId} on {other.Host}", Skipped: true);

        var marker = new JobMarker
        {
            Name = job.Name, Status = JobStatus.Running, Model = job.Model, ModelSha256 = modelSha, Data = job.Data, DataSha256 = dataSha,
            Options = job.SampleOptions, Members = job.Members, Host = Environment.MachineName, ProcessId = Environment.ProcessId,
            Started = DateTimeOffset.UtcNow,
        };
        marker.Save(jobDir);
        var clock = Stopwatch.StartNew();
        using var log = new StreamWriter(Path.Combine(jobDir, LogFile), append: false) { AutoFlush = true };
        JobStatus status;
        int exitCode;
        string? message = null;
        try
        {
            var args = job.SampleArguments(jobDir);
            var command = SampleCommand.Create(out var toSettings);
            var parse = command.Parse(args.ToArray());
            if (parse.Errors.Count > 0) throw new UsageException(CliRunner.OneLine(parse.Errors[0].Message));
            var settings = toSettings(parse) with
            {
                LiveProgress = false,
                CommandLine = string.Join(' ', new[] { "sample" }.Concat(args).Select(a => a.Any(char.IsWhiteSpace) ? $"'{a}'" : a)),
            };
            log.WriteLine($"bnn {settings.CommandLine}");
            var outcome = SampleRun.Execute(settings, log, ProgressView.For(settings, log), cancellationToken);
            SampleCommand.Print(outcome, log);
            var deciding = outcome.Report.Rows.Where(r => r.Variable == "lp__" || SampleRun.IsPredictive(r.Variable)).ToList();
            marker = marker with
            {
                Converged = outcome.Report.Verdict?.Converged,
                MaxRhat = deciding.Select(r => r.Rhat).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Max() is var rh && double.IsFinite(rh) ? rh : null,
                MinEssBulk = deciding.Select(r => r.EssBulk).Where(double.IsFinite).DefaultIfEmpty(double.NaN).Min() is var e && double.IsFinite(e) ? e : null,
                Divergences = outcome.Result.Divergences,
                GradientEvaluations = outcome.Result.GradientEvaluationsWarmup + outcome.Result.GradientEvaluationsSampling,
            };
            if (outcome.Interrupted)
                (status, exitCode, message) = (JobStatus.Interrupted, CliRunner.ExitInterrupted, $"interrupted: {outcome.Report.DrawsPerChain} draws per chain saved");
            else if (outcome.Result.Failure() is { } failure)
                (status, exitCode, message) = (JobStatus.Failed, CliRunner.ExitSamplingFailed, SamplingFailureMessage.Describe(failure));
            else
            {
                if (job.Members > 0)
                {
                    ExportCommand.Run(jobDir, null, job.Members, null, null, "float32", log);
                    marker = marker with { Ensemble = EnsembleFile };
                }
                (status, exitCode) = (JobStatus.Completed, 0);
            }
        }
        catch (Exception ex) when (CliRunner.IsUserError(ex))
        {
            (status, exitCode, message) = (JobStatus.Failed, CliRunner.ExitBadInput, CliRunner.OneLine(ex.Message));
        }
        catch (OperationCanceledException)
        {
            (status, exitCode, message) = (JobStatus.Interrupted, CliRunner.ExitInterrupted, "interrupted");
        }
        catch (Exception ex)
        {
            (status, exitCode, message) = (JobStatus.Failed, CliRunner.ExitInternalError, $"internal error: {CliRunner.OneLine(ex.Message)} ({ex.GetType().Name})");
            log.WriteLine(ex);
        }
        if (message is not null) log.WriteLine($"{(exitCode == 0 ? "" : "error: ")}{message}");
        marker = marker with
        {
            Status = status, ExitCode = exitCode, Message = message, Finished = DateTimeOffset.UtcNow,
            Seconds = Math.Round(clock.Elapsed.TotalSeconds, 3),
        };
        marker.Save(jobDir);
        return new JobOutcome(job, status, exitCode, message, Skipped: false);
    }

    /// <summary>Parses <c>--shard K/N</c>.</summary>
    public static (int Shard, int Count) ParseShard(string text)
    {
        var parts = text.Split('/');
        if (parts.Length == 2 && int.TryParse(parts[0], NumberStyles.None, CultureInfo.InvariantCulture, out int k)
            && int.TryParse(parts[1], NumberStyles.None, CultureInfo.InvariantCulture, out int n) && n >= 1 && k < n)
            return (k, n);
        throw new UsageException($"--shard '{text}': expected K/N with 0 <= K < N (e.g. 0/4)");
    }
}
