namespace Bnn.Onnx.Nuts;

/// <summary>
/// Convergence diagnostics exactly as the R package posterior 1.4.0 computes them (Vehtari, Gelman, Simpson,
/// Carpenter &amp; Bürkner 2021, "Rank-normalization, folding, and localization"). Input: one variable's draws as
/// <c>draws[chain][iteration]</c>, chains of equal length, warmup excluded. Non-finite draws give NaN.
/// Means and variances are rounded as R and matrixStats round them, so that near-constant draws agree too; the
/// golden values in tests/Nuts.Tests/Golden pin every value to 1e-8 relative.
/// </summary>
internal static class ConvergenceDiagnostics
{
    /// <summary>R-hat: the larger of rank-normalised split-R̂ of the draws and of the folded draws |x − median|.</summary>
    public static double Rhat(double[][] draws)
    {
        if (ShouldReturnNaN(draws)) return double.NaN;
        double bulk = RhatBasicCore(ZScale(SplitChains(draws)));
        double median = Quantile(Pool(draws), 0.5);
        var folded = Map(draws, x => Math.Abs(x - median));
        double tail = RhatBasicCore(ZScale(SplitChains(folded)));
        return Math.Max(bulk, tail);
    }

    /// <summary>Classic split-R̂ without rank normalisation (posterior's <c>rhat_basic</c>).</summary>
    public static double RhatBasic(double[][] draws) =>
        ShouldReturnNaN(draws) ? double.NaN : RhatBasicCore(SplitChains(draws));

    /// <summary>Bulk-ESS: ESS of the rank-normalised split chains.</summary>
    public static double EssBulk(double[][] draws) =>
        ShouldReturnNaN(draws) ? double.NaN : Ess(ZScale(SplitChains(draws)));

    /// <summary>Tail-ESS: the smaller of the ESS of the 5% and 95% quantile indicators.</summary>
    public static double EssTail(double[][] draws) =>
        ShouldReturnNaN(draws) ? double.NaN : Math.Min(EssQuantile(draws, 0.05), EssQuantile(draws, 0.95));

    /// <summary>ESS of the indicator I(x ≤ q̂_p) (split chains).</summary>
    public static double EssQuantile(double[][] draws, double probability)
    {
        if (ShouldReturnNaN(draws)) return double.NaN;
        double q = Quantile(Pool(draws), probability);
        return Ess(SplitChains(Map(draws, x => x <= q ? 1.0 : 0.0)));
    }

    /// <summary>ESS for the mean (posterior's <c>ess_mean</c> = <c>ess_basic</c>): split chains, no rank normalisation.</summary>
    public static double EssMean(double[][] draws) =>
        ShouldReturnNaN(draws) ? double.NaN : Ess(SplitChains(draws));

    /// <summary>MCSE of the mean: sd / sqrt(ess_mean).</summary>
    public static double McseMean(double[][] draws)
    {
        var pooled = Pool(draws);
        return StandardDeviation(pooled) / Math.Sqrt(EssMean(draws));
    }

    /// <summary>ESS for the sd (posterior 1.4.0): ESS (split chains) of the absolute deviations |x − x̄|.</summary>
    public static double EssSd(double[][] draws)
    {
        double mean = Mean(Pool(draws));
        return EssMean(Map(draws, x => Math.Abs(x - mean)));
    }

    /// <summary>
    /// MCSE of the sd (posterior 1.4.0): by the delta method from the variance of the squared centred draws,
    /// sqrt((E[(x−x̄)⁴] − E[(x−x̄)²]²) / (4 E[(x−x̄)²] · ESS)) with ESS the split-chain ESS of (x−x̄)².
    /// </summary>
    public static double McseSd(double[][] draws)
    {
        double mean = Mean(Pool(draws));
        var squared = Map(draws, x => (x - mean) * (x - mean));
        var pooled = Pool(squared);
        double ess = EssMean(squared);
        double eVar = Mean(pooled);
        double fourth = Mean(pooled.Select(v => v * v).ToArray());
        double varVar = (fourth - eVar * eVar) / ess;
        return Math.Sqrt(varVar / eVar / 4.0);
    }

