using System.CommandLine;
using Bnn.Onnx.Cli.Evaluation;
using Bnn.Onnx.Cli.Plotting;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn evaluate RUN_DIR --data TEST.csv [--features …] [--target y] [--members S]</c>: the posterior predictive
/// (every kept draw, noise included for a normal likelihood) and the ONNX file's own weights scored on held-out rows
/// (<see cref="HeldOutEvaluation"/>); prints a table and writes <c>RUN_DIR/evaluation.json</c>.
/// </summary>
internal static class EvaluateCommand
{
    public static Command Create()
    {
        var runDir = new Argument<string>("run-dir") { Description = "The run directory (holds draws.parquet and run.json)." };
        var data = new Option<string>("--data") { Description = "Held-out data: CSV with a header row, or Parquet.", Required = true };
        var features = new Option<string[]>("--features")
        {
            Description = "Feature columns, comma-separated or repeated (default: as the run recorded).",
            AllowMultipleArgumentsPerToken = true,
        };
        var target = new Option<string[]>("--target") { Description = "Target column (default: as the run recorded)." };
        var members = new Option<int?>("--members") { Description = "Use S draws, evenly thinned (default: every kept draw)." };
        var model = new Option<string?>("--model") { Description = "The ONNX model (default: the one the run recorded)." };
        var output = new Option<string?>("--out") { Description = "The JSON to write (default: RUN_DIR/evaluation.json)." };
        var inputShape = InputShapeFlag.Create();

        var command = new Command("evaluate", "Score the posterior predictive and the network's own weights on held-out data: " +
                                              "RMSE, log predictive density and interval coverage, or accuracy, NLL, Brier score and calibration error.");
        command.Arguments.Add(runDir);
        foreach (var o in new Option[] { data, features, target, members, model, output, inputShape }) command.Options.Add(o);
        command.SetAction(int (parse) =>
        {
            string dir = parse.GetValue(runDir)!;
            string? outPath = parse.GetValue(output);
            if (outPath is not null && !outPath.EndsWith(".json", StringComparison.OrdinalIgnoreCase))
                throw new UsageException($"--out {outPath}: the evaluation is written as JSON; give a .json file name");
            var run = RunDirectory.Open(dir);
            var evaluation = HeldOutEvaluation.Evaluate(run, new HeldOutEvaluation.Inputs(parse.GetValue(data)!,
                PlotCommand.SplitNames(parse.GetValue(features)), PlotCommand.SplitNames(parse.GetValue(target)),
                parse.GetValue(members), parse.GetValue(model), InputShapeOption.Parse(parse.GetValue(inputShape))), Console.Error);
            outPath ??= Path.Combine(dir, EvaluationReport.FileName);
            AtomicFile.WriteAllText(outPath, EvaluationReport.ToJson(evaluation) + "\n");
            Console.Out.Write(EvaluationReport.FormatTable(evaluation));
            Console.WriteLine($"wrote {outPath}");
            return 0;
        });
        return command;
    }
}
