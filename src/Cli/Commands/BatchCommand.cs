using System.CommandLine;
using System.Globalization;
using Bnn.Onnx.Cli.Batch;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn batch JOBS --out DIR</c>: a posterior and an ensemble for every job of a jobs file (<see cref="JobsFile"/>),
/// on this machine (<c>--parallel N</c>), as one shard of several (<c>--shard K/N</c>, or a Slurm array task's or a
/// Kubernetes Indexed Job's index), or submitted as a Slurm array (<c>--slurm</c>). <c>bnn batch status DIR</c> prints
/// and writes the index. Exit codes: 0 every job of the shard completed; 1 some failed (the index says which and
/// why); 2 a bad jobs file (nothing ran); 130 interrupted.
/// </summary>
internal static class BatchCommand
{
    public const int ExitJobsFailed = 1;

    public static Command Create()
    {
        var jobs = new Argument<string>("jobs") { Description = "Jobs file: CSV with a header (name,model,data,…) or a JSON array of objects." };
        var outDir = new Option<string>("--out") { Description = "Output folder: DIR/NAME/ per job, DIR/index.csv and index.parquet.", Required = true };
        var parallel = new Option<int?>("--parallel") { Description = "Jobs run at once (default: as many as the cores allow for each job's chains)." };
        var shard = new Option<string?>("--shard") { Description = "K/N: run only the jobs whose 0-based row index i has i mod N = K." };
        var shards = new Option<int?>("--shards") { Description = "N, the number of shards, when the shard index comes from SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX; with --slurm, the array size (default: one task per job)." };
        var slurm = new Option<bool>("--slurm") { Description = "Write DIR/bnn-batch.sbatch (an array, one task per shard) and submit it with sbatch." };
        var dryRun = new Option<bool>("--dry-run") { Description = "With --slurm: write the script, do not submit it." };
        var sbatch = new Option<string?>("--sbatch") { Description = "With --slurm: extra sbatch options, e.g. \"--partition=cpu --time=02:00:00\"." };

        var command = new Command("batch", "Sample and export a posterior for every job of a jobs file, locally, as a shard, or as a Slurm array.");
        command.Arguments.Add(jobs);
        foreach (var o in new Option[] { outDir, parallel, shard, shards, slurm, dryRun, sbatch }) command.Options.Add(o);
        command.Subcommands.Add(StatusCommand());
        command.SetAction(int (parse) => Run(parse.GetValue(jobs)!, parse.GetValue(outDir)!, parse.GetValue(parallel), parse.GetValue(shard),
            parse.GetValue(shards), parse.GetValue(slurm), parse.GetValue(dryRun), parse.GetValue(sbatch)));
        return command;
    }

    private static Command StatusCommand()
    {
        var dir = new Argument<string>("dir") { Description = "A bnn batch output folder." };
        var command = new Command("status", "Print one row per job of a batch and write DIR/index.parquet and DIR/index.csv.");
        command.Arguments.Add(dir);
        command.SetAction(int (parse) =>
        {
            string outDir = parse.GetValue(dir)!;
            if (!Directory.Exists(outDir)) throw new DirectoryNotFoundException($"batch folder not found: {outDir}");
            Console.Out.Write(BatchIndex.Table(BatchIndex.Write(outDir)));
            return 0;
        });
        return command;
    }

