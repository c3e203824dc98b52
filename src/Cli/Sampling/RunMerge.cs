using System.Text.Json.Nodes;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Sampling;

/// <summary>
/// <c>bnn merge RUN_A RUN_B … --out RUN</c>: run directories that hold different chains of one posterior (written by
/// <c>bnn sample --chain-ids</c>: same model, data, options and seed) joined into one run directory. The draws and the
/// predictive means are copied in chain-id order, and the summary, warnings and verdict are recomputed by the code
/// that finishes <c>bnn sample</c> (<see cref="SampleRun.Finish"/>), so merging the parts of a run reproduces the
/// single run's <c>summary.csv</c> byte for byte. Everything is checked before anything is written.
/// </summary>
internal static class RunMerge
{
    /// <summary>A part: its directory, record and chains (the run's chain ids, in the part's draw order).</summary>
    private sealed record Part(string Dir, RunRecord Record, IReadOnlyList<int> ChainIds);

    public static DrawsReport Execute(IReadOnlyList<string> runDirs, string outDir, string commandLine, TextWriter log)
    {
        if (runDirs.Count == 0) throw new UsageException("give the run directories to merge");
        var parts = runDirs.Select(Load).ToList();
        var first = parts[0];
        foreach (var part in parts.Skip(1)) CheckSamePosterior(first, part);

        var owner = new Dictionary<int, string>();
        foreach (var part in parts)
            foreach (int id in part.ChainIds)
                if (!owner.TryAdd(id, part.Dir))
                    throw new UsageException($"{part.Dir}: chain {id} is also in {owner[id]}; each chain may come from one run directory only");
        string full = Path.GetFullPath(outDir);
        if (parts.Any(p => Path.GetFullPath(p.Dir).TrimEnd('/') == full.TrimEnd('/')))
            throw new UsageException($"--out {outDir}: write the merged run to a new directory, not one of the parts");

        // Read every part before writing: its draws, in the layout of the first, and its predictive means.
        var tables = parts.Select(p => ParquetDrawReader.Read(Path.Combine(p.Dir, SampleRun.DrawsFile))).ToList();
        string layout = DrawsSchema.ParametersJson(tables[0].Layout);
        var predictive = parts.Select(p => DrawCsvReader.Read([Path.Combine(p.Dir, SampleRun.PredictiveFile)])).ToList();
        var predictiveNames = predictive[0].Variables.Where(SampleRun.IsPredictive).ToArray();
        int draws = first.Record.Settings.Draws;
        for (int i = 0; i < parts.Count; i++)
        {
            string dir = parts[i].Dir;
            if (DrawsSchema.ParametersJson(tables[i].Layout) != layout)
                throw new UsageException($"{dir}: its draws hold other parameters than {first.Dir}'s");
            if (tables[i].Chains != parts[i].ChainIds.Count || tables[i].DrawCounts.Any(n => n != draws))
                throw new UsageException($"{dir}: expected {parts[i].ChainIds.Count} chains × {draws} draws, the draws file holds {string.Join("+", tables[i].DrawCounts)}");
            if (!predictive[i].Variables.Where(SampleRun.IsPredictive).SequenceEqual(predictiveNames)
                || predictive[i].Chains != parts[i].ChainIds.Count || predictive[i].DrawsPerChain != draws)
                throw new UsageException($"{dir}: {SampleRun.PredictiveFile} does not match {first.Dir}'s");
        }

        // Chains in the run's order: (chain id, part, chain within the part).
        var order = parts.SelectMany((p, i) => p.ChainIds.Select((id, local) => (Id: id, Part: i, Local: local)))
            .OrderBy(c => c.Id).ToArray();
        int runChains = first.Record.Settings.Chains;
        bool whole = order.Length == runChains && order.Select(c => c.Id).SequenceEqual(Enumerable.Range(0, runChains));
        var merged = MergedRecord(parts, order.Select(c => c.Id).ToArray(), whole, commandLine);

        Directory.CreateDirectory(outDir);
        SampleRun.RemoveStaleTemporaries(outDir);
        string drawsPath = Path.Combine(outDir, $".{SampleRun.DrawsFile}.{Environment.ProcessId}.tmp");
        try
        {
            var memory = new InMemoryDrawSink([], order.Length, draws, predictiveNames);
            using (var writer = new ParquetDrawWriter(drawsPath, tables[0].Layout, order.Length, new ParquetDrawWriterOptions(RunJson: merged.ToJson())))
            {
                var values = new double[predictiveNames.Length];
                for (int k = 0; k < order.Length; k++)
                {
                    var (_, p, c) = order[k];
                    var columns = predictiveNames.Select(n => predictive[p].Column(n)[c]).ToArray();
                    for (int d = 0; d < draws; d++)
                    {
                        var stats = tables[p].Stats(c, d);
                        writer.Write(k, d, stats, tables[p].Draw(c, d));
                        memory.Write(k, d, stats, []);
                        for (int j = 0; j < values.Length; j++) values[j] = columns[j][d];
                        memory.WriteGenerated(k, d, values);
                    }
                }
                writer.Complete(interrupted: false);
            }
            memory.Complete(interrupted: false);
            return SampleRun.Finish(outDir, drawsPath, memory, predictiveNames, first.Record.Settings.MaxDepth,
                thinning => (merged with { SummaryThinning = thinning }).ToJson(), log);
        }
        finally
        {
            if (File.Exists(drawsPath)) File.Delete(drawsPath);
        }
    }

