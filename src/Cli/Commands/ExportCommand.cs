using System.CommandLine;
using System.Globalization;
using System.Security.Cryptography;
using System.Text.Json.Nodes;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn export RUN_DIR</c>: the packed ensemble ONNX (every member in one graph) and, with <c>--members-dir</c>,
/// one ONNX file per member. The run directory's <c>draws.parquet</c> (metadata <c>bnn.run</c>) or <c>run.json</c>
/// names the model, the likelihood and the seed.
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
            parse.GetValue(membersDir), parse.GetValue(dtype)!));
        return command;
    }

    private static int Run(string runDir, string? modelPath, int memberCount, string? outPath, string? membersDir, string dtype)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        string drawsPath = Path.Combine(runDir, "draws.parquet");
        // Streamed: only the picked members are held, however large the draws file.
        var table = ParquetDrawStreamReader.Open(drawsPath);
        var run = RunSettings.Load(runDir, table.RunJson);

        modelPath ??= run.ModelPath(runDir) ?? throw new UsageException($"{runDir}: the run does not record its model; pass --model MODEL.onnx");
        if (!File.Exists(modelPath)) throw new FileNotFoundException($"model file not found: {modelPath} (pass --model to point elsewhere)", modelPath);
        string sha = Convert.ToHexStringLower(SHA256.HashData(File.ReadAllBytes(modelPath)));
        if (run.ModelSha256 is string recorded && !string.Equals(recorded, sha, StringComparison.OrdinalIgnoreCase))
            throw new InvalidDataException($"{modelPath}: SHA-256 {sha} differs from the model the run sampled ({recorded})");

        var elementType = dtype.Trim().ToLowerInvariant() switch
        {
            "float32" or "float" => ElementType.Float,
            "float64" or "double" => ElementType.Double,
            _ => throw new UsageException($"--dtype '{dtype}': expected float32 or float64"),
        };
        var likelihood = run.Likelihood ?? (table.Layout.Find("sigma") is not null ? EnsembleLikelihood.Normal
            : throw new UsageException($"{runDir}: the run does not record its likelihood"));

        var source = ModelFiles.Read(modelPath);
        var graph = OnnxImporter.Import(modelPath);
        int count = Math.Min(memberCount, table.TotalDraws);
        if (memberCount < 1) throw new UsageException($"--members {memberCount}: must be at least 1");
        var draws = MemberSelection.Select(table, count, out double thinning);

        var metadata = new Dictionary<string, string>
        {
            ["bnn.thinning"] = thinning.ToString("R", CultureInfo.InvariantCulture),
            ["bnn.total_draws"] = table.TotalDraws.ToString(CultureInfo.InvariantCulture),
            ["bnn.draws_status"] = table.Interrupted ? "interrupted" : "complete",
        };
        if (run.Seed is string seed) metadata["bnn.seed"] = seed;

        var ensemble = EnsembleBuilder.Build(graph, table.Layout, draws, new EnsembleOptions(likelihood, elementType, run.FixedSigma, metadata));
        outPath ??= Path.Combine(runDir, "ensemble.onnx");
        ModelFiles.WriteAtomically(outPath, ensemble);
        Console.WriteLine($"wrote {outPath}: {count} members of {table.TotalDraws} draws (thinning {thinning.ToString("0.###", CultureInfo.InvariantCulture)}), " +
                          $"{likelihood.ToString().ToLowerInvariant()} likelihood, {(elementType == ElementType.Float ? "float32" : "float64")}");

        if (membersDir is not null)
        {
            var paths = MemberModelWriter.WriteAll(membersDir, source, table.Layout, draws, metadata);
            Console.WriteLine($"wrote {paths.Count} member files to {membersDir}");
        }
        return 0;
    }

    /// <summary>
    /// What <c>bnn export</c> reads from the run record (<c>bnn.run</c> metadata, else <c>RUN_DIR/run.json</c>):
    /// <c>model</c> (or <c>model_path</c>), <c>model_sha256</c>, <c>likelihood</c>, <c>seed</c>, <c>sigma</c> (a fixed σ),
    /// at the top level or under <c>settings</c>.
    /// </summary>
    private sealed record RunSettings(string? Model, string? ModelSha256, EnsembleLikelihood? Likelihood, string? Seed, double? FixedSigma)
    {
        public static RunSettings Load(string runDir, string? runJson)
        {
            string runFile = Path.Combine(runDir, "run.json");
            runJson ??= File.Exists(runFile) ? File.ReadAllText(runFile) : null;
            if (runJson is null) return new RunSettings(null, null, null, null, null);
            JsonObject root;
            try
            {
                root = JsonNode.Parse(runJson)?.AsObject() ?? new JsonObject();
            }
            catch (Exception ex) when (ex is System.Text.Json.JsonException or InvalidOperationException)
            {
                throw new InvalidDataException($"{runDir}: the run record is not a JSON object ({ex.Message})");
            }

            JsonNode? Find(params string[] keys)
            {
                foreach (var scope in new[] { root, root["settings"] as JsonObject })
                    foreach (var key in keys)
                        if (scope?[key] is JsonNode node) return node;
                return null;
            }

            string? Text(JsonNode? node) => node is JsonValue v ? v.ToJsonString().Trim('"') : null;
            var likelihoodText = Text(Find("likelihood"));
            EnsembleLikelihood? likelihood = likelihoodText is null ? null : likelihoodText.ToLowerInvariant() switch
            {
                "normal" or "gaussian" => EnsembleLikelihood.Normal,
                "bernoulli" => EnsembleLikelihood.Bernoulli,
                "categorical" => EnsembleLikelihood.Categorical,
                _ => throw new InvalidDataException($"{runDir}: unknown likelihood '{likelihoodText}' in the run record"),
            };
            double? sigma = Find("sigma", "fixed_sigma") is JsonValue s && s.TryGetValue<double>(out double sv) ? sv : null;
            return new RunSettings(Text(Find("model", "model_path")), Text(Find("model_sha256", "sha256")), likelihood, Text(Find("seed")), sigma);
        }

        /// <summary>The recorded model path: as written, else relative to the run directory.</summary>
        public string? ModelPath(string runDir)
        {
            if (Model is null) return null;
            if (Path.IsPathRooted(Model) || File.Exists(Model)) return Model;
            return Path.Combine(runDir, Model);
        }
    }
}
