using System.Globalization;
using System.Reflection;
using System.Security.Cryptography;
using System.Text;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Pipeline;

/// <summary>What a finished (or interrupted) run produced.</summary>
/// <param name="Hint">A setting worth trying for this model, from what the run showed (null when none).</param>
internal sealed record SampleOutcome(SamplingResult Result, DrawsReport Report, string BackendName, bool Interrupted, string? Hint = null);

/// <summary>
/// <c>bnn sample</c>: import → posterior → backend → NUTS → draws.parquet, summary.csv, run.json.
/// Every input is checked before sampling starts; outputs are written under temporary names and renamed when
/// complete, so an interrupted or failed run never leaves a half-written file behind.
/// </summary>
internal static class SampleRun
{
    public const string DrawsFile = DrawsSchema.FileName;
    public const string SummaryFile = "summary.csv";
    public const string RunFile = RunRecord.FileName;

    /// <summary>The posterior predictive mean at each draw (long CSV: chain, draw, mu[…]), for <c>bnn summary RUN_DIR</c>.</summary>
    public const string PredictiveFile = "predictive.csv";

    /// <summary>Runs the pipeline with no progress display; notes go to <paramref name="log"/>.</summary>
    public static SampleOutcome Execute(SampleSettings s, TextWriter log, CancellationToken cancellationToken) =>
        Execute(s, log, monitor: null, cancellationToken);

    /// <summary>
    /// Runs the pipeline: checks every input, samples, and writes the run directory. <paramref name="monitor"/> makes,
    /// from the sampler's options, what receives each chain's progress and runs the sampling call (the CLI's live
    /// display); null: no progress. Notes (a frozen part, a thinned summary) go to <paramref name="log"/>.
    /// </summary>
    public static SampleOutcome Execute(SampleSettings s, TextWriter log, Func<SamplerOptions, ISamplingMonitor>? monitor,
        CancellationToken cancellationToken)
    {
        // Everything the user gave is read and checked before anything is written or sampled.
        var graph = FrozenHead.Import(s.ModelPath, s.Selection);
        var data = DataFile.Read(s.DataPath);
        // The library validators throw ArgumentException for bad settings; here they are the user's (exit 2).
        var (dataSet, featureNames, targetName) = UserInput.Validated(() => BuildDataSet(data, s, graph));
        // The feature columns fill the input's non-batch dimensions in row-major order; from here on the graph declares them fixed.
        var inputShape = InputShapeOption.Resolve(graph, s.InputDimensions, dataSet.FeatureWidth,
            $"{Path.GetFileName(data.Path)} ({featureNames.Length} feature columns)", log);
        graph = inputShape.Bind(graph);
        FrozenPartRecord? frozen = null;
        if (!s.Selection.IsEverything)
        {
            // The head is the model from here on: its data are the frozen part's features, computed once.
            var cut = FrozenHead.Cut(graph, s.Selection);
            (graph, var features, frozen) = FrozenHead.Split(cut, s.ModelPath, dataSet.Features, dataSet.Rows, inputShape.SampleShape!);
            dataSet = new DataSet(features, frozen.FeatureShape.Aggregate(1, (a, b) => checked(a * b)), dataSet.Targets);
            log.WriteLine($"note: {FrozenHead.Describe(cut, frozen, dataSet.Rows)}");
        }
        var posteriorOptions = new PosteriorOptions(UserInput.Validated(() => PriorOptions.Parse(s.PriorScale, s.Priors) with { Scaling = s.PriorScaling }), s.Likelihood, s.Sigma);
        if (s.IntegrateOutput && s.Likelihood != LikelihoodKind.Normal)
            throw new UsageException($"--integrate-output: the output layer can be integrated under the normal likelihood only, not {s.Likelihood.ToString().ToLowerInvariant()}");
        var model = UserInput.Validated(() => CreateModel(graph, posteriorOptions, dataSet, data.Path, s.IntegrateOutput));
        // With the output layer integrated, NUTS samples `model` and the draws describe the full posterior.
        var full = model.Integrated?.Full ?? model;
        var factory = UserInput.Validated(() => SelectBackend(s, graph));
        var sampler = SamplerFor(s);
        UserInput.Validated(sampler.Validate);
        s = s with { ThreadsPerChain = ThreadsPerChain(s, sampler, factory) };
        var backendOptions = new BackendOptions(s.Precision, s.Device, s.ThreadsPerChain ?? 1);
        _ = SummaryMemory.BudgetBytes; // a malformed BNN_SUMMARY_MEMORY_MB fails here, not after sampling

        using var potential = factory.CreatePotential(model, backendOptions);
        Directory.CreateDirectory(s.OutDir);
        RemoveStaleTemporaries(s.OutDir);

        string runJsonSettings = (Record(s, full, featureNames, targetName, factory.Name, result: null) with { Frozen = frozen }).ToJson();
        // The draws go to a temporary name and replace DIR/draws.parquet only together with the summary and run.json
        // that describe them: a run that fails (or is killed) leaves an earlier run's three files as they were.
        string drawsPath = Path.Combine(s.OutDir, $".{DrawsFile}.{Environment.ProcessId}.tmp");
        try
        {
            return SampleAndSummarize(s, graph, model, factory, backendOptions, potential, sampler, featureNames, targetName,
                dataSet, runJsonSettings, drawsPath, frozen, log, monitor?.Invoke(sampler) ?? SilentMonitor.Instance, cancellationToken);
        }
        finally
        {
            if (File.Exists(drawsPath)) File.Delete(drawsPath);
        }
    }

