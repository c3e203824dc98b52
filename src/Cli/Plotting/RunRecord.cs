using System.Text.Json;
using System.Text.Json.Nodes;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>
/// What the plots need from a run's record (<c>RUN_DIR/run.json</c>, else the draws file's <c>bnn.run</c> metadata):
/// the model and data paths, the feature and target columns, the likelihood, the seed and a fixed σ. Keys are read
/// at the top level or under <c>settings</c>; all are optional.
/// </summary>
public sealed record RunRecord(
    string? Model,
    string? Data,
    IReadOnlyList<string> Features,
    IReadOnlyList<string> Targets,
    string? Likelihood,
    ulong? Seed,
    double? FixedSigma)
{
    public static RunRecord Empty { get; } = new(null, null, [], [], null, null, null);

    /// <summary>Reads <c>run.json</c> in <paramref name="runDir"/>, else <paramref name="metadataJson"/>, else <see cref="Empty"/>.</summary>
    public static RunRecord Load(string runDir, string? metadataJson)
    {
        string file = System.IO.Path.Combine(runDir, "run.json");
        string? json = File.Exists(file) ? File.ReadAllText(file) : metadataJson;
        string where = File.Exists(file) ? file : $"{runDir}: the draws' run record";
        return json is null ? Empty : Parse(json, where);
    }

    public static RunRecord Parse(string json, string where)
    {
        JsonObject root;
        try
        {
            root = JsonNode.Parse(json) as JsonObject
                ?? throw new InvalidDataException($"{where}: the run record is not a JSON object");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{where}: the run record is not valid JSON ({CliRunner.OneLine(ex.Message)})");
        }

        JsonNode? Find(params string[] keys)
        {
            foreach (var scope in new[] { root, root["settings"] as JsonObject })
                foreach (var key in keys)
                    if (scope?[key] is JsonNode node) return node;
            return null;
        }

        static string? Text(JsonNode? node) => node is JsonValue v
            ? v.TryGetValue<string>(out var s) ? s : v.ToJsonString()
            : null;

        static IReadOnlyList<string> Names(JsonNode? node) => node switch
        {
            JsonArray array => array.Select(Text).OfType<string>().ToArray(),
            JsonValue => SplitNames(Text(node)),
            _ => [],
        };

        ulong? seed = Find("seed") is JsonValue sv && ulong.TryParse(Text(sv), out ulong s) ? s : null;
        double? sigma = Find("fixed_sigma", "sigma") is JsonValue f && f.TryGetValue<double>(out double d) ? d : null;
        return new RunRecord(
            Text(Find("model", "model_path")),
            Text(Find("data", "data_path")),
            Names(Find("features")),
            Names(Find("target", "targets")),
            Text(Find("likelihood"))?.Trim().ToLowerInvariant(),
            seed,
            sigma);
    }

    /// <summary>Column names given as <c>a,b</c> or repeated options.</summary>
    public static IReadOnlyList<string> SplitNames(IEnumerable<string>? values) =>
        values?.SelectMany(v => v.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)).ToArray() ?? [];

    private static IReadOnlyList<string> SplitNames(string? value) => value is null ? [] : SplitNames([value]);

    /// <summary>A recorded path as written when it exists, else relative to the run directory.</summary>
    public static string Resolve(string path, string runDir) =>
        System.IO.Path.IsPathRooted(path) || File.Exists(path) ? path : System.IO.Path.Combine(runDir, path);
}
