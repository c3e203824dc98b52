using System.CommandLine;
using Bnn.Onnx.Cli.Sampling;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn merge RUN_A RUN_B … --out RUN</c>: joins run directories holding different chains of one posterior
/// (<c>bnn sample --chain-ids</c>, same model, data, options and seed) into one (<see cref="RunMerge"/>).
/// </summary>
internal static class MergeCommand
{
    public static Command Create()
    {
        var runs = new Argument<string[]>("runs") { Description = "Run directories of the same posterior (bnn sample --chain-ids).", Arity = ArgumentArity.OneOrMore };
        var outDir = new Option<string>("--out") { Description = "The merged run directory (draws.parquet, predictive.csv, summary.csv, run.json).", Required = true };
        var command = new Command("merge", "Join run directories that hold different chains of one posterior; the summary and verdict are recomputed.");
        command.Arguments.Add(runs);
        command.Options.Add(outDir);
        command.SetAction(int (parse) =>
        {
            var report = RunMerge.Execute(parse.GetValue(runs) ?? [], parse.GetValue(outDir)!,
                string.Join(' ', Environment.GetCommandLineArgs().Skip(1)), Console.Error);
            Console.Out.WriteLine($"merged {report.Chains} chains × {report.DrawsPerChain} draws into {parse.GetValue(outDir)}");
            if (report.Verdict is { } v) Console.Out.WriteLine($"{(v.Converged ? "converged" : "NOT converged")}: {v.Reason}");
            return 0;
        });
        return command;
    }
}
