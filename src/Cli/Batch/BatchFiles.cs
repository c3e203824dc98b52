using System.Security.Cryptography;
using System.Text;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>File helpers safe for several batch processes (shards, possibly on several hosts) sharing one folder.</summary>
internal static class BatchFiles
{
    /// <summary>
    /// Writes <paramref name="path"/> under a temporary name unique to this host, process and call, then renames it
    /// into place: readers see the old file or the new one, never a part.
    /// </summary>
    public static void WriteAtomically(string path, string contents) =>
        WriteAtomically(path, stream => stream.Write(new UTF8Encoding(false).GetBytes(contents)));

    /// <inheritdoc cref="WriteAtomically(string, string)"/>
    public static void WriteAtomically(string path, Action<Stream> write)
    {
        string full = Path.GetFullPath(path);
        string temp = Path.Combine(Path.GetDirectoryName(full)!,
            $".{Path.GetFileName(full)}.{Environment.MachineName}.{Environment.ProcessId}.{Guid.NewGuid():N}.tmp");
        try
        {
            using (var stream = new FileStream(temp, FileMode.CreateNew, FileAccess.Write, FileShare.None))
            {
                write(stream);
                stream.Flush(flushToDisk: true);
            }
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    /// <summary>
    /// Runs <paramref name="action"/> holding an exclusive lock on <paramref name="lockPath"/> (an advisory file lock),
    /// waiting for other processes that hold it.
    /// </summary>
    public static void WithLock(string lockPath, Action action)
    {
        var deadline = DateTime.UtcNow.AddMinutes(2);
        while (true)
        {
            FileStream? held = null;
            try
            {
                held = new FileStream(lockPath, FileMode.OpenOrCreate, FileAccess.ReadWrite, FileShare.None);
            }
            catch (IOException) when (DateTime.UtcNow < deadline)
            {
                Thread.Sleep(Random.Shared.Next(20, 100));
                continue;
            }
            using (held)
            {
                action();
                return;
            }
        }
    }

    /// <summary>The SHA-256 of a file, lower-case hex.</summary>
    public static string Sha256(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }

    /// <summary>Whether a process with this id runs on this host.</summary>
    public static bool IsRunning(int pid)
    {
        if (pid == Environment.ProcessId) return true;
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (Exception ex) when (ex is ArgumentException or InvalidOperationException)
        {
            return false;
        }
    }
}
