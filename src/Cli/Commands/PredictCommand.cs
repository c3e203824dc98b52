using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class PredictCommand
{
    public static Command Create()
    {
        var command = new Command("predict", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn predict' is not available yet"));
        return command;
    }
}
