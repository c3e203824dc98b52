using System.CommandLine;
using System.CommandLine.Parsing;

namespace Bnn.Onnx.Cli;

/// <summary>A usage or input error the user can fix: exit code 2 and one line.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Runs the parsed command and turns failures into exit codes: bad input or usage gives exit code 2 and one line
/// on stderr (the stack trace only with --verbose; see <see cref="IsUserError"/>); an internal fault exits with 70
/// and its message; an interrupted run exits with 130.
/// </summary>
public static class CliRunner
{
    public const int ExitBadInput = 2;
    /// <summary>Sampling ran but did not explore the posterior (nearly every transition diverged); outputs are written.</summary>
    public const int ExitSamplingFailed = 3;
    public const int ExitInternalError = 70;
    public const int ExitInterrupted = 130;

    public static readonly Option<bool> VerboseOption = new("--verbose")
    {
        Description = "Show stack traces for errors.",
        Recursive = true,
    };

    public static int Run(RootCommand root, string[] args) => Run(root, args, Console.Error);

    /// <summary>As <see cref="Run(RootCommand, string[])"/>, with errors written to <paramref name="error"/>.</summary>
    public static int Run(RootCommand root, string[] args, TextWriter error)
    {
        var parse = root.Parse(args);
        bool verbose = parse.GetValue(VerboseOption);
        if (parse.Errors.Count > 0)
        {
            error.WriteLine($"error: {UsageError(parse)}");
            return ExitBadInput;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            error.WriteLine($"error: {OneLine(ex.Message)}");
            if (verbose) error.WriteLine(ex);
            return ExitBadInput;
        }
        catch (OperationCanceledException)
        {
            error.WriteLine("interrupted");
            return ExitInterrupted;
        }
        catch (Exception ex)
        {
            error.WriteLine($"internal error: {OneLine(ex.Message)} ({ex.GetType().Name}; run with --verbose for details)");
            if (verbose) error.WriteLine(ex);
            return ExitInternalError;
        }
    }

    /// <summary>
    /// The parse error to show, on one line: an unknown token first (what the user mistyped), else the first error,
    /// prefixed with its option when the message does not name it (<c>--likelihood: Argument 'poisson' not recognized…</c>).
    /// </summary>
    private static string UsageError(ParseResult parse)
    {
        var unmatched = parse.UnmatchedTokens;
        var chosen = parse.Errors.FirstOrDefault(e => unmatched.Any(t => e.Message.Contains($"'{t}'", StringComparison.Ordinal)))
            ?? parse.Errors[0];
        string message = OneLine(chosen.Message);
        string? option = chosen.SymbolResult switch
        {
            OptionResult o => o.Option.Name,
            ArgumentResult { Parent: OptionResult o } => o.Option.Name,
            _ => null,
        };
        return option is not null && !message.Contains(option, StringComparison.Ordinal) ? $"{option}: {message}" : message;
    }

    /// <summary>
    /// Errors caused by what the user gave us, which exit with code 2 and one line:
    /// <list type="bullet">
    /// <item><see cref="UsageException"/>: a setting or argument the CLI validated (see <see cref="Validated{T}"/>);</item>
    /// <item>I/O failures (<see cref="IOException"/> and its kin, which include the importer's
    /// <see cref="Bnn.Onnx.OnnxImport.OnnxImportException"/>, <see cref="FileNotFoundException"/>,
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
        catch (ArgumentException ex) when (ex is not (ArgumentNullException or ArgumentOutOfRangeException) && ThrownByProject(ex))
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
        return assembly is not null && (assembly == typeof(CliRunner).Assembly.GetName().Name || assembly.StartsWith("Bnn.Onnx.", StringComparison.Ordinal));
    }

    /// <summary>A message on one line: a list on indented lines after a colon becomes comma-separated.</summary>
    public static string OneLine(string message)
    {
        var lines = message.ReplaceLineEndings("\n").Split('\n').Select(l => l.Trim()).Where(l => l.Length > 0).ToList();
        if (lines.Count <= 1) return lines.FirstOrDefault() ?? "";
        return lines[0].EndsWith(':') ? $"{lines[0]} {string.Join(", ", lines.Skip(1))}" : string.Join(" ", lines);
    }
}
