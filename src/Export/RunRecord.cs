using System.Text.Json;
using System.Text.Json.Nodes;
using System.Text.Json.Serialization;

namespace Bnn.Onnx.Export;

/// <summary>Where a run stands when its record is written.</summary>
internal enum RunStatus
{
    /// <summary>Sampling has started: the record in the draws file's <c>bnn.run</c> metadata, written first.</summary>
    Running,

    /// <summary>Every chain finished its warmup and draws.</summary>
    Completed,

    /// <summary>Stopped early (Ctrl-C): the draws hold what the chains completed.</summary>
    Interrupted,
}

/// <summary>
/// The record of one <c>bnn sample</c> run, the one description of a run that every command reads. Written twice by
/// the same serializer: into the draws file's <c>bnn.run</c> metadata (<see cref="DrawsSchema.RunKey"/>) when
/// sampling starts (status <see cref="RunStatus.Running"/>, no results), and as <c>RUN_DIR/run.json</c>
/// (<see cref="FileName"/>) when it ends, with the results. <c>bnn export</c>, <c>plot</c> and <c>summary</c> read it
/// through <see cref="Load"/>; <c>bnn predict</c> reads what export copied from it into the ensemble's metadata.
/// <para>
/// JSON keys are the property names in snake_case (<c>model_sha256</c>, <c>settings.max_depth</c>); enums are
/// lower-case words. <see cref="Version"/> counts format changes: records without it (written before it existed)
/// are read as version 1 after one rename (<c>settings.sigma</c>, a number or <c>"LogNormal(0,1)"</c>, became
/// <c>settings.fixed_sigma</c>, a number or null).
/// </para>
/// </summary>
internal sealed record RunRecord
{
    /// <summary>The format this build writes.</summary>
    public const int CurrentVersion = 1;

    /// <summary>The record's file in a run directory.</summary>
    public const string FileName = "run.json";

    /// <summary>The record format (<see cref="CurrentVersion"/> when written by this build).</summary>
    public int Version { get; init; } = CurrentVersion;

    public required RunStatus Status { get; init; }

    /// <summary>The command line as typed (quoted where it held spaces).</summary>
    public required string CommandLine { get; init; }

    /// <summary>The ONNX model sampled (absolute path when written) and its SHA-256 (lower-case hex).</summary>
    public required string Model { get; init; }

    public required string ModelSha256 { get; init; }

    /// <summary>The training data (absolute path when written) and its SHA-256.</summary>
    public required string Data { get; init; }

    public required string DataSha256 { get; init; }

    /// <summary>The feature columns, in the order they fill the model input.</summary>
    public required IReadOnlyList<string> Features { get; init; }

    /// <summary>The target column.</summary>
    public required string Target { get; init; }

    public required ulong Seed { get; init; }

    /// <summary>
    /// The chains of the run (<see cref="RunSettings.Chains"/> in all) this directory holds, in the draws' chain order,
    /// when it holds only some (<c>bnn sample --chain-ids</c>); absent for a whole run.
    /// </summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? ChainIds { get; init; }

    /// <summary>The backend that computed the density (<c>cpu</c>, <c>torch</c>), its device and precision.</summary>
    public required string Backend { get; init; }

    public required string Device { get; init; }

    public required string Precision { get; init; }

    /// <summary>Threads that evaluated each chain's gradient (compiled backend; absent for the others and in older records).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? ThreadsPerChain { get; init; }

    public required RunSettings Settings { get; init; }

    /// <summary>Gradient evaluations (results: absent while <see cref="RunStatus.Running"/>).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public GradientEvaluationCounts? GradientEvaluations { get; init; }

    /// <summary>Wall-clock seconds (results).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public RunTiming? Timing { get; init; }

    /// <summary>Divergent transitions after warmup, over all chains (results).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? Divergences { get; init; }

    /// <summary>Transitions that hit the maximum tree depth after warmup, over all chains (results).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public long? TreedepthSaturations { get; init; }

