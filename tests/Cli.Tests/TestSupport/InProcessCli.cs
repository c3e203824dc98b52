using System.CommandLine;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Commands;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>
/// The <c>bnn</c> command tree run inside the test process through <see cref="CliRunner"/>, with its error output
/// captured: for inputs refused before anything runs (no child process to start, so many cases stay quick).
/// Commands that succeed print to the console; use <see cref="BnnProcess"/> for those.
/// </summary>
public static class InProcessCli
{
    /// <summary>The same command tree as the program's entry point.</summary>
    public static RootCommand Root()
    {
        var root = new RootCommand("bnn");
        root.Options.Add(CliRunner.VerboseOption);
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        return root;
    }

    public static CliResult Run(params string[] args)
    {
        using var error = new StringWriter();
        int exit = CliRunner.Run(Root(), args, error);
        return new CliResult(exit, "", error.ToString());
    }
}
