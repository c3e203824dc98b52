using System.Globalization;
using System.Text;
using System.Text.Encodings.Web;
using System.Text.Json;

namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// <see cref="HeldOutEvaluation"/> as a table for the terminal and as <c>RUN_DIR/evaluation.json</c>
/// (<see cref="FileName"/>): one object per predictive (<c>posterior</c>, <c>point_estimate</c>) holding the same keys.
/// </summary>
internal static class EvaluationReport
{
    public const string FileName = "evaluation.json";

    /// <summary>How the interval ends are computed, as written into the JSON and under the table.</summary>
    public const string IntervalMethod =
        "central intervals of the predictive normal mixture, ends solved on the mixture CDF (Newton steps safeguarded by bisection; no sampling)";

    /// <summary>The JSON document (indented, no trailing newline); non-finite numbers are written as null.</summary>
    public static string ToJson(HeldOutEvaluation e)
    {
        using var stream = new MemoryStream();
        using (var json = new Utf8JsonWriter(stream, new JsonWriterOptions { Indented = true, Encoder = JavaScriptEncoder.UnsafeRelaxedJsonEscaping }))
        {
            json.WriteStartObject();
            json.WriteString("run", Path.GetFullPath(e.RunPath));
            json.WriteString("model", Path.GetFullPath(e.ModelPath));
            json.WriteString("data", e.DataPath);
            json.WriteStartArray("features");
            foreach (var f in e.Features) json.WriteStringValue(f);
            json.WriteEndArray();
            json.WriteString("target", e.Target);
            json.WriteString("likelihood", e.Likelihood);
            json.WriteNumber("rows", e.Rows);
            if (e.PosteriorRegression is { } posterior && e.PointRegression is { } point)
            {
                json.WriteString("interval_method", IntervalMethod);
                json.WriteStartObject("posterior");
                WriteDraws(json, e);
                json.WriteString("sigma_source", e.PosteriorSigma);
                Write(json, posterior);
                json.WriteEndObject();
                json.WriteStartObject("point_estimate");
                Number(json, "sigma", e.PointSigma ?? double.NaN);
                json.WriteString("sigma_source", e.PointSigmaSource);
                Write(json, point);
                json.WriteEndObject();
            }
            else
            {
                json.WriteNumber("confidence_bins", PredictiveMetrics.ConfidenceBins);
                json.WriteStartObject("posterior");
                WriteDraws(json, e);
                Write(json, e.PosteriorClassification!);
                json.WriteEndObject();
                json.WriteStartObject("point_estimate");
                Write(json, e.PointClassification!);
                json.WriteEndObject();
            }
            json.WriteEndObject();
        }
        return Encoding.UTF8.GetString(stream.ToArray());
    }

    /// <summary>The table printed by <c>bnn evaluate</c>: one line per figure, posterior beside point estimate.</summary>
    public static string FormatTable(HeldOutEvaluation e)
    {
        var rows = new List<(string Name, double Posterior, double Point, string Format)>();
        if (e.PosteriorRegression is { } p && e.PointRegression is { } q)
        {
            rows.Add(("RMSE", p.Rmse, q.Rmse, "F4"));
            rows.Add(("mean log predictive density", p.MeanLogPredictiveDensity, q.MeanLogPredictiveDensity, "F4"));
            for (int l = 0; l < p.Intervals.Count; l++)
            {
                string level = (100 * p.Intervals[l].Level).ToString("0.#", CultureInfo.InvariantCulture);
                rows.Add(($"coverage of {level}% interval", p.Intervals[l].Coverage, q.Intervals[l].Coverage, "F3"));
                rows.Add(($"mean width of {level}% interval", p.Intervals[l].MeanWidth, q.Intervals[l].MeanWidth, "F4"));
            }
        }
        else
        {
            var (c, d) = (e.PosteriorClassification!, e.PointClassification!);
            rows.Add(("accuracy", c.Accuracy, d.Accuracy, "F4"));
            rows.Add(("NLL", c.Nll, d.Nll, "F4"));
            rows.Add(("Brier score", c.Brier, d.Brier, "F4"));
            rows.Add(($"ECE ({PredictiveMetrics.ConfidenceBins} bins)", c.Ece, d.Ece, "F4"));
            rows.Add(("mean predictive entropy", c.MeanEntropy, d.MeanEntropy, "F4"));
        }

        string posteriorHeader = $"posterior ({e.DrawsUsed} draws)";
        const string pointHeader = "point estimate";
        int nameWidth = Math.Max(rows.Max(r => r.Name.Length), "metric".Length);
        int valueWidth = Math.Max(posteriorHeader.Length, pointHeader.Length);
        var text = new StringBuilder();
        text.Append(CultureInfo.InvariantCulture,
            $"{Path.GetFileName(e.DataPath)}: {e.Rows} held-out rows, {e.Likelihood} likelihood, {e.DrawsUsed} of {e.TotalDraws} draws\n");
        text.Append("metric".PadRight(nameWidth)).Append("  ").Append(posteriorHeader.PadLeft(valueWidth)).Append("  ")
            .Append(pointHeader.PadLeft(valueWidth)).Append('\n');
        foreach (var (name, posterior, point, format) in rows)
            text.Append(name.PadRight(nameWidth)).Append("  ").Append(Text(posterior, format).PadLeft(valueWidth)).Append("  ")
                .Append(Text(point, format).PadLeft(valueWidth)).Append('\n');
        if (e.PointSigma is double sigma)
        {
            text.Append(CultureInfo.InvariantCulture, $"posterior σ: {e.PosteriorSigma}; point estimate σ = {sigma:G4}: {e.PointSigmaSource}\n");
            text.Append(CultureInfo.InvariantCulture, $"intervals: {IntervalMethod}\n");
        }
        return text.ToString();
    }

    private static void WriteDraws(Utf8JsonWriter json, HeldOutEvaluation e)
    {
        json.WriteNumber("draws", e.DrawsUsed);
        json.WriteNumber("total_draws", e.TotalDraws);
    }

    private static void Write(Utf8JsonWriter json, RegressionMetrics m)
    {
        Number(json, "rmse", m.Rmse);
        Number(json, "mean_log_predictive_density", m.MeanLogPredictiveDensity);
        json.WriteStartArray("intervals");
        foreach (var i in m.Intervals)
        {
            json.WriteStartObject();
            Number(json, "level", i.Level);
            Number(json, "coverage", i.Coverage);
            Number(json, "mean_width", i.MeanWidth);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void Write(Utf8JsonWriter json, ClassificationMetrics m)
    {
        Number(json, "accuracy", m.Accuracy);
        Number(json, "nll", m.Nll);
        Number(json, "brier", m.Brier);
        Number(json, "ece", m.Ece);
        Number(json, "mean_entropy", m.MeanEntropy);
        json.WriteStartArray("reliability");
        foreach (var b in m.Bins)
        {
            json.WriteStartObject();
            Number(json, "lower", b.Lower);
            Number(json, "upper", b.Upper);
            json.WriteNumber("count", b.Count);
            Number(json, "confidence", b.Confidence);
            Number(json, "accuracy", b.Accuracy);
            json.WriteEndObject();
        }
        json.WriteEndArray();
    }

    private static void Number(Utf8JsonWriter json, string name, double value)
    {
        if (double.IsFinite(value)) json.WriteNumber(name, value);
        else json.WriteNull(name);
    }

    private static string Text(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "NA";
}
