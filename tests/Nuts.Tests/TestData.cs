using System.Text.Json;

namespace Bnn.Onnx.Tests;

/// <summary>Locates the shared reference folder (../shared from the directory holding Bnn.Onnx.sln).</summary>
internal static class TestData
{
    public static string? SharedDirectory()
    {
        var dir = new DirectoryInfo(AppContext.BaseDirectory);
        while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) dir = dir.Parent;
        if (dir?.Parent is null) return null;
        var shared = Path.Combine(dir.Parent.FullName, "shared");
        return Directory.Exists(shared) ? shared : null;
    }

    /// <summary>The path of a shared reference file, or null (the test then returns early, saying why).</summary>
    public static string? Shared(string relative)
    {
        var shared = SharedDirectory();
        if (shared is null) return null;
        var path = Path.Combine(shared, relative);
        return File.Exists(path) ? path : null;
    }

    public static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;
}
