using System.Globalization;
using System.Text.Json;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Two short runs for the evaluation tests, sampled once: the 8-feature ReLU regressor on the first 70 rows of its
/// data (the last 30 held out), the softmax classifier on its three-class data (every third row held out), and the
/// binary logit classifier on its data; the held-out fixture (<c>noisy3_*</c>) with a fixed σ; and the sequence model.
/// </summary>
public sealed class EvaluationRuns : IDisposable
{
    private readonly TempDir _dir = new("bnn-evaluate-");

    public EvaluationRuns()
    {
        var regression = File.ReadAllLines(Repo.Model("regression8_data.csv"));
        RegressionTrain = _dir.Write("reg_train.csv", string.Join('\n', regression.Take(71)) + "\n");
        RegressionTest = _dir.Write("reg_test.csv", string.Join('\n', regression.Take(1).Concat(regression.Skip(71))) + "\n");
        var classes = File.ReadAllLines(Repo.Model("multiclass_data.csv"));
        ClassificationTest = _dir.Write("cls_test.csv",
            string.Join('\n', classes.Take(1).Concat(classes.Skip(1).Where((_, i) => i % 3 == 0))) + "\n");

        RegressionRun = _dir["reg_run"];
        Sample(["sample", Repo.Model("regression8_relu_pytorch.onnx"), "--data", RegressionTrain, "--target", "y",
            "--out", RegressionRun, "--seed", "21", "--init", "onnx", .. Runs.Short]);
        ClassificationRun = _dir["cls_run"];
        Sample(["sample", Repo.Model("multiclass_softmax_pytorch.onnx"), "--data", Repo.Model("multiclass_data.csv"), "--target", "y",
            "--likelihood", "categorical", "--out", ClassificationRun, "--seed", "22", "--init", "onnx", .. Runs.Short]);
        FixedSigmaRun = _dir["fixed_run"];
        Sample(["sample", Repo.Model("noisy3_tanh_pytorch.onnx"), "--data", Repo.Model("noisy3_train.csv"), "--target", "y",
            "--sigma", "0.3", "--out", FixedSigmaRun, "--seed", "24", "--init", "onnx", .. Runs.Short]);
        SequenceRun = _dir["seq_run"];
        Sample(["sample", Repo.Model("sequence_mean_pytorch.onnx"), "--data", Repo.Model("sequence_data.csv"), "--target", "y",
            "--out", SequenceRun, "--seed", "25", "--init", "onnx", .. Runs.Short]);
        BinaryRun = _dir["bin_run"];
        Sample(["sample", Repo.Model("binary_logit_pytorch.onnx"), "--data", Repo.Model("binary_data.csv"),
            "--likelihood", "bernoulli", "--out", BinaryRun, "--seed", "23", "--init", "onnx", .. Runs.Short]);
    }

    public string RegressionTrain { get; }
    public string RegressionTest { get; }
    public string RegressionRun { get; }
    public string ClassificationTest { get; }
    public string ClassificationRun { get; }
    public string BinaryRun { get; }

    /// <summary>The sequence model (input <c>[batch, seq, 1]</c>) sampled on sequences of length 5.</summary>
    public string SequenceRun { get; }

    /// <summary>The held-out fixture's network sampled with a fixed σ = 0.3 on its training rows.</summary>
    public string FixedSigmaRun { get; }

    /// <summary>A file in the fixture's temporary folder.</summary>
    public string Write(string name, string contents) => _dir.Write(name, contents);

    private static void Sample(string[] args)
    {
        var result = BnnProcess.Run(args);
        if (result.ExitCode != 0) throw new InvalidOperationException($"sampling failed: {result}");
    }

    public void Dispose() => _dir.Dispose();
}

