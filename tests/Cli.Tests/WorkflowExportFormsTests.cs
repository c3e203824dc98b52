using System.Globalization;
using System.Text.Json;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// PyTorch exports in the forms that used to break the workflow: skip connections (<c>Concat</c> of a hidden layer
/// and the input, a regressor and a classifier, opsets 13 and 17) and weights that reach their layer through other
/// nodes (<c>do_constant_folding=False</c>: Transpose, Reshape, Squeeze, Cast, Mul by a constant, …) beside the folded
/// export, and the activations PyTorch writes as single ops (HardSwish, Celu). Each goes through the whole workflow: <c>import</c> says every backend and export supports it, <c>eval</c>
/// reproduces PyTorch, <c>sample</c> runs, <c>export</c> writes an ensemble whose members equal the compiled backend's
/// forward pass on the same draws, and <c>predict</c> gives their mean.
/// </summary>
public class WorkflowExportFormsTests
{
    /// <summary>Fixture, likelihood, data file, and an op the import must show (the structure the fixture is about).</summary>
    public static TheoryData<string, string, string, string> Fixtures() => new()
    {
        { "skip_regressor_op13", "normal", "blog_data.csv", "Concat" },
        { "skip_regressor_op17", "normal", "blog_data.csv", "Concat" },
        { "skip_classifier_op13", "categorical", "multiclass_data.csv", "Concat" },
        { "skip_classifier_op17", "categorical", "multiclass_data.csv", "Concat" },
        // Weights that reach their layer through other nodes (do_constant_folding=False) and the folded export.
        { "step_mlp_op13_unfolded", "normal", "regression8_data.csv", "Transpose" },
        { "step_mlp_op17_folded", "normal", "regression8_data.csv", "MatMul" },
        { "weight_paths_pytorch", "normal", "regression8_data.csv", "Reshape" },
        // Activations that PyTorch exports as single ops of their own.
        { "hardswish_pytorch_op17", "normal", "blog_data.csv", "HardSwish" },
        { "hardswish_pytorch_op13", "normal", "blog_data.csv", "HardSigmoid" },
        { "celu_pytorch_op17", "normal", "blog_data.csv", "Celu" },
        // LayerNormalization and PRelu, imported as the ops every stage runs (their scale, bias and slope sampled).
        { "layernorm_mlp_op17", "normal", "layer_data.csv", "ReduceMean" },
        { "layernorm_nobias_op17", "normal", "layer_data.csv", "Sqrt" },
        { "prelu_shared_op13", "normal", "layer_data.csv", "Neg" },
        { "prelu_channel_op17", "normal", "layer_data.csv", "Neg" },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Import_eval_sample_export_and_predict(string name, string likelihood, string dataFile, string op) =>
        RunWorkflow(name, likelihood, dataFile, op, warmup: 100, draws: 50);

    /// <summary>
    /// The whole workflow on one fixture: import (the op is there, every stage supports the model), eval against the
    /// exporter's outputs, a short sample of 2 chains, export of 20 members, each member against the compiled forward
    /// pass on its draw, and predict's mean against the members' mean. <paramref name="maxDepth"/> caps the NUTS tree
    /// (the sampler's default when null).
    /// </summary>
    internal static void RunWorkflow(string name, string likelihood, string dataFile, string op, int warmup, int draws, int? maxDepth = null)
    {
        string model = Repo.Model(name + ".onnx");
        string inputCsv = Repo.Model(name + ".input.csv");
        bool normal = likelihood == "normal";
        using var dir = new TempDir();

        // import: the op is there, and every backend and export takes the model.
        var import = BnnProcess.Run("import", model, "--json");
        Assert.True(import.ExitCode == 0, import.ToString());
        using (var json = JsonDocument.Parse(import.Stdout))
        {
            Assert.Contains(op, json.RootElement.GetProperty("ops").EnumerateArray().Select(e => e.GetString()));
            foreach (var stage in json.RootElement.GetProperty("support").EnumerateArray())
                Assert.True(stage.GetProperty("supported").GetBoolean(), stage.ToString());
        }

        // eval: the import reproduces PyTorch's outputs.
        var eval = BnnProcess.Run("eval", model, "--input", inputCsv);
        Assert.True(eval.ExitCode == 0, eval.ToString());
        var expected = ReadRows(File.ReadAllText(Repo.Model(name + ".output.csv")));
        var evaluated = ReadRows(eval.Stdout);
        Assert.Equal(expected.Length, evaluated.Length);
        for (int i = 0; i < expected.Length; i++)
            for (int j = 0; j < expected[i].Length; j++)
                Assert.Equal(expected[i][j], evaluated[i][j], 1e-5 * Math.Max(1, Math.Abs(expected[i][j])));

        // sample: a short run from the file's weights.
        string runDir = dir["run"];
        string[] data = dataFile == "blog_data.csv"
            ? ["--data", Repo.Model(dataFile), "--features", "x", "--target", "y"]
            : ["--data", Repo.Model(dataFile), "--target", "y", "--likelihood", likelihood];
        var sample = BnnProcess.Run(["sample", model, .. data, "--out", runDir, "--seed", "5", "--init", "onnx", "--chains", "2",
            "--warmup", warmup.ToString(CultureInfo.InvariantCulture), "--draws", draws.ToString(CultureInfo.InvariantCulture), "--no-progress",
            .. maxDepth is int depth ? new[] { "--max-depth", depth.ToString(CultureInfo.InvariantCulture) } : []]);
        Assert.True(sample.ExitCode == 0, sample.ToString());

        // export: the ensemble of 20 members.
        string ensemble = dir["ensemble.onnx"];
        var export = BnnProcess.Run("export", runDir, "--members", "20", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());

        // The same 20 draws through the compiled backend, member by member, through the same head.
        var graph = OnnxImporter.Import(model);
        var table = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));
        var members = MemberSelection.Select(table, 20, out _);
        var (inputs, rows) = FeatureCsv.Read(inputCsv, GraphShapes.InputWidth(graph));
        using var forward = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        int k = forward.OutputWidth;
        using var session = new EnsembleSession(ensemble);
        var outputs = session.Run(inputs, rows);
        Assert.Equal((20, rows, k), (outputs.MemberCount, outputs.Rows, outputs.Outputs));
        var mean = new double[rows * k];
        for (int s = 0; s < members.Count; s++)
        {
            var parameters = graph.Parameters.SelectMany(p =>
            {
                var block = table.Layout.Blocks.Single(b => b.Source == p.OnnxName);
                return members[s].AsSpan(block.Offset, block.Size).ToArray();
            }).ToArray();
            var raw = new double[rows * k];
            forward.Forward(parameters, inputs, rows, raw);
            for (int n = 0; n < rows; n++)
            {
                var row = raw.AsSpan(n * k, k).ToArray();
                if (!normal) row = Softmax(row);
                for (int j = 0; j < k; j++)
                {
                    double got = outputs.Member(s, n, j);
                    Assert.True(Math.Abs(row[j] - got) <= 1e-5 * Math.Max(1, Math.Abs(row[j])),
                        $"{name} member {s} row {n} output {j}: compiled {row[j]:G9}, ensemble {got:G9}");
                    mean[n * k + j] += row[j] / members.Count;
                }
            }
        }

        // predict: the ensemble's mean is the mean of the members' forward passes.
        string predictions = dir["p.csv"];
        var predict = BnnProcess.Run("predict", ensemble, "--input", inputCsv, "--out", predictions);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var p = CsvTable.Read(predictions);
        Assert.Equal(rows, p.Rows.Count);
        for (int j = 0; j < k; j++)
        {
            var column = p.Column($"mean_{j}");
            for (int n = 0; n < rows; n++) Assert.Equal(mean[n * k + j], column[n], 1e-5);
        }
    }

    private static double[][] ReadRows(string csv) => csv.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .Select(line => line.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    private static double[] Softmax(double[] z)
    {
        double max = z.Max();
        var e = z.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
