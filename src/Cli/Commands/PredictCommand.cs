using System.CommandLine;
using Bnn.Onnx.Export;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn predict ENSEMBLE.onnx --input X.csv [--input-shape NAME=SIZE]…</c>: runs the packed ensemble on ONNX Runtime and writes, per output k,
/// <c>mean_k,std_k,lower_k,upper_k</c>. The interval is central over the predictive distribution: for a normal
/// likelihood the quantiles of the mixture (1/S)·Σ_s N(μ_s, σ_s²) (noise included), otherwise empirical quantiles
/// of the member probabilities.
/// </summary>
internal static class PredictCommand
{
    public static Command Create()
    {
        var ensemble = new Argument<string>("ensemble") { Description = "The ensemble ONNX file written by 'bnn export'." };
        var input = new Option<string>("--input") { Description = "Input CSV: no header, one sample per row, row-major non-batch dims.", Required = true };
        var output = new Option<string?>("--out") { Description = "Output CSV (default: standard output)." };
        var interval = new Option<double>("--interval") { Description = "Central interval probability.", DefaultValueFactory = _ => 0.9 };
        var device = new Option<string>("--device") { Description = "cpu or cuda (needs ONNX Runtime's CUDA provider).", DefaultValueFactory = _ => "cpu" };
        var inputShape = InputShapeFlag.Create();

        var command = new Command("predict", "Predict with the posterior ensemble: mean, standard deviation and a central interval per output.");
        command.Arguments.Add(ensemble);
        command.Options.Add(input);
        command.Options.Add(output);
        command.Options.Add(interval);
        command.Options.Add(device);
        command.Options.Add(inputShape);
        command.SetAction(int (parse) =>
        {
            double p = parse.GetValue(interval);
            if (!(p > 0 && p < 1)) throw new UsageException($"--interval {p}: must be in (0, 1)");
            bool cuda = parse.GetValue(device)!.Trim().ToLowerInvariant() switch
            {
                "cpu" => false,
                "cuda" or "gpu" => true,
                var other => throw new UsageException($"--device '{other}': expected cpu or cuda"),
            };
            var given = InputShapeOption.Parse(parse.GetValue(inputShape));
            using var session = new EnsembleSession(parse.GetValue(ensemble)!, cuda);
            string inputPath = parse.GetValue(input)!;
            var shape = InputShapeOption.Resolve(session.Input, given, InputShapeOption.FirstRowWidth(inputPath), inputPath, Console.Error);
            var (features, rows) = FeatureCsv.Read(inputPath, shape.Width);
            var outputs = session.Run(features, rows, shape.SampleShape!);
            FeatureCsv.WritePredictions(parse.GetValue(output), session, outputs, p);
            return 0;
        });
        return command;
    }
}
