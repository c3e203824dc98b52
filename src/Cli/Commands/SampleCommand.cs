using System.CommandLine;

namespace Bnn.Onnx.Cli.Commands;

// Placeholder until the command lands; replaced by its owner.
public static class SampleCommand
{
    public static Command Create()
    {
        var command = new Command("sample", "(not yet available)");
        command.SetAction(int (_) => throw new UsageException("'bnn sample' is not available yet"));
        return command;
    }
}