    /// <summary>
    /// The sampler's options for this run: the chains <see cref="SampleSettings.ChainIds"/> names (each on its own
    /// stream of the run's seed), or all of them.
    /// </summary>
    public static SamplerOptions SamplerFor(SampleSettings s)
    {
        if (s.ChainIds is not { } ids) return s.Sampler;
        int chains = s.Sampler.Chains;
        if (ids.Count == 0) throw new UsageException("--chain-ids: give at least one chain id");
        foreach (int id in ids)
            if (id < 0 || id >= chains)
                throw new UsageException($"--chain-ids: chain {id} is not one of the run's chains 0..{chains - 1} (--chains {chains})");
        if (ids.Distinct().Count() != ids.Count) throw new UsageException($"--chain-ids: chain ids repeat ({string.Join(",", ids)})");
        return s.Sampler with { Chains = ids.Count, ChainIds = ids.ToArray() };
    }

    /// <summary>
    /// Deletes temporary outputs (<c>.draws.parquet.PID.tmp…</c>, <c>.summary.csv.PID.tmp</c>, <c>.predictive.csv.PID.tmp</c>,
    /// <c>.run.json.PID.tmp</c>)
    /// left in the run directory by a run that was killed: those whose process no longer exists.
    /// </summary>
    internal static void RemoveStaleTemporaries(string outDir)
    {
        foreach (var path in Directory.EnumerateFiles(outDir, ".*.tmp*"))
        {
            string[] parts = Path.GetFileName(path).Split('.');
            // "", name, extension, pid, "tmp"[, "partial"[, …]]
            if (parts.Length < 5 || parts[0].Length != 0 || parts[4] != "tmp"
                || !(parts[1] + "." + parts[2] is DrawsFile or SummaryFile or RunFile or PredictiveFile)
                || !int.TryParse(parts[3], NumberStyles.None, CultureInfo.InvariantCulture, out int pid)
                || pid == Environment.ProcessId || IsRunning(pid))
                continue;
            try
            {
                File.Delete(path);
            }
            catch (IOException)
            {
                // in use after all: leave it
            }
        }
    }

    private static bool IsRunning(int pid)
    {
        try
        {
            using var process = System.Diagnostics.Process.GetProcessById(pid);
            return !process.HasExited;
        }
        catch (ArgumentException)
        {
            return false;
        }
        catch (InvalidOperationException)
        {
            return false;
        }
    }

