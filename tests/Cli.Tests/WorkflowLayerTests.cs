using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.Tests.TestSupport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The torch.nn layers whose export the importer rewrites or that PyTorch 1.13 writes as several ops (Softshrink,
/// Hardshrink, GELU tanh, Mish, LogSigmoid, Softplus with beta, ReLU6, RReLU), the normalisation layers (LayerNorm at
/// opset 13 with and without affine, RMSNorm, GroupNorm, BatchNorm) and the composite blocks (a residual LayerNorm-GELU
/// MLP at opsets 13 and 17, a PReLU network with a skip connection, a BatchNorm classifier, Linear without bias with
/// Dropout, AlphaDropout, view and Flatten) through the whole workflow (<see cref="WorkflowExportFormsTests.RunWorkflow"/>)
/// with a short run per file (tree depth at most 5: the check is the workflow, not convergence). The activations PyTorch writes as one op each (ReLU, LeakyReLU, ELU, SELU, GELU, SiLU,
/// Hardsigmoid, Hardtanh, Softplus, Softsign, Tanhshrink, Sigmoid, Tanh, Softmax, LogSoftmax) take the same paths in
/// process, file by file: ImportModelsTests (import, names, outputs), ModelTests (both backends against the exporter's
/// outputs, gradients), LayerFixtureTests (compiled gradients) and EnsembleTests (ensemble against the compiled forward
/// and the member files on the same draws).
/// </summary>
public class WorkflowLayerTests
{
    /// <summary>Fixture, likelihood, data file, and an op the import must show (what the layer became).</summary>
    public static TheoryData<string, string, string, string> Fixtures() => new()
    {
        { "relu6_pytorch_op17", "normal", "blog_data.csv", "Clip" },
        { "rrelu_pytorch_op17", "normal", "blog_data.csv", "LeakyRelu" },
        { "gelu_tanh_pytorch_op17", "normal", "blog_data.csv", "Tanh" },
        { "mish_pytorch_op17", "normal", "blog_data.csv", "Softplus" },
        { "softplus_beta_pytorch_op17", "normal", "blog_data.csv", "Softplus" },
        { "softshrink_pytorch_op17", "normal", "blog_data.csv", "Shrink" },
        { "hardshrink_pytorch_op17", "normal", "blog_data.csv", "Shrink" },
        { "logsigmoid_pytorch_op17", "normal", "blog_data.csv", "Log" },
        { "layernorm_mlp_op13", "normal", "layer_data.csv", "ReduceMean" },
        { "layernorm_noaffine_op13", "normal", "layer_data.csv", "Sqrt" },
        { "rmsnorm_mlp_op17", "normal", "layer_data.csv", "ReduceMean" },
        { "groupnorm_mlp_op17", "normal", "layer_data.csv", "ReduceMean" },
        { "residual_layernorm_gelu_op13", "normal", "layer_data.csv", "Erf" },
        { "residual_layernorm_gelu_op17", "normal", "layer_data.csv", "Erf" },
        { "prelu_skip_op17", "normal", "layer_data.csv", "Neg" },
        { "structure_mlp_op17", "normal", "layer_data.csv", "Flatten" },
        { "untrained_norms_op17", "normal", "layer_data.csv", "BatchNormalization" },
        { "batchnorm_classifier_op17", "categorical", "multiclass_data.csv", "BatchNormalization" },
    };

    [Theory]
    [MemberData(nameof(Fixtures))]
    public void Import_eval_sample_export_and_predict(string name, string likelihood, string dataFile, string op) =>
        WorkflowExportFormsTests.RunWorkflow(name, likelihood, dataFile, op, warmup: 40, draws: 20, maxDepth: 5);

    /// <summary>
    /// The real jax2onnx 0.9.0 files in the shared folder (Gemm with transB = 0, BatchNormalization, Dropout and
    /// Gelu(tanh) at opset 21; weights as Constant nodes inside ONNX local functions, with a fixed batch of 100) through
    /// the workflow as a classifier over their outputs: <c>eval</c> gives the same outputs on both backends (no exporter
    /// outputs are recorded for these files), a short <c>sample</c> (tree depth at most 4, the larger file has 264,192
    /// weights), <c>export</c> (float64), every ensemble member against the compiled forward pass on its draw, and <c>predict</c>.
    /// </summary>
    [SharedTheory("onnx/jax2onnx")]
    [InlineData("my_callable.onnx")]
    [InlineData("model_with_function.onnx")]
    public void A_jax2onnx_file_goes_through_the_workflow(string file)
    {
        string model = SharedFolder.Path("onnx", "jax2onnx", file);
        using var dir = new TempDir();
        var graph = OnnxImporter.Import(model);
        int width = GraphShapes.InputWidth(graph), classes = GraphShapes.OutputWidth(graph, 0);
        const int rows = 12;
        var random = new Random(7);
        var inputs = Enumerable.Range(0, rows * width).Select(_ => random.NextDouble() * 2 - 1).ToArray();
        string inputCsv = dir["x.csv"], dataCsv = dir["data.csv"];
        File.WriteAllLines(inputCsv, Enumerable.Range(0, rows).Select(r => Row(inputs.AsSpan(r * width, width))));
        File.WriteAllLines(dataCsv, [string.Join(',', Enumerable.Range(0, width).Select(j => $"f{j}").Append("y")),
            .. Enumerable.Range(0, rows).Select(r => Row(inputs.AsSpan(r * width, width)) + "," + (r % classes).ToString(CultureInfo.InvariantCulture))]);

        var import = BnnProcess.Run("import", model);
        Assert.True(import.ExitCode == 0, import.ToString());
        Assert.DoesNotContain(" no ", import.Stdout);

        var cpu = BnnProcess.Run("eval", model, "--input", inputCsv, "--backend", "cpu");
        var torch = BnnProcess.Run("eval", model, "--input", inputCsv, "--backend", "torch");
        Assert.True(cpu.ExitCode == 0, cpu.ToString());
        Assert.True(torch.ExitCode == 0, torch.ToString());
        var a = Values(cpu.Stdout);
        var b = Values(torch.Stdout);
        Assert.Equal(rows * classes, a.Length);
        Assert.Equal(a.Length, b.Length);
        for (int i = 0; i < a.Length; i++) Assert.Equal(a[i], b[i], 1e-6 * Math.Max(1, Math.Abs(a[i])));

        string runDir = dir["run"];
        var sample = BnnProcess.Run("sample", model, "--data", dataCsv, "--target", "y", "--likelihood", "categorical", "--out", runDir,
            "--seed", "3", "--init", "onnx", "--chains", "2", "--warmup", "20", "--draws", "5", "--max-depth", "4", "--no-progress");
        Assert.True(sample.ExitCode == 0, sample.ToString());
        string ensemble = dir["ensemble.onnx"];
        // float64, so a 256-wide network three blocks deep compares to 1e-5 without float32 rounding in between.
        var export = BnnProcess.Run("export", runDir, "--members", "10", "--dtype", "float64", "--out", ensemble);
        Assert.True(export.ExitCode == 0, export.ToString());

        var table = ParquetDrawReader.Read(Path.Combine(runDir, "draws.parquet"));
        var members = MemberSelection.Select(table, 10, out _);
        using var forward = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        using var session = new EnsembleSession(ensemble);
        var outputs = session.Run(inputs, rows);
        var mean = new double[rows * classes];
        for (int s = 0; s < members.Count; s++)
        {
            var parameters = graph.Parameters.SelectMany(p =>
            {
                var block = table.Layout.Blocks.Single(x => x.Source == p.OnnxName);
                return members[s].AsSpan(block.Offset, block.Size).ToArray();
            }).ToArray();
            var raw = new double[rows * classes];
            forward.Forward(parameters, inputs, rows, raw);
            for (int n = 0; n < rows; n++)
            {
                var logits = raw.AsSpan(n * classes, classes).ToArray();
                double max = logits.Max(), sum = logits.Sum(v => Math.Exp(v - max));
                for (int j = 0; j < classes; j++)
                {
                    double p = Math.Exp(logits[j] - max) / sum;
                    Assert.True(Math.Abs(p - outputs.Member(s, n, j)) <= 1e-5, $"{file} member {s} row {n} class {j}: compiled {p:G9}, ensemble {outputs.Member(s, n, j):G9}");
                    mean[n * classes + j] += p / members.Count;
                }
            }
        }

        string predictions = dir["p.csv"];
        var predict = BnnProcess.Run("predict", ensemble, "--input", inputCsv, "--out", predictions);
        Assert.True(predict.ExitCode == 0, predict.ToString());
        var predicted = CsvTable.Read(predictions);
        Assert.Equal(rows, predicted.Rows.Count);
        for (int j = 0; j < classes; j++)
        {
            var column = predicted.Column($"mean_{j}");
            for (int n = 0; n < rows; n++) Assert.Equal(mean[n * classes + j], column[n], 1e-5);
        }
    }

    private static string Row(ReadOnlySpan<double> values)
    {
        var cells = new string[values.Length];
        for (int i = 0; i < values.Length; i++) cells[i] = values[i].ToString("R", CultureInfo.InvariantCulture);
        return string.Join(',', cells);
    }

    private static double[] Values(string csv) => csv.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries)
        .SelectMany(line => line.Split(',')).Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray();
}
