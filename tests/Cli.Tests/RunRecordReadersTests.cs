using Bnn.Onnx.Cli;
using Bnn.Onnx.Cli.Commands;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>The commands that read a run's record read it through the one parser, from the draws file first.</summary>
public class RunRecordReadersTests
{
    private static readonly ParameterLayout Layout =
        ParameterLayout.FromShapes([("w", [2], BlockTransform.Identity, null), ("sigma", [], BlockTransform.Log, null)]);

    [Fact]
    public void Given_a_run_with_max_depth_3_Then_summary_uses_it_for_the_saturation_warning()
    {
        using var dir = new TempDir("bnn-record-readers-");
        string runDir = dir["run"];
        var record = PlotRuns.Record(Path.Combine(PlotRuns.Models, "linreg_pytorch.onnx"), ["x"], EnsembleLikelihood.Normal, 1);
        // Every transition of these draws has tree depth 3; the draws carry no record, so run.json is read.
        PlotRuns.Write(runDir, Layout, chains: 2, draws: 20, (c, d, j) => 0.01 * (c + d + j),
            (record with { Settings = record.Settings with { MaxDepth = 3 } }).ToJson());

        SummaryCommand.Read([runDir], out int? maxDepth);

        Assert.Equal(3, maxDepth);
    }

    [Fact]
    public void Given_a_run_without_a_record_Then_export_exits_2_naming_what_is_missing()
    {
        using var dir = new TempDir("bnn-record-readers-");
        string runDir = dir["run"];
        PlotRuns.Write(runDir, Layout, chains: 1, draws: 5, (c, d, j) => 0.1 * j);

        var result = InProcessCli.Run("export", runDir);

        Assert.True(result.ExitCode == CliRunner.ExitBadInput, result.ToString());
        Assert.Contains("no run record", Assert.Single(result.ErrorLines));
    }
}
