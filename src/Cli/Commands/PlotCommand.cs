using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class PlotCommand
{
    public static Command Create()
    {
        var command = new Command("plot", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn plot' is not available yet"));
        return command;
    }
}