    /// <summary>Per-chain results: adapted step size and metric, draws completed, diagnostics.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<ChainRecord>? Chains { get; init; }

    /// <summary>1: every summary row uses every draw; k: per-parameter rows use every k-th draw (memory budget).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public int? SummaryThinning { get; init; }

    /// <summary>The run directory's output files.</summary>
    public required RunOutputs Outputs { get; init; }

    /// <summary>The frozen part and the sampled head (<c>--freeze</c> / <c>--sample</c>); null when every parameter was sampled.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public FrozenPartRecord? Frozen { get; init; }

    /// <summary>The software that wrote the record.</summary>
    public required SoftwareVersions Versions { get; init; }

    private static readonly JsonSerializerOptions Json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.SnakeCaseLower,
        WriteIndented = true,
        RespectNullableAnnotations = true,
        RespectRequiredConstructorParameters = true,
        // A run interrupted before its first iteration has no step size yet (NaN): written as "NaN", read back as NaN.
        NumberHandling = JsonNumberHandling.AllowNamedFloatingPointLiterals,
        Converters = { new JsonStringEnumConverter(JsonNamingPolicy.SnakeCaseLower, allowIntegerValues: false) },
    };

    /// <summary>The record as indented JSON (no trailing newline).</summary>
    public string ToJson() => JsonSerializer.Serialize(this, Json);

    /// <summary>
    /// Parses a record; <paramref name="where"/> names its source in the one-line <see cref="InvalidDataException"/>
    /// thrown for anything that is not a record of a known version.
    /// </summary>
    public static RunRecord Parse(string json, string where)
    {
        try
        {
            var root = JsonNode.Parse(json) as JsonObject
                ?? throw new InvalidDataException($"{where}: the run record is not a JSON object");
            Upgrade(root, where);
            return root.Deserialize<RunRecord>(Json)
                ?? throw new InvalidDataException($"{where}: the run record is empty");
        }
        catch (JsonException ex)
        {
            string at = ex.Path is { Length: > 0 } path ? $" at {path}" : "";
            throw new InvalidDataException($"{where}: not a valid run record{at} ({OneLine(ex.Message)})");
        }
    }

    /// <summary>
    /// The record of the draws in <paramref name="runDir"/>: the draws file's own (<paramref name="drawsMetadata"/>,
    /// its <c>bnn.run</c> value, which always belongs to those draws), else <c>RUN_DIR/run.json</c>, else null.
    /// </summary>
    public static RunRecord? Load(string runDir, string? drawsMetadata)
    {
        if (drawsMetadata is not null) return Parse(drawsMetadata, $"{Path.Combine(runDir, DrawsSchema.FileName)} ({DrawsSchema.RunKey})");
        string file = Path.Combine(runDir, FileName);
        return File.Exists(file) ? Parse(File.ReadAllText(file), file) : null;
    }

    /// <summary>A recorded path as written when it exists, else relative to the run directory.</summary>
    public static string Resolve(string path, string runDir) =>
        Path.IsPathRooted(path) || File.Exists(path) ? path : Path.Combine(runDir, path);

    /// <summary>Brings an older record up to <see cref="CurrentVersion"/> in place, or refuses a newer one.</summary>
    private static void Upgrade(JsonObject root, string where)
    {
        string versionKey = Json.PropertyNamingPolicy!.ConvertName(nameof(Version));
        int version = !root.ContainsKey(versionKey) ? 0
            : root[versionKey] is JsonValue v && v.TryGetValue(out int n) && n >= 1 ? n
            : throw new InvalidDataException($"{where}: the run record's version is not a whole number from 1");
        if (version > CurrentVersion)
            throw new InvalidDataException($"{where}: run record version {version} was written by a newer bnn (this one reads up to {CurrentVersion})");
        string fixedSigmaKey = Json.PropertyNamingPolicy.ConvertName(nameof(RunSettings.FixedSigma));
        if (version == 0 && root["settings"] is JsonObject settings && !settings.ContainsKey(fixedSigmaKey))
        {
            // Before versions, settings.sigma held the fixed σ, or the text of its prior when σ was sampled.
            const string unversionedKey = "sigma";
            var sigma = settings[unversionedKey] is JsonValue s && s.TryGetValue(out double fixedSigma) ? JsonValue.Create(fixedSigma) : null;
            settings.Remove(unversionedKey);
            settings[fixedSigmaKey] = sigma;
        }
        root[versionKey] = CurrentVersion;
    }

    private static string OneLine(string message) => string.Join(' ', message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
}

