using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary><c>bnn batch</c> on this machine: jobs as <c>bnn sample</c> + <c>bnn export</c>, failures recorded, resumable, sharded.</summary>
public class BatchTests
{
    private static readonly string[] IndexColumns =
    [
        "name", "status", "exit_code", "message", "converged", "max_rhat", "min_ess_bulk", "divergences",
        "gradient_evaluations", "seconds", "model_sha256", "data_sha256", "run_dir", "ensemble",
    ];

    [Fact]
    public async Task Jobs_run_as_sample_then_export_failures_are_recorded_and_a_rerun_skips_what_completed()
    {
        // Given two good jobs (one with an ensemble, relative paths) and one with a broken model
        using var dir = new TempDir();
        File.Copy(Repo.Model("linreg_pytorch.onnx"), dir["linreg.onnx"]);
        File.Copy(Repo.Model("blog_data.csv"), dir["data.csv"]);
        dir.Write("broken.onnx", "not an onnx file");
        string jobs = BatchJobs.Write(dir, "jobs.csv",
            BatchJobs.Linreg("lin-a", 1, members: 10, model: "linreg.onnx", data: "data.csv"),
            BatchJobs.Linreg("broken", 2, model: "broken.onnx"),
            BatchJobs.Linreg("lin-b", 3, priorScale: "2"));
        string outDir = dir["out"];

        // When the batch runs two at a time
        var first = BnnProcess.Run("batch", jobs, "--out", outDir, "--parallel", "2");

        // Then the broken job failed with exit 2 and one line, and the others completed
        Assert.True(first.ExitCode == 1, first.ToString());
        var index = BatchJobs.Index(outDir);
        Assert.Equal(["lin-a", "broken", "lin-b"], index.Select(r => r["name"]));
        Assert.Equal(["completed", "failed", "completed"], index.Select(r => r["status"]));
        Assert.Equal(["0", "2", "0"], index.Select(r => r["exit_code"]));
        Assert.Contains("broken.onnx", index[1]["message"]);
        Assert.Equal("lin-a/ensemble.onnx", index[0]["ensemble"]);
        Assert.Equal("", index[2]["ensemble"]);
        Assert.True(File.Exists(Path.Combine(outDir, "lin-a", "ensemble.onnx")));
        Assert.False(File.Exists(Path.Combine(outDir, "lin-b", "ensemble.onnx")));
        Assert.Equal(IndexColumns, File.ReadLines(Path.Combine(outDir, "index.csv")).First().Split(','));
        Assert.Equal(IndexColumns, await BatchJobs.ParquetColumns(outDir));

        // And each good job wrote what bnn sample then bnn export write with the same options
        var sample = BnnProcess.Run("sample", Repo.Model("linreg_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"), "--features", "x",
            "--target", "y", "--chains", "2", "--warmup", "50", "--draws", "50", "--seed", "3", "--prior-scale", "2", "--out", dir["direct"], "--no-progress");
        Assert.True(sample.ExitCode == 0, sample.ToString());
        Assert.Equal(File.ReadAllBytes(Path.Combine(dir["direct"], "summary.csv")), File.ReadAllBytes(Path.Combine(outDir, "lin-b", "summary.csv")));
        var direct = ParquetDrawReader.Read(Path.Combine(dir["direct"], "draws.parquet"));
        var batch = ParquetDrawReader.Read(Path.Combine(outDir, "lin-b", "draws.parquet"));
        foreach (var name in direct.ColumnNames)
            for (int c = 0; c < 2; c++) Assert.Equal(direct.Column(name)[c], batch.Column(name)[c]);

        // When it runs again
        string Marker(string job) => File.ReadAllText(Path.Combine(outDir, job, "job.json"));
        string markerA = Marker("lin-a"), markerB = Marker("lin-b"), markerBroken = Marker("broken");
        var second = BnnProcess.Run("batch", jobs, "--out", outDir);

        // Then the completed jobs are skipped (their records untouched) and the failed one ran again
        Assert.Equal(1, second.ExitCode);
        Assert.Contains("lin-a: completed earlier for the same inputs, skipped", second.Stdout);
        Assert.Equal(markerA, Marker("lin-a"));
        Assert.Equal(markerB, Marker("lin-b"));
        Assert.NotEqual(markerBroken, Marker("broken"));

        // When a job's options change, only that job runs again
        BatchJobs.Write(dir, "jobs.csv",
            BatchJobs.Linreg("lin-a", 1, members: 10, model: "linreg.onnx", data: "data.csv"),
            BatchJobs.Linreg("lin-b", 4, priorScale: "2"));
        var third = BnnProcess.Run("batch", jobs, "--out", outDir);
        Assert.True(third.ExitCode == 0, third.ToString());
        Assert.Equal(markerA, Marker("lin-a"));
        Assert.NotEqual(markerB, Marker("lin-b"));

        // And bnn batch status prints one row per job of the last list
        var status = BnnProcess.Run("batch", "status", outDir);
        Assert.Equal(0, status.ExitCode);
        Assert.Equal(3, status.Stdout.Trim().Split('\n').Length);
        Assert.Equal(["completed", "completed"], BatchJobs.Index(outDir).Select(r => r["status"]));
    }

