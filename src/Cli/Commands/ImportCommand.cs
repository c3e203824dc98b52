using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class ImportCommand
{
    public static Command Create()
    {
        var command = new Command("import", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn import' is not available yet"));
        return command;
    }
}
