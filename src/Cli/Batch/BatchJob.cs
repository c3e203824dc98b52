using System.Text.Json.Serialization;

namespace Bnn.Onnx.Cli.Batch;

/// <summary>
/// One row of a jobs file, checked: a unique folder-safe <paramref name="Name"/>, the model and data (absolute paths
/// that existed when the file was read), the <c>bnn sample</c> options as they would be typed
/// (<c>--chains 2 --seed 7</c>) and the ensemble size for <c>bnn export</c> (0: no export).
/// </summary>
/// <param name="Index">The 0-based row (the shard a job belongs to is <c>Index mod N</c>).</param>
internal sealed record BatchJob(int Index, string Name, string Model, string Data, IReadOnlyList<string> SampleOptions, int Members)
{
    /// <summary>The ensemble size when the jobs file gives none.</summary>
    public const int DefaultMembers = 100;

    /// <summary>The number of chains the job samples at once (its <c>--chains</c>, or the subset of <c>--chain-ids</c>), for the cores it needs.</summary>
    [JsonIgnore]
    public int Chains
    {
        get
        {
            int chains = 4;
            for (int i = 0; i + 1 < SampleOptions.Count; i++)
            {
                if (SampleOptions[i] == "--chains" && int.TryParse(SampleOptions[i + 1], out int c)) chains = c;
                if (SampleOptions[i] == "--chain-ids") return SampleOptions[i + 1].Split(',').Length;
            }
            return Math.Max(1, chains);
        }
    }

    /// <summary>The <c>bnn sample</c> arguments of this job, writing to <paramref name="runDir"/>.</summary>
    public IReadOnlyList<string> SampleArguments(string runDir) =>
        [Model, "--data", Data, "--out", runDir, "--no-progress", .. SampleOptions];
}
