using System.Text.Json;
using System.Text.Json.Nodes;
using Bnn.Onnx.Nuts;
using Parquet.Schema;

namespace Bnn.Onnx.Export;

/// <summary>How parameter values are laid out in <c>draws.parquet</c>.</summary>
internal enum DrawsLayout
{
    /// <summary>Chosen by size: <see cref="Scalar"/> up to <see cref="DrawsSchema.MaxScalarColumns"/> scalars, else <see cref="Tensor"/>.</summary>
    Auto,

    /// <summary>One DOUBLE column per scalar, named as in <c>summary.csv</c> (<c>0.weight[3,0]</c>, <c>sigma</c>).</summary>
    Scalar,

    /// <summary>
    /// One LIST&lt;DOUBLE&gt; column per tensor, named by the dotted name, values row-major;
    /// rank-0 blocks (σ) stay plain DOUBLE columns.
    /// </summary>
    Tensor,
}

/// <summary>
/// The column set and key-value metadata of a draws file: <c>chain</c>, <c>draw</c>, Stan's sampler columns
/// (<see cref="SamplerStats.ColumnNames"/>), then the parameters. Only standard Parquet types are used, so
/// DuckDB, pandas, polars and Spark read the file as is.
/// </summary>
internal static class DrawsSchema
{
    /// <summary>Above this many scalars <see cref="DrawsLayout.Auto"/> picks <see cref="DrawsLayout.Tensor"/>.</summary>
    public const int MaxScalarColumns = 4096;

    /// <summary>The draws file's name in a run directory.</summary>
    public const string FileName = "draws.parquet";

    /// <summary>Metadata key: <c>scalar</c> or <c>tensor</c>.</summary>
    public const string LayoutKey = "bnn.layout";

    /// <summary>Metadata key: JSON array of blocks (name, onnx_name, shape, offset, transform).</summary>
    public const string ParametersKey = "bnn.parameters";

    /// <summary>Metadata key: the run's settings, seed and model SHA-256 as JSON (written by the caller).</summary>
    public const string RunKey = "bnn.run";

    /// <summary>Metadata key: <c>complete</c>, or <c>interrupted</c> when the run stopped early.</summary>
    public const string StatusKey = "bnn.status";

    /// <summary>Metadata key: the number of chains (some may hold no draws after an interruption).</summary>
    public const string ChainsKey = "bnn.chains";

    /// <summary>Number of columns before the parameters: chain, draw and the seven sampler columns.</summary>
    public const int LeadingColumns = 9;

    /// <summary>Resolves <see cref="DrawsLayout.Auto"/> for a layout of <paramref name="dimension"/> scalars.</summary>
    public static DrawsLayout Resolve(DrawsLayout requested, int dimension) =>
        requested != DrawsLayout.Auto ? requested : dimension > MaxScalarColumns ? DrawsLayout.Tensor : DrawsLayout.Scalar;

    internal static List<Field> LeadingFields() =>
    [
        new DataField<int>("chain"),
        new DataField<int>("draw"),
        new DataField<double>("lp__"),
        new DataField<double>("accept_stat__"),
        new DataField<double>("stepsize__"),
        new DataField<int>("treedepth__"),
        new DataField<int>("n_leapfrog__"),
        new DataField<bool>("divergent__"),
        new DataField<double>("energy__"),
    ];

    /// <summary>Serialises the blocks of <paramref name="layout"/> for the <see cref="ParametersKey"/> entry.</summary>
    public static string ParametersJson(ParameterLayout layout)
    {
        var array = new JsonArray();
        foreach (var b in layout.Blocks)
        {
            var shape = new JsonArray();
            foreach (int d in b.Shape) shape.Add(d);
            array.Add(new JsonObject
            {
                ["name"] = b.Name,
                ["onnx_name"] = b.Source,
                ["shape"] = shape,
                ["offset"] = b.Offset,
                ["transform"] = b.Transform switch
                {
                    BlockTransform.Log => "log",
                    BlockTransform.NonCentered => "noncentered",
                    _ => "identity",
                },
            });
        }
        return array.ToJsonString();
    }

    /// <summary>The inverse of <see cref="ParametersJson"/>.</summary>
    public static ParameterLayout ParseParametersJson(string json)
    {
        try
        {
            var blocks = new List<ParameterBlock>();
            foreach (var item in JsonNode.Parse(json)!.AsArray())
            {
                var o = item!.AsObject();
                var shape = o["shape"]!.AsArray().Select(d => d!.GetValue<int>()).ToArray();
                var transform = (string?)o["transform"] switch
                {
                    "log" => BlockTransform.Log,
                    "noncentered" => BlockTransform.NonCentered,
                    _ => BlockTransform.Identity,
                };
                blocks.Add(new ParameterBlock((string)o["name"]!, shape, (int)o["offset"]!, transform, (string?)o["onnx_name"]));
            }
            return new ParameterLayout(blocks);
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException or NullReferenceException or FormatException or ArgumentException)
        {
            throw new InvalidDataException($"draws file metadata '{ParametersKey}' is not a valid parameter list: {ex.Message}");
        }
    }
}
