using System.CommandLine;
using Bnn.Onnx.Cli;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>
/// The <c>bnn</c> command tree run inside the test process through <see cref="CliRunner"/>, with its error output
/// captured: for inputs refused before anything runs (no child process to start, so many cases stay quick).
/// Commands that succeed print to the console; use <see cref="BnnProcess"/> for those.
/// </summary>
public static class InProcessCli
{
    /// <summary>The same command tree as the program's entry point.</summary>
    /// <summary>The same command tree as the program's entry point.</summary>
    public static RootCommand Root() => BnnRoot.Create();

    public static CliResult Run(params string[] args)
    {
        using var error = new StringWriter();
        int exit = CliRunner.Run(Root(), args, error);
        return new CliResult(exit, "", error.ToString());
    }
}
