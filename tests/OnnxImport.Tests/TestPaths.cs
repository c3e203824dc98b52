namespace Bnn.Onnx.Tests;

/// <summary>Where the repository, its models/ folder and the shared reference folder are.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRepoRoot();

    public static string Models => Path.Combine(RepoRoot, "models");

    /// <summary>The shared reference folder (see <see cref="SharedFolder"/>), present or not.</summary>
    public static string Shared => SharedFolder.Expected;

    public static string SharedOnnx => Path.Combine(Shared, "onnx");

    public static string Model(string fileName) => Path.Combine(Models, fileName);

    private static string SourceFile([System.Runtime.CompilerServices.CallerFilePath] string path = "") => path;

    private static string FindRepoRoot()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        // Built outside the tree (--artifacts-path): fall back to where this source file was compiled from.
        for (var dir = new DirectoryInfo(Path.GetDirectoryName(SourceFile()) ?? "."); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bnn.Onnx.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>Reads the expected-output CSVs (no header, one sample per row).</summary>
internal static class Csv
{
    public static double[][] ReadRows(string path) =>
        File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
            .Select(l => l.Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray())
            .ToArray();
}
