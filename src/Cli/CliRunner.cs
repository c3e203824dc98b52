using System.CommandLine;
using System.CommandLine.Parsing;

namespace Bnn.Onnx.Cli;

/// <summary>
/// Runs the parsed command and turns failures into exit codes: bad input or usage gives exit code 2 and one line
/// on stderr (the stack trace only with --verbose; see <see cref="IsUserError"/>); an internal fault exits with 70
/// and its message; an interrupted run exits with 130.
/// </summary>
internal static class CliRunner
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

    /// <inheritdoc cref="UserInput.IsUserError"/>
    public static bool IsUserError(Exception ex) => UserInput.IsUserError(ex);

    /// <inheritdoc cref="UserInput.Validated{T}(Func{T})"/>
    public static T Validated<T>(Func<T> validation) => UserInput.Validated(validation);

    /// <inheritdoc cref="UserInput.Validated{T}(Func{T})"/>
    public static void Validated(Action validation) => UserInput.Validated(validation);

    /// <inheritdoc cref="UserInput.OneLine"/>
    public static string OneLine(string message) => UserInput.OneLine(message);
}
