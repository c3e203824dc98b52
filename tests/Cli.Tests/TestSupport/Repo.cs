using System.Reflection;
using System.Runtime.CompilerServices;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>
/// Paths inside the repository. The test assembly may be built outside it (<c>--artifacts-path</c>), so the root is
/// found from the project directory recorded at build time, then from this source file's path, then from the
/// assembly's folder: the first directory upwards that holds <c>Bnn.Onnx.sln</c>.
/// </summary>
public static class Repo
{
    private static readonly Lazy<string> RootPath = new(() => Find());

    public static string Root => RootPath.Value;

    public static string Models => Path.Combine(Root, "models");

    /// <summary>A file in <c>models/</c>.</summary>
    public static string Model(string fileName) => Path.Combine(Models, fileName);

    private static string Find([CallerFilePath] string sourceFile = "")
    {
        string? projectDir = typeof(Repo).Assembly.GetCustomAttributes<AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "CliTestsProjectDir")?.Value;
        foreach (string? start in new[] { projectDir, Path.GetDirectoryName(sourceFile), AppContext.BaseDirectory })
        {
            if (string.IsNullOrEmpty(start)) continue;
            for (var dir = new DirectoryInfo(start); dir is not null; dir = dir.Parent)
                if (File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        }
        throw new InvalidOperationException("Bnn.Onnx.sln not found above the test project, its sources or its output folder");
    }
}
