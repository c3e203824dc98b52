using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn export RUN_DIR</c>: the packed ensemble ONNX (every member in one graph) and, with <c>--members-dir</c>,
/// one ONNX file per member. The run's record (<see cref="RunRecord"/>) names the model, its SHA-256, the likelihood,
/// a fixed σ and the seed.
/// </summary>
public static class ExportCommand
{
    public static Command Create()
    {
        var runDir = new Argument<string>("run-dir") { Description = "The run directory (holds draws.parquet and run.json)." };
        var model = new Option<string?>("--model") { Description = "The source ONNX model (default: the one the run recorded)." };
        var members = new Option<int>("--members") { Description = "Number of members S, thinned evenly in (chain, draw) order.", DefaultValueFactory = _ => 100 };
        var output = new Option<string?>("--out") { Description = "The ensemble file (default: RUN_DIR/ensemble.onnx)." };
        var membersDir = new Option<string?>("--members-dir") { Description = "Also write member_0000.onnx, … here: the source model with one draw's weights each." };
        var dtype = new Option<string>("--dtype") { Description = "Element type of the ensemble: float32 or float64.", DefaultValueFactory = _ => "float32" };

        var command = new Command("export", "Write the posterior as an ensemble ONNX file (and optionally one file per member).");
        command.Arguments.Add(runDir);
        command.Options.Add(model);
        command.Options.Add(members);
        command.Options.Add(output);
        command.Options.Add(membersDir);
        command.Options.Add(dtype);
        command.SetAction(int (parse) => Run(parse.GetValue(runDir)!, parse.GetValue(model), parse.GetValue(members), parse.GetValue(output),
            parse.GetValue(membersDir), parse.GetValue(dtype)!, Console.Out));
        return command;
    }

    /// <summary>Writes the ensemble of <paramref name="runDir"/> (and the member files); what it wrote goes to <paramref name="output"/>.</summary>
    public static int Run(string runDir, string? modelPath, int memberCount, string? outPath, string? membersDir, string dtype, TextWriter output)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        if (memberCount < 1) throw new UsageException($"--members {memberCount}: must be at least 1");
        var elementType = dtype.Trim().ToLowerInvariant() switch
        {
            "float32" or "float" => ElementType.Float,
            "float64" or "double" => ElementType.Double,
            _ => throw new UsageException($"--dtype '{dtype}': expected float32 or float64"),
        };

        string drawsPath = Path.Combine(runDir, SampleRun.DrawsFile);
        // Streamed: only the picked members are held, however large the draws file.
        var table = ParquetDrawStreamReader.Open(drawsPath);
        var run = RunRecord.Load(runDir, table.RunJson)
            ?? throw new InvalidDataException($"{runDir}: no run record (neither {RunRecord.FileName} nor the draws' {DrawsSchema.RunKey} metadata)");
        var likelihood = run.Settings.Likelihood;
        if (likelihood == EnsembleLikelihood.Normal && table.Layout.Find(NoiseScale.Name) is null && run.Settings.FixedSigma is null)
            throw new InvalidDataException($"{runDir}: a normal likelihood needs σ, but the draws hold no '{NoiseScale.Name}' and the run records no fixed σ");

        modelPath ??= RunRecord.Resolve(run.Model, runDir);
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"model file not found: {modelPath} (pass --model to point elsewhere)", modelPath);
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(modelPath)));
        if (!string.Equals(run.ModelSha256, sha, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{modelPath}: SHA-256 {sha} differs from the model the run sampled ({run.ModelSha256})");

        var source = ModelFiles.Read(modelPath);
        var graph = FrozenHead.Import(modelPath, run.Frozen?.Selection ?? ParameterSelection.Everything);
        HeadCut? cut = null;
        if (run.Frozen is { } frozen)
        {
            // The head the run sampled; with a frozen part before it, the ensemble holds that part once.
            cut = FrozenHead.Rebuild(frozen, graph, out var head);
            graph = head;
        }
        int count = Math.Min(memberCount, table.TotalDraws);
        var draws = MemberSelection.Select(table, count, out double thinning);

        var metadata = new Dictionary<string, string>
        {
            ["bnn.thinning"] = thinning.ToString("R", CultureInfo.InvariantCulture),
            ["bnn.total_draws"] = table.TotalDraws.ToString(CultureInfo.InvariantCulture),
            ["bnn.draws_status"] = table.Interrupted ? "interrupted" : "complete",
            ["bnn.seed"] = run.Seed.ToString(CultureInfo.InvariantCulture),
        };

        var options = new EnsembleOptions(likelihood, elementType, run.Settings.FixedSigma, metadata);
        var ensemble = cut is { HasFrozenPart: true }
            ? FrozenPart.BuildEnsemble(source, graph, table.Layout, draws, options)
            : EnsembleBuilder.Build(graph, table.Layout, draws, options);
        outPath ??= Path.Combine(runDir, "ensemble.onnx");
        ModelFiles.WriteAtomically(outPath, ensemble);
        output.WriteLine($"wrote {outPath}: {count} members of {table.TotalDraws} draws (thinning {thinning.ToString("0.###", CultureInfo.InvariantCulture)}), " +
                          $"{likelihood.ToString().ToLowerInvariant()} likelihood, {(elementType == ElementType.Float ? "float32" : "float64")}" +
                          (cut is { HasFrozenPart: true } ? $"; frozen part ({cut.FrozenNodes.Count} nodes) once, head stacked" : ""));

        if (membersDir is not null)
        {
            var paths = MemberModelWriter.WriteAll(membersDir, source, table.Layout, draws, metadata);
            output.WriteLine($"wrote {paths.Count} member files to {membersDir}");
        }
        return 0;
    }
}