    /// <summary>Each chain's start: a prior draw, the file's weights jittered, or null (the sampler's uniform(−2, 2)).</summary>
    private static Func<int, Rng, double[]?> Initializer(SampleSettings s, PosteriorModel model, IPotential potential)
    {
        var fileWeights = s.Init == InitStrategy.Onnx ? potential.PositionAtFileWeights() : null;
        int dimension = model.Layout.Dimension;
        return s.Init switch
        {
            InitStrategy.Prior => (_, rng) =>
            {
                var p = new double[dimension];
                model.DrawFromPrior(rng.NextNormal, p);
                return p;
            },
            InitStrategy.Onnx => (_, rng) =>
            {
                var p = (double[])fileWeights!.Clone();
                for (int i = 0; i < p.Length; i++) p[i] += 0.01 * rng.NextNormal();
                return p;
            },
            _ => (_, _) => null,
        };
    }

    private static SampleOutcome SampleAndSummarize(SampleSettings s, OnnxGraph graph, PosteriorModel model,
        IPotentialBackendFactory factory, BackendOptions backendOptions, IPotential potential, SamplerOptions sampler,
        string[] featureNames, string targetName, DataSet dataSet, string runJsonSettings, string drawsPath, FrozenPartRecord? frozen, TextWriter log,
        ISamplingMonitor progress, CancellationToken cancellationToken)
    {
        var full = model.Integrated?.Full ?? model;
        var predictiveRows = PredictiveRows(dataSet.Rows, s.PredictivePoints);
        var predictiveInputs = predictiveRows.SelectMany(r => dataSet.Features.AsSpan(r * dataSet.FeatureWidth, dataSet.FeatureWidth).ToArray()).ToArray();
        var predictiveNames = PredictiveMean.NamesFor(predictiveRows, full.OutputWidth);
        var init = Initializer(s, model, potential);

        var memory = new InMemoryDrawSink([], sampler.Chains, sampler.Draws, predictiveNames);
        SamplingResult result;
        using (var writer = new ParquetDrawWriter(drawsPath, full.Layout, sampler.Chains, new ParquetDrawWriterOptions(RunJson: runJsonSettings)))
        {
            IDrawSink sink = new TeeSink(writer, memory);
            if (model.Integrated is not null) sink = new IntegratedOutputSink(sink, full.Layout.Dimension);
            var functions = new List<IGraphFunction>();
            try
            {
                IGraphFunction Compile(OnnxGraph g)
                {
                    var f = factory.CompileGraph(g, backendOptions);
                    lock (functions) functions.Add(f);
                    return f;
                }
                Func<int, IGeneratedQuantities> generated = _ => model.Integrated is { } integrated
                    ? new IntegratedOutputDraws(model, integrated.HiddenValue == model.InputName ? null : Compile(model.Graph),
                        predictiveRows.Length > 0 ? Compile(graph) : null, predictiveInputs, predictiveRows.Length, predictiveNames)
                    : new PredictiveMean(Compile(graph), predictiveInputs, predictiveRows.Length, model.OutputWidth, model, predictiveNames);
                var batched = sampler.Chains > 1 ? potential.CreateBatched(sampler.Chains) : null;
                result = progress.Run(() => batched is not null
                    ? Nuts.Sampler.RunLockstep(sampler, batched, model.Layout, sink, init, generated, progress, cancellationToken)
                    : Nuts.Sampler.Run(sampler, _ => potential.CreateLogDensity(), model.Layout, sink, init, generated, progress, cancellationToken));
            }
            finally
            {
                foreach (var f in functions) f.Dispose();
            }
        }

        var report = Finish(s.OutDir, drawsPath, memory, predictiveNames, sampler.MaxTreeDepth,
            thinning => (Record(s, full, featureNames, targetName, factory.Name, result, thinning) with { Frozen = frozen }).ToJson(), log);
        return new SampleOutcome(result, report with { SamplerWarnings = result.Warnings() }, factory.Name, result.Interrupted,
            IntegrateOutputHint(model, factory, result, sampler));
    }