    private static int Run(string jobsPath, string outDir, int? parallel, string? shardText, int? shardCount, bool slurm, bool dryRun, string? sbatch)
    {
        if (parallel is < 1) throw new UsageException($"--parallel {parallel}: must be at least 1");
        if (shardCount is < 1) throw new UsageException($"--shards {shardCount}: must be at least 1");
        if (dryRun && !slurm) throw new UsageException("--dry-run goes with --slurm");
        if (sbatch is not null && !slurm) throw new UsageException("--sbatch goes with --slurm");
        outDir = Path.GetFullPath(outDir);
        if (Path.GetFullPath(jobsPath) == Path.Combine(outDir, BatchIndex.JobsFile))
            throw new UsageException($"{jobsPath}: bnn batch writes its own {BatchIndex.JobsFile} in the output folder; name the jobs file otherwise");
        var all = JobsFile.Read(jobsPath);
        Directory.CreateDirectory(outDir);

        if (slurm)
        {
            if (shardText is not null) throw new UsageException("--slurm submits every shard; --shard is for one");
            int n = Math.Min(shardCount ?? all.Count, all.Count);
            string script = Path.Combine(outDir, SlurmScript.FileName);
            BatchIndex.SaveJobs(outDir, all);
            BatchFiles.WriteAtomically(script, SlurmScript.Text(Path.GetFullPath(jobsPath), outDir, n, all.Max(j => j.Chains), sbatch ?? ""));
            BatchIndex.Write(outDir);
            if (dryRun)
            {
                Console.Out.WriteLine($"wrote {script} ({n} array tasks); submit it with: sbatch {script}");
                return 0;
            }
            string id = SlurmScript.Submit(script, sbatch ?? "");
            Console.Out.WriteLine($"submitted Slurm job {id}: {n} array tasks running {script}; follow it with: bnn batch status {outDir}");
            return 0;
        }

        var (k, count) = Shard(shardText, shardCount);
        var mine = all.Where(j => j.Index % count == k).ToList();
        BatchIndex.SaveJobs(outDir, all);
        int jobsAtOnce = parallel ?? BatchRunner.DefaultParallelism(mine);
        Console.Out.WriteLine(count == 1
            ? $"{mine.Count} jobs, {jobsAtOnce} at a time, into {outDir}"
            : $"shard {k}/{count}: {mine.Count} of {all.Count} jobs, {jobsAtOnce} at a time, into {outDir}");
        using var interruption = new Interruption();
        var outcomes = BatchRunner.Run(mine, outDir, jobsAtOnce, Console.Out, interruption.Token);
        var rows = BatchIndex.Write(outDir);
        Console.Out.Write(BatchIndex.Table(rows));
        if (interruption.Token.IsCancellationRequested || outcomes.Any(o => o.Status is JobStatus.Interrupted or JobStatus.Pending)) return CliRunner.ExitInterrupted;
        return outcomes.All(o => o.Status == JobStatus.Completed || (o.Skipped && o.Status == JobStatus.Running)) ? 0 : ExitJobsFailed;
    }

    /// <summary>
    /// This process's shard: <c>--shard K/N</c>; else a Slurm array task's (<c>SLURM_ARRAY_TASK_ID</c> of
    /// <c>SLURM_ARRAY_TASK_COUNT</c>, or of <c>--shards</c>); else a Kubernetes Indexed Job's (<c>JOB_COMPLETION_INDEX</c>
    /// of <c>--shards</c>); else the whole list.
    /// </summary>
    private static (int Shard, int Count) Shard(string? shardText, int? shardCount)
    {
        if (shardText is not null)
        {
            var parsed = BatchRunner.ParseShard(shardText);
            if (shardCount is { } n && n != parsed.Count) throw new UsageException($"--shard {shardText} and --shards {n} disagree");
            return parsed;
        }
        if (Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_ID") is { Length: > 0 } task)
        {
            int k = Whole("SLURM_ARRAY_TASK_ID", task);
            int n = shardCount ?? (Environment.GetEnvironmentVariable("SLURM_ARRAY_TASK_COUNT") is { Length: > 0 } c
                ? Whole("SLURM_ARRAY_TASK_COUNT", c)
                : throw new UsageException("SLURM_ARRAY_TASK_ID is set but neither SLURM_ARRAY_TASK_COUNT nor --shards gives the number of shards"));
            return k < n ? (k, n) : throw new UsageException($"SLURM_ARRAY_TASK_ID {k} is not below the number of shards {n}");
        }
        if (Environment.GetEnvironmentVariable("JOB_COMPLETION_INDEX") is { Length: > 0 } index)
        {
            int k = Whole("JOB_COMPLETION_INDEX", index);
            int n = shardCount ?? throw new UsageException("JOB_COMPLETION_INDEX is set: give the number of shards (the Job's completions) with --shards N");
            return k < n ? (k, n) : throw new UsageException($"JOB_COMPLETION_INDEX {k} is not below --shards {n}");
        }
        return shardCount is null or 1 ? (0, 1) : throw new UsageException("--shards N needs --shard K/N, SLURM_ARRAY_TASK_ID or JOB_COMPLETION_INDEX to say which shard this is");
    }

    private static int Whole(string name, string text) =>
        int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int v) ? v : throw new UsageException($"{name}='{text}' is not a whole number");
}
