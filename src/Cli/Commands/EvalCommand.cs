using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class EvalCommand
{
    public static Command Create()
    {
        var command = new Command("eval", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn eval' is not available yet"));
        return command;
    }
}
