using System.Diagnostics;
using System.Net;
using System.Net.Sockets;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>
/// A single-node Slurm cluster on localhost for the tests: munged (with a fresh key), slurmctld and slurmd, each in
/// the foreground as a child process, with every file (slurm.conf, state, spool, logs, the munge socket) in a
/// temporary folder and clients pointed at it by <c>SLURM_CONF</c>. Started on first use, stopped on dispose.
/// Needs Debian's <c>slurm-wlm</c> and <c>munge</c>, and root (slurmd starts jobs as their user).
/// </summary>
public sealed class SlurmCluster : IDisposable
{
    private static readonly string[] Programs = ["munged", "slurmctld", "slurmd", "sbatch", "squeue", "scancel", "sinfo"];

    /// <summary>Why the cluster cannot start here, or null when it can.</summary>
    public static string? Unavailable { get; } = FindUnavailable();

    private readonly List<Process> _daemons = [];
    private readonly Lock _gate = new();
    private TempDir? _dir;

    /// <summary>The environment that points Slurm's clients at this cluster.</summary>
    public IReadOnlyDictionary<string, string> Environment => new Dictionary<string, string> { ["SLURM_CONF"] = Conf };

    public string Conf => Path.Combine(Dir, "slurm.conf");

    private string Dir => _dir?.Path ?? throw new InvalidOperationException("the cluster is not started");

    /// <summary>Starts the daemons (once) and waits until the node is idle.</summary>
    public void EnsureStarted()
    {
        lock (_gate)
        {
            if (_dir is not null) return;
            _dir = new TempDir("bnn-slurm-");
            try
            {
                Start();
            }
            catch
            {
                Stop();
                throw;
            }
        }
    }