    /// <summary>E-BFMI = mean((Eₙ − Eₙ₋₁)²) / Var(E) (population variance), per chain. NaN with fewer than 2 energies.</summary>
    public static double Ebfmi(ReadOnlySpan<double> energies)
    {
        int n = energies.Length;
        if (n < 2) return double.NaN;
        double mean = 0;
        foreach (double e in energies) mean += e;
        mean /= n;
        double numerator = 0, denominator = 0;
        for (int i = 1; i < n; i++) numerator += (energies[i] - energies[i - 1]) * (energies[i] - energies[i - 1]);
        foreach (double e in energies) denominator += (e - mean) * (e - mean);
        return (numerator / n) / (denominator / n);
    }

    // ---- building blocks (posterior's internal functions) ----

    /// <summary>posterior's <c>should_return_NA</c>: any non-finite value, or a constant variable.</summary>
    internal static bool ShouldReturnNaN(double[][] draws)
    {
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var chain in draws)
            foreach (double x in chain)
            {
                if (!double.IsFinite(x)) return true;
                if (x < min) min = x;
                if (x > max) max = x;
            }
        if (draws.Length == 0 || draws[0].Length == 0) return true;
        return IsConstant(min, max);
    }

    private static bool IsConstant(double min, double max) => Math.Abs(max - min) < 2.220446049250313e-16; // R: .Machine$double.eps

    /// <summary>Splits each chain into its first and second half, dropping the middle draw of an odd-length chain.</summary>
    public static double[][] SplitChains(double[][] draws)
    {
        int n = draws[0].Length;
        if (n == 1) return draws;
        int half = n / 2;
        int secondStart = (n + 1) / 2; // R: ceiling(n/2 + 1), 1-based
        var result = new double[draws.Length * 2][];
        for (int c = 0; c < draws.Length; c++)
        {
            result[c] = draws[c][..half];
            result[draws.Length + c] = draws[c][secondStart..];
        }
        return result;
    }

    /// <summary>
    /// Rank normalisation: average ranks over all draws, then Φ⁻¹((r − 3/8) / (S − 2·3/8 + 1)) (Blom; posterior's
    /// <c>z_scale</c> with <c>backtransform_ranks</c>).
    /// </summary>
    public static double[][] ZScale(double[][] draws)
    {
        var pooled = Pool(draws);
        int s = pooled.Length;
        var ranks = AverageRanks(pooled);
        const double c = 3.0 / 8.0;
        var result = new double[draws.Length][];
        int k = 0;
        for (int j = 0; j < draws.Length; j++)
        {
            result[j] = new double[draws[j].Length];
            for (int i = 0; i < draws[j].Length; i++, k++)
                result[j][i] = NormalQuantile((ranks[k] - c) / (s - 2 * c + 1));
        }
        return result;
    }

    /// <summary>1-based ranks with ties given their average rank (R's <c>rank(ties.method = "average")</c>).</summary>
    public static double[] AverageRanks(double[] x)
    {
        int n = x.Length;
        var order = new int[n];
        for (int i = 0; i < n; i++) order[i] = i;
        var keys = (double[])x.Clone();
        Array.Sort(keys, order);
        var ranks = new double[n];
        int start = 0;
        while (start < n)
        {
            int end = start;
            while (end + 1 < n && keys[end + 1] == keys[start]) end++;
            double rank = (start + end) / 2.0 + 1.0;
            for (int k = start; k <= end; k++) ranks[order[k]] = rank;
            start = end + 1;
        }
        return ranks;
    }

    /// <summary>posterior's <c>.rhat</c> on (already split) chains.</summary>
    private static double RhatBasicCore(double[][] x)
    {
        int m = x.Length, n = x[0].Length;
        var chainMean = new double[m];
        var chainVar = new double[m];
        for (int j = 0; j < m; j++)
        {
            // matrixStats: colMeans2, then colVars(x, center) = colMeans((x − center)²) · n / (n − 1)
            chainMean[j] = PlainMean(x[j]);
            double center = chainMean[j];
            var squares = new ExtendedSum();
            foreach (double v in x[j]) squares.Add((v - center) * (v - center));
            chainVar[j] = squares.Divide(n) * ((double)n / (n - 1));
        }
        double varBetween = n * Variance(chainMean);
        double varWithin = Mean(chainVar);
        return Math.Sqrt((varBetween / varWithin + n - 1) / n);
    }

    /// <summary>
    /// posterior's <c>.ess</c>: FFT autocovariances per chain, combined with the between-chain variance, Geyer's initial
    /// positive sequence, the initial monotone sequence and the truncation with the improved last term, and the
    /// cap ESS ≤ S·log10(S).
    /// </summary>
    public static double Ess(double[][] x)
    {
        int m = x.Length, n = x[0].Length;
        if (n < 3) return double.NaN;
        double min = double.PositiveInfinity, max = double.NegativeInfinity;
        foreach (var chain in x)
            foreach (double v in chain)
            {
                if (!double.IsFinite(v)) return double.NaN;
                min = Math.Min(min, v);
                max = Math.Max(max, v);
            }
        if (IsConstant(min, max)) return double.NaN;

        var acov = new double[m][];
        var chainMean = new double[m];
        for (int j = 0; j < m; j++)
        {
            acov[j] = Autocovariance(x[j]);
            chainMean[j] = PlainMean(x[j]); // matrixStats' colMeans2
        }
        double MeanAcov(int lag) // matrixStats' rowMeans2: a plain sum
        {
            double s = 0;
            for (int j = 0; j < m; j++) s += acov[j][lag];
            return s / m;
        }

        double meanVar = MeanAcov(0) * n / (n - 1.0);
        double varPlus = meanVar * (n - 1.0) / n;
        if (m > 1) varPlus += Variance(chainMean);

        // Geyer's initial positive sequence (0-based: rho[t] is R's rho_hat_t[t + 1])
        var rho = new double[n];
        int t = 0;
        double rhoEven = 1.0;
        rho[0] = rhoEven;
        double rhoOdd = 1.0 - (meanVar - MeanAcov(1)) / varPlus;
        rho[1] = rhoOdd;
        while (t < n - 5 && !double.IsNaN(rhoEven + rhoOdd) && rhoEven + rhoOdd > 0)
        {
            t += 2;
            rhoEven = 1.0 - (meanVar - MeanAcov(t)) / varPlus;
            rhoOdd = 1.0 - (meanVar - MeanAcov(t + 1)) / varPlus;
            if (rhoEven + rhoOdd >= 0)
            {
                rho[t] = rhoEven;
                rho[t + 1] = rhoOdd;
            }
        }
        int maxT = t;
        // used in the improved estimate
        if (rhoEven > 0) rho[maxT] = rhoEven;

        // Geyer's initial monotone sequence
        t = 0;
        while (t <= maxT - 4)
        {
            t += 2;
            if (rho[t] + rho[t + 1] > rho[t - 2] + rho[t - 1])
            {
                rho[t] = (rho[t - 2] + rho[t - 1]) / 2;
                rho[t + 1] = rho[t];
            }
        }

        double s = (double)m * n;
        // Geyer's truncated estimate with the improved last term: −1 + 2 Σ_{k < max_t} ρ_k + ρ_{max_t}
        // (R's sum(rho_hat_t[1:max_t]) covers just the first term when max_t is 0).
        double sum = 0;
        for (int k = 0; k < Math.Max(maxT, 1); k++) sum += rho[k];
        double tau = -1 + 2 * sum + rho[maxT];
        tau = Math.Max(tau, 1 / Math.Log10(s));
        return s / tau;
    }

    /// <summary>
    /// posterior's <c>autocovariance</c>: the biased estimate at lags 0 … N − 1, normalised by its lag-0 value as
    /// posterior 1.4.0 does, ac[k] = c[k] / c[0] · var(x) · (N − 1) / N with c[k] = Σₜ yₜ yₜ₊ₖ over the centred draws
    /// (so ac[k] = c[k] / N, whatever the FFT's padding). A chain with zero variance gives zeros.
    /// </summary>
    public static double[] Autocovariance(double[] x)
    {
        int n = x.Length;
        var ac = new double[n];
        double variance = Variance(x);
        if (variance == 0) return ac;
        double mean = Mean(x);
        // Linear correlation through a power-of-two FFT of length ≥ 2n: the same sums as R's padding to 2·nextn(n).
        int size = 1;
        while (size < 2 * n) size <<= 1;
        var re = new double[size];
        var im = new double[size];
        for (int i = 0; i < n; i++) re[i] = x[i] - mean;
        Fft.Transform(re, im, inverse: false);
        for (int i = 0; i < size; i++)
        {
            re[i] = re[i] * re[i] + im[i] * im[i];
            im[i] = 0;
        }
        Fft.Transform(re, im, inverse: true); // unnormalised: size · c[k]
        double lag0 = re[0];
        for (int k = 0; k < n; k++) ac[k] = re[k] / lag0 * variance * (n - 1) / n;
        return ac;
    }

    /// <summary>Sample quantile of R's type 7 (R's default and posterior's): linear interpolation of order statistics.</summary>
    public static double Quantile(double[] x, double probability)
    {
        var sorted = (double[])x.Clone();
        Array.Sort(sorted);
        return QuantileSorted(sorted, probability);
    }

    /// <summary>Type-7 quantile of already sorted values, computed as R's <c>quantile.default</c> does.</summary>
    public static double QuantileSorted(double[] sorted, double probability)
    {
        int n = sorted.Length;
        if (n == 0) return double.NaN;
        double index = 1 + (n - 1) * probability; // 1-based
        int lo = (int)Math.Floor(index);
        int hi = (int)Math.Ceiling(index);
        double qs = sorted[lo - 1];
        double h = index - lo;
        if (index > lo && sorted[hi - 1] != qs) qs = (1 - h) * qs + h * sorted[hi - 1];
        return qs;
    }

    // ---- small numerics, rounded as R rounds them ----

    /// <summary>
    /// R's <c>mean</c>: the sum accumulated in extended precision and refined by a second pass, which makes it the
    /// correctly rounded mean (to the last bit, which near-constant draws need: their deviations from the mean are
    /// a few units in the last place of the mean).
    /// </summary>
    public static double Mean(ReadOnlySpan<double> x)
    {
        var sum = new ExtendedSum();
        foreach (double v in x) sum.Add(v);
        return sum.Divide(x.Length);
    }

    /// <summary>matrixStats' <c>colMeans2</c> / <c>rowMeans2</c>: a plain double sum divided by n.</summary>
    internal static double PlainMean(ReadOnlySpan<double> x)
    {
        double s = 0;
        foreach (double v in x) s += v;
        return s / x.Length;
    }

    /// <summary>R's <c>var</c>: squared deviations from R's mean, summed in extended precision, over n − 1.</summary>
    public static double Variance(ReadOnlySpan<double> x)
    {
        int n = x.Length;
        if (n < 2) return double.NaN;
        double mean = Mean(x);
        var sum = new ExtendedSum();
        foreach (double v in x) sum.Add((v - mean) * (v - mean));
        return sum.Divide(n - 1);
    }

    public static double StandardDeviation(ReadOnlySpan<double> x) => Math.Sqrt(Variance(x));

    /// <summary>
    /// A double-double running sum (Knuth's TwoSum): carries the rounding error of every addition, standing in for
    /// the 80-bit <c>long double</c> accumulators of R's <c>mean</c>, <c>var</c> and <c>colMeans</c>.
    /// </summary>
    private struct ExtendedSum
    {
        private double _high, _low;

        public void Add(double v)
        {
            double s = _high + v;
            double bp = s - _high;
            double error = (_high - (s - bp)) + (v - bp);
            _high = s;
            _low += error;
        }

        /// <summary>(high + low) / n, rounded once: the exact quotient's remainder is folded back in.</summary>
        public readonly double Divide(int n)
        {
            double sum = _high + _low;
            if (!double.IsFinite(sum)) return sum / n;
            double low = _low - (sum - _high);
            double q = sum / n;
            double remainder = Math.FusedMultiplyAdd(-q, n, sum);
            return q + (remainder + low) / n;
        }
    }

    internal static double[] Pool(double[][] draws)
    {
        int total = 0;
        foreach (var c in draws) total += c.Length;
        var pooled = new double[total];
        int k = 0;
        foreach (var c in draws)
        {
            c.CopyTo(pooled, k);
            k += c.Length;
        }
        return pooled;
    }

    private static double[][] Map(double[][] draws, Func<double, double> f) =>
        draws.Select(c => c.Select(f).ToArray()).ToArray();

    /// <summary>
    /// Φ⁻¹(p), the standard normal quantile, by Wichura's AS 241 (PPND16, about 1e-16 relative), as R's qnorm.
    /// </summary>
    public static double NormalQuantile(double p)
    {
        if (double.IsNaN(p) || p < 0 || p > 1) return double.NaN;
        if (p == 0) return double.NegativeInfinity;
        if (p == 1) return double.PositiveInfinity;
        double q = p - 0.5, r, val;
        if (Math.Abs(q) <= 0.425)
        {
            r = 0.180625 - q * q;
            val = q * (((((((r * 2509.0809287301226727 +
                    33430.575583588128105) * r + 67265.770927008700853) * r +
                    45921.953931549871457) * r + 13731.693765509461125) * r +
                    1971.5909503065514427) * r + 133.14166789178437745) * r +
                    3.387132872796366608)
                / (((((((r * 5226.495278852545925 +
                    28729.085735721942674) * r + 39307.89580009271061) * r +
                    21213.794301586595867) * r + 5394.1960214247511077) * r +
                    687.1870074920579083) * r + 42.313330701600911252) * r + 1.0);
            return val;
        }
        r = q < 0 ? p : 1 - p;
        r = Math.Sqrt(-Math.Log(r));
        if (r <= 5.0)
        {
            r -= 1.6;
            val = (((((((r * 7.7454501427834140764e-4 +
                    .0227238449892691845833) * r + .24178072517745061177) *
                    r + 1.27045825245236838258) * r +
                    3.64784832476320460504) * r + 5.7694972214606914055) *
                    r + 4.6303378461565452959) * r +
                    1.42343711074968357734)
                / (((((((r *
                    1.05075007164441684324e-9 + 5.475938084995344946e-4) *
                    r + .0151986665636164571966) * r +
                    .14810397642748007459) * r + .68976733498510000455) *
                    r + 1.6763848301838038494) * r +
                    2.05319162663775882187) * r + 1.0);
        }
        else
        {
            r -= 5.0;
            val = (((((((r * 2.01033439929228813265e-7 +
                    2.71155556874348757815e-5) * r +
                    .0012426609473880784386) * r + .026532189526576123093) *
                    r + .29656057182850489123) * r +
                    1.7848265399172913358) * r + 5.4637849111641143699) *
                    r + 6.6579046435011037772)
                / (((((((r *
                    2.04426310338993978564e-15 + 1.4215117583164458887e-7) *
                    r + 1.8463183175100546818e-5) * r +
                    7.868691311456132591e-4) * r + .0148753612908506148525)
                    * r + .13692988092273580531) * r +
                    .59983220655588793769) * r + 1.0);
        }
        return q < 0.0 ? -val : val;
    }
}
