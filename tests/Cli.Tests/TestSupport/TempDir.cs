namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>A fresh temporary directory, deleted with everything in it on dispose.</summary>
public sealed class TempDir : IDisposable
{
    public TempDir(string prefix = "bnn-e2e-") => Path = Directory.CreateTempSubdirectory(prefix).FullName;

    public string Path { get; }

    /// <summary>A path inside the directory (nothing is created).</summary>
    public string this[string relative] => System.IO.Path.Combine(Path, relative);

    /// <summary>Writes <paramref name="contents"/> to a file inside the directory and returns its path.</summary>
    public string Write(string relative, string contents)
    {
        string path = this[relative];
        Directory.CreateDirectory(System.IO.Path.GetDirectoryName(path)!);
        File.WriteAllText(path, contents);
        return path;
    }

    public void Dispose()
    {
        try
        {
            Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
            // A child process killed by a test may still be closing files; the OS cleans temp space.
        }
    }
}
