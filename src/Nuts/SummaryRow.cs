namespace Bnn.Onnx.Nuts;

/// <summary>One row of a posterior summary (the columns of <c>summary.csv</c>, in order).</summary>
internal sealed record SummaryRow(
    string Variable,
    double Mean,
    double Sd,
    double Median,
    double Q5,
    double Q95,
    double McseMean,
    double McseSd,
    double EssBulk,
    double EssTail,
    double Rhat)
{
    public static readonly IReadOnlyList<string> ColumnNames =
        ["variable", "mean", "sd", "median", "q5", "q95", "mcse_mean", "mcse_sd", "ess_bulk", "ess_tail", "rhat"];
}
