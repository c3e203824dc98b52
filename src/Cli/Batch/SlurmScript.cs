using System.Diagnostics;
using System.Globalization;
using System.Text;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>
/// <c>bnn batch --slurm</c>: <c>DIR/bnn-batch.sbatch</c>, a Slurm array with one task per shard, each running
/// <c>bnn batch JOBS --out DIR --shards N</c> (the task's shard from <c>SLURM_ARRAY_TASK_ID</c>) with this build of bnn
/// (<c>dotnet /abs/path/bnn.dll</c>, recorded as absolute paths), and its submission with <c>sbatch --parsable</c>.
/// </summary>
internal static class SlurmScript
{
    public const string FileName = "bnn-batch.sbatch";

    /// <summary>The script's text.</summary>
    /// <param name="cpusPerTask">The most chains any job runs at once: a task runs its jobs one after another.</param>
    public static string Text(string jobsPath, string outDir, int shards, int cpusPerTask, string extraOptions)
    {
        var (dotnet, dll) = Executable();
        var text = new StringBuilder();
        text.Append("#!/bin/bash\n");
        text.Append("# Written by bnn batch --slurm: array task K runs the jobs whose 0-based row index i has i mod ")
            .Append(shards.ToString(CultureInfo.InvariantCulture)).Append(" = K.\n");
        text.Append("#SBATCH --job-name=bnn-batch\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --array=0-{shards - 1}\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --cpus-per-task={cpusPerTask}\n");
        text.Append("#SBATCH --ntasks=1\n");
        text.Append(CultureInfo.InvariantCulture, $"#SBATCH --output={Path.Combine(outDir, "slurm-%A_%a.out")}\n");
        if (extraOptions.Trim().Length > 0) text.Append("# sbatch options given with --sbatch (passed on the sbatch command line): ").Append(extraOptions.Trim()).Append('\n');
        text.Append("set -eu\n");
        text.Append(CultureInfo.InvariantCulture,
            $"exec {Shell(dotnet)} {Shell(dll)} batch {Shell(jobsPath)} --out {Shell(outDir)} --shards {shards} --parallel 1\n");
        return text.ToString();
    }

    /// <summary>Submits the script; returns the Slurm job id.</summary>
    public static string Submit(string scriptPath, string extraOptions)
    {
        var info = new ProcessStartInfo("sbatch")
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        info.ArgumentList.Add("--parsable");
        foreach (var option in SplitWords(extraOptions)) info.ArgumentList.Add(option);
        info.ArgumentList.Add(scriptPath);
        Process process;
        try
        {
            process = Process.Start(info) ?? throw new UsageException("sbatch could not be started");
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new UsageException("sbatch not found on PATH (is this a Slurm submit host?); --dry-run writes the script only");
        }
        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            string stderr = process.StandardError.ReadToEnd();
            process.WaitForExit();
            if (process.ExitCode != 0)
                throw new UsageException($"sbatch refused {scriptPath} (exit {process.ExitCode}): {CliRunner.OneLine(stderr)}");
            return stdout.Result.Trim().Split(';')[0];
        }
    }

    /// <summary>The dotnet host and bnn.dll of this process, as absolute paths.</summary>
    private static (string Dotnet, string Dll) Executable()
    {
        string dll = typeof(SlurmScript).Assembly.Location;
        string? process = Environment.ProcessPath;
        string dotnet = process is not null && Path.GetFileNameWithoutExtension(process) == "dotnet" ? process
            : Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host) ? host
            : Environment.GetEnvironmentVariable("DOTNET_ROOT") is { Length: > 0 } root && File.Exists(Path.Combine(root, "dotnet")) ? Path.Combine(root, "dotnet")
            : OnPath("dotnet") ?? "dotnet";
        return (dotnet, dll);
    }

    private static string? OnPath(string name) =>
        (Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Select(d => Path.Combine(d, name)).FirstOrDefault(File.Exists);

    /// <summary>A word for bash: single-quoted unless it is plainly safe.</summary>
    private static string Shell(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || "/._-+=:,".Contains(c)) ? word : "'" + word.Replace("'", "'\\''") + "'";

    /// <summary>Splits the <c>--sbatch</c> text into words as a shell would (spaces; single and double quotes).</summary>
    public static IReadOnlyList<string> SplitWords(string text)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool any = false;
        char quote = '\0';
        foreach (char c in text)
        {
            if (quote != '\0')
            {
                if (c == quote) quote = '\0';
                else word.Append(c);
            }
            else if (c is '\'' or '"')
            {
                quote = c;
                any = true;
            }
            else if (char.IsWhiteSpace(c))
            {
                if (any || word.Length > 0) words.Add(word.ToString());
                word.Clear();
                any = false;
            }
            else word.Append(c);
        }
        if (quote != '\0') throw new UsageException($"--sbatch '{text}': unbalanced quote");
        if (any || word.Length > 0) words.Add(word.ToString());
        return words;
    }
}