    /// <summary>
    /// When most transitions hit the maximum tree depth and the output layer could have been integrated out exactly
    /// (<see cref="PosteriorModel.CanIntegrateOutput"/>, on the compiled backend), a line saying so: the output layer's
    /// weights are often the narrow directions that set the step size (BENCHMARKS.md, sampler efficiency).
    /// </summary>
    private static string? IntegrateOutputHint(PosteriorModel model, IPotentialBackendFactory factory, SamplingResult result, SamplerOptions sampler)
    {
        int transitions = sampler.Chains * sampler.Draws;
        if (result.Interrupted || transitions == 0 || factory is not CompiledBackend) return null;
        double share = (double)result.TreeDepthSaturations / transitions;
        if (share < 0.25 || !model.CanIntegrateOutput()) return null;
        return string.Create(CultureInfo.InvariantCulture, $"{100 * share:F0}% of the transitions hit the maximum tree depth, and this network's output layer can be integrated out ") +
            "exactly: try --integrate-output (the same posterior, often with far fewer gradients per effective draw; see the README's sampler settings)";
    }

    /// <summary>
    /// Summarises a finished draws file and puts the run's outputs in place: the summary streams the parameters from
    /// <paramref name="drawsPath"/> in batches within the memory budget (thinned only when one file column alone
    /// exceeds it) and takes <c>lp__</c> and the predictive means from <paramref name="memory"/>. The draws file moves
    /// to <c>OUT/draws.parquet</c>, then predictive.csv, summary.csv and run.json (<paramref name="runJson"/> of the
    /// summary's thinning) are written, each complete before it replaces its predecessor. <c>bnn sample</c> and
    /// <c>bnn merge</c> both finish here, so their summaries are computed alike.
    /// </summary>
    internal static DrawsReport Finish(string outDir, string drawsPath, IDrawTable memory, IReadOnlyList<string> predictiveNames,
        int maxTreeDepth, Func<int, string> runJson, TextWriter log)
    {
        var table = ParquetDrawTable.ForRun(drawsPath, memory, ["lp__", .. predictiveNames], SummaryMemory.BudgetBytes);
        var report = DrawsReport.Build(table, maxTreeDepth, IsPredictive);
        if (table.Note is { } note) log.WriteLine($"note: {note}");

        using var csv = new StringWriter(CultureInfo.InvariantCulture);
        SummaryWriter.WriteCsv(csv, report.Rows);
        string json = runJson(table.Thinning);
        string predictiveCsv = PredictiveCsv(table, predictiveNames);

        // Every output is complete before any replaces its predecessor; run.json, the record of the run, goes last.
        File.Move(drawsPath, Path.Combine(outDir, DrawsFile), overwrite: true);
        AtomicFile.WriteAllText(Path.Combine(outDir, PredictiveFile), predictiveCsv);
        AtomicFile.WriteAllText(Path.Combine(outDir, SummaryFile), csv.ToString());
        AtomicFile.WriteAllText(Path.Combine(outDir, RunFile), json + "\n");
        return report;
    }

    /// <summary>The predictive draws as a long CSV with <c>chain</c> and <c>draw</c> columns (round-trip formatting).</summary>
    private static string PredictiveCsv(IDrawTable table, IReadOnlyList<string> names)
    {
        var columns = names.Select(table.Column).ToArray();
        var text = new StringBuilder();
        text.Append("chain,draw");
        foreach (var n in names) text.Append(",\"").Append(n).Append('"');
        text.Append('\n');
        for (int c = 0; c < table.Chains; c++)
            for (int d = 0; d < table.DrawsPerChain; d++)
            {
                text.Append(c.ToString(CultureInfo.InvariantCulture)).Append(',').Append(d.ToString(CultureInfo.InvariantCulture));
                foreach (var column in columns) text.Append(',').Append(column[c][d].ToString("R", CultureInfo.InvariantCulture));
                text.Append('\n');
            }
        return text.ToString();
    }

    /// <summary>Predictive quantities are the <c>mu[…]</c> rows.</summary>
    public static bool IsPredictive(string name) => name.StartsWith("mu[", StringComparison.Ordinal);

    /// <summary>Up to <paramref name="points"/> data rows, evenly spaced, always including the first and last.</summary>
    public static int[] PredictiveRows(int rows, int points)
    {
        if (points <= 0 || rows == 0) return [];
        if (rows <= points) return Enumerable.Range(0, rows).ToArray();
        return Enumerable.Range(0, points).Select(i => (int)Math.Round(i * (rows - 1) / (double)(points - 1))).Distinct().ToArray();
    }

