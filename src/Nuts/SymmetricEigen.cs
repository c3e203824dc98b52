namespace Bnn.Onnx.Nuts;

/// <summary>
/// Eigendecomposition A = V diag(λ) Vᵀ of a real symmetric matrix: Householder reduction to tridiagonal form and
/// the implicit QL algorithm (EISPACK <c>tred2</c> / <c>tql2</c>, as in JAMA's <c>EigenvalueDecomposition</c>).
/// O(n³); used at the ends of adaptation windows only.
/// </summary>
internal static class SymmetricEigen
{
    /// <summary>
    /// The eigenvalues of the row-major symmetric n × n <paramref name="a"/> in ascending order and the eigenvectors as
    /// columns, stored column by column (vector k is <c>vectors[k·n .. k·n + n)</c>). Returns false if the QL
    /// iteration does not converge or a value is not finite.
    /// </summary>
    public static bool TryDecompose(double[] a, int n, out double[] values, out double[] vectors)
    {
        // v is column-major: v[j * n + k] = V[k][j]; the inner loops below then run over contiguous memory.
        var v = new double[n * n];
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
                v[j * n + i] = 0.5 * (a[i * n + j] + a[j * n + i]);
        var d = new double[n];
        var e = new double[n];
        values = d;
        vectors = v;
        if (n == 0) return true;
        if (!VectorMath.AllFinite(v)) return false;
        Tridiagonalize(v, d, e, n);
        if (!QlIterate(v, d, e, n)) return false;
        SortAscending(v, d, n);
        return VectorMath.AllFinite(d) && VectorMath.AllFinite(v);
    }

    // V[k][j] is v[j * n + k].
    private static void Tridiagonalize(double[] v, double[] d, double[] e, int n)
    {
        for (int j = 0; j < n; j++) d[j] = v[j * n + n - 1];
        for (int i = n - 1; i > 0; i--)
        {
            double scale = 0.0, h = 0.0;
            for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
            if (scale == 0.0)
            {
                e[i] = d[i - 1];
                for (int j = 0; j < i; j++)
                {
                    d[j] = v[j * n + i - 1];
                    v[j * n + i] = 0.0;
                    v[i * n + j] = 0.0;
                }
            }
            else
            {
                // The Householder vector.
                for (int k = 0; k < i; k++)
                {
                    d[k] /= scale;
                    h += d[k] * d[k];
                }
                double f = d[i - 1];
                double g = Math.Sqrt(h);
                if (f > 0) g = -g;
                e[i] = scale * g;
                h -= f * g;
                d[i - 1] = f - g;
                for (int j = 0; j < i; j++) e[j] = 0.0;

                // The similarity transformation of the remaining columns.
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    v[i * n + j] = f;
                    g = e[j] + v[j * n + j] * f;
                    for (int k = j + 1; k <= i - 1; k++)
                    {
                        g += v[j * n + k] * d[k];
                        e[k] += v[j * n + k] * f;
                    }
                    e[j] = g;
                }
                f = 0.0;
                for (int j = 0; j < i; j++)
                {
                    e[j] /= h;
                    f += e[j] * d[j];
                }
                double hh = f / (h + h);
                for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                for (int j = 0; j < i; j++)
                {
                    f = d[j];
                    g = e[j];
                    for (int k = j; k <= i - 1; k++) v[j * n + k] -= f * e[k] + g * d[k];
                    d[j] = v[j * n + i - 1];
                    v[j * n + i] = 0.0;
                }
            }
            d[i] = h;
        }

