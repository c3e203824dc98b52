// Bnn.Onnx quick start: import the blog's network, sample a short posterior over its 81 weights, export a
// 20-member ensemble and predict with 90% intervals.
//
//   dotnet run --project examples/QuickStart -- MODELS_DIR [RUN_DIR]
//
// MODELS_DIR holds blog_mlp_pytorch.onnx and blog_data.csv (the repository's models/ folder).
using System.Globalization;
using Bnn.Onnx;

string models = args.Length > 0 ? args[0] : Path.Combine("..", "..", "models");
string runDir = args.Length > 1 ? args[1] : Path.Combine(Path.GetTempPath(), "bnn-quickstart");

// 1. Import: the parameter tree that will be sampled.
var model = BnnModel.Import(Path.Combine(models, "blog_mlp_pytorch.onnx"));
Console.WriteLine($"model: {model.Parameters.Count} parameter tensors, {model.ParameterCount} weights");
foreach (var p in model.Parameters) Console.WriteLine($"  {p.Name} [{string.Join(",", p.Shape)}]");

// 2. Sample: 2 chains × (200 warmup + 200 draws), seed 1 (the same seed gives the same draws).
var data = DataTable.FromCsv(Path.Combine(models, "blog_data.csv"), target: "y", features: ["x"]);
var options = new SampleOptions { Chains = 2, Warmup = 200, Draws = 200, Seed = 1, OutputDirectory = runDir };
var run = model.Sample(data, options, new ChainDone());
var sigma = run.Summary.Single(r => r.Variable == "sigma");
Console.WriteLine(Line($"sigma: mean {sigma.Mean:F4} sd {sigma.Sd:F4} rhat {sigma.Rhat:F3}"));
Console.WriteLine($"draws: {run.Draws.TotalDraws} in {run.Draws.Chains} chains");
Console.WriteLine($"converged: {run.Converged} ({run.Diagnostics.Verdict})");

// 3. Export: 20 members, evenly thinned.
string ensemblePath = run.ExportEnsemble(members: 20);

// 4. Predict with a 90% central interval (noise included).
using var ensemble = EnsemblePredictor.Open(ensemblePath);
Console.WriteLine($"ensemble: {ensemble.MemberCount} members, {ensemble.Likelihood} likelihood, {ensemblePath}");
var x = new double[,] { { -1.0 }, { 0.0 }, { 1.0 } };
var prediction = ensemble.Predict(x, interval: 0.9);
for (int i = 0; i < prediction.Rows; i++)
    Console.WriteLine(Line($"predict x={x[i, 0]:F1} mean={prediction.Mean[i, 0]:F4} lower={prediction.Lower[i, 0]:F4} upper={prediction.Upper[i, 0]:F4}"));

static string Line(FormattableString text) => text.ToString(CultureInfo.InvariantCulture);

/// <summary>Prints a line when a chain finishes (progress arrives on the sampling threads).</summary>
sealed class ChainDone : IProgress<SampleProgress>
{
    public void Report(SampleProgress value)
    {
        if (value.Phase == SamplingPhase.Done) Console.WriteLine($"chain {value.Chain + 1} done: {value.Iteration} iterations, {value.Divergences} divergences");
    }
}