/// <summary>
/// <c>bnn evaluate</c> and <c>bnn plot --kind calibration</c> end to end: <c>evaluation.json</c>'s keys, finite
/// posterior figures, point-estimate figures equal to those computed here from <c>bnn eval</c>'s outputs, and exit 2 on
/// bad input.
/// </summary>
public class EvaluateCommandTests(EvaluationRuns runs) : IClassFixture<EvaluationRuns>
{
    private static readonly string[] Features8 = ["x1", "x2", "x3", "x4", "x5", "x6", "x7", "x8"];

    [Fact]
    public void Regression_point_estimate_matches_bnn_eval_and_the_posterior_is_finite()
    {
        using var dir = new TempDir();
        string json = dir["evaluation.json"];
        var result = BnnProcess.Run(["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--out", json]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("RMSE", result.Stdout);
        Assert.Contains("training rows", result.Stdout);
        Assert.Contains("point estimate", result.Stdout);

        // Independently: the network at the file's weights through `bnn eval`, σ̂ from the 70 training rows.
        var (trainF, trainY) = EvalOutputs(dir, "regression8_relu_pytorch.onnx", runs.RegressionTrain, Features8, "y", width: 1);
        var (testF, testY) = EvalOutputs(dir, "regression8_relu_pytorch.onnx", runs.RegressionTest, Features8, "y", width: 1);
        double sigma = Math.Sqrt(trainY.Select((y, n) => Math.Pow(y - trainF[n][0], 2)).Average());
        double rmse = Math.Sqrt(testY.Select((y, n) => Math.Pow(y - testF[n][0], 2)).Average());
        double lpd = testY.Select((y, n) => -0.5 * Math.Log(2 * Math.PI) - Math.Log(sigma) - 0.5 * Math.Pow((y - testF[n][0]) / sigma, 2)).Average();
        var z = new Dictionary<double, double> { [0.5] = 0.6744897501960817, [0.9] = 1.6448536269514722, [0.95] = 1.959963984540054 };

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("normal", root.GetProperty("likelihood").GetString());
        Assert.Equal(30, root.GetProperty("rows").GetInt32());
        Assert.Equal(Features8, root.GetProperty("features").EnumerateArray().Select(e => e.GetString()));
        Assert.Contains("bisection", root.GetProperty("interval_method").GetString());

        var point = root.GetProperty("point_estimate");
        Assert.Equal(sigma, point.GetProperty("sigma").GetDouble(), 9);
        Assert.Contains("70 training rows", point.GetProperty("sigma_source").GetString());
        Assert.Equal(rmse, point.GetProperty("rmse").GetDouble(), 9);
        Assert.Equal(lpd, point.GetProperty("mean_log_predictive_density").GetDouble(), 9);
        foreach (var interval in point.GetProperty("intervals").EnumerateArray())
        {
            double level = interval.GetProperty("level").GetDouble();
            double covered = testY.Select((y, n) => Math.Abs(y - testF[n][0]) <= z[level] * sigma ? 1.0 : 0.0).Average();
            Assert.Equal(covered, interval.GetProperty("coverage").GetDouble(), 12);
            Assert.Equal(2 * z[level] * sigma, interval.GetProperty("mean_width").GetDouble(), 6);
        }

        var posterior = root.GetProperty("posterior");
        Assert.Equal(200, posterior.GetProperty("draws").GetInt32());
        Assert.Equal(200, posterior.GetProperty("total_draws").GetInt32());
        Assert.True(double.IsFinite(posterior.GetProperty("rmse").GetDouble()));
        Assert.True(double.IsFinite(posterior.GetProperty("mean_log_predictive_density").GetDouble()));
        var widths = posterior.GetProperty("intervals").EnumerateArray().Select(i => i.GetProperty("mean_width").GetDouble()).ToArray();
        Assert.Equal(3, widths.Length);
        Assert.True(widths[0] > 0 && widths[0] < widths[1] && widths[1] < widths[2], string.Join(", ", widths));
        Assert.All(posterior.GetProperty("intervals").EnumerateArray(), i => Assert.InRange(i.GetProperty("coverage").GetDouble(), 0, 1));
    }

    [Fact]
    public void Classification_point_estimate_matches_bnn_eval_and_members_thin_the_posterior()
    {
        using var dir = new TempDir();
        string json = dir["evaluation.json"];
        var result = BnnProcess.Run(["evaluate", runs.ClassificationRun, "--data", runs.ClassificationTest, "--members", "50", "--out", json]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("ECE", result.Stdout);

        // The softmax model's outputs are probabilities.
        var (p, labels) = EvalOutputs(dir, "multiclass_softmax_pytorch.onnx", runs.ClassificationTest, ["x1", "x2", "x3", "x4"], "y", width: 3);
        int rows = labels.Length;
        double accuracy = labels.Select((y, n) => Array.IndexOf(p[n], p[n].Max()) == (int)y ? 1.0 : 0.0).Average();
        double nll = -labels.Select((y, n) => Math.Log(p[n][(int)y])).Average();
        double brier = labels.Select((y, n) => p[n].Select((v, k) => Math.Pow(v - (k == (int)y ? 1 : 0), 2)).Sum()).Average();
        double entropy = p.Select(r => -r.Sum(v => v * Math.Log(v))).Average();

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var root = doc.RootElement;
        Assert.Equal("categorical", root.GetProperty("likelihood").GetString());
        Assert.Equal(rows, root.GetProperty("rows").GetInt32());
        Assert.Equal(10, root.GetProperty("confidence_bins").GetInt32());
        var point = root.GetProperty("point_estimate");
        Assert.Equal(accuracy, point.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(nll, point.GetProperty("nll").GetDouble(), 9);
        Assert.Equal(brier, point.GetProperty("brier").GetDouble(), 9);
        Assert.Equal(entropy, point.GetProperty("mean_entropy").GetDouble(), 9);

        var posterior = root.GetProperty("posterior");
        Assert.Equal(50, posterior.GetProperty("draws").GetInt32());
        Assert.Equal(200, posterior.GetProperty("total_draws").GetInt32());
        foreach (var key in new[] { "accuracy", "nll", "brier", "ece", "mean_entropy" })
            Assert.True(double.IsFinite(posterior.GetProperty(key).GetDouble()), key);
        var bins = posterior.GetProperty("reliability").EnumerateArray().ToArray();
        Assert.Equal(10, bins.Length);
        Assert.Equal(rows, bins.Sum(b => b.GetProperty("count").GetInt32()));
        // ECE is the count-weighted gap of the bins listed.
        double ece = bins.Where(b => b.GetProperty("count").GetInt32() > 0).Sum(b => b.GetProperty("count").GetInt32() / (double)rows
            * Math.Abs(b.GetProperty("accuracy").GetDouble() - b.GetProperty("confidence").GetDouble()));
        Assert.Equal(ece, posterior.GetProperty("ece").GetDouble(), 12);
    }

    [Fact]
    public void A_fixed_sigma_run_scores_its_posterior_with_that_sigma()
    {
        using var dir = new TempDir();
        string json = dir["evaluation.json"];
        var result = BnnProcess.Run(["evaluate", runs.FixedSigmaRun, "--data", Repo.Model("noisy3_test.csv"), "--out", json]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("fixed σ = 0.3", result.Stdout);

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var posterior = doc.RootElement.GetProperty("posterior");
        Assert.Contains("fixed σ = 0.3", posterior.GetProperty("sigma_source").GetString());
        // Every component has σ = 0.3, so no row's predictive density can exceed N(0; 0, 0.3²).
        double peak = -0.5 * Math.Log(2 * Math.PI) - Math.Log(0.3);
        Assert.InRange(posterior.GetProperty("mean_log_predictive_density").GetDouble(), double.NegativeInfinity, peak);
        // The point estimate's σ is still fitted on the training rows (the fixture's training RMSE is 0.23).
        Assert.Equal(0.23, doc.RootElement.GetProperty("point_estimate").GetProperty("sigma").GetDouble(), 2);
    }

    [Fact]
    public void A_symbolic_input_dimension_takes_its_size_from_the_held_out_columns()
    {
        // Given a run sampled on sequences of 5 steps, when evaluated on the first 3 steps of each row, then the
        // point estimate's σ is still fitted on the 5-step training rows and its RMSE is that of `bnn eval` on 3 steps.
        using var dir = new TempDir();
        string[] steps5 = ["t0", "t1", "t2", "t3", "t4"], steps3 = ["t0", "t1", "t2"];
        var (train, trainY) = EvalOutputs(dir, "sequence_mean_pytorch.onnx", Repo.Model("sequence_data.csv"), steps5, "y", width: 1);
        var (short3, y) = EvalOutputs(dir, "sequence_mean_pytorch.onnx", Repo.Model("sequence_data.csv"), steps3, "y", width: 1);
        double sigma = Math.Sqrt(trainY.Select((v, n) => Math.Pow(v - train[n][0], 2)).Average());
        double rmse = Math.Sqrt(y.Select((v, n) => Math.Pow(v - short3[n][0], 2)).Average());

        string json = dir["evaluation.json"];
        var result = BnnProcess.Run(["evaluate", runs.SequenceRun, "--data", Repo.Model("sequence_data.csv"), "--features", "t0,t1,t2", "--out", json]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.Contains("seq = 3", result.Stderr);
        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var point = doc.RootElement.GetProperty("point_estimate");
        Assert.Equal(sigma, point.GetProperty("sigma").GetDouble(), 9);
        Assert.Equal(rmse, point.GetProperty("rmse").GetDouble(), 9);
        Assert.True(double.IsFinite(doc.RootElement.GetProperty("posterior").GetProperty("mean_log_predictive_density").GetDouble()));
    }

    [Fact]
    public void Bernoulli_point_estimate_reads_the_logit_output()
    {
        using var dir = new TempDir();
        string json = dir["evaluation.json"];
        var result = BnnProcess.Run(["evaluate", runs.BinaryRun, "--data", Repo.Model("binary_data.csv"), "--out", json]);
        Assert.True(result.ExitCode == 0, result.ToString());

        // The network gives one logit z per row: p(y = 1) = 1 / (1 + e^{−z}); two classes for Brier and entropy.
        var (z, labels) = EvalOutputs(dir, "binary_logit_pytorch.onnx", Repo.Model("binary_data.csv"), ["x1", "x2"], "y", width: 1);
        var p1 = z.Select(o => 1 / (1 + Math.Exp(-o[0]))).ToArray();
        double accuracy = labels.Select((y, n) => (p1[n] > 0.5 ? 1.0 : 0.0) == y ? 1.0 : 0.0).Average();
        double nll = -labels.Select((y, n) => Math.Log(y == 1 ? p1[n] : 1 - p1[n])).Average();
        double brier = labels.Select((y, n) => 2 * Math.Pow(p1[n] - y, 2)).Average();
        double entropy = p1.Select(p => -(p * Math.Log(p) + (1 - p) * Math.Log(1 - p))).Average();

        using var doc = JsonDocument.Parse(File.ReadAllText(json));
        var point = doc.RootElement.GetProperty("point_estimate");
        Assert.Equal("bernoulli", doc.RootElement.GetProperty("likelihood").GetString());
        Assert.Equal(accuracy, point.GetProperty("accuracy").GetDouble(), 12);
        Assert.Equal(nll, point.GetProperty("nll").GetDouble(), 9);
        Assert.Equal(brier, point.GetProperty("brier").GetDouble(), 9);
        Assert.Equal(entropy, point.GetProperty("mean_entropy").GetDouble(), 9);
        // Every confidence of two classes is at least ½: the five lower bins are empty.
        var bins = doc.RootElement.GetProperty("posterior").GetProperty("reliability").EnumerateArray().ToArray();
        Assert.All(bins.Take(5), b => Assert.Equal(0, b.GetProperty("count").GetInt32()));
        Assert.Equal(labels.Length, bins.Sum(b => b.GetProperty("count").GetInt32()));
    }

    [Fact]
    public void Default_output_is_evaluation_json_in_the_run_directory_and_the_calibration_plots_are_written()
    {
        using var dir = new TempDir();
        var result = BnnProcess.Run(["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--members", "20"]);
        Assert.True(result.ExitCode == 0, result.ToString());
        Assert.True(File.Exists(Path.Combine(runs.RegressionRun, "evaluation.json")));
        Assert.Empty(Directory.EnumerateFiles(runs.RegressionRun, ".*.tmp"));

        foreach (var (run, data) in new[] { (runs.RegressionRun, runs.RegressionTest), (runs.ClassificationRun, runs.ClassificationTest) })
        {
            string png = dir[$"{Path.GetFileName(run)}.png"];
            var plot = BnnProcess.Run(["plot", run, "--kind", "calibration", "--data", data, "--out", png]);
            Assert.True(plot.ExitCode == 0, plot.ToString());
            var bytes = File.ReadAllBytes(png);
            Assert.True(bytes.Length > 1000 && bytes[1] == 'P' && bytes[2] == 'N' && bytes[3] == 'G');
        }
    }

    [Fact]
    public void Bad_input_exits_2_with_one_line()
    {
        using var dir = new TempDir();
        var labels = File.ReadAllLines(runs.ClassificationTest);
        string outOfRange = dir.Write("labels.csv", string.Join('\n', labels.Take(3).Append("0.1,0.2,0.3,0.4,3")) + "\n");
        string noTarget = dir.Write("no_target.csv", "x1,x2,x3,x4\n0.1,0.2,0.3,0.4\n");
        string emptyRun = Directory.CreateDirectory(dir["empty_run"]).FullName;

        var cases = new (string[] Args, string Expected)[]
        {
            (["evaluate", runs.ClassificationRun, "--data", outOfRange], "is not a class label (0..2)"),
            (["evaluate", runs.ClassificationRun, "--data", noTarget], "no column 'y'"),
            (["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--features", "x1,x2"], "takes 8 values per row"),
            (["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--target", "z"], "no column 'z'"),
            (["evaluate", emptyRun, "--data", runs.RegressionTest], "no draws.parquet"),
            (["evaluate", runs.RegressionRun, "--data", dir["missing.csv"]], "not found"),
            (["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--members", "0"], "--members 0"),
            (["evaluate", runs.RegressionRun, "--data", runs.RegressionTest, "--model", Repo.Model("regression8_tanh_pytorch.onnx")], "differs from the model the run sampled"),
            (["evaluate", runs.RegressionRun], "--data"),
            (["plot", runs.RegressionRun, "--kind", "calibration"], "--data"),
        };
        foreach (var (args, expected) in cases)
        {
            var result = InProcessCli.Run(args);
            Assert.True(result.ExitCode == 2, $"{string.Join(' ', args)}: {result}");
            Assert.Single(result.ErrorLines);
            Assert.Contains(expected, result.Stderr);
        }
    }

    /// <summary>
    /// <c>bnn eval</c> of a committed model on a data file's feature columns: per row, the outputs and the target.
    /// </summary>
    private static (double[][] Outputs, double[] Targets) EvalOutputs(TempDir dir, string model, string data, string[] features, string target, int width)
    {
        var table = CsvTable.Read(data);
        var columns = features.Select(table.Column).ToArray();
        string input = dir.Write($"{Guid.NewGuid():N}.csv", string.Join('\n', Enumerable.Range(0, table.Rows.Count)
            .Select(r => string.Join(',', columns.Select(c => c[r].ToString("R", CultureInfo.InvariantCulture))))) + "\n");
        var result = BnnProcess.Run(["eval", Repo.Model(model), "--input", input]);
        Assert.True(result.ExitCode == 0, result.ToString());
        var outputs = result.Stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries)
            .Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        Assert.All(outputs, o => Assert.Equal(width, o.Length));
        return (outputs, table.Column(target));
    }
}
