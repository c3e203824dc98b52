using System.Numerics.Tensors;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// A final affine layer f = Φ w integrated out exactly under a normal likelihood: with Φ = [h, 1] (the N × H hidden
/// activations and a column of ones for the bias), w ~ N(m, S) with S diagonal, and y ~ N(Φ w, σ² I),
/// y ~ N(Φ m, σ² I + Φ S Φᵀ). Everything goes through the P × P matrix A = S⁻¹ + ΦᵀΦ / σ² (P = H + 1), the posterior
/// precision of w, and its Cholesky factor: log|σ² I + Φ S Φᵀ| = 2N log σ + log|S| + log|A| (the determinant lemma)
/// and (σ² I + Φ S Φᵀ)⁻¹ r = (y − Φ μ)/σ² with μ = m + A⁻¹ Φᵀ (y − Φ m)/σ² the conditional mean of w (Woodbury).
/// Gradients: ∂L/∂Φ = α μᵀ − Φ A⁻¹/σ² with α = (y − Φ μ)/σ², and ∂L/∂log σ = σ² αᵀα − N + P − tr(A⁻¹ S⁻¹).
/// The weights are then drawn from their exact conditional N(μ, A⁻¹). Φ is held column-major (each column's rows
/// contiguous, the compiled engine's layout), so the two O(N P²) steps are its register-tiled matrix kernels: ΦᵀΦ is
/// <see cref="Gemm{T}.Reduce"/> over the lower triangle's tiles, and ∂L/∂h is one <see cref="Gemm{T}.Rows"/> over
/// [Φ, α]. Sums run in a fixed order, so results are reproducible bit for bit. Nothing is allocated per evaluation.
/// Not thread-safe (scratch buffers): one per chain.
/// </summary>
internal sealed class CollapsedOutputLayer
{
    private readonly double[] _targets, _priorMean, _priorVariance;
    private readonly int _rows, _p;
    private readonly bool _zeroPriorMean;
    private readonly double[] _a, _chol, _u, _mean, _residual, _inverse, _z, _columns, _lowerInverse, _product, _dColumns, _zeros;

    /// <param name="targets">y, N values.</param>
    /// <param name="priorMean">m: the H weights' prior means, then the bias's.</param>
    /// <param name="priorVariance">diag(S): the H weights' prior variances, then the bias's.</param>
    public CollapsedOutputLayer(double[] targets, double[] priorMean, double[] priorVariance)
    {
        if (priorMean.Length != priorVariance.Length || priorMean.Length < 1)
            throw new ArgumentException("the prior means and variances need one value per weight and one for the bias");
        foreach (double v in priorVariance)
            if (!(v > 0) || !double.IsFinite(v)) throw new ArgumentException("prior variances must be positive and finite");
        _targets = (double[])targets.Clone();
        _priorMean = (double[])priorMean.Clone();
        _priorVariance = (double[])priorVariance.Clone();
        _zeroPriorMean = priorMean.All(m => m == 0);
        _rows = targets.Length;
        _p = priorMean.Length;
        _a = new double[_p * _p];
        _chol = new double[_p * _p];
        _inverse = new double[_p * _p];
        _u = new double[_p];
        _mean = new double[_p];
        _z = new double[_p];
        _residual = new double[_rows];
        _lowerInverse = new double[_p * _p];
        _product = new double[(_p + 1) * (_p - 1)];
        _dColumns = new double[(_p - 1) * _rows];
        _zeros = new double[_p - 1];
        // Φ's P columns, then one more for α (the last operand of ∂L/∂h's product).
        _columns = new double[(_p + 1) * _rows];
        _columns.AsSpan((_p - 1) * _rows, _rows).Fill(1.0);
    }

    /// <summary>H, the hidden units feeding the layer.</summary>
    public int Hidden => _p - 1;

    /// <summary>N.</summary>
    public int Rows => _rows;

    /// <summary>Φ's column j (N values): a hidden unit's activations, or the ones of the bias (j = H).</summary>
    private Span<double> Column(int j) => _columns.AsSpan(j * _rows, _rows);

    /// <summary>
    /// Copies the activations into Φ's columns, factorises A = S⁻¹ + ΦᵀΦ/σ² and computes μ, leaving r = y − Φ m in
    /// the residual buffer; false when A is not positive definite (non-finite activations). Column-major, so every
    /// sum over rows is one vectorised dot product.
    /// </summary>
    private bool Factorise(ReadOnlySpan<double> hidden, double sigma2)
    {
        SetHidden(hidden);
        return Factorise(sigma2);
    }

    /// <summary>Copies the N × H activations (row-major) into Φ's columns.</summary>
    private void SetHidden(ReadOnlySpan<double> hidden)
    {
        int h = _p - 1, rows = _rows;
        for (int n = 0; n < rows; n++)
        {
            var row = hidden.Slice(n * h, h);
            for (int j = 0; j < h; j++) _columns[j * rows + n] = row[j];
        }
    }

