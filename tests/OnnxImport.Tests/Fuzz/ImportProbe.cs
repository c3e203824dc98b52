using System.Diagnostics;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests.Fuzz;

/// <summary>What one import of a hostile file did.</summary>
internal sealed record ProbeResult(OnnxGraph? Graph, Exception? Error, long AllocatedBytes, TimeSpan Elapsed, bool Finished)
{
    public bool Succeeded => Finished && Error is null;
}

/// <summary>
/// Imports one file the way <c>bnn</c> does and checks the robustness contract: the import ends in a graph or in
/// a bad-input exception (exit code 2, one line), never in any other exception, within a hang limit, having
/// allocated no more than a multiple of the bytes it was given.
/// </summary>
internal static class ImportProbe
{
    /// <summary>A case still running after this long is a hang (imports of these files take milliseconds).</summary>
    public static readonly TimeSpan HangLimit = TimeSpan.FromSeconds(20);

    /// <summary>
    /// Allocation allowed per byte of input (model file plus external data) ... The densest legal input, a chain of
    /// unnamed nodes with 1-4 character value names (about 20 bytes a node), costs about 110 bytes per byte: a node's
    /// record, names, lists and sort bookkeeping. The amplifications the fuzzer found cost 2,900 to 23,000.
    /// </summary>
    public const long AllocationPerInputByte = 128;

    /// <summary>... plus this much, whatever the input.</summary>
    public const long AllocationConstant = 64L << 20;

    /// <summary>
    /// The exceptions <c>CliRunner.IsUserError</c> maps to exit code 2 with one line (the test project does not
    /// reference the CLI; this mirrors it).
    /// </summary>
    public static bool IsUserError(Exception ex) => ex switch
    {
        IOException or UnauthorizedAccessException => true,
        PlatformNotSupportedException => false,
        InvalidDataException or NotSupportedException or FormatException =>
            ex.TargetSite?.DeclaringType?.Assembly.GetName().Name?.StartsWith("Bnn.Onnx.", StringComparison.Ordinal) == true,
        _ => false,
    };

    public static ProbeResult Run(string path, ImportOptions? options = null)
    {
        var task = Task.Factory.StartNew(() =>
        {
            long before = GC.GetAllocatedBytesForCurrentThread();
            var clock = Stopwatch.StartNew();
            OnnxGraph? graph = null;
            Exception? error = null;
            try
            {
                graph = OnnxImporter.Import(path, options ?? ImportOptions.Default);
            }
            catch (Exception ex)
            {
                error = ex;
            }
            return new ProbeResult(graph, error, GC.GetAllocatedBytesForCurrentThread() - before, clock.Elapsed, true);
        }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);
        if (!task.Wait(HangLimit))
            return new ProbeResult(null, null, 0, HangLimit, Finished: false);
        return task.Result;
    }

    /// <summary>Null when the result keeps the contract, else what is wrong with it.</summary>
    public static string? Violation(ProbeResult result, long inputBytes)
    {
        if (!result.Finished) return $"still running after {HangLimit.TotalSeconds:0} s";
        if (result.Error is { } ex)
        {
            if (!IsUserError(ex)) return $"{ex.GetType().Name} escaped: {ex.Message}\n{ex.StackTrace}";
            if (string.IsNullOrWhiteSpace(ex.Message)) return $"{ex.GetType().Name} with an empty message";
            if (ex.Message.Contains('\n') || ex.Message.Contains('\r')) return $"message is not one line: {ex.Message}";
        }
        long limit = AllocationPerInputByte * inputBytes + AllocationConstant;
        if (result.AllocatedBytes > limit)
            return $"allocated {result.AllocatedBytes:N0} bytes for {inputBytes:N0} bytes of input (limit {limit:N0})";
        return null;
    }
}