/// <summary>What the run was asked to do: the posterior and the sampler's settings.</summary>
internal sealed record RunSettings
{
    public required EnsembleLikelihood Likelihood { get; init; }

    /// <summary>A normal likelihood's fixed noise scale σ; null when σ was sampled (block <c>sigma</c>, LogNormal(0, 1) prior) or the likelihood has none.</summary>
    public required double? FixedSigma { get; init; }

    /// <summary>
    /// C of <c>--prior-scale</c> (<see cref="PriorScaling"/> says how it sets each parameter's prior), and the
    /// per-parameter overrides as given (<c>PATTERN=normal(MEAN,SCALE)</c>).
    /// </summary>
    public required double PriorScale { get; init; }

    public required IReadOnlyList<string> Priors { get; init; }

    /// <summary>
    /// How <see cref="PriorScale"/> C sets the default prior: <c>fixed</c> (Normal(0, C²)), <c>fan-in</c>
    /// (Normal(0, C²/fan_in) on weights) or <c>hierarchical</c> (a LogNormal(log(C/√fan_in), 1) scale per weight
    /// tensor); <c>fixed</c> in records written before the option existed.
    /// </summary>
    public string PriorScaling { get; init; } = "fixed";

    /// <summary>The prior each parameter got, by name (<c>normal(0,0.447214)</c>, <c>normal(0,s), s ~ lognormal(log(0.447214),1)</c>); absent in older records.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyDictionary<string, string>? ParameterPriors { get; init; }

    public required int Chains { get; init; }

    public required int Warmup { get; init; }

    public required int Draws { get; init; }

    public required double TargetAccept { get; init; }

    public required int MaxDepth { get; init; }

    /// <summary><c>diag</c>, <c>dense</c> or <c>low-rank</c>.</summary>
    public required string Metric { get; init; }

    /// <summary><c>stan</c> or <c>gradient</c>.</summary>
    public required string MetricAdaptation { get; init; }

    /// <summary><c>prior</c>, <c>uniform</c> or <c>onnx</c>.</summary>
    public required string Init { get; init; }

    /// <summary>
    /// True when the final affine layer was integrated out (<c>--integrate-output</c>): NUTS sampled the other
    /// parameters, and the output layer's weights were drawn from their exact conditional at every saved draw. False
    /// in records written before the option existed.
    /// </summary>
    public bool IntegrateOutput { get; init; }
}

/// <summary>Gradient evaluations in warmup, in sampling, and in all.</summary>
internal sealed record GradientEvaluationCounts(long Warmup, long Sampling, long Total);

/// <summary>Seconds of the longest chain's warmup and sampling, and of the whole run.</summary>
internal sealed record RunTiming(double WarmupSeconds, double SamplingSeconds, double TotalSeconds);

/// <summary>One chain's results.</summary>
/// <param name="EBfmi">E-BFMI, null when undefined (fewer than two draws, or constant energy).</param>
/// <param name="InverseMetric">The adapted inverse metric: the diagonal (of M⁻¹ also for the low-rank metric), or the dense matrix row-major.</param>
internal sealed record ChainRecord(int Chain, double StepSize, int Draws, long Divergences, long TreedepthSaturations, double? EBfmi,
    double MeanAcceptStat, IReadOnlyList<double> InverseMetric);

/// <summary>The file names of a run's outputs in its directory.</summary>
internal sealed record RunOutputs(string Draws, string Summary);

/// <summary>The versions of bnn, .NET and the operating system that wrote a record.</summary>
internal sealed record SoftwareVersions(string Bnn, string Dotnet, string Os);
