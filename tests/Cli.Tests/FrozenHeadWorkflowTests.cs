using System.Globalization;
using System.Text.Json;
using Bnn.Onnx.Export;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A Bayesian head on a CNN and on a transformer encoder (models/head/, made by models/make_head_fixtures.py): <c>bnn import --freeze</c> shows
/// the cut, <c>bnn sample</c> samples the head on ONNX Runtime's features, <c>bnn export</c> writes the frozen part once,
/// and <c>bnn predict</c> and <c>bnn evaluate</c> take raw images. Short runs (2 chains × (50 + 50) on 100 rows).
/// </summary>
public class FrozenHeadWorkflowTests
{
    /// <summary>Model, the option that cuts it, the feature tensor and its shape, the sampled parameters.</summary>
    public static TheoryData<string, string[], string, int, string[]> Models => new()
    {
        { "digits_cnn_op13", ["--freeze", "conv*"], "/Flatten_output_0", 32, ["fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"] },
        { "digits_transformer_op14", ["--sample", "head.*"], "/ReduceMean_output_0", 16, ["head.0.weight", "head.0.bias", "head.2.weight", "head.2.bias"] },
    };

    /// <summary>The first <paramref name="rows"/> data rows of a headed CSV (with its header), or without header and label.</summary>
    private static string Subset(TempDir dir, string file, int rows, bool pixelsOnly)
    {
        var lines = File.ReadLines(Repo.Model("head/" + file)).ToList();
        var body = lines.Skip(1).Take(rows).Select(l => pixelsOnly ? l[..l.LastIndexOf(',')] : l);
        return dir.Write((pixelsOnly ? "x_" : "") + file, string.Join('\n', pixelsOnly ? body : body.Prepend(lines[0])) + "\n");
    }