    private static (DataSet Data, string[] Features, string Target) BuildDataSet(DataFile data, SampleSettings s, OnnxGraph graph)
    {
        string file = Path.GetFileName(data.Path);
        string target = s.Target ?? data.Columns[^1];
        int targetIndex = data.IndexOf(target);
        string[] features = s.Features is { Count: > 0 }
            ? s.Features.ToArray()
            : data.Columns.Where(c => c != target).ToArray();
        if (features.Length == 0) throw new UsageException($"{file}: no feature columns besides the target '{target}'");
        if (features.Contains(target)) throw new UsageException($"--features includes the target column '{target}'");
        var featureIndices = features.Select(data.IndexOf).ToArray();

        int rows = data.Rows, width = features.Length;
        var x = new double[rows * width];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++)
                x[r * width + j] = data.Values[featureIndices[j]][r];
        var y = (double[])data.Values[targetIndex].Clone();

        if (s.Likelihood is LikelihoodKind.Categorical or LikelihoodKind.Bernoulli)
        {
            // Labels are checked here, where the file and the column are known (rows 1-based after the header).
            int? classes = s.Likelihood == LikelihoodKind.Bernoulli ? 2 : ClassCount(graph);
            string expected = classes is { } n ? $"0..{n - 1}" : "0, 1, …";
            for (int r = 0; r < rows; r++)
                if (y[r] != Math.Floor(y[r]) || y[r] < 0 || (classes is { } k && y[r] >= k))
                    throw new InvalidDataException(
                        $"{file}: row {r + 1}, column '{target}': {y[r].ToString(CultureInfo.InvariantCulture)} is not a class label ({expected})");
        }
        return (new DataSet(x, width, y), features, target);
    }

    /// <summary>The number of class logits the model's first output has per row, when the graph says (≥ 2).</summary>
    private static int? ClassCount(OnnxGraph graph)
    {
        if (graph.Outputs.Count == 0) return null;
        try
        {
            int width = GraphShapes.OutputWidth(graph, 0);
            return width >= 2 ? width : null;
        }
        catch (Exception ex) when (UserInput.IsUserError(ex) || ex is InvalidOperationException)
        {
            return null; // the posterior reports the shape problem
        }
    }

    /// <summary>The posterior; its data errors (<c>data: …</c>) are reported against the data file.</summary>
    private static PosteriorModel CreateModel(OnnxGraph graph, PosteriorOptions options, DataSet data, string dataPath, bool integrateOutput)
    {
        try
        {
            return integrateOutput ? PosteriorModel.CreateIntegrated(graph, options, data) : PosteriorModel.Create(graph, options, data);
        }
        catch (InvalidDataException ex) when (ex.Message.StartsWith("data: ", StringComparison.Ordinal))
        {
            throw new InvalidDataException($"{Path.GetFileName(dataPath)}: {ex.Message["data: ".Length..]}", ex);
        }
    }

    /// <summary>
    /// The backend for <c>--backend</c> and <c>--device</c>: a GPU device needs the torch backend (what <c>auto</c>
    /// then means); the compiled backend runs on the CPU only.
    /// </summary>
    /// <summary>
    /// Threads per chain's gradient: <c>--threads-per-chain</c>, or the cores left over by the chains running at once
    /// (cores ÷ chains running, at least 1). The compiled backend only (its row shards make the draws independent of
    /// the count); null for the others, which run one thread per chain.
    /// </summary>
    private static int? ThreadsPerChain(SampleSettings s, SamplerOptions sampler, IPotentialBackendFactory factory)
    {
        if (s.ThreadsPerChain is < 1) throw new UsageException($"--threads-per-chain {s.ThreadsPerChain}: must be at least 1");
        if (factory is not CompiledBackend) return null;
        int running = Math.Clamp(sampler.MaxParallelism ?? Environment.ProcessorCount, 1, sampler.Chains);
        return s.ThreadsPerChain ?? Math.Max(1, Environment.ProcessorCount / running);
    }

    private static IPotentialBackendFactory SelectBackend(SampleSettings s, OnnxGraph graph)
    {
        if (string.Equals(s.Device, "cpu", StringComparison.OrdinalIgnoreCase))
            return BackendSelector.Select(s.Backend, graph, Backends.All);
        if (s.Backend == BackendKind.Cpu)
            throw new UsageException($"--device {s.Device}: the cpu backend runs on the CPU only; use --backend torch (or auto) for a GPU");
        return BackendSelector.Select(BackendKind.Torch, graph, Backends.All);
    }

    /// <summary>The run's record: settings only while <paramref name="result"/> is null (sampling starts), then with the results.</summary>
    private static RunRecord Record(SampleSettings s, PosteriorModel model, string[] features, string target, string backend,
        SamplingResult? result, int? summaryThinning = null)
    {
        var o = s.Sampler;
        return new RunRecord
        {
            Status = result is null ? RunStatus.Running : result.Interrupted ? RunStatus.Interrupted : RunStatus.Completed,
            CommandLine = s.CommandLine,
            Model = Path.GetFullPath(s.ModelPath),
            ModelSha256 = model.Graph.Sha256,
            Data = Path.GetFullPath(s.DataPath),
            DataSha256 = Sha256Of(s.DataPath),
            Features = features,
            Target = target,
            Seed = o.Seed,
            ChainIds = s.ChainIds?.ToArray(),
            Backend = backend,
            Device = s.Device,
            Precision = s.Precision == ComputePrecision.Float32 ? "float32" : "float64",
            ThreadsPerChain = s.ThreadsPerChain,
            Settings = new RunSettings
            {
                Likelihood = s.Likelihood switch
                {
                    LikelihoodKind.Bernoulli => EnsembleLikelihood.Bernoulli,
                    LikelihoodKind.Categorical => EnsembleLikelihood.Categorical,
                    _ => EnsembleLikelihood.Normal,
                },
                FixedSigma = s.Sigma,
                PriorScale = s.PriorScale,
                Priors = s.Priors,
                PriorScaling = model.Options.Priors.Scaling switch
                {
                    PriorScaling.FanIn => "fan-in",
                    PriorScaling.Hierarchical => "hierarchical",
                    _ => "fixed",
                },
                ParameterPriors = model.Graph.Parameters.Select((p, i) => (p.Name, Prior: model.Priors[i].ToString()))
                    .ToDictionary(t => t.Name, t => t.Prior),
                Chains = o.Chains,
                Warmup = o.Warmup,
                Draws = o.Draws,
                TargetAccept = o.TargetAccept,
                MaxDepth = o.MaxTreeDepth,
                Metric = o.Metric switch { MetricKind.Dense => "dense", MetricKind.LowRank => "low-rank", _ => "diag" },
                MetricAdaptation = o.MetricAdaptation == MetricAdaptation.GradientBased ? "gradient" : "stan",
                Init = s.Init.ToString().ToLowerInvariant(),
                IntegrateOutput = s.IntegrateOutput,
            },
            GradientEvaluations = result is null ? null : new GradientEvaluationCounts(result.GradientEvaluationsWarmup,
                result.GradientEvaluationsSampling, result.GradientEvaluationsWarmup + result.GradientEvaluationsSampling),
            Timing = result is null ? null : new RunTiming(result.WarmupSeconds, result.SamplingSeconds, result.TotalSeconds),
            Divergences = result?.Divergences,
            TreedepthSaturations = result?.TreeDepthSaturations,
            Chains = result?.Chains.Select(c => new ChainRecord(s.ChainIds?[c.Chain] ?? c.Chain, c.StepSize, c.DrawsCompleted, c.Divergences, c.TreeDepthSaturations,
                double.IsFinite(c.Ebfmi) ? c.Ebfmi : null, double.IsFinite(c.MeanAcceptStat) ? c.MeanAcceptStat : 0,
                c.InverseMassDense ?? c.InverseMassDiagonal)).ToArray(),
            SummaryThinning = summaryThinning,
            Outputs = new RunOutputs(DrawsFile, SummaryFile),
            Versions = new SoftwareVersions(
                typeof(SampleRun).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0",
                Environment.Version.ToString(),
                System.Runtime.InteropServices.RuntimeInformation.OSDescription),
        };
    }

    private static string Sha256Of(string path)
    {
        using var stream = File.OpenRead(path);
        return Convert.ToHexStringLower(SHA256.HashData(stream));
    }
}
