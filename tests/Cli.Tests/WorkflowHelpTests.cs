using System.CommandLine;
using System.Text.RegularExpressions;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary><c>bnn --help</c> lists every command; <c>bnn COMMAND --help</c> describes every argument and option.</summary>
public class WorkflowHelpTests
{
    public static TheoryData<string> Commands() => ["import", "eval", "sample", "summary", "export", "predict", "plot", "merge", "batch"];

    [Fact]
    public void Root_help_lists_every_command()
    {
        var result = BnnProcess.Run("--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        foreach (var name in Commands())
            Assert.Matches(new Regex($@"(?m)^\s+{name}\b.*\S"), result.Stdout);
        Assert.Contains("--verbose", result.Stdout);
    }

    [Theory]
    [MemberData(nameof(Commands))]
    public void Command_help_describes_every_option(string name)
    {
        var result = BnnProcess.Run(name, "--help");
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        string help = Collapse(result.Stdout);

        var command = Create(name);
        Assert.False(string.IsNullOrWhiteSpace(command.Description));
        Assert.Contains(Collapse(command.Description!), help);
        foreach (var argument in command.Arguments)
        {
            Assert.False(string.IsNullOrWhiteSpace(argument.Description), $"{name} <{argument.Name}> has no description");
            Assert.Contains($"<{argument.Name}>", help);
            Assert.Contains(Collapse(argument.Description!), help);
        }
        foreach (var option in command.Options)
        {
            Assert.False(string.IsNullOrWhiteSpace(option.Description), $"{name} {option.Name} has no description");
            Assert.Contains(option.Name, help);
            Assert.Contains(Collapse(option.Description!), help);
        }
    }

    private static Command Create(string name) => name switch
    {
        "import" => ImportCommand.Create(),
        "eval" => EvalCommand.Create(),
        "sample" => SampleCommand.Create(),
        "summary" => SummaryCommand.Create(),
        "export" => ExportCommand.Create(),
        "predict" => PredictCommand.Create(),
        "plot" => PlotCommand.Create(),
        "merge" => MergeCommand.Create(),
        "batch" => BatchCommand.Create(),
        _ => throw new ArgumentException(name),
    };

    /// <summary>Whitespace runs as one space: help wraps long descriptions onto indented lines.</summary>
    private static string Collapse(string text) => Regex.Replace(text, @"\s+", " ").Trim();
}
