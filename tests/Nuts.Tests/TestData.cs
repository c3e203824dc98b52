using System.Text.Json;

namespace Bnn.Onnx.Tests;

/// <summary>Files of the shared reference folder (<see cref="SharedFolder"/>).</summary>
internal static class TestData
{
    /// <summary>The path of a shared reference file, or null when it is absent (the test carries <see cref="SharedFactAttribute"/>).</summary>
    public static string? Shared(string relative) => SharedFolder.File(relative);

    public static JsonElement Json(string path) => JsonDocument.Parse(File.ReadAllText(path)).RootElement;
}
