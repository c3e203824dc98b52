namespace Bnn.Onnx.Nuts;

/// <summary>
/// Learns a <see cref="LowRankMetric"/> from one window's draws and their gradients by minimising the Fisher
/// divergence between the target and its affine transform (Seyboldt, Carlson &amp; Carpenter 2026; nutpie's
/// <c>LowRankMassMatrixStrategy</c>):
/// <list type="number">
/// <item>diagonal scales σᵢ = (Var[θᵢ] / Var[∂ᵢ log p])^{1/4}; draws rescaled to (θ − θ̄)/σ, gradients to (∇ − ∇̄)·σ;</item>
/// <item>an orthonormal basis Q of the span of both sets (the leading directions of each: all of them here);</item>
/// <item>the projected covariances C_θ = Qᵀ X Xᵀ Q / γ + I and C_∇ = Qᵀ G Gᵀ Q / γ + I and their SPD geometric mean
/// Σ = C_∇^{−1/2} (C_∇^{1/2} C_θ C_∇^{1/2})^{1/2} C_∇^{−1/2}, the minimiser of the Fisher divergence for a Gaussian
/// (Σ C_∇ Σ = C_θ);</item>
/// <item>the eigenpairs of Σ with λ outside [1/c, c] become the low-rank directions U = Q W; inside, M⁻¹ stays diagonal.</item>
/// </list>
/// nutpie's defaults: γ = 10⁻⁵, c = 2.
/// </summary>
internal sealed class LowRankFisherEstimator
{
    /// <summary>nutpie's regularisation γ of the projected covariances.</summary>
    public const double DefaultGamma = 1e-5;

    /// <summary>nutpie's eigenvalue cut-off c: directions with λ in [1/c, c] are left to the diagonal.</summary>
    public const double DefaultCutoff = 2.0;

    /// <summary>Bounds of σᵢ², so that a near-constant gradient or position cannot give an unusable metric.</summary>
    public const double MinVariance = 1e-10, MaxVariance = 1e10;

    private readonly int _d;
    private readonly double _gamma, _cutoff;
    private readonly List<double[]> _draws = [], _gradients = [];

