using System.Diagnostics;
using System.Text;
using Parquet;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>Small jobs files for <c>bnn batch</c> (the blog's linear regression, 2 chains × (50 + 50)) and readers for what it writes.</summary>
public static class BatchJobs
{
    public const string Header = "name,model,data,features,target,chains,warmup,draws,seed,prior-scale,members";

    /// <summary>One CSV row: the linear regression under <paramref name="seed"/> (model and data relative to the jobs file's folder when given so).</summary>
    public static string Linreg(string name, int seed, string priorScale = "", int? members = 0, string? model = null, string? data = null, int warmup = 50, int draws = 50) =>
        $"{name},{model ?? Repo.Model("linreg_pytorch.onnx")},{data ?? Repo.Model("blog_data.csv")},x,y,2,{warmup},{draws},{seed},{priorScale},{members}";

    public static string Write(TempDir dir, string fileName, params string[] rows) =>
        dir.Write(fileName, Header + "\n" + string.Join("\n", rows) + "\n");

    /// <summary>DIR/index.csv as rows of column → value.</summary>
    public static IReadOnlyList<Dictionary<string, string>> Index(string outDir)
    {
        var lines = File.ReadAllLines(Path.Combine(outDir, "index.csv"));
        var header = Split(lines[0]);
        return lines.Skip(1).Select(l => header.Zip(Split(l)).ToDictionary(p => p.First, p => p.Second)).ToList();
    }

    /// <summary>The column names of DIR/index.parquet.</summary>
    public static async Task<string[]> ParquetColumns(string outDir)
    {
        await using var stream = File.OpenRead(Path.Combine(outDir, "index.parquet"));
        await using var reader = await ParquetReader.CreateAsync(stream);
        return reader.Schema.GetDataFields().Select(f => f.Name).ToArray();
    }

    private static string[] Split(string line)
    {
        var cells = new List<string>();
        var cell = new StringBuilder();
        bool quoted = false;
        for (int i = 0; i < line.Length; i++)
        {
            char c = line[i];
            if (quoted && c == '"' && i + 1 < line.Length && line[i + 1] == '"') { cell.Append('"'); i++; }
            else if (c == '"') quoted = !quoted;
            else if (c == ',' && !quoted) { cells.Add(cell.ToString()); cell.Clear(); }
            else cell.Append(c);
        }
        cells.Add(cell.ToString());
        return cells.ToArray();
    }

    /// <summary>
    /// Starts <c>bnn ARGS</c> with extra environment variables; standard output and error go to
    /// <c>LOGDIR/NAME.out</c> and <c>.err</c> (through <c>sh -c 'exec …'</c>, so the process id is bnn's).
    /// </summary>
    public static Process Start(string logDir, string logName, IReadOnlyDictionary<string, string> environment, params string[] args) =>
        Redirected(Path.Combine(logDir, logName + ".out"), Path.Combine(logDir, logName + ".err"), environment, [DotnetHost(), BnnProcess.Dll, .. args]);

    /// <summary>Starts <paramref name="command"/> with its output in files (the process id is the command's).</summary>
    public static Process Redirected(string stdout, string stderr, IReadOnlyDictionary<string, string> environment, params string[] command)
    {
        var info = new ProcessStartInfo("/bin/sh") { UseShellExecute = false, WorkingDirectory = Repo.Root };
        foreach (var a in new[] { "-c", "exec \"$@\" >\"$BNN_TEST_STDOUT\" 2>\"$BNN_TEST_STDERR\" </dev/null", "sh" }.Concat(command))
            info.ArgumentList.Add(a);
        foreach (var (k, v) in environment) info.Environment[k] = v;
        info.Environment["BNN_TEST_STDOUT"] = stdout;
        info.Environment["BNN_TEST_STDERR"] = stderr;
        return Process.Start(info)!;
    }

    /// <summary>Waits for a process started by <see cref="Start"/> and returns its exit code (killing it after <paramref name="timeout"/>).</summary>
    public static int Wait(Process process, TimeSpan timeout)
    {
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException("bnn batch did not finish in time");
        }
        process.WaitForExit();
        return process.ExitCode;
    }

    public static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        return "dotnet";
    }
}
