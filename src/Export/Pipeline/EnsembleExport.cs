using System.Globalization;
using System.Security.Cryptography;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Pipeline;

/// <summary>What <see cref="EnsembleExport.Write"/> wrote.</summary>
/// <param name="Path">The ensemble file.</param>
/// <param name="Members">Members S in the ensemble.</param>
/// <param name="TotalDraws">Draws in the run's draws file.</param>
/// <param name="Thinning">Draws per member (total ÷ S).</param>
/// <param name="Likelihood">The run's likelihood.</param>
/// <param name="FrozenNodes">Nodes of the frozen part held once before the stacked head; null without one.</param>
/// <param name="MemberFiles">The member files, when asked for.</param>
internal sealed record EnsembleExportResult(string Path, int Members, int TotalDraws, double Thinning, EnsembleLikelihood Likelihood,
    int? FrozenNodes, IReadOnlyList<string>? MemberFiles);

/// <summary>
/// <c>bnn export</c> without its flags: the packed ensemble ONNX of a run directory (every member in one graph) and,
/// optionally, one ONNX file per member. The run's record (<see cref="RunRecord"/>) names the model, its SHA-256, the
/// likelihood, a fixed σ and the seed.
/// </summary>
internal static class EnsembleExport
{
    /// <summary>The ensemble's default name in the run directory.</summary>
    public const string DefaultFileName = "ensemble.onnx";

    /// <summary>
    /// Writes the ensemble of <paramref name="runDir"/> with <paramref name="memberCount"/> members (fewer when the run
    /// has fewer draws), thinned evenly in (chain, draw) order, to <paramref name="outPath"/> (default
    /// <c>RUN_DIR/ensemble.onnx</c>), and the member files into <paramref name="membersDir"/> when given.
    /// </summary>
    public static EnsembleExportResult Write(string runDir, string? modelPath, int memberCount, string? outPath, string? membersDir,
        ElementType elementType)
    {
        if (!Directory.Exists(runDir)) throw new DirectoryNotFoundException($"run directory not found: {runDir}");
        if (memberCount < 1) throw new UsageException($"--members {memberCount}: must be at least 1");
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
        bool frozenPart = cut is { HasFrozenPart: true };
        var ensemble = frozenPart
            ? FrozenPart.BuildEnsemble(source, graph, table.Layout, draws, options)
            : EnsembleBuilder.Build(graph, table.Layout, draws, options);
        outPath ??= Path.Combine(runDir, DefaultFileName);
        ModelFiles.WriteAtomically(outPath, ensemble);

        var memberFiles = membersDir is null ? null : MemberModelWriter.WriteAll(membersDir, source, table.Layout, draws, metadata);
        return new EnsembleExportResult(outPath, count, table.TotalDraws, thinning, likelihood,
            frozenPart ? cut!.FrozenNodes.Count : null, memberFiles?.ToList());
    }
}
