namespace Bnn.Onnx.Cli.Plotting;

/// <summary>Gaussian kernel density estimates for the density panels (Silverman's rule-of-thumb bandwidth).</summary>
internal static class Density
{
    /// <summary>Silverman (1986): h = 0.9 · min(sd, IQR/1.34) · n^(−1/5); a small positive width for constant data.</summary>
    public static double Bandwidth(IReadOnlyList<double> values)
    {
        int n = values.Count;
        var sorted = values.OrderBy(v => v).ToArray();
        double mean = sorted.Average();
        double sd = n > 1 ? Math.Sqrt(sorted.Sum(v => (v - mean) * (v - mean)) / (n - 1)) : 0;
        double iqr = Quantile(sorted, 0.75) - Quantile(sorted, 0.25);
        double spread = iqr > 0 ? Math.Min(sd, iqr / 1.34) : sd;
        double h = 0.9 * spread * Math.Pow(n, -0.2);
        return h > 0 ? h : Math.Max(Math.Abs(mean) * 1e-3, 1e-3);
    }

    /// <summary>The density of <paramref name="values"/> at <paramref name="grid"/> points.</summary>
    public static double[] Estimate(IReadOnlyList<double> values, double[] grid, double? bandwidth = null)
    {
        double h = bandwidth ?? Bandwidth(values);
        double norm = 1.0 / (values.Count * h * Math.Sqrt(2 * Math.PI));
        var result = new double[grid.Length];
        for (int g = 0; g < grid.Length; g++)
        {
            double sum = 0;
            foreach (double v in values)
            {
                double z = (grid[g] - v) / h;
                sum += Math.Exp(-0.5 * z * z);
            }
            result[g] = sum * norm;
        }
        return result;
    }

    /// <summary>Evenly spaced points from the smallest to the largest value, padded by three bandwidths.</summary>
    public static double[] Grid(IEnumerable<double> values, double bandwidth, int points = 200)
    {
        var list = values.ToList();
        double lo = list.Min() - 3 * bandwidth, hi = list.Max() + 3 * bandwidth;
        return Enumerable.Range(0, points).Select(i => lo + (hi - lo) * i / (points - 1)).ToArray();
    }

    /// <summary>Linear-interpolation quantile of sorted values (R type 7).</summary>
    public static double Quantile(double[] sorted, double p)
    {
        if (sorted.Length == 0) return double.NaN;
        double h = (sorted.Length - 1) * p;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Length - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }
}
