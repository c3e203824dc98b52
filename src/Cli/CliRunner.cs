using System.CommandLine;

namespace Bnn.Onnx.Cli;

/// <summary>A usage or input error the user can fix: exit code 2 and one line.</summary>
public sealed class UsageException(string message) : Exception(message);

/// <summary>
/// Runs the parsed command and turns failures into exit codes: bad input or usage gives exit code 2 and one line
/// on stderr (the stack trace only with --verbose); an interrupted run exits with 130.
/// </summary>
public static class CliRunner
{
    public const int ExitBadInput = 2;
    public const int ExitInternalError = 70;
    public const int ExitInterrupted = 130;

    public static readonly Option<bool> VerboseOption = new("--verbose")
    {
        Description = "Show stack traces for errors.",
        Recursive = true,
    };

    public static int Run(RootCommand root, string[] args)
    {
        var parse = root.Parse(args);
        bool verbose = parse.GetValue(VerboseOption);
        if (parse.Errors.Count > 0)
        {
            Console.Error.WriteLine($"error: {parse.Errors[0].Message}");
            return ExitBadInput;
        }

        try
        {
            return parse.Invoke(new InvocationConfiguration { EnableDefaultExceptionHandler = false });
        }
        catch (Exception ex) when (IsUserError(ex))
        {
            Console.Error.WriteLine($"error: {OneLine(ex.Message)}");
            if (verbose) Console.Error.WriteLine(ex);
            return ExitBadInput;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine("interrupted");
            return ExitInterrupted;
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"internal error: {OneLine(ex.Message)} ({ex.GetType().Name}; run with --verbose for details)");
            if (verbose) Console.Error.WriteLine(ex);
            return ExitInternalError;
        }
    }

    /// <summary>
    /// Errors caused by what the user gave us: unreadable or malformed files and data, bad settings.
    /// Library code reports these as <see cref="InvalidDataException"/>, <see cref="ArgumentException"/>,
    /// <see cref="NotSupportedException"/>, <see cref="FormatException"/> or I/O exceptions.
    /// </summary>
    public static bool IsUserError(Exception ex) => ex is UsageException or InvalidDataException or ArgumentException
        or NotSupportedException or FormatException or FileNotFoundException or DirectoryNotFoundException
        or UnauthorizedAccessException or IOException;

    public static string OneLine(string message) => message.ReplaceLineEndings(" ").Trim();
}
