namespace Bnn.Onnx.Tests;

/// <summary>The shared reference folder (<see cref="SharedFolder"/>), or null when absent, and the repository root.</summary>
internal static class SharedData
{
    public static string? Root => SharedFolder.Root;

    public static readonly string? RepositoryRoot = FindRepository();

    public static string Path(params string[] parts) => SharedFolder.Path(parts);

    private static string? FindRepository()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(System.IO.Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        // Built with --artifacts-path outside the repository: the repository the test project was built from.
        var built = typeof(SharedData).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>()
            .FirstOrDefault(a => a.Key == "RepositoryRoot")?.Value;
        return built is not null && File.Exists(System.IO.Path.Combine(built, "Bnn.Onnx.sln")) ? built : null;
    }
}
