using System.CommandLine;
using Bnn.Onnx.Cli.Commands;

namespace Bnn.Onnx.Cli;

/// <summary>The <c>bnn</c> command tree.</summary>
internal static class BnnRoot
{
    public static RootCommand Create()
    {
        var root = new RootCommand("bnn: Bayesian posteriors over the weights of ONNX networks, sampled with NUTS.");
        root.Options.Add(CliRunner.VerboseOption);
        root.Subcommands.Add(ImportCommand.Create());
        root.Subcommands.Add(EvalCommand.Create());
        root.Subcommands.Add(SampleCommand.Create());
        root.Subcommands.Add(SummaryCommand.Create());
        root.Subcommands.Add(ExportCommand.Create());
        root.Subcommands.Add(PredictCommand.Create());
        root.Subcommands.Add(PlotCommand.Create());
        root.Subcommands.Add(EvaluateCommand.Create());
        root.Subcommands.Add(MergeCommand.Create());
        root.Subcommands.Add(BatchCommand.Create());
        return root;
    }
}