    private static Part Load(string dir)
    {
        if (!Directory.Exists(dir)) throw new DirectoryNotFoundException($"run directory not found: {dir}");
        string file = Path.Combine(dir, RunRecord.FileName);
        if (!File.Exists(file)) throw new FileNotFoundException($"{dir}: no {RunRecord.FileName} (not a finished run directory)", file);
        var record = RunRecord.Parse(File.ReadAllText(file), file);
        if (record.Status != RunStatus.Completed)
            throw new UsageException($"{dir}: the run is {record.Status.ToString().ToLowerInvariant()}, not completed; only complete runs can be merged");
        var ids = record.ChainIds ?? Enumerable.Range(0, record.Settings.Chains).ToArray();
        return new Part(dir, record, ids);
    }

    /// <summary>Refuses (exit 2, one line) a part that is not of the same posterior as the first.</summary>
    private static void CheckSamePosterior(Part first, Part part)
    {
        var a = first.Record;
        var b = part.Record;
        void Same(string what, string x, string y)
        {
            if (x != y) throw new UsageException($"{part.Dir}: {what} differs from {first.Dir}'s ({y} vs {x}); only parts of one run can be merged");
        }
        Same("the model (SHA-256)", a.ModelSha256, b.ModelSha256);
        Same("the data (SHA-256)", a.DataSha256, b.DataSha256);
        Same("the seed", a.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture), b.Seed.ToString(System.Globalization.CultureInfo.InvariantCulture));
        Same("the features", string.Join(",", a.Features), string.Join(",", b.Features));
        Same("the target", a.Target, b.Target);
        Same("the backend", $"{a.Backend} {a.Device} {a.Precision}", $"{b.Backend} {b.Device} {b.Precision}");
        Same("the settings", SettingsJson(a), SettingsJson(b));
    }

    private static string SettingsJson(RunRecord record) =>
        (JsonNode.Parse(record.ToJson())!["settings"] ?? throw new InvalidDataException("run record without settings")).ToJsonString();

    /// <summary>The record of the merged run: the parts' settings, their results added up (timings: the slowest part).</summary>
    private static RunRecord MergedRecord(IReadOnlyList<Part> parts, int[] chainIds, bool whole, string commandLine)
    {
        var records = parts.Select(p => p.Record).ToList();
        var chains = records.SelectMany(r => r.Chains ?? []).OrderBy(c => c.Chain).ToArray();
        long Sum(Func<RunRecord, long?> f) => records.Sum(r => f(r) ?? 0);
        double Max(Func<RunTiming, double> f) => records.Max(r => r.Timing is { } t ? f(t) : 0);
        return records[0] with
        {
            Status = RunStatus.Completed,
            CommandLine = commandLine,
            ChainIds = whole ? null : chainIds,
            GradientEvaluations = new GradientEvaluationCounts(Sum(r => r.GradientEvaluations?.Warmup), Sum(r => r.GradientEvaluations?.Sampling),
                Sum(r => r.GradientEvaluations?.Total)),
            Timing = new RunTiming(Max(t => t.WarmupSeconds), Max(t => t.SamplingSeconds), Max(t => t.TotalSeconds)),
            Divergences = Sum(r => r.Divergences),
            TreedepthSaturations = Sum(r => r.TreedepthSaturations),
            Chains = chains,
            SummaryThinning = null,
        };
    }
}