    /// <summary>As <see cref="Factorise(ReadOnlySpan{double}, double)"/> on the activations already in Φ's columns.</summary>
    private bool Factorise(double sigma2)
    {
        int p = _p, rows = _rows;
        // ΦᵀΦ/σ², lower triangle by tiles of 4 rows (a tile on the diagonal also fills a few entries above it), then
        // mirrored, so A is exactly symmetric.
        var columns = _columns.AsSpan(0, p * rows);
        Array.Clear(_a);
        for (int i0 = 0; i0 < p; i0 += 4)
        {
            int height = Math.Min(4, p - i0);
            Gemm<double>.Reduce(columns[(i0 * rows)..], height, rows, columns, i0 + height, rows, rows, _a.AsSpan(i0 * p), p, 1, 1.0 / sigma2);
        }
        for (int i = 0; i < p; i++)
        {
            for (int j = 0; j < i; j++) _a[j * p + i] = _a[i * p + j];
            _a[i * p + i] += 1.0 / _priorVariance[i];
        }
        if (!DenseMetric.Cholesky(_a, p, _chol)) return false;

        // r = y − Φ m; u = Φᵀ r / σ²; μ = m + A⁻¹ u.
        _targets.AsSpan().CopyTo(_residual);
        if (!_zeroPriorMean)
            for (int j = 0; j < p; j++) TensorPrimitives.MultiplyAdd<double>(Column(j), -_priorMean[j], _residual, _residual);
        for (int j = 0; j < p; j++) _u[j] = TensorPrimitives.Dot<double>(Column(j), _residual) / sigma2;
        Solve(_u, _mean);
        for (int j = 0; j < p; j++) _mean[j] += _priorMean[j];
        return true;
    }

    /// <summary>A⁻¹ = L⁻ᵀ L⁻¹ into <c>_inverse</c>: L⁻¹ by forward substitution (lower triangular), then the symmetric
    /// product, ~P³/3 multiply-adds.</summary>
    private void Invert()
    {
        int p = _p;
        var li = _lowerInverse;
        for (int j = 0; j < p; j++)
        {
            li[j * p + j] = 1.0 / _chol[j * p + j];
            for (int i = j + 1; i < p; i++)
            {
                double s = 0;
                for (int k = j; k < i; k++) s -= _chol[i * p + k] * li[k * p + j];
                li[i * p + j] = s / _chol[i * p + i];
            }
        }
        for (int i = 0; i < p; i++)
            for (int j = 0; j <= i; j++)
            {
                double s = 0;
                for (int k = i; k < p; k++) s += li[k * p + i] * li[k * p + j];
                _inverse[i * p + j] = s;
                _inverse[j * p + i] = s;
            }
    }

    /// <summary>x = A⁻¹ b by the two triangular solves with L (A = L Lᵀ).</summary>
    private void Solve(ReadOnlySpan<double> b, Span<double> x)
    {
        int p = _p;
        for (int i = 0; i < p; i++)
        {
            double s = b[i];
            for (int k = 0; k < i; k++) s -= _chol[i * p + k] * x[k];
            x[i] = s / _chol[i * p + i];
        }
        for (int i = p - 1; i >= 0; i--)
        {
            double s = x[i];
            for (int k = i + 1; k < p; k++) s -= _chol[k * p + i] * x[k];
            x[i] = s / _chol[i * p + i];
        }
    }

    /// <summary>
    /// log N(y; Φ m, σ² I + Φ S Φᵀ) at the N × H activations <paramref name="hidden"/> (row-major) and u = log σ;
    /// writes ∂/∂h into <paramref name="dHidden"/> (N × H; an empty span skips it) and returns ∂/∂u in
    /// <paramref name="dLogSigma"/>. −∞ when A is not positive definite.
    /// </summary>
    public double LogLikelihood(ReadOnlySpan<double> hidden, double logSigma, Span<double> dHidden, out double dLogSigma)
    {
        SetHidden(hidden);
        double logLik = LogLikelihoodOfColumns(logSigma, !dHidden.IsEmpty, out dLogSigma);
        if (!dHidden.IsEmpty && double.IsFinite(logLik))
        {
            int h = _p - 1, rows = _rows;
            for (int n = 0; n < rows; n++)
                for (int j = 0; j < h; j++) dHidden[n * h + j] = _dColumns[j * rows + n];
        }
        return logLik;
    }

