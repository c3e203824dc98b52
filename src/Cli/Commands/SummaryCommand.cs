using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class SummaryCommand
{
    public static Command Create()
    {
        var command = new Command("summary", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn summary' is not available yet"));
        return command;
    }
}
