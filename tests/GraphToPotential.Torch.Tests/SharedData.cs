namespace Bnn.Onnx.Tests;

/// <summary>The shared reference folder (<c>../shared</c> from the repository root), or null when absent.</summary>
internal static class SharedData
{
    public static readonly string? Root = Find();

    public static readonly string? RepositoryRoot = FindRepository();

    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([Root ?? throw new InvalidOperationException("shared folder absent"), .. parts]);

    public const string Missing = "the shared reference folder ../shared is absent";

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

    private static string? Find()
    {
        var repo = FindRepository();
        if (repo is null) return null;
        var shared = System.IO.Path.GetFullPath(System.IO.Path.Combine(repo, "..", "shared"));
        return Directory.Exists(shared) ? shared : null;
    }
}

/// <summary>A fact that is skipped, saying why, when the shared reference folder is absent.</summary>
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute()
    {
        if (SharedData.Root is null) Skip = SharedData.Missing;
    }
}

/// <summary>A theory that is skipped, saying why, when the shared reference folder is absent.</summary>
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute()
    {
        if (SharedData.Root is null) Skip = SharedData.Missing;
    }
}