    /// <summary>
    /// Hidden unit <paramref name="j"/>'s activations over the N rows (Φ's column j), for a caller that holds them
    /// column-major already (the compiled engine) to write in place before <see cref="LogLikelihoodOfColumns"/>.
    /// </summary>
    public Span<double> HiddenColumn(int j) => (uint)j < (uint)(_p - 1) ? Column(j) : throw new ArgumentOutOfRangeException(nameof(j));

    /// <summary>∂L/∂h for hidden unit <paramref name="j"/> over the N rows, after <see cref="LogLikelihoodOfColumns"/> with the gradient.</summary>
    public ReadOnlySpan<double> GradientColumn(int j) => _dColumns.AsSpan(j * _rows, _rows);

    /// <summary>
    /// <see cref="LogLikelihood"/> on the activations written into <see cref="HiddenColumn"/>: with
    /// <paramref name="withGradient"/>, ∂L/∂h is left in <see cref="GradientColumn"/>, column by column.
    /// </summary>
    public double LogLikelihoodOfColumns(double logSigma, bool withGradient, out double dLogSigma)
    {
        int p = _p, h = _p - 1, rows = _rows;
        double sigma2 = Math.Exp(2 * logSigma);
        dLogSigma = 0;
        if (!Factorise(sigma2)) return double.NegativeInfinity;

        double logDetA = 0, logDetS = 0;
        for (int i = 0; i < p; i++)
        {
            logDetA += 2 * Math.Log(_chol[i * p + i]);
            logDetS += Math.Log(_priorVariance[i]);
        }
        // α = (y − Φ μ)/σ²; rᵀ C⁻¹ r = rᵀ α with r = y − Φ m. α is kept as Φ's extra column for ∂L/∂h.
        var alpha = _columns.AsSpan(p * rows, rows);
        _targets.AsSpan().CopyTo(alpha);
        for (int j = 0; j < p; j++) TensorPrimitives.MultiplyAdd<double>(Column(j), -_mean[j], alpha, alpha);
        TensorPrimitives.Multiply<double>(alpha, 1.0 / sigma2, alpha);
        double quad = TensorPrimitives.Dot<double>(_residual, alpha);
        double alphaSq = TensorPrimitives.Dot<double>(alpha, alpha);
        double logLik = -0.5 * rows * Math.Log(2 * Math.PI) - rows * logSigma - 0.5 * logDetS - 0.5 * logDetA - 0.5 * quad;

        // A⁻¹, for tr(A⁻¹ S⁻¹) and Φ A⁻¹.
        Invert();
        double trace = 0;
        for (int j = 0; j < p; j++) trace += _inverse[j * p + j] / _priorVariance[j];
        dLogSigma = sigma2 * alphaSq - rows + p - trace;

        if (withGradient && h > 0)
        {
            // ∂L/∂h, column j = α μ_j − Σ_k Φ_k (A⁻¹)_kj / σ²: one product of [Φ, α] (N × (P + 1), column-major) with
            // the (P + 1) × H matrix [−A⁻¹/σ² (its first H columns); μ (its first H)].
            for (int k = 0; k < p; k++)
                for (int j = 0; j < h; j++) _product[k * h + j] = -_inverse[k * p + j] / sigma2;
            for (int j = 0; j < h; j++) _product[p * h + j] = _mean[j];
            Gemm<double>.Rows(_product, p + 1, h, _columns, rows, _dColumns, rows, rows, _zeros);
        }
        return logLik;
    }

    /// <summary>
    /// The conditional mean μ of the weights (H, then the bias) given the activations and u = log σ; false when A is
    /// not positive definite.
    /// </summary>
    public bool ConditionalMean(ReadOnlySpan<double> hidden, double logSigma, Span<double> weights)
    {
        if (!Factorise(hidden, Math.Exp(2 * logSigma))) return false;
        _mean.AsSpan().CopyTo(weights);
        return true;
    }

    /// <summary>
    /// A draw of the weights (H, then the bias) from their exact conditional N(μ, A⁻¹): w = μ + L⁻ᵀ z with z from
    /// <paramref name="rng"/> (P normals, in order); false when A is not positive definite (nothing drawn).
    /// </summary>
    public bool DrawWeights(ReadOnlySpan<double> hidden, double logSigma, Rng rng, Span<double> weights)
    {
        int p = _p;
        if (!Factorise(hidden, Math.Exp(2 * logSigma))) return false;
        for (int i = 0; i < p; i++) _z[i] = rng.NextNormal();
        // Solve Lᵀ v = z: Cov(v) = (L Lᵀ)⁻¹ = A⁻¹.
        for (int i = p - 1; i >= 0; i--)
        {
            double s = _z[i];
            for (int k = i + 1; k < p; k++) s -= _chol[k * p + i] * weights[k];
            weights[i] = s / _chol[i * p + i];
        }
        for (int i = 0; i < p; i++) weights[i] += _mean[i];
        return true;
    }
}
