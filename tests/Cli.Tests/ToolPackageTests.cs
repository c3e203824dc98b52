using System.Diagnostics;
using System.Reflection;
using System.Text;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The tool package as a user gets it: <c>dotnet pack</c> of src/Cli, <c>dotnet tool install</c> of the package into a
/// temporary tool path (from a package folder only), then the installed <c>bnn</c> prints its version and runs the
/// blog example's import, a short sample, export and predict. The pack builds into its own artifacts folder beside the
/// tests (kept, so that a second run builds only what changed), so the repository's build outputs are not touched.
/// </summary>
public class ToolPackageTests
{
    /// <summary>A pack from nothing takes a minute or two; far longer only on a machine shared with other builds.</summary>
    private static readonly TimeSpan PackTimeout = TimeSpan.FromMinutes(20);
    private static readonly TimeSpan RunTimeout = TimeSpan.FromMinutes(3);

    [ToolPackFact]
    public void Packed_tool_installs_and_runs_the_blog_example_without_TorchSharp()
    {
        using var dir = new TempDir("bnn-tool-");
        string packages = dir["packages"];
        string version = ExpectedVersion();

        var pack = Run("dotnet", Repo.Root, PackTimeout, "pack", Path.Combine(Repo.Root, "src", "Cli", "Cli.csproj"), "-c", "Release",
            "-o", packages, "--artifacts-path", BuildFolder, "-nodeReuse:false");
        Assert.True(pack.ExitCode == 0, pack.ToString());
        string nupkg = Path.Combine(packages, $"Bnn.Onnx.Cli.{version}.nupkg");
        Assert.True(File.Exists(nupkg), $"{nupkg} not written; the folder holds: {string.Join(", ", Directory.GetFiles(packages).Select(Path.GetFileName))}");
        // The default tool carries no libtorch (that alone is hundreds of megabytes).
        Assert.InRange(new FileInfo(nupkg).Length, 1_000_000, 150_000_000);

        // Install from the package folder alone (a config that clears every other source).
        string config = dir.Write("nuget.config",
            $"""<?xml version="1.0" encoding="utf-8"?><configuration><packageSources><clear /><add key="local" value="{packages}" /></packageSources></configuration>""");
        string tools = dir["tools"];
        var install = Run("dotnet", dir.Path, PackTimeout, "tool", "install", "--tool-path", tools, "--configfile", config,
            "--version", version, "Bnn.Onnx.Cli");
        Assert.True(install.ExitCode == 0, install.ToString());
        string bnn = Path.Combine(tools, OperatingSystem.IsWindows() ? "bnn.exe" : "bnn");
        Assert.True(File.Exists(bnn), install.ToString());

        var shown = Run(bnn, dir.Path, RunTimeout, "--version");
        Assert.True(shown.ExitCode == 0, shown.ToString());
        string line = shown.Stdout.Trim();
        Assert.StartsWith(version, line);
        if (GitHead() is string commit) Assert.Equal($"{version}+{commit}", line);

        string model = Repo.Model("blog_mlp_pytorch.onnx");
        var import = Run(bnn, dir.Path, RunTimeout, "import", model, "--json");
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.Contains("\"total_parameters\":81", import.Stdout.Replace(" ", ""));

        string runDir = dir["run"];
        var sample = Run(bnn, dir.Path, RunTimeout, "sample", model, "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
            "--seed", "1", "--chains", "2", "--warmup", "100", "--draws", "100", "--out", runDir);
        Assert.True(sample.ExitCode is 0 or 3, sample.ToString());
        Assert.Contains("on the cpu backend", sample.Stdout + sample.Stderr);
        Assert.True(File.Exists(Path.Combine(runDir, "draws.parquet")), sample.ToString());

        string ensemble = dir["ensemble.onnx"];
        var export = Run(bnn, dir.Path, RunTimeout, "export", runDir, "--members", "20", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());
        string input = dir.Write("x.csv", "-1\n0\n0.5\n");
        var predict = Run(bnn, dir.Path, RunTimeout, "predict", ensemble, "--input", input);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var rows = predict.Stdout.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal("mean_0,std_0,lower_0,upper_0", rows[0]);
        Assert.Equal(4, rows.Length);

        // The default tool has no TorchSharp backend, and says so on one line with exit code 2.
        var torch = Run(bnn, dir.Path, RunTimeout, "sample", model, "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
            "--backend", "torch", "--out", dir["torch"]);
        Assert.True(torch.ExitCode == 2, torch.ToString());
        Assert.Contains("no TorchSharp backend", Assert.Single(torch.ErrorLines));
    }

    private static string BuildFolder => Path.Combine(AppContext.BaseDirectory, "tool-pack-build");

    /// <summary>The package version: the informational version of the bnn assembly beside the tests, without its "+commit".</summary>
    private static string ExpectedVersion()
    {
        string informational = Assembly.LoadFrom(BnnProcess.Dll).GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        return informational.Split('+')[0];
    }

    /// <summary>The repository's commit, or null when git or the repository's .git is not there (a source copy).</summary>
    private static string? GitHead()
    {
        if (!Directory.Exists(Path.Combine(Repo.Root, ".git")) && !File.Exists(Path.Combine(Repo.Root, ".git"))) return null;
        try
        {
            var head = Run("git", Repo.Root, RunTimeout, "rev-parse", "HEAD");
            return head.ExitCode == 0 ? head.Stdout.Trim() : null;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return null;
        }
    }

    private static CliResult Run(string program, string workingDirectory, TimeSpan timeout, params string[] args)
    {
        var info = new ProcessStartInfo(program)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        foreach (var a in args) info.ArgumentList.Add(a);
        // The test host's MSBuild settings must not leak into the child build; telemetry and first-run text stay off.
        foreach (var name in new[] { "MSBuildSDKsPath", "MSBUILD_EXE_PATH", "MSBuildExtensionsPath", "MSBuildLoadMicrosoftTargetsReadOnly" })
            info.Environment.Remove(name);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        info.Environment["DOTNET_SKIP_FIRST_TIME_EXPERIENCE"] = "1";

        using var process = Process.Start(info)!;
        var stdout = process.StandardOutput.ReadToEndAsync();
        var stderr = process.StandardError.ReadToEndAsync();
        if (!process.WaitForExit(timeout))
        {
            process.Kill(entireProcessTree: true);
            process.WaitForExit();
            throw new TimeoutException($"{program} {string.Join(' ', args)} did not finish within {timeout}");
        }
        return new CliResult(process.ExitCode, stdout.Result, stderr.Result);
    }
}

/// <summary>Runs where the .NET SDK that can pack and install tools is on the path; skipped, saying why, elsewhere.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class ToolPackFactAttribute : FactAttribute
{
    public ToolPackFactAttribute()
    {
        if (!SdkAvailable()) Skip = "the .NET SDK ('dotnet' with an SDK) is not on the PATH, so the tool cannot be packed and installed";
        else if (!File.Exists(Path.Combine(Repo.Root, "src", "Cli", "Cli.csproj"))) Skip = $"the repository's sources are not at {Repo.Root}";
    }

    private static bool SdkAvailable()
    {
        try
        {
            var info = new ProcessStartInfo("dotnet", "--list-sdks") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
            using var process = Process.Start(info)!;
            string output = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 && output.Trim().Length > 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
