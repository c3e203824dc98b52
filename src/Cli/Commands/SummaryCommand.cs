using System.CommandLine;
using System.Text.Json;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn summary RUN_DIR|draws.parquet|draws.csv… [--format table|csv|json]</c>: recomputes the posterior summary
/// (posterior 1.4.0's diagnostics), Stan's warnings and the function-space verdict from saved draws: our Parquet,
/// CmdStan output CSVs (one per chain) or a long CSV with <c>chain</c> and <c>iteration</c>/<c>draw</c> columns.
/// </summary>
internal static class SummaryCommand
{
    public static Command Create()
    {
        var paths = new Argument<string[]>("draws")
        {
            Description = "A run directory (reads DIR/draws.parquet), a draws .parquet file, a long CSV with chain and iteration/draw columns, or CmdStan output CSVs (one per chain).",
            Arity = ArgumentArity.OneOrMore,
        };
        var format = new Option<string>("--format")
        {
            Description = "Output format: table, csv (summary.csv columns) or json.",
            DefaultValueFactory = _ => "table",
        };
        format.AcceptOnlyFromAmong("table", "csv", "json");
        var maxDepth = new Option<int?>("--max-depth")
        {
            Description = "Maximum tree depth used when sampling, for the saturation warning (default: as the run or CmdStan CSV records it, else 10).",
        };

        var command = new Command("summary", "Summarise saved draws: mean, sd, quantiles, MCSE, bulk/tail ESS, R-hat, and Stan's warnings.");
        command.Arguments.Add(paths);
        command.Options.Add(format);
        command.Options.Add(maxDepth);
        command.SetAction(int (parseResult) =>
        {
            var inputs = parseResult.GetValue(paths) ?? [];
            var table = Read(inputs, out int? recordedDepth);
            var report = DrawsReport.Build(table, parseResult.GetValue(maxDepth) ?? recordedDepth ?? 10, SampleRun.IsPredictive);
            Write(report, parseResult.GetValue(format) ?? "table");
            return 0;
        });
        return command;
    }

    /// <summary>Opens the draws the user named; the maximum tree depth the run record or a CmdStan CSV gives, if any, comes back too.</summary>
    public static IDrawTable Read(IReadOnlyList<string> inputs, out int? maxTreeDepth)
    {
        maxTreeDepth = null;
        if (inputs.Count == 0) throw new UsageException("give a run directory or a draws file");
        var files = new List<string>();
        foreach (var input in inputs)
        {
            if (Directory.Exists(input))
            {
                var parquet = Path.Combine(input, DrawsSchema.FileName);
                if (!File.Exists(parquet)) throw new FileNotFoundException($"no draws.parquet in run directory {input}", parquet);
                files.Add(parquet);
            }
            else if (File.Exists(input)) files.Add(input);
            else throw new FileNotFoundException($"draws file not found: {input}", input);
        }

        var parquetFiles = files.Where(f => f.EndsWith(".parquet", StringComparison.OrdinalIgnoreCase)).ToList();
        if (parquetFiles.Count > 0)
        {
            if (files.Count > 1) throw new UsageException("give one draws.parquet file (or run directory) at a time");
            var table = ParquetDrawTable.Read(files[0]);
            string runDir = Path.GetDirectoryName(Path.GetFullPath(files[0]))!;
            maxTreeDepth = RunRecord.Load(runDir, ParquetDrawStreamReader.Open(files[0]).RunJson)?.Settings.MaxDepth;
            // A run directory also holds the posterior predictive mean at each draw, which the verdict rests on.
            var predictive = Path.Combine(runDir, SampleRun.PredictiveFile);
            return File.Exists(predictive) ? new JoinedDrawTable(table, DrawCsvReader.Read([predictive])) : table;
        }
        foreach (var f in files) maxTreeDepth ??= DrawCsvReader.CmdStanMaxDepth(f);
        return DrawCsvReader.Read(files);
    }

    private static void Write(DrawsReport report, string format)
    {
        switch (format)
        {
            case "csv":
                SummaryWriter.WriteCsv(Console.Out, report.Rows);
                foreach (var w in report.SamplerWarnings.Concat(report.ConvergenceWarnings)) Console.Error.WriteLine($"warning: {w}");
                break;
            case "json":
            {
                using var stdout = Console.OpenStandardOutput();
                using (var json = new Utf8JsonWriter(stdout, new JsonWriterOptions { Indented = true }))
                {
                    json.WriteStartObject();
                    json.WriteNumber("chains", report.Chains);
                    json.WriteNumber("draws_per_chain", report.DrawsPerChain);
                    json.WritePropertyName("summary");
                    SummaryWriter.WriteJson(json, report.Rows);
                    json.WriteStartArray("warnings");
                    foreach (var w in report.SamplerWarnings.Concat(report.ConvergenceWarnings)) json.WriteStringValue(w);
                    json.WriteEndArray();
                    if (report.Verdict is { } v)
                    {
                        json.WriteStartObject("verdict");
                        json.WriteBoolean("converged", v.Converged);
                        json.WriteString("reason", v.Reason);
                        json.WriteEndObject();
                    }
                    else json.WriteNull("verdict");
                    json.WriteEndObject();
                }
                stdout.WriteByte((byte)'\n');
                break;
            }
            default:
                Console.Out.WriteLine($"{report.Chains} chains x {report.DrawsPerChain} draws");
                Console.Out.Write(SummaryWriter.FormatTable(report.Rows));
                foreach (var w in report.SamplerWarnings.Concat(report.ConvergenceWarnings))
                    Console.Out.WriteLine($"warning: {w}");
                if (report.Verdict is { } verdict)
                    Console.Out.WriteLine($"{(verdict.Converged ? "converged" : "not converged")} (function space): {verdict.Reason}");
                break;
        }
    }
}
