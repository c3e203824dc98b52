using System.Text.Json;

namespace Bnn.Onnx.Tests.TestSupport;

/// <summary>Short <c>bnn sample</c> runs on the committed fixtures, and readers for what they write.</summary>
public static class Runs
{
    /// <summary>Few iterations: enough for sensible summaries of the small models, quick on two cores.</summary>
    public static readonly string[] Short = ["--chains", "2", "--warmup", "150", "--draws", "100", "--no-progress"];

    /// <summary><c>bnn sample</c> on the blog's linear regression (weight ≈ 1.24, bias ≈ 0.29, σ ≈ 0.34).</summary>
    public static CliResult SampleLinreg(string outDir, ulong seed, params string[] extra) =>
        BnnProcess.Run([.. LinregArgs(outDir, seed), .. extra]);

    public static string[] LinregArgs(string outDir, ulong seed) =>
    [
        "sample", Repo.Model("linreg_pytorch.onnx"), "--data", Repo.Model("blog_data.csv"), "--features", "x", "--target", "y",
        "--out", outDir, "--seed", seed.ToString(System.Globalization.CultureInfo.InvariantCulture), .. Short,
    ];

    public static JsonDocument ReadRunJson(string runDir) => JsonDocument.Parse(File.ReadAllText(Path.Combine(runDir, "run.json")));

    /// <summary>The blog data's (x, y) columns.</summary>
    public static (double[] X, double[] Y) BlogData()
    {
        var csv = CsvTable.Read(Repo.Model("blog_data.csv"));
        return (csv.Column("x"), csv.Column("y"));
    }
}
