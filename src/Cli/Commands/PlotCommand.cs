using System.CommandLine;
using Bnn.Onnx.Cli.Evaluation;
using Bnn.Onnx.Cli.Plotting;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn plot RUN_DIR --kind trace|rank|predictive|energy|calibration</c>: diagnostic and predictive pictures of a run
/// as PNG (ScottPlot), in the manner of ArviZ's <c>plot_trace</c>, <c>plot_rank</c> and <c>plot_energy</c>, the blog's
/// closing predictive figure, and calibration on held-out data (<see cref="CalibrationPlot"/>).
/// </summary>
internal static class PlotCommand
{
    public static readonly IReadOnlyList<string> Kinds = ["trace", "rank", "predictive", "energy", "calibration"];

    public static Command Create()
    {
        var runDir = new Argument<string>("run-dir") { Description = "The run directory (holds draws.parquet, run.json and summary.csv)." };
        var kind = new Option<string>("--kind")
        {
            Description = "trace: per-chain densities and traces; rank: per-chain rank histograms; predictive: data, " +
                          "predictive mean and 90% bands (one-feature regression); energy: marginal energy against transitions, with E-BFMI; " +
                          "calibration: reliability diagram (classification) or interval coverage (regression) on held-out --data.",
            Required = true,
        };
        var vars = new Option<string[]>("--vars")
        {
            Description = "Trace/rank: parameters to show besides lp__ and sigma, as globs on scalar names (0.weight[*], '2.bias[?]'); " +
                          $"repeatable. Default: the {VariableSelection.DefaultWorst} worst-mixing by R-hat, then ESS.",
            AllowMultipleArgumentsPerToken = true,
        };
        var data = new Option<string?>("--data") { Description = "Predictive: the data CSV (default: the one the run recorded). Calibration: the held-out data (required)." };
        var features = new Option<string[]>("--features")
        {
            Description = "Predictive, calibration: the feature columns (default: as recorded).",
            AllowMultipleArgumentsPerToken = true,
        };
        var target = new Option<string[]>("--target") { Description = "Predictive, calibration: the target column (default: as recorded)." };
        var model = new Option<string?>("--model") { Description = "Predictive, calibration: the ONNX model (default: the one the run recorded)." };
        var output = new Option<string?>("--out") { Description = "The PNG to write (default: RUN_DIR/<kind>.png)." };

        var command = new Command("plot", "Draw trace, rank, energy, posterior predictive or calibration plots of a run as PNG.");
        command.Arguments.Add(runDir);
        command.Options.Add(kind);
        command.Options.Add(vars);
        command.Options.Add(data);
        command.Options.Add(features);
        command.Options.Add(target);
        command.Options.Add(model);
        command.Options.Add(output);
        command.SetAction(int (parse) =>
        {
            string path = Run(parse.GetValue(runDir)!, parse.GetValue(kind)!, parse.GetValue(vars) ?? [], parse.GetValue(output),
                new PredictivePlot.Inputs(parse.GetValue(model), parse.GetValue(data),
                    SplitNames(parse.GetValue(features)), SplitNames(parse.GetValue(target))));
            Console.WriteLine($"wrote {path}");
            return 0;
        });
        return command;
    }

    /// <summary>Draws one plot and returns the path written.</summary>
    public static string Run(string runDir, string kind, IReadOnlyList<string> vars, string? output, PredictivePlot.Inputs? inputs = null)
    {
        kind = kind.Trim().ToLowerInvariant();
        if (!Kinds.Contains(kind))
            throw new UsageException($"--kind '{kind}': expected one of {string.Join(", ", Kinds)}");
        if (vars.Count > 0 && kind is not ("trace" or "rank"))
            throw new UsageException($"--vars applies to trace and rank plots, not {kind}");
        if (output is not null && !output.EndsWith(".png", StringComparison.OrdinalIgnoreCase))
            throw new UsageException($"--out {output}: plots are written as PNG; give a .png file name");

        var run = RunDirectory.Open(runDir);
        output ??= Path.Combine(runDir, kind + ".png");
        switch (kind)
        {
            case "trace":
                TracePlot.Write(run, Panels(run, vars), output);
                break;
            case "rank":
                RankPlot.Write(run, Panels(run, vars), output);
                break;
            case "energy":
                EnergyPlot.Write(run, output);
                break;
            case "calibration":
                if (inputs?.Data is not string heldOut)
                    throw new UsageException("--kind calibration: give the held-out data with --data TEST.csv");
                CalibrationPlot.Write(run, new HeldOutEvaluation.Inputs(heldOut, inputs.Features, inputs.Targets, Model: inputs.Model), output);
                break;
            default:
                PredictivePlot.Write(run, inputs ?? new PredictivePlot.Inputs(null, null, [], []), output);
                break;
        }
        return output;
    }

    private static IReadOnlyList<string> Panels(RunDirectory run, IReadOnlyList<string> vars)
    {
        var chosen = VariableSelection.Select(run, vars);
        if (chosen.Count <= VariableSelection.MaxPanels) return chosen;
        Console.Error.WriteLine($"note: --vars matches {chosen.Count} variables; plotting the first {VariableSelection.MaxPanels}");
        return chosen.Take(VariableSelection.MaxPanels).ToArray();
    }

    /// <summary>Column names given as <c>a,b</c> or as repeated options.</summary>
    public static IReadOnlyList<string> SplitNames(IEnumerable<string>? values) =>
        values?.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray() ?? [];
}
