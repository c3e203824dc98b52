using System.Diagnostics;
using System.Runtime.InteropServices;
using System.Text;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>What a finished <c>bnn</c> process left: its exit code and everything it printed.</summary>
public sealed record CliResult(int ExitCode, string Stdout, string Stderr)
{
    /// <summary>The non-empty lines of standard error.</summary>
    public IReadOnlyList<string> ErrorLines =>
        Stderr.ReplaceLineEndings("\n").Split('\n').Where(l => l.Trim().Length > 0).ToList();

    /// <summary>True when standard output or standard error holds a .NET stack-trace frame (<c>   at …</c>).</summary>
    public bool HasStackTrace => (Stdout + "\n" + Stderr).ReplaceLineEndings("\n").Split('\n')
        .Any(l => l.StartsWith("   at ", StringComparison.Ordinal));

    public override string ToString() => $"exit {ExitCode}\n--- stdout ---\n{Stdout}\n--- stderr ---\n{Stderr}";
}

/// <summary>
/// The <c>bnn</c> command line run as a child process (<c>dotnet bnn.dll …</c>, from the test's output folder,
/// where the project reference puts it), so exit codes, signals and the two output streams are the real ones.
/// </summary>
public sealed class BnnProcess : IDisposable
{
    public const int SigInt = 2;
    public const int SigKill = 9;
    public const int SigTerm = 15;

    /// <summary>Longest a command may take before the test fails instead of hanging.</summary>
    public static readonly TimeSpan DefaultTimeout = TimeSpan.FromMinutes(3);

    private readonly Process _process;
    private readonly StringBuilder _stdout = new();
    private readonly StringBuilder _stderr = new();
    private readonly TaskCompletionSource _stdoutClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly TaskCompletionSource _stderrClosed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    private BnnProcess(Process process) => _process = process;

    public static string Dll => Path.Combine(AppContext.BaseDirectory, "bnn.dll");

    public int Id => _process.Id;

    public bool HasExited => _process.HasExited;

    /// <summary>Standard error so far.</summary>
    public string Stderr
    {
        get { lock (_stderr) return _stderr.ToString(); }
    }

    /// <summary>Runs <c>bnn ARGS</c> to the end.</summary>
    public static CliResult Run(params string[] args) => RunIn(null, args);

    /// <summary>Runs <c>bnn ARGS</c> to the end with <paramref name="workingDirectory"/> as the current directory.</summary>
    public static CliResult RunIn(string? workingDirectory, params string[] args)
    {
        using var p = Start(workingDirectory, args);
        return p.WaitForExit(DefaultTimeout);
    }

    public static BnnProcess Start(string? workingDirectory, params string[] args)
    {
        if (!File.Exists(Dll)) throw new InvalidOperationException($"bnn.dll not found beside the tests: {Dll}");
        var info = new ProcessStartInfo(DotnetHost())
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
            WorkingDirectory = workingDirectory ?? Repo.Root,
            StandardOutputEncoding = Encoding.UTF8,
            StandardErrorEncoding = Encoding.UTF8,
        };
        info.ArgumentList.Add(Dll);
        foreach (var a in args) info.ArgumentList.Add(a);

        var process = new Process { StartInfo = info };
        var bnn = new BnnProcess(process);
        process.OutputDataReceived += (_, e) => bnn.Append(bnn._stdout, bnn._stdoutClosed, e.Data);
        process.ErrorDataReceived += (_, e) => bnn.Append(bnn._stderr, bnn._stderrClosed, e.Data);
        StartWithDefaultSigInt(process);
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        return bnn;
    }

    /// <summary>Waits until standard error holds a line matching <paramref name="predicate"/>; false on exit or timeout.</summary>
    public bool WaitForStderr(Func<string, bool> predicate, TimeSpan timeout)
    {
        var deadline = DateTime.UtcNow + timeout;
        while (DateTime.UtcNow < deadline)
        {
            if (Stderr.ReplaceLineEndings("\n").Split('\n').Any(predicate)) return true;
            if (_process.HasExited) return false;
            Thread.Sleep(50);
        }
        return false;
    }

    /// <summary>Sends a POSIX signal to the process.</summary>
    public void Signal(int signal)
    {
        if (kill(_process.Id, signal) != 0)
            throw new InvalidOperationException($"kill({_process.Id}, {signal}) failed with errno {Marshal.GetLastPInvokeError()}");
    }

    public CliResult WaitForExit(TimeSpan timeout)
    {
        if (!_process.WaitForExit(timeout))
        {
            _process.Kill();
            _process.WaitForExit();
            throw new TimeoutException($"bnn did not finish within {timeout}; stderr so far:\n{Stderr}");
        }
        Task.WaitAll([_stdoutClosed.Task, _stderrClosed.Task], TimeSpan.FromSeconds(10));
        string stdout;
        lock (_stdout) stdout = _stdout.ToString();
        return new CliResult(_process.ExitCode, stdout, Stderr);
    }

    public void Dispose()
    {
        try
        {
            if (!_process.HasExited)
            {
                _process.Kill();
                _process.WaitForExit();
            }
        }
        catch (InvalidOperationException)
        {
            // never started
        }
        _process.Dispose();
    }

    private void Append(StringBuilder target, TaskCompletionSource closed, string? line)
    {
        if (line is null)
        {
            closed.TrySetResult();
            return;
        }
        lock (target) target.Append(line).Append('\n');
    }

    private static readonly Lock StartLock = new();

    /// <summary>
    /// Starts the process with SIGINT at its default disposition. A test host launched in the background by a
    /// non-interactive shell ignores SIGINT, children inherit that, and the .NET runtime then leaves it ignored,
    /// so Ctrl-C handling could not be tested; a terminal's Ctrl-C reaches bnn with the default disposition.
    /// </summary>
    private static void StartWithDefaultSigInt(Process process)
    {
        lock (StartLock)
        {
            bool ignored = SigIntIgnored();
            if (ignored) signal(SigInt, SigDfl);
            try
            {
                process.Start();
            }
            finally
            {
                if (ignored) signal(SigInt, SigIgn);
            }
        }
    }

    /// <summary>Whether this process ignores SIGINT (bit 2 of <c>SigIgn</c> in <c>/proc/self/status</c>).</summary>
    private static bool SigIntIgnored()
    {
        if (!OperatingSystem.IsLinux()) return false;
        string? line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("SigIgn:", StringComparison.Ordinal));
        return line is not null
            && ulong.TryParse(line["SigIgn:".Length..].Trim(), System.Globalization.NumberStyles.HexNumber, null, out ulong mask)
            && (mask & (1UL << (SigInt - 1))) != 0;
    }

    private static readonly IntPtr SigDfl = 0;
    private static readonly IntPtr SigIgn = 1;

    [DllImport("libc", SetLastError = true)]
    private static extern IntPtr signal(int sig, IntPtr handler);

    private static string DotnetHost()
    {
        string? host = Environment.GetEnvironmentVariable("DOTNET_HOST_PATH");
        if (!string.IsNullOrEmpty(host) && File.Exists(host)) return host;
        string? root = Environment.GetEnvironmentVariable("DOTNET_ROOT");
        if (!string.IsNullOrEmpty(root) && File.Exists(Path.Combine(root, "dotnet"))) return Path.Combine(root, "dotnet");
        return "dotnet";
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int kill(int pid, int sig);
}
