using System.Text.RegularExpressions;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Bad data and bad usage for <c>bnn sample</c>: exit code 2, one line on stderr that names the problem (the 1-based
/// data row and the column where there is one), no stack trace, and nothing written before the check.
/// </summary>
public class RobustnessDataTests
{
    private const string BlogHeader = "x,eps,y\n";

    /// <summary>Data row 2 (the third line of the file) carries the fault.</summary>
    public static TheoryData<string, string, string[]> BadBlogData() => new()
    {
        { "nan", BlogHeader + "0.1,0,0.2\n0.2,0,NaN\n0.3,0,0.4\n", ["row 2", "'y'"] },
        { "positive-infinity", BlogHeader + "0.1,0,0.2\nInfinity,0,0.3\n", ["row 2", "'x'"] },
        { "negative-infinity", BlogHeader + "0.1,0,0.2\n0.2,0,-Infinity\n", ["row 2", "'y'"] },
        { "inf-spelling", BlogHeader + "0.1,0,0.2\n0.2,0,inf\n", ["row 2", "'y'"] },
        { "overflow", BlogHeader + "0.1,0,0.2\n1e999,0,0.3\n", ["row 2", "'x'"] },
        { "non-numeric", BlogHeader + "0.1,0,0.2\n0.2,abc,0.3\n", ["row 2", "'eps'", "abc"] },
        { "empty-cell", BlogHeader + "0.1,0,0.2\n0.2,0,\n", ["row 2", "'y'"] },
        { "ragged-short", BlogHeader + "0.1,0,0.2\n0.2,0\n", ["row 2", "2 cells", "3"] },
        { "ragged-long", BlogHeader + "0.1,0,0.2\n0.2,0,0.3,0.4\n", ["row 2", "4 cells"] },
        { "empty-file", "", ["empty"] },
        { "blank-lines-only", "\n\n  \n", ["empty"] },
        { "header-only", BlogHeader, ["no rows"] },
        { "missing-target", "x,eps,z\n0.1,0,0.2\n", ["'y'"] },
        { "duplicate-column", "x,x,y\n0.1,0,0.2\n", ["'x'", "twice"] },
    };

    [Theory]
    [MemberData(nameof(BadBlogData))]
    public void Bad_data_exits_2_with_one_line_naming_row_and_column_before_writing_anything(string name, string csv, string[] expected)
    {
        using var dir = new TempDir();
        string data = dir.Write($"{name}.csv", csv);
        var result = Sample(dir, "linreg_pytorch.onnx", data, "--features", "x", "--target", "y");
        AssertBadInput(result, dir, expected);
        Assert.Contains($"{name}.csv", result.Stderr); // the file is named too
    }

    [Fact]
    public void A_features_column_that_does_not_exist_is_named()
    {
        using var dir = new TempDir();
        var result = Sample(dir, "linreg_pytorch.onnx", Repo.Model("blog_data.csv"), "--features", "w", "--target", "y");
        AssertBadInput(result, dir, ["'w'", "x, eps, y"]);
    }

    [Fact]
    public void A_feature_count_the_model_input_does_not_take_is_refused()
    {
        using var dir = new TempDir();
        var result = Sample(dir, "linreg_pytorch.onnx", Repo.Model("blog_data.csv"), "--features", "x,eps", "--target", "y");
        AssertBadInput(result, dir, ["blog_data.csv", "2 feature columns", "takes 1"]);
    }

    [Theory]
    [InlineData("2", "row 5")]
    [InlineData("0.5", "row 5")]
    [InlineData("-1", "row 5")]
    public void Bernoulli_targets_other_than_0_and_1_are_named(string label, string row)
    {
        using var dir = new TempDir();
        string data = dir.Write("binary.csv", ReplaceCell(Repo.Model("binary_data.csv"), dataRow: 5, column: 2, label));
        var result = Sample(dir, "binary_logit_pytorch.onnx", data, "--likelihood", "bernoulli");
        AssertBadInput(result, dir, [row, "'y'", label, "binary.csv"]);
    }

    [Theory]
    [InlineData("multiclass_logits_pytorch.onnx", "3")]
    [InlineData("multiclass_softmax_pytorch.onnx", "7")]
    [InlineData("multiclass_logits_pytorch.onnx", "1.5")]
    [InlineData("multiclass_softmax_pytorch.onnx", "-1")]
    public void Class_labels_outside_the_models_classes_are_named(string model, string label)
    {
        using var dir = new TempDir();
        string data = dir.Write("classes.csv", ReplaceCell(Repo.Model("multiclass_data.csv"), dataRow: 7, column: 4, label));
        var result = Sample(dir, model, data, "--likelihood", "categorical");
        AssertBadInput(result, dir, ["row 7", "'y'", label, "0..2"]);
    }

    public static TheoryData<string[], string> BadUsage() => new()
    {
        { ["--bogus", "1"], "--bogus" },
        { ["--chains", "0"], "chains" },
        { ["--warmup", "-5"], "warmup" },
        { ["--target-accept", "1.5"], "target" },
        { ["--likelihood", "poisson"], "poisson" },
        { ["--seed", "abc"], "--seed" },
        { ["--metric", "full"], "full" },
        { ["--metric", "low-rank", "--metric-adaptation", "gradient"], "diagonal metric only" },
        { ["--backend", "tpu"], "tpu" },
        { ["--prior", "nosuch.*=normal(0,1)"], "nosuch" },
    };

    [Theory]
    [MemberData(nameof(BadUsage))]
    public void Bad_usage_exits_2_with_one_line(string[] extra, string expected)
    {
        using var dir = new TempDir();
        var result = Sample(dir, "linreg_pytorch.onnx", Repo.Model("blog_data.csv"), ["--features", "x", "--target", "y", .. extra]);
        AssertBadInput(result, dir, [expected]);
    }

    [Fact]
    public void Missing_data_option_model_file_or_onnx_content_exits_2()
    {
        using var dir = new TempDir();
        string outDir = dir["run"];
        AssertBadInput(InProcessCli.Run("sample", Repo.Model("linreg_pytorch.onnx"), "--out", outDir), dir, ["--data"]);
        AssertBadInput(InProcessCli.Run("sample", dir["absent.onnx"], "--data", Repo.Model("blog_data.csv"), "--out", outDir), dir, ["absent.onnx"]);
        AssertBadInput(InProcessCli.Run("sample", Repo.Model("linreg_pytorch.onnx"), "--data", dir["absent.csv"], "--out", outDir), dir, ["absent.csv"]);
        string notOnnx = dir.Write("model.onnx", "x,y\n1,2\n");
        AssertBadInput(InProcessCli.Run("sample", notOnnx, "--data", Repo.Model("blog_data.csv"), "--out", outDir), dir, ["model.onnx"]);
        AssertBadInput(InProcessCli.Run("no-such-command"), dir, ["no-such-command"]);
        AssertBadInput(InProcessCli.Run("sample", Repo.Model("linreg_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"),
            "--features", "x,y", "--target", "y", "--out", outDir), dir, ["--features", "target", "'y'"]);
    }

    /// <summary>The same refusals from the program itself: exit code 2 and one line on stderr, nothing on stdout.</summary>
    [Fact]
    public void Refusals_reach_the_user_as_exit_2_and_one_line()
    {
        using var dir = new TempDir();
        string nan = dir.Write("nan.csv", BlogHeader + "0.1,0,0.2\n0.2,0,NaN\n");
        string[] linreg = ["sample", Repo.Model("linreg_pytorch.onnx"), "--features", "x", "--target", "y", "--out", dir["run"]];

        var badData = BnnProcess.Run([.. linreg, "--data", nan]);
        AssertBadInput(badData, dir, ["nan.csv", "row 2", "'y'"]);
        Assert.Equal("", badData.Stdout);

        var unknownOption = BnnProcess.Run([.. linreg, "--data", Repo.Model("blog_data.csv"), "--bogus"]);
        AssertBadInput(unknownOption, dir, ["--bogus"]);

        var notAllowed = BnnProcess.Run([.. linreg, "--data", Repo.Model("blog_data.csv"), "--likelihood", "poisson"]);
        AssertBadInput(notAllowed, dir, ["--likelihood", "poisson", "normal"]);

        // --verbose adds the stack trace for whoever reports a bug.
        var verbose = BnnProcess.Run([.. linreg, "--data", nan, "--verbose"]);
        Assert.Equal(2, verbose.ExitCode);
        Assert.True(verbose.HasStackTrace, verbose.ToString());
    }

    [Fact]
    public void Bad_data_into_an_existing_run_directory_leaves_its_files_as_they_were()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        LinregSampleFixture.Instance.CopyTo(runDir);
        var before = Directory.GetFiles(runDir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);

        string bad = dir.Write("bad.csv", BlogHeader + "0.1,0,0.2\n0.2,0,NaN\n");
        var result = InProcessCli.Run("sample", Repo.Model("linreg_pytorch.onnx"), "--data", bad, "--features", "x", "--target", "y",
            "--out", runDir, "--no-progress");

        Assert.Equal(2, result.ExitCode);
        var after = Directory.GetFiles(runDir).ToDictionary(f => Path.GetFileName(f), File.ReadAllBytes);
        Assert.Equal(before.Keys.Order(), after.Keys.Order());
        foreach (var (name, bytes) in before) Assert.True(bytes.SequenceEqual(after[name]), $"{name} changed");
    }

    /// <summary>Refused inputs are checked in process (quick); <see cref="Refusals_reach_the_user_as_exit_2_and_one_line"/> runs the program.</summary>
    private static CliResult Sample(TempDir dir, string model, string data, params string[] extra) =>
        InProcessCli.Run(["sample", Repo.Model(model), "--data", data, "--out", dir["run"], "--seed", "1", .. Runs.Short, .. extra]);

    /// <summary>Exit 2; exactly one stderr line, <c>error: …</c>, holding every expected fragment; no run directory.</summary>
    private static void AssertBadInput(CliResult result, TempDir dir, string[] expected)
    {
        Assert.True(result.ExitCode == 2, result.ToString());
        Assert.False(result.HasStackTrace, result.ToString());
        var line = Assert.Single(result.ErrorLines);
        Assert.StartsWith("error: ", line);
        foreach (var fragment in expected) Assert.Contains(fragment, line);
        Assert.Matches(new Regex(@"^error: \S"), line);
        Assert.False(Directory.Exists(dir["run"]), "the run directory was created before the input was checked");
    }

    /// <summary>The CSV with one cell (1-based data row, 0-based column) replaced.</summary>
    private static string ReplaceCell(string path, int dataRow, int column, string value)
    {
        var lines = File.ReadAllLines(path);
        var cells = lines[dataRow].Split(',');
        cells[column] = value;
        lines[dataRow] = string.Join(',', cells);
        return string.Join('\n', lines) + "\n";
    }
}
