using System.Diagnostics;
using System.Globalization;
using System.Text;
using System.Text.RegularExpressions;

namespace Bnn.Onnx.Tests;

/// <summary>
/// examples/QuickStart built the way a user builds it: against the Bnn.Onnx package packed from src/Export into a
/// local folder source (added to the NuGet configuration in force, not replacing it), then run: import the blog's
/// network, sample 2 chains × (200 + 200), export 20 members, predict with a 90% interval.
/// </summary>
public class ExampleProjectTests
{
    [DotnetSdkFact]
    public void Given_the_packed_library_When_the_quick_start_example_runs_Then_it_samples_exports_and_predicts()
    {
        string repo = TestModels.RepoRoot();
        string temp = Directory.CreateTempSubdirectory("bnn-example-").FullName;
        string version = $"0.0.0-example.{Guid.NewGuid():N}"[..30];
        try
        {
            // Given the library packed into a local folder, and a nuget.config above the example that adds that folder.
            string packages = Path.Combine(temp, "packages");
            Dotnet(repo, "pack", Path.Combine(repo, "src", "Export"), "-c", "Release", "-o", packages, $"-p:PackageVersion={version}");
            Assert.True(File.Exists(Path.Combine(packages, $"Bnn.Onnx.{version}.nupkg")), "dotnet pack wrote no Bnn.Onnx package");
            File.WriteAllText(Path.Combine(temp, "nuget.config"),
                $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <packageSources>
                    <add key="bnn-onnx-example" value="{packages}" />
                  </packageSources>
                </configuration>
                """);
            string examples = Path.Combine(temp, "examples");
            CopyTree(Path.Combine(repo, "examples"), examples);

            // When the example runs against that package.
            string runDir = Path.Combine(temp, "run");
            string output = Dotnet(temp, "run", "--project", Path.Combine(examples, "QuickStart"), "-c", "Release", $"-p:BnnOnnxVersion={version}",
                "--", Path.Combine(repo, "models"), runDir);

            // Then it saw the blog's 81 weights, sampled 400 draws, wrote a 20-member ensemble and predicted inside its intervals.
            Assert.Contains("model: 6 parameter tensors, 81 weights", output);
            Assert.Contains("draws: 400 in 2 chains", output);
            Assert.True(File.Exists(Path.Combine(runDir, "draws.parquet")) && File.Exists(Path.Combine(runDir, "summary.csv")), output);
            Assert.Matches(new Regex(@"ensemble: 20 members, Normal likelihood, .*ensemble\.onnx"), output);
            Assert.True(File.Exists(Path.Combine(runDir, "ensemble.onnx")), output);
            double sigma = double.Parse(Regex.Match(output, @"sigma: mean ([-0-9.]+)").Groups[1].Value, CultureInfo.InvariantCulture);
            Assert.InRange(sigma, 0.1, 0.5);
            var predictions = Regex.Matches(output, @"predict x=([-0-9.]+) mean=([-0-9.]+) lower=([-0-9.]+) upper=([-0-9.]+)");
            Assert.Equal(3, predictions.Count);
            foreach (Match p in predictions)
            {
                double mean = Number(p, 2), lower = Number(p, 3), upper = Number(p, 4);
                Assert.True(lower < mean && mean < upper, p.Value);
                Assert.InRange(upper - lower, 2 * 1.645 * 0.1, 10); // noise included: at least the 90% width of σ = 0.1
            }
        }
        finally
        {
            Directory.Delete(temp, recursive: true);
            // The packed test version stays out of the NuGet cache.
            string cache = Environment.GetEnvironmentVariable("NUGET_PACKAGES")
                ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");
            string cached = Path.Combine(cache, "bnn.onnx", version);
            if (Directory.Exists(cached)) Directory.Delete(cached, recursive: true);
        }
    }

    private static double Number(Match m, int group) => double.Parse(m.Groups[group].Value, CultureInfo.InvariantCulture);

    /// <summary>Runs <c>dotnet ARGS</c> in <paramref name="directory"/>; its output, or a failure with it.</summary>
    private static string Dotnet(string directory, params string[] args)
    {
        var info = new ProcessStartInfo(DotnetSdkFactAttribute.Dotnet) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        info.Environment["DOTNET_NOLOGO"] = "1";
        // The test host's MSBuild settings would leak into the child build.
        foreach (var key in new[] { "MSBuildExtensionsPath", "MSBUILD_EXE_PATH", "MSBuildSDKsPath" }) info.Environment.Remove(key);
        using var process = Process.Start(info)!;
        var output = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        if (!process.WaitForExit(TimeSpan.FromMinutes(10)))
        {
            process.Kill(entireProcessTree: true);
            Assert.Fail($"dotnet {string.Join(' ', args)} did not finish in 10 minutes:\n{output}");
        }
        process.WaitForExit();
        Assert.True(process.ExitCode == 0, $"dotnet {string.Join(' ', args)} exited with {process.ExitCode}:\n{output}");
        return output.ToString();
    }

    private static void CopyTree(string from, string to)
    {
        foreach (var file in Directory.EnumerateFiles(from, "*", SearchOption.AllDirectories))
        {
            string relative = Path.GetRelativePath(from, file);
            if (relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")) continue;
            string target = Path.Combine(to, relative);
            Directory.CreateDirectory(Path.GetDirectoryName(target)!);
            File.Copy(file, target);
        }
    }
}

/// <summary>A test that needs the .NET SDK's <c>dotnet</c> command: skipped, saying why, where there is none.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class DotnetSdkFactAttribute : FactAttribute
{
    /// <summary>The <c>dotnet</c> that runs the tests (DOTNET_HOST_PATH), else the one on PATH.</summary>
    public static string Dotnet { get; } = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") is { Length: > 0 } host && File.Exists(host)
        ? host
        : (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator)
            .Select(dir => Path.Combine(dir, "dotnet")).FirstOrDefault(File.Exists) ?? "dotnet";

    public DotnetSdkFactAttribute()
    {
        if (!HasSdk()) Skip = "no .NET SDK: the example needs `dotnet pack` and `dotnet run`";
    }

    private static bool HasSdk()
    {
        try
        {
            using var process = Process.Start(new ProcessStartInfo(Dotnet, "--list-sdks") { RedirectStandardOutput = true, RedirectStandardError = true })!;
            string sdks = process.StandardOutput.ReadToEnd();
            process.WaitForExit();
            return process.ExitCode == 0 && sdks.Trim().Length > 0;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            return false;
        }
    }
}
