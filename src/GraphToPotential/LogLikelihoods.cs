namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// Reference log likelihoods and their gradients with respect to the network's output, row-major
/// (N rows × K outputs). Every backend must agree with these.
/// <para>
/// Normalising constants are KEPT (−½ log 2π per normal term), as in Stan's <c>target += normal_lpdf(...)</c> and
/// NumPyro's <c>potential_energy</c>, so lp__ is the full log density of the unconstrained position and comparable
/// between backends and tools.
/// </para>
/// </summary>
internal static class LogLikelihoods
{
    public const double HalfLogTwoPi = NormalPrior.HalfLogTwoPi;

    /// <summary>
    /// Σ log N(y; f, σ²) = Σ −½ log 2π − log σ − ½ ((y − f)/σ)², with σ = exp(u).
    /// Writes ∂/∂f = (y − f)/σ² into <paramref name="dMean"/> (overwrites) and returns ∂/∂u = Σ ((y − f)²/σ² − 1) in <paramref name="dLogSigma"/>.
    /// </summary>
    public static double Normal(ReadOnlySpan<double> mean, ReadOnlySpan<double> y, double logSigma, Span<double> dMean, out double dLogSigma)
    {
        double invVar = Math.Exp(-2 * logSigma);
        double ss = 0;
        for (int i = 0; i < mean.Length; i++)
        {
            double r = y[i] - mean[i];
            ss += r * r;
            if (!dMean.IsEmpty) dMean[i] = r * invVar;
        }
        dLogSigma = ss * invVar - mean.Length;
        return -mean.Length * (HalfLogTwoPi + logSigma) - 0.5 * ss * invVar;
    }

    /// <summary>
    /// Σ log Bernoulli(y; sigmoid(z)) = Σ y·z − softplus(z), computed stably. ∂/∂z = y − sigmoid(z) into <paramref name="dLogits"/>.
    /// </summary>
    public static double BernoulliLogit(ReadOnlySpan<double> logits, ReadOnlySpan<double> y, Span<double> dLogits)
    {
        double sum = 0;
        for (int i = 0; i < logits.Length; i++)
        {
            double z = logits[i];
            double e = Math.Exp(-Math.Abs(z));
            double softplus = Math.Max(z, 0) + Math.Log(1 + e);
            sum += y[i] * z - softplus;
            double sigmoid = z >= 0 ? 1 / (1 + e) : e / (1 + e);
            if (!dLogits.IsEmpty) dLogits[i] = y[i] - sigmoid;
        }
        return sum;
    }

    /// <summary>
    /// Σ_n log softmax(z_n)[y_n] = Σ_n z_n[y_n] − logsumexp(z_n), over N rows of K logits.
    /// ∂/∂z_n = onehot(y_n) − softmax(z_n) into <paramref name="dLogits"/>.
    /// </summary>
    public static double CategoricalLogit(ReadOnlySpan<double> logits, ReadOnlySpan<double> labels, int classes, Span<double> dLogits)
    {
        double sum = 0;
        int rows = labels.Length;
        for (int n = 0; n < rows; n++)
        {
            var z = logits.Slice(n * classes, classes);
            double max = double.NegativeInfinity;
            for (int k = 0; k < classes; k++) max = Math.Max(max, z[k]);
            double s = 0;
            for (int k = 0; k < classes; k++) s += Math.Exp(z[k] - max);
            double lse = max + Math.Log(s);
            int label = (int)labels[n];
            sum += z[label] - lse;
            if (!dLogits.IsEmpty)
            {
                var d = dLogits.Slice(n * classes, classes);
                for (int k = 0; k < classes; k++) d[k] = (k == label ? 1.0 : 0.0) - Math.Exp(z[k] - lse);
            }
        }
        return sum;
    }

    /// <summary>
    /// The prior on u = log σ when σ ~ LogNormal(0, 1), including the log-Jacobian of σ = exp(u):
    /// log LogNormal(e^u; 0, 1) + u = −½ log 2π − ½ u². Returns the value and ∂/∂u = −u.
    /// </summary>
    public static double LogSigmaPrior(double logSigma, out double dLogSigma)
    {
        dLogSigma = -logSigma;
        return -HalfLogTwoPi - 0.5 * logSigma * logSigma;
    }
}
