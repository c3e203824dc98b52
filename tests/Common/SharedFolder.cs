namespace Bnn.Onnx.Tests;

/// <summary>
/// The shared reference folder: <c>../shared</c> beside the repository root, or the folder named by
/// <see cref="Variable"/>. Tests that read it carry <see cref="SharedFactAttribute"/> or
/// <see cref="SharedTheoryAttribute"/>, so that without it they are reported as skipped, with the reason, not as passed.
/// </summary>
internal static class SharedFolder
{
    /// <summary>Environment variable that names the shared folder instead of <c>../shared</c> (a path that does not exist hides it).</summary>
    public const string Variable = "BNN_SHARED_DIR";

    /// <summary>Where the folder is looked for.</summary>
    public static string Expected { get; } = Locate();

    /// <summary>The folder, or null when it is absent.</summary>
    public static string? Root => Directory.Exists(Expected) ? Expected : null;

    /// <summary>Why a test that needs the folder was skipped.</summary>
    public static string Missing(string? part = null) =>
        $"the shared reference folder {System.IO.Path.Combine(Expected, part ?? "")} is absent";

    /// <summary>A path inside the folder; the folder must be present (the test carries a Shared attribute).</summary>
    public static string Path(params string[] parts) =>
        System.IO.Path.Combine([Root ?? throw new InvalidOperationException(Missing()), .. parts]);

    /// <summary>A file inside the folder, or null when the folder or the file is absent.</summary>
    public static string? File(string relative)
    {
        if (Root is not string root) return null;
        string path = System.IO.Path.GetFullPath(System.IO.Path.Combine(root, relative));
        return System.IO.File.Exists(path) ? path : null;
    }

    /// <summary>True when <paramref name="part"/> (a file or folder inside the shared folder; the folder itself when null) exists.</summary>
    public static bool Has(string? part = null) =>
        Root is string root && (part is null || System.IO.File.Exists(System.IO.Path.Combine(root, part)) || Directory.Exists(System.IO.Path.Combine(root, part)));

    private static string Locate()
    {
        if (Environment.GetEnvironmentVariable(Variable) is { Length: > 0 } named) return System.IO.Path.GetFullPath(named);
        return System.IO.Path.GetFullPath(System.IO.Path.Combine(RepositoryRoot(), "..", "shared"));
    }

    /// <summary>The directory holding Bnn.Onnx.sln: above the test binaries, else above this source file (builds with --artifacts-path).</summary>
    private static string RepositoryRoot([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, System.IO.Path.GetDirectoryName(sourceFile) ?? "" })
            for (var dir = start.Length > 0 ? new DirectoryInfo(start) : null; dir is not null; dir = dir.Parent)
                if (System.IO.File.Exists(System.IO.Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) return dir.FullName;
        throw new InvalidOperationException("Bnn.Onnx.sln not found above " + AppContext.BaseDirectory);
    }
}

/// <summary>A fact that needs the shared reference folder (or <paramref name="part"/> of it): skipped, saying why, when it is absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedFactAttribute : FactAttribute
{
    public SharedFactAttribute(string? part = null)
    {
        if (!SharedFolder.Has(part)) Skip = SharedFolder.Missing(part);
    }
}

/// <summary>A theory that needs the shared reference folder (or <paramref name="part"/> of it): skipped, saying why, when it is absent.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SharedTheoryAttribute : TheoryAttribute
{
    public SharedTheoryAttribute(string? part = null)
    {
        if (!SharedFolder.Has(part)) Skip = SharedFolder.Missing(part);
    }
}