        // Accumulate the transformations.
        for (int i = 0; i < n - 1; i++)
        {
            v[i * n + n - 1] = v[i * n + i];
            v[i * n + i] = 1.0;
            double h = d[i + 1];
            if (h != 0.0)
            {
                for (int k = 0; k <= i; k++) d[k] = v[(i + 1) * n + k] / h;
                for (int j = 0; j <= i; j++)
                {
                    double g = 0.0;
                    for (int k = 0; k <= i; k++) g += v[(i + 1) * n + k] * v[j * n + k];
                    for (int k = 0; k <= i; k++) v[j * n + k] -= g * d[k];
                }
            }
            for (int k = 0; k <= i; k++) v[(i + 1) * n + k] = 0.0;
        }
        for (int j = 0; j < n; j++)
        {
            d[j] = v[j * n + n - 1];
            v[j * n + n - 1] = 0.0;
        }
        v[(n - 1) * n + n - 1] = 1.0;
        e[0] = 0.0;
    }

    private static bool QlIterate(double[] v, double[] d, double[] e, int n)
    {
        for (int i = 1; i < n; i++) e[i - 1] = e[i];
        e[n - 1] = 0.0;
        double f = 0.0, tst1 = 0.0;
        const double eps = 2.220446049250313e-16;
        for (int l = 0; l < n; l++)
        {
            // The first negligible subdiagonal element.
            tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
            int m = l;
            while (m < n - 1 && Math.Abs(e[m]) > eps * tst1) m++;
            if (m > l)
            {
                int iterations = 0;
                do
                {
                    if (++iterations > 60) return false;
                    // The implicit shift.
                    double g = d[l];
                    double p = (d[l + 1] - g) / (2.0 * e[l]);
                    double r = Hypot(p, 1.0);
                    if (p < 0) r = -r;
                    d[l] = e[l] / (p + r);
                    d[l + 1] = e[l] * (p + r);
                    double dl1 = d[l + 1];
                    double h = g - d[l];
                    for (int i = l + 2; i < n; i++) d[i] -= h;
                    f += h;

                    // The implicit QL transformation.
                    p = d[m];
                    double c = 1.0, c2 = c, c3 = c;
                    double el1 = e[l + 1];
                    double s = 0.0, s2 = 0.0;
                    for (int i = m - 1; i >= l; i--)
                    {
                        c3 = c2;
                        c2 = c;
                        s2 = s;
                        g = c * e[i];
                        h = c * p;
                        r = Hypot(p, e[i]);
                        e[i + 1] = s * r;
                        s = e[i] / r;
                        c = p / r;
                        p = c * d[i] - s * g;
                        d[i + 1] = h + s * (c * g + s * d[i]);
                        var col = v.AsSpan((i + 1) * n, n);
                        var colPrev = v.AsSpan(i * n, n);
                        for (int k = 0; k < n; k++)
                        {
                            h = col[k];
                            col[k] = s * colPrev[k] + c * h;
                            colPrev[k] = c * colPrev[k] - s * h;
                        }
                    }
                    p = -s * s2 * c3 * el1 * e[l] / dl1;
                    e[l] = s * p;
                    d[l] = c * p;
                    if (!double.IsFinite(d[l]) || !double.IsFinite(e[l])) return false;
                }
                while (Math.Abs(e[l]) > eps * tst1);
            }
            d[l] += f;
            e[l] = 0.0;
        }
        return true;
    }

    private static double Hypot(double a, double b)
    {
        double x = Math.Abs(a), y = Math.Abs(b);
        if (x < y) (x, y) = (y, x);
        if (x == 0) return 0;
        double t = y / x;
        return x * Math.Sqrt(1 + t * t);
    }

    private static void SortAscending(double[] v, double[] d, int n)
    {
        for (int i = 0; i < n - 1; i++)
        {
            int k = i;
            double p = d[i];
            for (int j = i + 1; j < n; j++)
                if (d[j] < p)
                {
                    k = j;
                    p = d[j];
                }
            if (k == i) continue;
            d[k] = d[i];
            d[i] = p;
            var a = v.AsSpan(i * n, n);
            var b = v.AsSpan(k * n, n);
            for (int j = 0; j < n; j++) (a[j], b[j]) = (b[j], a[j]);
        }
    }
}
