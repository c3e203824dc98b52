using System.Runtime.InteropServices;

namespace Bnn.Onnx.Cli;

/// <summary>
/// Turns Ctrl-C (SIGINT) and SIGTERM into a cancellation request, so a run finishes its current iteration, flushes
/// what it has and exits with 130 instead of dying mid-write. A second Ctrl-C is left to terminate the process.
/// </summary>
internal sealed class Interruption : IDisposable
{
    private readonly CancellationTokenSource _source = new();
    private readonly PosixSignalRegistration? _sigterm;
    private readonly PosixSignalRegistration? _sigint;

    public Interruption()
    {
        _sigint = Register(PosixSignal.SIGINT);
        _sigterm = Register(PosixSignal.SIGTERM);
    }

    public CancellationToken Token => _source.Token;

    private PosixSignalRegistration? Register(PosixSignal signal)
    {
        try
        {
            return PosixSignalRegistration.Create(signal, context =>
            {
                if (_source.IsCancellationRequested) return; // second signal: default handling ends the process
                context.Cancel = true;
                Console.Error.WriteLine($"\n{(signal == PosixSignal.SIGINT ? "interrupt" : "SIGTERM")}: finishing the current iteration and saving the draws so far…");
                _source.Cancel();
            });
        }
        catch (PlatformNotSupportedException)
        {
            return null;
        }
    }

    public void Dispose()
    {
        _sigint?.Dispose();
        _sigterm?.Dispose();
        _source.Dispose();
    }
}