    public static TheoryData<string, string, string> BadJobs => new()
    {
        { "duplicate name", "{good}\n" + "a,{model},{data},x,y,2,50,50,1,,0", "row 2 (line 3): name 'a' repeats row 1" },
        { "unsafe name", "{good}\n" + "../up,{model},{data},x,y,2,50,50,1,,0", "row 2 (line 3): name '../up' is not safe" },
        { "missing column", "name,model,features\na,{model},x", "row 1 (line 2): the required column 'data' is missing" },
        { "unknown option", "name,model,data,chians\na,{model},{data},2", "row 1 (line 2), job 'a': unknown column 'chians'" },
        { "missing model", "{good}\n" + "b,nowhere.onnx,{data},x,y,2,50,50,1,,0", "row 2 (line 3), job 'b': model not found" },
        { "missing data", "{good}\n" + "b,{model},nowhere.csv,x,y,2,50,50,1,,0", "row 2 (line 3), job 'b': data not found" },
        { "bad option value", "{good}\n" + "b,{model},{data},x,y,two,50,50,1,,0", "row 2 (line 3), job 'b': Cannot parse argument 'two' for option '--chains'" },
    };

    [Theory]
    [MemberData(nameof(BadJobs))]
    public void A_bad_jobs_file_is_refused_before_any_job_runs(string what, string body, string expected)
    {
        using var dir = new TempDir();
        string text = body.Replace("{good}", BatchJobs.Header + "\n" + BatchJobs.Linreg("a", 1))
            .Replace("{model}", Repo.Model("linreg_pytorch.onnx")).Replace("{data}", Repo.Model("blog_data.csv"));
        string jobs = dir.Write("jobs.csv", text + "\n");

        var result = BnnProcess.Run("batch", jobs, "--out", dir["out"]);

        Assert.True(result.ExitCode == 2, $"{what}: {result}");
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains(expected, line);
        Assert.False(Directory.Exists(dir["out"]), $"{what}: the output folder was created");
    }

