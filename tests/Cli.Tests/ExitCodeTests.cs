using System.CommandLine;
using System.Diagnostics;
using System.IO.Compression;
using Bnn.Onnx.Cli;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Exit codes: 2 and one line only for what the user gave and the project checked; an internal fault is 70 with its
/// message, whatever its type.
/// </summary>
public class ExitCodeTests
{
    /// <summary>A one-command tree whose action runs <paramref name="action"/>, as the real commands run theirs.</summary>
    private static CliResult RunFaulty(Action action)
    {
        var command = new Command("fault");
        command.SetAction(int (_) =>
        {
            action();
            return 0;
        });
        var root = new RootCommand { command };
        root.Options.Add(CliRunner.VerboseOption);
        using var error = new StringWriter();
        int exit = CliRunner.Run(root, ["fault"], error);
        return new CliResult(exit, "", error.ToString());
    }

    private static void AssertInternal(CliResult result, string message)
    {
        Assert.True(result.ExitCode == CliRunner.ExitInternalError, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("internal error: ", line);
        Assert.Contains(message, line);
    }

    [Fact]
    public void Given_a_broken_invariant_Then_exit_70_with_its_message()
    {
        AssertInternal(RunFaulty(() => throw new UnreachableException("the layout and the draws disagree")), "the layout and the draws disagree");
        AssertInternal(RunFaulty(() => throw new InvalidOperationException("no sink attached")), "no sink attached");
    }

    [Fact]
    public void Given_a_runtime_or_library_exception_of_a_user_error_type_Then_it_is_internal()
    {
        // An ArgumentException from the runtime is our code passing it something wrong.
        AssertInternal(RunFaulty(() => new Dictionary<string, int> { ["w"] = 1 }.Add("w", 2)), "same key");
        AssertInternal(RunFaulty(() => _ = new List<int>()[3]), "Index was out of range");
        // An InvalidDataException the runtime throws (here: inflating bytes that are not a deflate stream).
        AssertInternal(RunFaulty(() =>
        {
            using var inflate = new DeflateStream(new MemoryStream([0xFF, 0xFF, 0xFF, 0xFF]), CompressionMode.Decompress);
            inflate.ReadByte();
        }), "");
    }

    [Fact]
    public void Given_a_broken_precondition_in_the_project_Then_it_is_internal_unless_a_validation_site_owns_it()
    {
        // MemberSelection.Thin's caller must not ask for more members than draws: a caller's bug.
        AssertInternal(RunFaulty(() => MemberSelection.Thin([3], 4, out _)), "");

        // The same type from a call the CLI marks as validating user input is the user's to fix.
        var validated = RunFaulty(() => CliRunner.Validated(() => PosteriorOptions.ParseLikelihood("poisson")));
        Assert.True(validated.ExitCode == CliRunner.ExitBadInput, validated.ToString());
        Assert.Equal("error: --likelihood 'poisson': expected normal, bernoulli or categorical", Assert.Single(validated.ErrorLines));
    }

    [Fact]
    public void Given_a_bad_input_file_Then_exit_2_with_one_line()
    {
        using var dir = new TempDir("bnn-exit-codes-");
        string input = dir.Write("x.csv", "0.5\nnot-a-number\n");

        var result = BnnProcess.Run("eval", Repo.Model("linreg_pytorch.onnx"), "--input", input);

        Assert.True(result.ExitCode == CliRunner.ExitBadInput, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        Assert.Contains("not-a-number", line);
    }

    [Fact]
    public void Given_a_run_record_that_is_not_one_Then_export_exits_2_with_one_line()
    {
        using var dir = new TempDir("bnn-exit-codes-");
        string runDir = dir["run"];
        PlotRuns.Write(runDir, Bnn.Onnx.Nuts.ParameterLayout.FromShapes([("w", [2], Bnn.Onnx.Nuts.BlockTransform.Identity, null)]),
            chains: 1, draws: 5, (c, d, j) => 0.1 * j, runJson: "{\"version\": 1, \"status\": \"completed\"}");

        var result = InProcessCli.Run("export", runDir);

        Assert.True(result.ExitCode == CliRunner.ExitBadInput, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.Contains("run.json: not a valid run record", line);
    }
}