    private void Start()
    {
        string dir = Dir;
        Directory.CreateDirectory(Path.Combine(dir, "state"));
        Directory.CreateDirectory(Path.Combine(dir, "spool"));
        string key = Path.Combine(dir, "munge.key");
        File.WriteAllBytes(key, System.Security.Cryptography.RandomNumberGenerator.GetBytes(1024));
        if (OperatingSystem.IsLinux()) File.SetUnixFileMode(key, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        string socket = Path.Combine(dir, "munge.socket");
        _daemons.Add(Daemon("munged", "-F", "--force", "-S", socket, "--key-file=" + key, "--log-file=" + Path.Combine(dir, "munged.log"),
            "--pid-file=" + Path.Combine(dir, "munged.pid"), "--seed-file=" + Path.Combine(dir, "munged.seed")));
        WaitFor(() => File.Exists(socket), "munged's socket");

        string host = System.Environment.MachineName;
        int cpus = Math.Max(4, System.Environment.ProcessorCount);
        File.WriteAllText(Conf, $"""
            ClusterName=bnntest
            SlurmctldHost={host}(127.0.0.1)
            SlurmUser=root
            SlurmdUser=root
            SlurmctldPort={FreePort()}
            SlurmdPort={FreePort()}
            AuthType=auth/munge
            AuthInfo=socket={socket}
            CredType=cred/munge
            StateSaveLocation={dir}/state
            SlurmdSpoolDir={dir}/spool
            SlurmctldPidFile={dir}/slurmctld.pid
            SlurmdPidFile={dir}/slurmd.pid
            SlurmctldLogFile={dir}/slurmctld.log
            SlurmdLogFile={dir}/slurmd.log
            ProctrackType=proctrack/linuxproc
            TaskPlugin=task/none
            SelectType=select/cons_tres
            SelectTypeParameters=CR_CPU
            SchedulerType=sched/backfill
            SchedulerParameters=sched_interval=1
            JobAcctGatherType=jobacct_gather/none
            AccountingStorageType=accounting_storage/none
            MpiDefault=none
            ReturnToService=2
            KillWait=5
            MinJobAge=600
            SlurmdParameters=config_overrides
            NodeName={host} NodeAddr=127.0.0.1 CPUs={cpus} RealMemory=1000 State=UNKNOWN
            PartitionName=debug Nodes={host} Default=YES MaxTime=INFINITE State=UP

            """);
        _daemons.Add(Daemon("slurmctld", "-D", "-i", "-f", Conf));
        _daemons.Add(Daemon("slurmd", "-D", "-N", host, "-f", Conf));
        WaitFor(() => Run("sinfo", "-h", "-o", "%t").Output.Trim() == "idle", "the node to be idle");
    }

    /// <summary>Runs a Slurm client (or any program) against this cluster; its exit code and standard output and error.</summary>
    public (int ExitCode, string Output, string Error) Run(string program, params string[] args)
    {
        var info = new ProcessStartInfo(Resolve(program)) { UseShellExecute = false, RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var a in args) info.ArgumentList.Add(a);
        info.Environment["SLURM_CONF"] = Conf;
        using var p = Process.Start(info)!;
        var output = p.StandardOutput.ReadToEndAsync();
        string error = p.StandardError.ReadToEnd();
        p.WaitForExit();
        return (p.ExitCode, output.Result, error);
    }

    /// <summary>Waits until Slurm no longer lists <paramref name="jobId"/> as pending or running.</summary>
    public void WaitForJob(string jobId, TimeSpan timeout) =>
        WaitFor(() => Run("squeue", "-h", "-j", jobId) is var q && q.ExitCode == 0 && q.Output.Trim().Length == 0, $"Slurm job {jobId} to end", timeout);

    /// <summary>The last lines of the daemons' logs, for a failure message.</summary>
    public string Logs() => string.Join("\n", new[] { "slurmctld.log", "slurmd.log" }.Select(f => Path.Combine(Dir, f)).Where(File.Exists)
        .Select(f => $"--- {Path.GetFileName(f)} ---\n" + string.Join("\n", File.ReadLines(f).TakeLast(15))));

    private void WaitFor(Func<bool> condition, string what, TimeSpan? timeout = null)
    {
        var deadline = DateTime.UtcNow + (timeout ?? TimeSpan.FromSeconds(60));
        while (!condition())
        {
            if (_daemons.FirstOrDefault(d => d.HasExited) is { } dead)
                throw new InvalidOperationException($"{dead.StartInfo.ArgumentList[3]} exited with {dead.ExitCode} while waiting for {what}\n{Logs()}");
            if (DateTime.UtcNow > deadline) throw new TimeoutException($"timed out waiting for {what}\n{Logs()}");
            Thread.Sleep(250);
        }
    }

    private Process Daemon(string program, params string[] args)
    {
        string log = Path.Combine(Dir, program + ".out");
        return BatchJobs.Redirected(log, log + ".err", new Dictionary<string, string> { ["SLURM_CONF"] = Conf }, [Resolve(program), .. args]);
    }

    private void Stop()
    {
        // slurmd first (it may have job processes), then the controller, then munged.
        foreach (var p in Enumerable.Reverse(_daemons))
        {
            try
            {
                if (!p.HasExited)
                {
                    p.Kill(entireProcessTree: true);
                    p.WaitForExit(10_000);
                }
            }
            catch (InvalidOperationException)
            {
                // already gone
            }
            p.Dispose();
        }
        _daemons.Clear();
        _dir?.Dispose();
        _dir = null;
    }

    public void Dispose()
    {
        lock (_gate) Stop();
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static string Resolve(string program) =>
        (System.Environment.GetEnvironmentVariable("PATH") ?? "").Split(':', StringSplitOptions.RemoveEmptyEntries)
            .Concat(["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin", "/usr/local/bin"])
            .Select(d => Path.Combine(d, program)).FirstOrDefault(File.Exists) ?? program;

    private static string? FindUnavailable()
    {
        if (!OperatingSystem.IsLinux()) return "the Slurm tests run on Linux only";
        var missing = Programs.Where(p => Resolve(p) == p).ToList();
        if (missing.Count > 0) return $"Slurm is not installed ({string.Join(", ", missing)} not found; apt-get install slurm-wlm munge)";
        if (System.Environment.UserName != "root") return "the single-node Slurm cluster needs root (slurmd starts jobs as their user)";
        return null;
    }
}

/// <summary>A fact that needs a local Slurm cluster (<see cref="SlurmCluster"/>): skipped, saying why, where it cannot start.</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class SlurmFactAttribute : FactAttribute
{
    public SlurmFactAttribute()
    {
        if (SlurmCluster.Unavailable is { } reason) Skip = reason;
    }
}