    public LowRankFisherEstimator(int dimension, double gamma = DefaultGamma, double cutoff = DefaultCutoff)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(gamma);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(cutoff, 1.0);
        _d = dimension;
        _gamma = gamma;
        _cutoff = cutoff;
    }

    /// <summary>d.</summary>
    public int Dimension => _d;

    /// <summary>n, the draws added since the last <see cref="Restart"/>.</summary>
    public int Count => _draws.Count;

    /// <summary>Adds one warmup draw: its position θ and ∇ log p(θ).</summary>
    public void Add(NutsState state)
    {
        _draws.Add((double[])state.Position.Clone());
        _gradients.Add((double[])state.Gradient.Clone());
    }

    /// <summary>Forgets every draw (at the start of the next window).</summary>
    public void Restart()
    {
        _draws.Clear();
        _gradients.Clear();
    }

    /// <summary>The metric learnt from the draws so far, or null with fewer than 3 draws or a non-finite estimate.</summary>
    public LowRankMetric? Estimate()
    {
        int n = _draws.Count, d = _d;
        if (n < 3) return null;

        // 1. Diagonal scales, and the draws and gradients centred and rescaled by them.
        var scale = new double[d];
        var x = new double[n][];
        var g = new double[n][];
        for (int t = 0; t < n; t++)
        {
            x[t] = new double[d];
            g[t] = new double[d];
        }
        for (int i = 0; i < d; i++)
        {
            double meanX = 0, meanG = 0;
            for (int t = 0; t < n; t++)
            {
                meanX += _draws[t][i];
                meanG += _gradients[t][i];
            }
            meanX /= n;
            meanG /= n;
            double varX = 0, varG = 0;
            for (int t = 0; t < n; t++)
            {
                double a = _draws[t][i] - meanX, b = _gradients[t][i] - meanG;
                varX += a * a;
                varG += b * b;
            }
            varX /= n;
            varG /= n;
            if (!double.IsFinite(varX) || !double.IsFinite(varG)) return null;
            double variance = Math.Sqrt(varX / varG);
            if (!double.IsFinite(variance) || variance <= 0) variance = varX > 0 ? varX : 1.0;
            double sigma = Math.Sqrt(Math.Clamp(variance, MinVariance, MaxVariance));
            scale[i] = sigma;
            for (int t = 0; t < n; t++)
            {
                x[t][i] = (_draws[t][i] - meanX) / sigma;
                g[t][i] = (_gradients[t][i] - meanG) * sigma;
            }
        }

        // 2. An orthonormal basis of the span of the rescaled draws and gradients (the whole space when they can fill it).
        var basis = 2 * (n - 1) >= d ? null : OrthonormalBasis(x, g, d);
        int m = basis?.Count ?? d;

        // 3. The projected covariances (rows: basis vectors, columns: draws) and their SPD geometric mean.
        var px = Project(x, basis, d);
        var pg = Project(g, basis, d);
        var covX = Gram(px, m, n, _gamma);
        var covG = Gram(pg, m, n, _gamma);
        var mean = SpdGeometricMean(covX, covG, m);
        if (mean is null || !SymmetricEigen.TryDecompose(mean, m, out var values, out var vectors)) return null;

        // 4. Directions whose variance differs from the diagonal's by more than the cut-off, back in ℝᵈ.
        var kept = Enumerable.Range(0, m).Where(j => values[j] > _cutoff || values[j] < 1.0 / _cutoff).ToArray();
        var directions = new double[kept.Length * d];
        var keptValues = new double[kept.Length];
        for (int r = 0; r < kept.Length; r++)
        {
            int j = kept[r];
            keptValues[r] = values[j];
            var w = vectors.AsSpan(j * m, m);
            var u = directions.AsSpan(r * d, d);
            if (basis is null) w.CopyTo(u);
            else
                for (int a = 0; a < m; a++) VectorMath.AddScaled(u, w[a], basis[a]);
        }
        if (!VectorMath.AllFinite(directions) || keptValues.Any(v => !(v > 0) || !double.IsFinite(v))) return null;
        return new LowRankMetric(scale, directions, keptValues);
    }

    /// <summary>Modified Gram–Schmidt, applied twice, over the columns of both sets; near-dependent columns are dropped.</summary>
    private static List<double[]> OrthonormalBasis(double[][] x, double[][] g, int d)
    {
        var basis = new List<double[]>();
        foreach (var column in x.Concat(g))
        {
            if (basis.Count == d) break;
            var v = (double[])column.Clone();
            double norm0 = Math.Sqrt(VectorMath.Dot(v, v));
            if (!(norm0 > 0)) continue;
            for (int pass = 0; pass < 2; pass++)
                foreach (var q in basis) VectorMath.AddScaled(v, -VectorMath.Dot(q, v), q);
            double norm = Math.Sqrt(VectorMath.Dot(v, v));
            if (!(norm > 1e-8 * norm0)) continue;
            for (int i = 0; i < d; i++) v[i] /= norm;
            basis.Add(v);
        }
        return basis;
    }

    /// <summary>Qᵀ X as m rows of n values (Q = I when <paramref name="basis"/> is null).</summary>
    private static double[][] Project(double[][] columns, List<double[]>? basis, int d)
    {
        int n = columns.Length, m = basis?.Count ?? d;
        var rows = new double[m][];
        for (int a = 0; a < m; a++)
        {
            rows[a] = new double[n];
            for (int t = 0; t < n; t++) rows[a][t] = basis is null ? columns[t][a] : VectorMath.Dot(basis[a], columns[t]);
        }
        return rows;
    }

    /// <summary>R Rᵀ / γ + I, row-major m × m.</summary>
    private static double[] Gram(double[][] rows, int m, int n, double gamma)
    {
        var c = new double[m * m];
        for (int a = 0; a < m; a++)
            for (int b = 0; b <= a; b++)
            {
                double v = VectorMath.Dot(rows[a], rows[b]) / gamma + (a == b ? 1.0 : 0.0);
                c[a * m + b] = v;
                c[b * m + a] = v;
            }
        return c;
    }

    /// <summary>
    /// The SPD geometric mean Σ = B^{−1/2} (B^{1/2} A B^{1/2})^{1/2} B^{−1/2} of A = C_θ and B = C_∇, the solution of
    /// Σ B Σ = A (nutpie's <c>spd_mean</c>); null if an eigendecomposition fails.
    /// </summary>
    internal static double[]? SpdGeometricMean(double[] a, double[] b, int m)
    {
        if (!SymmetricEigen.TryDecompose(b, m, out var bValues, out var bVectors)) return null;
        var bSqrt = Function(bValues, bVectors, m, v => Math.Sqrt(Math.Max(v, 0)));
        var bInvSqrt = Function(bValues, bVectors, m, v => 1.0 / Math.Sqrt(Math.Max(v, double.Epsilon)));
        var middle = MultiplySymmetric(MultiplySymmetric(bSqrt, a, m), bSqrt, m);
        if (!SymmetricEigen.TryDecompose(middle, m, out var mValues, out var mVectors)) return null;
        var middleSqrt = Function(mValues, mVectors, m, v => Math.Sqrt(Math.Max(v, 0)));
        var mean = MultiplySymmetric(MultiplySymmetric(bInvSqrt, middleSqrt, m), bInvSqrt, m);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < i; j++)
            {
                double s = 0.5 * (mean[i * m + j] + mean[j * m + i]);
                mean[i * m + j] = s;
                mean[j * m + i] = s;
            }
        return VectorMath.AllFinite(mean) ? mean : null;
    }

    /// <summary>V diag(f(λ)) Vᵀ, row-major, from column-stored eigenvectors.</summary>
    private static double[] Function(double[] values, double[] vectors, int m, Func<double, double> f)
    {
        // f ≥ 0 here: V diag(f) Vᵀ = (V diag(√f)) (V diag(√f))ᵀ.
        var scaled = new double[m * m]; // row-major: scaled[i, k] = V[i, k] √f(λₖ)
        for (int k = 0; k < m; k++)
        {
            double s = Math.Sqrt(f(values[k]));
            for (int i = 0; i < m; i++) scaled[i * m + k] = vectors[k * m + i] * s;
        }
        var result = new double[m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j <= i; j++)
            {
                double v = VectorMath.Dot(scaled.AsSpan(i * m, m), scaled.AsSpan(j * m, m));
                result[i * m + j] = v;
                result[j * m + i] = v;
            }
        return result;
    }

    /// <summary>A B for row-major m × m matrices with B symmetric (so that column j of B is its row j).</summary>
    private static double[] MultiplySymmetric(double[] a, double[] b, int m)
    {
        var c = new double[m * m];
        for (int i = 0; i < m; i++)
            for (int j = 0; j < m; j++)
                c[i * m + j] = VectorMath.Dot(a.AsSpan(i * m, m), b.AsSpan(j * m, m));
        return c;
    }
}
