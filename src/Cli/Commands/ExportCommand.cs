using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class ExportCommand
{
    public static Command Create()
    {
        var command = new Command("export", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn export' is not available yet"));
        return command;
    }
}