    [Theory]
    [MemberData(nameof(Models))]
    public void Import_freeze_then_sample_export_and_predict_on_raw_images(string model, string[] cut, string feature, int width, string[] sampled)
    {
        string path = Repo.Model("head/" + model + ".onnx");
        using var dir = new TempDir();

        var import = BnnProcess.Run(["import", path, .. cut]);
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.Contains("frozen part, run once per row by ONNX Runtime", import.Stdout);
        Assert.Contains($"feature tensor: {feature} float32 [batch,{width}]", import.Stdout);
        Assert.Contains("yes ensemble", import.Stdout);

        string runDir = dir["run"];
        var sample = BnnProcess.Run(["sample", path, "--data", Subset(dir, "digits_train.csv", 100, false), "--target", "label",
            "--likelihood", "categorical", .. cut, "--chains", "2", "--warmup", "50", "--draws", "50", "--max-depth", "6", "--seed", "7",
            "--no-progress", "--out", runDir]);
        Assert.True(sample.ExitCode is 0, sample.ToString());
        Assert.Contains(sample.ErrorLines, l => l.StartsWith("note: frozen part: ", StringComparison.Ordinal)
            && l.Contains($"the head reads '{feature}' [{width}]", StringComparison.Ordinal));

        // Draws and summary hold only the sampled parameters; run.json records the cut.
        var summary = CsvTable.Read(Path.Combine(runDir, "summary.csv"));
        var names = summary.Rows.Select(r => r[0]).Where(n => n != "lp__" && !n.StartsWith("mu[", StringComparison.Ordinal)).ToList();
        Assert.All(names, n => Assert.Contains(n[..n.IndexOf('[')], sampled));
        Assert.Equal(sampled, names.Select(n => n[..n.IndexOf('[')]).Distinct());
        using (var record = Runs.ReadRunJson(runDir))
        {
            var frozen = record.RootElement.GetProperty("frozen");
            Assert.Equal(feature, frozen.GetProperty("feature").GetString());
            Assert.Equal([width], frozen.GetProperty("feature_shape").EnumerateArray().Select(e => e.GetInt32()));
            Assert.Equal(sampled, frozen.GetProperty("sampled_parameters").EnumerateArray().Select(e => e.GetString()));
            Assert.Equal(cut[1], Assert.Single(frozen.GetProperty(cut[0][2..]).EnumerateArray()).GetString());
        }

        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", runDir, "--members", "20", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());
        Assert.Contains("frozen part", export.Stdout);
        var source = ModelFiles.Read(path);
        var written = ModelFiles.Read(ensemble);
        foreach (string op in new[] { "Conv", "MaxPool", "Shape", "Slice" })
            Assert.Equal(source.Graph.Node.Count(n => n.OpType == op), written.Graph.Node.Count(n => n.OpType == op));

        string output = dir["p.csv"];
        var predict = BnnProcess.Run("predict", ensemble, "--input", Subset(dir, "digits_test.csv", 30, true), "--out", output);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var p = CsvTable.Read(output);
        Assert.Equal(30, p.Rows.Count);
        foreach (var row in p.Rows)
        {
            double total = Enumerable.Range(0, 10).Sum(k => double.Parse(row[p.ColumnIndex($"mean_{k}")], CultureInfo.InvariantCulture));
            Assert.Equal(1.0, total, 1e-5);
        }

        var evaluate = BnnProcess.Run("evaluate", runDir, "--data", Subset(dir, "digits_test.csv", 60, false));
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        using var evaluation = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "evaluation.json")));
        Assert.Contains("accuracy", evaluation.RootElement.ToString());
    }

    [Fact]
    public void Evaluate_scores_the_trained_network_through_onnx_runtime_features_as_pytorch_computes_it()
    {
        using var dir = new TempDir();
        string runDir = dir["run"];
        var sample = BnnProcess.Run("sample", Repo.Model("head/diabetes_resnorm_op17.onnx"), "--data", Subset(dir, "diabetes_train.csv", 300, false),
            "--target", "y", "--sample", "head.*", "--chains", "2", "--warmup", "30", "--draws", "30", "--seed", "3", "--no-progress", "--out", runDir);
        Assert.True(sample.ExitCode == 0, sample.ToString());

        // The first 8 held-out rows are the fixture's expected inputs; PyTorch's outputs on them give the point estimate's RMSE.
        var evaluate = BnnProcess.Run("evaluate", runDir, "--data", Subset(dir, "diabetes_test.csv", 8, false));
        Assert.True(evaluate.ExitCode == 0, evaluate.ToString());
        var y = File.ReadLines(Repo.Model("head/diabetes_test.csv")).Skip(1).Take(8)
            .Select(l => double.Parse(l[(l.LastIndexOf(',') + 1)..], CultureInfo.InvariantCulture)).ToArray();
        var pytorch = File.ReadLines(Repo.Model("head/diabetes_resnorm_op17.output.csv")).Select(l => double.Parse(l, CultureInfo.InvariantCulture)).ToArray();
        double rmse = Math.Sqrt(y.Zip(pytorch, (a, b) => (a - b) * (a - b)).Average());
        using var evaluation = JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "evaluation.json")));
        Assert.Equal(rmse, evaluation.RootElement.GetProperty("point_estimate").GetProperty("rmse").GetDouble(), 1e-5);
        Assert.Contains("maximum-likelihood σ of the file's weights on the 300 training rows", evaluate.Stdout);
    }

    [Fact]
    public void Sampling_every_parameter_of_an_mlp_by_pattern_leaves_the_run_unchanged()
    {
        using var dir = new TempDir();
        var plain = Runs.SampleLinreg(dir["plain"], 5);
        var everything = Runs.SampleLinreg(dir["everything"], 5, "--sample", "*");
        Assert.True(plain.ExitCode == 0, plain.ToString());
        Assert.True(everything.ExitCode == 0, everything.ToString());

        foreach (string file in new[] { "summary.csv", "predictive.csv" })
            Assert.Equal(File.ReadAllText(Path.Combine(dir["plain"], file)), File.ReadAllText(Path.Combine(dir["everything"], file)));
        using var record = Runs.ReadRunJson(dir["everything"]);
        var frozen = record.RootElement.GetProperty("frozen");
        Assert.Empty(frozen.GetProperty("frozen_ops").EnumerateArray());
        Assert.Empty(frozen.GetProperty("frozen_weights").EnumerateArray());
    }

    [Theory]
    [InlineData("linreg_pytorch", "--freeze", "nothing*",
        "error: --freeze 'nothing*' matches no weight of linreg_pytorch.onnx (weights: weight, bias)")]
    [InlineData("digits_cnn_op13", "--freeze", "*",
        "error: nothing left to sample: --freeze '*' freezes every parameter of digits_cnn_op13.onnx")]
    [InlineData("digits_transformer_op14", "--freeze", "embed.*",
        "error: 'position' is sampled, but node '/encoder/self_attn/Shape' (Shape) after it is not differentiable by the sampling backends; freeze 'position' too (sample only layers after that node)")]
    [InlineData("digits_cnn_op13", "--sample", "conv2.weight",
        "error: 'conv2.weight' is used by node '/conv2/Conv' (Conv), which the sampling backends cannot differentiate; it can only be frozen (narrow --sample)")]
    public void Bad_selections_exit_2_with_one_line(string model, string option, string pattern, string message)
    {
        using var dir = new TempDir();
        bool digits = model.StartsWith("digits", StringComparison.Ordinal);
        string data = Repo.Model(digits ? "head/digits_train.csv" : "blog_data.csv");
        string file = Repo.Model((digits ? "head/" : "") + model + ".onnx");
        string[] columns = digits ? ["--target", "label"] : ["--features", "x", "--target", "y"];

        var sample = InProcessCli.Run(["sample", file, "--data", data, .. columns, option, pattern, "--out", dir["run"]]);
        Assert.True(sample.ExitCode == 2, sample.ToString());
        Assert.Equal(message, Assert.Single(sample.ErrorLines));

        var import = InProcessCli.Run("import", file, option, pattern);
        Assert.True(import.ExitCode == 2, import.ToString());
        Assert.Equal(message, Assert.Single(import.ErrorLines));
        Assert.False(Directory.Exists(dir["run"]));
    }
}
