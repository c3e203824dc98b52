using System.CommandLine;
using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn export RUN_DIR</c>: the packed ensemble ONNX (every member in one graph) and, with <c>--members-dir</c>,
/// one ONNX file per member. The run's record (<see cref="RunRecord"/>) names the model, its SHA-256, the likelihood,
/// a fixed σ and the seed.
/// </summary>
internal static class ExportCommand
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

        var written = EnsembleExport.Write(runDir, modelPath, memberCount, outPath, membersDir, elementType);
        output.WriteLine($"wrote {written.Path}: {written.Members} members of {written.TotalDraws} draws (thinning {written.Thinning.ToString("0.###", CultureInfo.InvariantCulture)}), " +
                          $"{written.Likelihood.ToString().ToLowerInvariant()} likelihood, {(elementType == ElementType.Float ? "float32" : "float64")}" +
                          (written.FrozenNodes is { } nodes ? $"; frozen part ({nodes} nodes) once, head stacked" : ""));
        if (written.MemberFiles is { } files) output.WriteLine($"wrote {files.Count} member files to {membersDir}");
        return 0;
    }
}