    [Fact]
    public void A_json_jobs_file_runs_like_a_csv()
    {
        using var dir = new TempDir();
        string jobs = dir.Write("jobs.json", $$"""
            [{"name": "j", "model": "{{Repo.Model("linreg_pytorch.onnx")}}", "data": "{{Repo.Model("blog_data.csv")}}",
              "features": "x", "target": "y", "chains": 2, "warmup": 50, "draws": 50, "seed": 9, "members": 0}]
            """);
        var result = BnnProcess.Run("batch", jobs, "--out", dir["out"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Equal("completed", Assert.Single(BatchJobs.Index(dir["out"]))["status"]);
        using var record = Runs.ReadRunJson(Path.Combine(dir["out"], "j"));
        Assert.Equal(9UL, record.RootElement.GetProperty("seed").GetUInt64());
    }

    [Fact]
    public void Two_shards_write_into_one_folder_at_once()
    {
        // Given four jobs and two shards started together on the same output folder
        using var dir = new TempDir();
        string jobs = BatchJobs.Write(dir, "jobs.csv", Enumerable.Range(0, 4).Select(i => BatchJobs.Linreg($"job{i}", 20 + i)).ToArray());
        var none = new Dictionary<string, string>();
        using var shard0 = BatchJobs.Start(dir.Path, "shard0", none, "batch", jobs, "--out", dir["out"], "--shard", "0/2", "--parallel", "1");
        using var shard1 = BatchJobs.Start(dir.Path, "shard1", new Dictionary<string, string> { ["JOB_COMPLETION_INDEX"] = "1" },
            "batch", jobs, "--out", dir["out"], "--shards", "2", "--parallel", "1");

        // Then both finish, each ran its own jobs (i mod 2), and the index holds every job completed
        Assert.Equal(0, BatchJobs.Wait(shard0, TimeSpan.FromMinutes(3)));
        Assert.Equal(0, BatchJobs.Wait(shard1, TimeSpan.FromMinutes(3)));
        Assert.Equal(["completed", "completed", "completed", "completed"], BatchJobs.Index(dir["out"]).Select(r => r["status"]));
        string Pid(string job) => System.Text.Json.JsonDocument.Parse(File.ReadAllText(Path.Combine(dir["out"], job, "job.json")))
            .RootElement.GetProperty("process_id").ToString();
        Assert.Equal(Pid("job0"), Pid("job2"));
        Assert.Equal(Pid("job1"), Pid("job3"));
        Assert.NotEqual(Pid("job0"), Pid("job1"));
        Assert.Equal(shard0.Id.ToString(System.Globalization.CultureInfo.InvariantCulture), Pid("job0"));
        Assert.Empty(Directory.EnumerateFiles(dir["out"], "*.tmp", SearchOption.AllDirectories));
    }

    [Fact]
    public void An_interrupted_batch_resumes_without_redoing_completed_jobs()
    {
        // Given a batch of three jobs run one at a time, interrupted (SIGINT) while the second runs
        using var dir = new TempDir();
        string jobs = BatchJobs.Write(dir, "jobs.csv",
            BatchJobs.Linreg("first", 1), BatchJobs.Linreg("second", 2, warmup: 500, draws: 3000), BatchJobs.Linreg("third", 3));
        string outDir = dir["out"];
        using var batch = BnnProcess.Start(null, "batch", jobs, "--out", outDir, "--parallel", "1");
        string marker = Path.Combine(outDir, "second", "job.json");
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (!(File.Exists(marker) && File.ReadAllText(marker).Contains("\"running\"")) && DateTime.UtcNow < deadline && !batch.HasExited)
            Thread.Sleep(50);
        Thread.Sleep(300);
        batch.Signal(BnnProcess.SigInt);
        var stopped = batch.WaitForExit(TimeSpan.FromMinutes(2));

        // Then it exits 130 with the first completed, the second interrupted and the third not started
        Assert.True(stopped.ExitCode == 130, stopped.ToString());
        Assert.Equal(["completed", "interrupted", "pending"], BatchJobs.Index(outDir).Select(r => r["status"]));
        string firstMarker = File.ReadAllText(Path.Combine(outDir, "first", "job.json"));
        var firstDraws = File.GetLastWriteTimeUtc(Path.Combine(outDir, "first", "draws.parquet"));

        // When it runs again, the first is skipped and the others complete
        var resumed = BnnProcess.Run("batch", jobs, "--out", outDir, "--parallel", "1");
        Assert.True(resumed.ExitCode == 0, resumed.ToString());
        Assert.Equal(["completed", "completed", "completed"], BatchJobs.Index(outDir).Select(r => r["status"]));
        Assert.Equal(firstMarker, File.ReadAllText(Path.Combine(outDir, "first", "job.json")));
        Assert.Equal(firstDraws, File.GetLastWriteTimeUtc(Path.Combine(outDir, "first", "draws.parquet")));
    }
}
