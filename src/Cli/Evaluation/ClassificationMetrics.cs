namespace Bnn.Onnx.Cli.Evaluation;

/// <summary>
/// Held-out scores of a categorical predictive p̄_n = (1/S) Σ_s p_sn (<see cref="PredictiveMetrics.Classification"/>).
/// </summary>
/// <param name="Rows">N, the held-out rows.</param>
/// <param name="Draws">S, the draws averaged (1 for a point estimate).</param>
/// <param name="Classes">K.</param>
/// <param name="Accuracy">The fraction of rows whose top class argmax_k p̄_nk (lowest k on ties) is the label.</param>
/// <param name="Nll">−(1/N) Σ_n log p̄_n[y_n], with log p̄ = logsumexp_s log p_s − log S.</param>
/// <param name="Brier">(1/N) Σ_n Σ_k (p̄_nk − 1[y_n = k])², the multi-class Brier score (for two classes, twice the
/// one-probability form (p − y)²).</param>
/// <param name="Ece">The expected calibration error Σ_b (n_b/N) |acc_b − conf_b| over <see cref="Bins"/> (Guo et al.
/// 2017, §2).</param>
/// <param name="MeanEntropy">(1/N) Σ_n −Σ_k p̄_nk log p̄_nk, in nats.</param>
/// <param name="Bins">The <see cref="PredictiveMetrics.ConfidenceBins"/> equal-width bins of top-class confidence.</param>
internal sealed record ClassificationMetrics(int Rows, int Draws, int Classes, double Accuracy, double Nll, double Brier,
    double Ece, double MeanEntropy, IReadOnlyList<ReliabilityBin> Bins);
