using System.Text.RegularExpressions;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <c>bnn batch --slurm</c> against a real single-node Slurm (<see cref="SlurmCluster"/>): the array's index and
/// outputs match a local batch of the same jobs, and a task killed mid-run resumes when resubmitted.
/// </summary>
public sealed partial class BatchSlurmTests(BatchSlurmTests.Cluster cluster) : IClassFixture<BatchSlurmTests.Cluster>
{
    /// <summary>One cluster for the tests of this class, started by the first that runs.</summary>
    public sealed class Cluster : IDisposable
    {
        public SlurmCluster Slurm { get; } = new();
        public void Dispose() => Slurm.Dispose();
    }

    private static readonly TimeSpan JobTimeout = TimeSpan.FromMinutes(4);

    [GeneratedRegex(@"submitted Slurm job (\d+)")]
    private static partial Regex Submitted();

    private string Submit(TempDir dir, string name, params string[] args)
    {
        var slurm = cluster.Slurm;
        using var p = BatchJobs.Start(dir.Path, name, slurm.Environment, ["batch", .. args, "--slurm"]);
        int exit = BatchJobs.Wait(p, TimeSpan.FromMinutes(1));
        string stdout = File.ReadAllText(dir[name + ".out"]);
        Assert.True(exit == 0, $"bnn batch --slurm exited {exit}\n{stdout}\n{File.ReadAllText(dir[name + ".err"])}");
        var match = Submitted().Match(stdout);
        Assert.True(match.Success, stdout);
        return match.Groups[1].Value;
    }

    [SlurmFact]
    public void A_slurm_array_gives_the_index_and_outputs_of_a_local_batch()
    {
        // Given a running cluster and three jobs, one with a broken model
        cluster.Slurm.EnsureStarted();
        using var dir = new TempDir();
        dir.Write("broken.onnx", "not an onnx file");
        string jobs = BatchJobs.Write(dir, "jobs.csv",
            BatchJobs.Linreg("good-1", 1, members: 5), BatchJobs.Linreg("broken", 2, model: "broken.onnx"), BatchJobs.Linreg("good-2", 3, priorScale: "fan-in"));

        // When the batch is submitted as a two-task array and runs to the end
        string id = Submit(dir, "submit", jobs, "--out", dir["slurm"], "--shards", "2");
        string script = File.ReadAllText(Path.Combine(dir["slurm"], "bnn-batch.sbatch"));
        Assert.Contains("#SBATCH --array=0-1", script);
        Assert.Contains("#SBATCH --cpus-per-task=2", script);
        Assert.Contains(BnnProcess.Dll, script);
        cluster.Slurm.WaitForJob(id, JobTimeout);

        // Then every task ran and the index is the local batch's, job for job
        Assert.True(File.Exists(Path.Combine(dir["slurm"], $"slurm-{id}_0.out")), cluster.Slurm.Logs());
        Assert.True(File.Exists(Path.Combine(dir["slurm"], $"slurm-{id}_1.out")), cluster.Slurm.Logs());
        var local = BnnProcess.Run("batch", jobs, "--out", dir["local"]);
        Assert.True(local.ExitCode == 1, local.ToString());
        var status = BnnProcess.Run("batch", "status", dir["slurm"]);
        Assert.Equal(0, status.ExitCode);
        var remote = BatchJobs.Index(dir["slurm"]);
        var expected = BatchJobs.Index(dir["local"]);
        Assert.Equal(["completed", "failed", "completed"], remote.Select(r => r["status"]));
        foreach (var (r, l) in remote.Zip(expected))
            foreach (var column in l.Keys.Where(c => c != "seconds"))
                Assert.True(l[column] == r[column], $"{l["name"]}.{column}: local '{l[column]}', slurm '{r[column]}'");
        foreach (var job in new[] { "good-1", "good-2" })
            Assert.Equal(File.ReadAllBytes(Path.Combine(dir["local"], job, "summary.csv")), File.ReadAllBytes(Path.Combine(dir["slurm"], job, "summary.csv")));
        Assert.True(File.Exists(Path.Combine(dir["slurm"], "good-1", "ensemble.onnx")));
    }

    [SlurmFact]
    public void A_task_killed_mid_run_resumes_when_resubmitted()
    {
        // Given a one-task array of three jobs, killed (SIGKILL) while its second job samples
        cluster.Slurm.EnsureStarted();
        using var dir = new TempDir();
        string jobs = BatchJobs.Write(dir, "jobs.csv",
            BatchJobs.Linreg("first", 1), BatchJobs.Linreg("second", 2, warmup: 500, draws: 20000), BatchJobs.Linreg("third", 3));
        string outDir = dir["out"];
        string id = Submit(dir, "submit", jobs, "--out", outDir, "--shards", "1");
        string marker = Path.Combine(outDir, "second", "job.json");
        var deadline = DateTime.UtcNow + JobTimeout;
        while (!(File.Exists(marker) && File.ReadAllText(marker).Contains("\"running\"")))
        {
            Assert.True(DateTime.UtcNow < deadline, "the second job never started\n" + cluster.Slurm.Logs());
            Thread.Sleep(100);
        }
        Thread.Sleep(500);
        var cancel = cluster.Slurm.Run("scancel", "--signal=KILL", "--full", id);
        Assert.True(cancel.ExitCode == 0, cancel.Error);
        cluster.Slurm.WaitForJob(id, JobTimeout);

        // Then the first job completed, the second is interrupted (its process is gone) and the third never started
        Assert.Equal(0, BnnProcess.Run("batch", "status", outDir).ExitCode);
        Assert.Equal(["completed", "interrupted", "pending"], BatchJobs.Index(outDir).Select(r => r["status"]));
        string firstMarker = File.ReadAllText(Path.Combine(outDir, "first", "job.json"));
        var firstDraws = File.GetLastWriteTimeUtc(Path.Combine(outDir, "first", "draws.parquet"));

        // When it is submitted again, with the second job shortened
        BatchJobs.Write(dir, "jobs.csv", BatchJobs.Linreg("first", 1), BatchJobs.Linreg("second", 2), BatchJobs.Linreg("third", 3));
        string again = Submit(dir, "resubmit", jobs, "--out", outDir, "--shards", "1");
        cluster.Slurm.WaitForJob(again, JobTimeout);

        // Then everything completes and nothing completed before was redone
        Assert.Equal(["completed", "completed", "completed"], BatchJobs.Index(outDir).Select(r => r["status"]));
        Assert.Equal(firstMarker, File.ReadAllText(Path.Combine(outDir, "first", "job.json")));
        Assert.Equal(firstDraws, File.GetLastWriteTimeUtc(Path.Combine(outDir, "first", "draws.parquet")));
        Assert.Contains("first: completed earlier for the same inputs, skipped", File.ReadAllText(Path.Combine(outDir, $"slurm-{again}_0.out")));
    }
}
