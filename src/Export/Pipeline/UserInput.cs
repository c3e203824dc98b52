namespace Bnn.Onnx.Pipeline;

/// <summary>
/// A usage or input error the user can fix (a setting, an option's value, a file's contents): the CLI exits with code 2
/// and one line. It is an <see cref="ArgumentException"/>, so a library caller sees bad settings the usual way.
/// </summary>
internal sealed class UsageException(string message) : ArgumentException(message);

/// <summary>
/// Which failures are the user's (bad input) and which are internal faults: one rule for the library pipeline and
/// the CLI's exit codes.
/// </summary>
internal static class UserInput
{
    /// <summary>The CLI's assembly name: its own checks count as the project's, like the Bnn.Onnx libraries'.</summary>
    private const string CliAssembly = "bnn";

    /// <summary>
    /// Errors caused by what the user gave us, which exit with code 2 and one line:
    /// <list type="bullet">
    /// <item><see cref="UsageException"/>: a setting or argument the CLI validated (see <see cref="Validated{T}"/>);</item>
    /// <item>I/O failures (<see cref="IOException"/> and its kin, which include the importer's
    /// <see cref="OnnxImport.OnnxImportException"/>, <see cref="FileNotFoundException"/>,
    /// <see cref="DirectoryNotFoundException"/>) and <see cref="UnauthorizedAccessException"/>: the files and folders
    /// the user named;</item>
    /// <item><see cref="InvalidDataException"/>, <see cref="NotSupportedException"/> and <see cref="FormatException"/>
    /// thrown by the project's own checks of a file, a model or data (a refused model, a malformed CSV row).</item>
    /// </list>
    /// Everything else is an internal fault (exit 70): an <see cref="ArgumentException"/> is a caller's broken
    /// precondition unless a validation site turned it into a <see cref="UsageException"/>, and the types above count
    /// as internal when the runtime or a library threw them (our code handed it something it should not have).
    /// </summary>
    public static bool IsUserError(Exception ex) => ex switch
    {
        UsageException => true,
        IOException or UnauthorizedAccessException => true,
        PlatformNotSupportedException => false,
        InvalidDataException or NotSupportedException or FormatException => ThrownByProject(ex),
        _ => false,
    };

    /// <summary>
    /// Runs a call that validates what the user gave (an option's text, settings, a prior): the one-line
    /// <see cref="ArgumentException"/> it throws by design becomes a <see cref="UsageException"/>. Guard clauses
    /// (<see cref="ArgumentNullException"/>, <see cref="ArgumentOutOfRangeException"/>) and exceptions the runtime
    /// throws stay internal faults.
    /// </summary>
    public static T Validated<T>(Func<T> validation)
    {
        try
        {
            return validation();
        }
        catch (ArgumentException ex) when (ex is not (UsageException or ArgumentNullException or ArgumentOutOfRangeException) && ThrownByProject(ex))
        {
            throw new UsageException(OneLine(ex.Message));
        }
    }

    /// <inheritdoc cref="Validated{T}(Func{T})"/>
    public static void Validated(Action validation) => Validated(() =>
    {
        validation();
        return 0;
    });

    /// <summary>True when the method that threw <paramref name="ex"/> is the project's own code (bnn or a Bnn.Onnx library).</summary>
    private static bool ThrownByProject(Exception ex)
    {
        string? assembly = ex.TargetSite?.DeclaringType?.Assembly.GetName().Name;
        return assembly is not null && (assembly == CliAssembly || assembly.StartsWith("Bnn.Onnx.", StringComparison.Ordinal));
    }

    /// <summary>A message on one line: a list on indented lines after a colon becomes comma-separated.</summary>
    public static string OneLine(string message)
    {
        var lines = message.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (lines.Count <= 1) return lines.FirstOrDefault() ?? "";
        return lines[0].EndsWith(':') ? $"{lines[0]} {string.Join(", ", lines.Skip(1))}" : string.Join(" ", lines);
    }
}
