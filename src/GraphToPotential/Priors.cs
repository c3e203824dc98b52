using System.Globalization;
using System.Text.RegularExpressions;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// The prior of every scalar of one parameter, a location-scale family: <see cref="NormalPrior"/>,
/// <see cref="StudentTPrior"/> or <see cref="LaplacePrior"/>. Parsed from <c>normal(MEAN,SCALE)</c>,
/// <c>student_t(NU,MEAN,SCALE)</c> or <c>laplace(MEAN,SCALE)</c> (Stan's names and argument order).
/// </summary>
internal abstract record ScalarPrior(double Mean, double Scale)
{
    /// <summary>log p(x), all constants kept; <paramref name="dx"/> = ∂/∂x.</summary>
    public abstract double LogDensity(double x, out double dx);

    /// <summary>
    /// One draw, made from standard normals alone (<paramref name="standardNormal"/>), so that a chain's start needs
    /// one random stream whatever the family.
    /// </summary>
    public abstract double Draw(Func<double> standardNormal);

    /// <summary>The prior as its text: <c>normal(0,0.5)</c>, <c>student_t(3,0,1)</c>, <c>laplace(0,0.2)</c>.</summary>
    public abstract override string ToString();

    /// <summary>Parses <c>normal(MEAN,SCALE)</c>, <c>student_t(NU,MEAN,SCALE)</c> or <c>laplace(MEAN,SCALE)</c> (case-insensitive, spaces allowed).</summary>
    public static ScalarPrior Parse(string text)
    {
        const string expected = "expected normal(MEAN,SCALE), student_t(NU,MEAN,SCALE) or laplace(MEAN,SCALE), e.g. normal(0,0.5)";
        var m = Regex.Match(text.Trim(), @"^([a-z_]+)\s*\(([^()]*)\)$", RegexOptions.IgnoreCase);
        if (!m.Success) throw new ArgumentException($"prior '{text}': {expected}");
        var args = m.Groups[2].Value.Split(',').Select(a => a.Trim()).ToArray();
        var values = new double[args.Length];
        for (int i = 0; i < args.Length; i++)
            if (!double.TryParse(args[i], NumberStyles.Float, CultureInfo.InvariantCulture, out values[i]))
                throw new ArgumentException($"prior '{text}': {expected}");
        string family = m.Groups[1].Value.ToLowerInvariant();
        int arity = family switch { "normal" => 2, "laplace" => 2, "student_t" => 3, _ => -1 };
        if (arity < 0 || values.Length != arity) throw new ArgumentException($"prior '{text}': {expected}");
        double mean = values[arity - 2], scale = values[arity - 1];
        if (!double.IsFinite(mean) || !double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"prior '{text}': the mean must be finite and the scale finite and positive");
        if (family == "student_t" && !(double.IsFinite(values[0]) && values[0] > 0))
            throw new ArgumentException($"prior '{text}': the degrees of freedom NU must be finite and positive");
        return family switch
        {
            "normal" => new NormalPrior(mean, scale),
            "laplace" => new LaplacePrior(mean, scale),
            _ => new StudentTPrior(values[0], mean, scale),
        };
    }

    private protected static string Format(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>A normal prior N(μ, s²) on every scalar of one parameter: <see cref="ScalarPrior.Mean"/> μ, <see cref="ScalarPrior.Scale"/> s (standard deviation).</summary>
internal sealed record NormalPrior(double Mean, double Scale) : ScalarPrior(Mean, Scale)
{
    /// <summary>½·log(2π), kept in every log density (see <see cref="LogLikelihoods"/>).</summary>
    public const double HalfLogTwoPi = 0.91893853320467274178;

    /// <summary>log N(x; μ, s²) = −½ log 2π − log s − ½ ((x − μ)/s)².</summary>
    public double LogDensity(double x)
    {
        double z = (x - Mean) / Scale;
        return -HalfLogTwoPi - Math.Log(Scale) - 0.5 * z * z;
    }

    /// <inheritdoc/>
    public override double LogDensity(double x, out double dx)
    {
        dx = -(x - Mean) / (Scale * Scale);
        return LogDensity(x);
    }

    /// <inheritdoc/>
    public override double Draw(Func<double> standardNormal) => Mean + Scale * standardNormal();

    /// <inheritdoc/>
    public override string ToString() => $"normal({Format(Mean)},{Format(Scale)})";

    /// <summary>Parses <c>normal(MEAN,SCALE)</c> (case-insensitive, spaces allowed).</summary>
    public static new NormalPrior Parse(string text) =>
        ScalarPrior.Parse(text) as NormalPrior ?? throw new ArgumentException($"prior '{text}': expected normal(MEAN,SCALE), e.g. normal(0,0.5)");
}

/// <summary>
/// Student's t with ν degrees of freedom, location μ, scale s (Stan's <c>student_t(nu, mu, sigma)</c>):
/// log p(x) = log Γ((ν+1)/2) − log Γ(ν/2) − ½ log(νπ) − log s − (ν+1)/2 · log(1 + z²/ν), z = (x − μ)/s.
/// A scale mixture of normals (x = μ + s·z/√(g), g ~ Gamma(ν/2, rate ν/2)): heavier tails than the normal of the same
/// scale, so most weights stay near μ while a few may be large (ν = 1 is the Cauchy; ν → ∞ the normal).
/// </summary>
internal sealed record StudentTPrior(double Nu, double Mean, double Scale) : ScalarPrior(Mean, Scale)
{
    /// <inheritdoc/>
    public override double LogDensity(double x, out double dx)
    {
        double z = (x - Mean) / Scale;
        dx = -(Nu + 1) * z / (Scale * (Nu + z * z));
        return SpecialFunctions.LogGamma(0.5 * (Nu + 1)) - SpecialFunctions.LogGamma(0.5 * Nu) - 0.5 * Math.Log(Nu * Math.PI)
            - Math.Log(Scale) - 0.5 * (Nu + 1) * Math.Log(1 + z * z / Nu);
    }

    /// <inheritdoc/>
    public override double Draw(Func<double> standardNormal)
    {
        double z = standardNormal();
        double g = SpecialFunctions.GammaDraw(0.5 * Nu, standardNormal) / (0.5 * Nu);   // Gamma(ν/2, rate ν/2) = χ²_ν/ν
        return Mean + Scale * z / Math.Sqrt(g);
    }

    /// <inheritdoc/>
    public override string ToString() => $"student_t({Format(Nu)},{Format(Mean)},{Format(Scale)})";
}

/// <summary>
/// The Laplace (double exponential) prior with location μ and scale b (Stan's <c>double_exponential(mu, sigma)</c>):
/// log p(x) = −log 2b − |x − μ|/b, sd √2·b; the prior of the lasso's MAP. The derivative at x = μ is taken as 0.
/// </summary>
internal sealed record LaplacePrior(double Mean, double Scale) : ScalarPrior(Mean, Scale)
{
    /// <inheritdoc/>
    public override double LogDensity(double x, out double dx)
    {
        double d = x - Mean;
        dx = -Math.Sign(d) / Scale;
        return -Math.Log(2 * Scale) - Math.Abs(d) / Scale;
    }

    /// <inheritdoc/>
    public override double Draw(Func<double> standardNormal)
    {
        // E = (z₁² + z₂²)/2 ~ Exponential(1) (χ²₂/2), and E₁ − E₂ is a standard Laplace.
        double a = standardNormal(), b = standardNormal(), c = standardNormal(), d = standardNormal();
        return Mean + Scale * 0.5 * (a * a + b * b - c * c - d * d);
    }

    /// <inheritdoc/>
    public override string ToString() => $"laplace({Format(Mean)},{Format(Scale)})";
}

/// <summary>log Γ and Gamma draws for the priors.</summary>
internal static class SpecialFunctions
{
    private static readonly double[] Lanczos =
    [
        0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
        12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
    ];

    /// <summary>log Γ(x) for x &gt; 0 (Lanczos, g = 7, n = 9; relative error about 1e-15; reflection below ½).</summary>
    public static double LogGamma(double x)
    {
        if (x < 0.5) return Math.Log(Math.PI / Math.Abs(Math.Sin(Math.PI * x))) - LogGamma(1 - x);
        x -= 1;
        double a = Lanczos[0], t = x + 7.5;
        for (int i = 1; i < Lanczos.Length; i++) a += Lanczos[i] / (x + i);
        return 0.5 * Math.Log(2 * Math.PI) + (x + 0.5) * Math.Log(t) - t + Math.Log(a);
    }

    /// <summary>A uniform on (0, 1) from two standard normals: the angle of (z₁, z₂) is uniform.</summary>
    private static double Uniform(Func<double> standardNormal)
    {
        double u;
        do u = (Math.Atan2(standardNormal(), standardNormal()) + Math.PI) / (2 * Math.PI);
        while (u <= 0 || u >= 1);
        return u;
    }

    /// <summary>
    /// A Gamma(<paramref name="shape"/>, rate 1) draw from standard normals (Marsaglia and Tsang 2000; for a shape
    /// below 1, Gamma(a + 1)·U^(1/a)), uniforms taken as the angle of two normals.
    /// </summary>
    public static double GammaDraw(double shape, Func<double> standardNormal)
    {
        if (shape < 1) return GammaDraw(shape + 1, standardNormal) * Math.Pow(Uniform(standardNormal), 1 / shape);
        double d = shape - 1.0 / 3, c = 1 / Math.Sqrt(9 * d);
        while (true)
        {
            double z = standardNormal(), v = 1 + c * z;
            if (v <= 0) continue;
            v = v * v * v;
            if (Math.Log(Uniform(standardNormal)) < 0.5 * z * z + d - d * v + d * Math.Log(v)) return d * v;
        }
    }
}

/// <summary>
/// A prior for the parameters whose dotted name matches <see cref="Pattern"/>, a glob where <c>*</c> matches any
/// run of characters (dots included) and <c>?</c> one character: <c>layer0.*=normal(0,0.5)</c>,
/// <c>0.weight=student_t(3,0,0.3)</c>, <c>*.bias=laplace(0,0.1)</c>.
/// </summary>
internal sealed record PriorOverride(string Pattern, ScalarPrior Prior)
{
    public bool Matches(string parameterName)
    {
        string regex = "^" + Regex.Escape(Pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(parameterName, regex);
    }

    /// <summary>Parses <c>PATTERN=PRIOR</c> (see <see cref="ScalarPrior.Parse"/>); a malformed string gives a one-line <see cref="ArgumentException"/>.</summary>
    public static PriorOverride Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new ArgumentException($"--prior '{text}': expected PATTERN=PRIOR (normal(MEAN,SCALE), student_t(NU,MEAN,SCALE) or laplace(MEAN,SCALE)), e.g. 'layer0.*=normal(0,0.5)'");
        string pattern = text[..eq].Trim();
        if (pattern.Length == 0)
            throw new ArgumentException($"--prior '{text}': the pattern before '=' is empty");
        ScalarPrior prior;
        try
        {
            prior = ScalarPrior.Parse(text[(eq + 1)..]);
        }
        catch (ArgumentException ex)
        {
            throw new ArgumentException($"--prior '{text}': {ex.Message}");
        }
        return new PriorOverride(pattern, prior);
    }
}

/// <summary>How the default prior's scale is set for each parameter (<c>--prior-scale</c>); c is <see cref="PriorOptions.Scale"/>.</summary>
internal enum PriorScaling
{
    /// <summary>N(0, c²) on every scalar (<c>--prior-scale C</c>).</summary>
    Fixed,

    /// <summary>
    /// N(0, c²/fan_in) on each weight tensor, N(0, c²) on biases (<c>--prior-scale fan-in[:C]</c>): the variance of a
    /// unit's input sum stays c² whatever the layer's width (Neal 1996, §2.2; the scaling behind LeCun/He initialisation).
    /// </summary>
    FanIn,

    /// <summary>
    /// Each weight tensor l gets its own scale s_l: w = s_l·z, z ~ N(0, 1), s_l ~ LogNormal(log(c/√fan_in), 1),
    /// sampled as u_l = log s_l (block <c>scale[NAME]</c>); biases N(0, c²) (<c>--prior-scale hierarchical[:C]</c>).
    /// </summary>
    Hierarchical,
}

/// <summary>
/// The hyperprior of one weight tensor's scale under <see cref="PriorScaling.Hierarchical"/>:
/// s ~ LogNormal(log <see cref="Median"/>, 1), sampled as u = log s, so u ~ N(log Median, 1) (the LogNormal density
/// times the Jacobian ds/du = s). Log-normal rather than half-normal: it is symmetric on the log scale (a tensor 3×
/// wider than fan-in is as plausible as 3× narrower; a HalfNormal on c/√fan_in gives P(s &gt; 3·median) &lt; 0.3%),
/// it is Gaussian in the sampled coordinate u, and it is the prior σ already has.
/// </summary>
internal sealed record ScaleHyperprior(double Median)
{
    /// <summary>log N(u; log Median, 1); <paramref name="dU"/> = ∂/∂u.</summary>
    public double LogDensityOfLog(double u, out double dU)
    {
        double d = u - Math.Log(Median);
        dU = -d;
        return -NormalPrior.HalfLogTwoPi - 0.5 * d * d;
    }
}

/// <summary>
/// The prior of one graph parameter: every scalar independently <see cref="Scalar"/>, or, when <see cref="Scale"/> is
/// set, w = s·z with z ~ N(0, 1) and s from the hyperprior (<see cref="PriorScaling.Hierarchical"/>; then
/// <see cref="Scalar"/> is N(0, 1), the prior of z).
/// </summary>
internal sealed record ParameterPrior(ScalarPrior Scalar, ScaleHyperprior? Scale = null)
{
    /// <summary><see cref="Scalar"/> when it is a normal (every default and <c>normal(…)</c> override), else null.</summary>
    public NormalPrior? Normal => Scalar as NormalPrior;

    /// <summary>The prior as text for the run record: <c>normal(0,0.5)</c>, <c>student_t(3,0,1)</c>, or <c>normal(0,s), s ~ lognormal(log(0.35355),1)</c>.</summary>
    public override string ToString() => Scale is { } h
        ? $"normal(0,s), s ~ lognormal(log({Format(h.Median)}),1)"
        : Scalar.ToString();

    private static string Format(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>
/// Priors over the network's parameters: the default set by <see cref="Scaling"/> and c = <see cref="Scale"/>
/// (N(0, c²) for every scalar unless scaled by fan-in or hierarchical), unless an override's pattern matches the
/// parameter's dotted name; when several match, the last one wins. An override always gives a fixed prior (normal,
/// Student-t or Laplace: <see cref="ScalarPrior"/>), never a hierarchical one.
/// </summary>
internal sealed record PriorOptions(double Scale, IReadOnlyList<PriorOverride> Overrides, PriorScaling Scaling = PriorScaling.Fixed)
{
    /// <summary>N(0, 1) for every parameter.</summary>
    public static PriorOptions Default { get; } = new(1.0, []);

    /// <summary>From the command line: a numeric <c>--prior-scale</c> and each <c>--prior</c> string.</summary>
    public static PriorOptions Parse(double scale, IEnumerable<string> overrides)
    {
        if (!double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"--prior-scale {scale.ToString("R", CultureInfo.InvariantCulture)}: must be finite and positive");
        return new PriorOptions(scale, overrides.Select(PriorOverride.Parse).ToArray());
    }

    /// <summary>From the command line: <c>--prior-scale</c> (<c>C</c>, <c>fan-in[:C]</c> or <c>hierarchical[:C]</c>) and each <c>--prior</c> string.</summary>
    public static PriorOptions Parse(string scale, IEnumerable<string> overrides)
    {
        var (scaling, c) = ParseScale(scale);
        return new PriorOptions(c, overrides.Select(PriorOverride.Parse).ToArray(), scaling);
    }

    /// <summary>
    /// Parses <c>--prior-scale</c>: a positive number C (N(0, C²) everywhere), <c>fan-in</c> or <c>fan-in:C</c>, or
    /// <c>hierarchical</c> or <c>hierarchical:C</c> (C = 1 when omitted). Anything else is a one-line <see cref="ArgumentException"/>.
    /// </summary>
    public static (PriorScaling Scaling, double Scale) ParseScale(string text)
    {
        string t = text.Trim().ToLowerInvariant();
        int colon = t.IndexOf(':');
        string kind = colon < 0 ? t : t[..colon];
        var scaling = kind switch
        {
            "fan-in" or "fanin" => PriorScaling.FanIn,
            "hierarchical" => PriorScaling.Hierarchical,
            _ => PriorScaling.Fixed,
        };
        string? number = scaling == PriorScaling.Fixed ? (colon < 0 ? t : null) : colon < 0 ? "1" : t[(colon + 1)..];
        if (number is null || !double.TryParse(number, NumberStyles.Float, CultureInfo.InvariantCulture, out double c))
            throw new ArgumentException($"--prior-scale '{text}': expected a positive number C, fan-in[:C] or hierarchical[:C]");
        if (!double.IsFinite(c) || c <= 0)
            throw new ArgumentException($"--prior-scale '{text}': C must be finite and positive");
        return (scaling, c);
    }

    /// <summary>
    /// fan_in of a parameter, from its role and layout: a weight matrix's input width ([out,in] → shape[1],
    /// [in,out] → shape[0]); another weight of rank ≥ 2 (a convolution kernel [out, in, k…]) the product of all
    /// dimensions but the first; biases, vectors and scalars 1 (they get N(0, c²), like biases).
    /// </summary>
    public static int FanIn(Parameter parameter)
    {
        var shape = parameter.Shape;
        if (parameter.Role != ParameterRole.Weight || shape.Length < 2) return 1;
        int fanIn = parameter.Layout switch
        {
            WeightLayout.OutIn => shape[1],
            WeightLayout.InOut => shape[0],
            _ => shape.Skip(1).Aggregate(1, (a, b) => a * b),
        };
        return Math.Max(fanIn, 1);
    }

    /// <summary>The fixed prior for the parameter named <paramref name="parameterName"/>: an override, else N(0, <see cref="Scale"/>²) (no fan-in scaling).</summary>
    public ScalarPrior For(string parameterName) => Override(parameterName) ?? new NormalPrior(0.0, Scale);

    /// <summary>The prior of <paramref name="parameter"/>: an override, else the default that <see cref="Scaling"/> gives.</summary>
    public ParameterPrior For(Parameter parameter)
    {
        if (Override(parameter.Name) is { } fixedPrior) return new ParameterPrior(fixedPrior);
        int fanIn = FanIn(parameter);
        bool weight = parameter.Role == ParameterRole.Weight;
        return Scaling switch
        {
            PriorScaling.FanIn => new ParameterPrior(new NormalPrior(0.0, Scale / Math.Sqrt(fanIn))),
            PriorScaling.Hierarchical when weight => new ParameterPrior(new NormalPrior(0.0, 1.0), new ScaleHyperprior(Scale / Math.Sqrt(fanIn))),
            _ => new ParameterPrior(new NormalPrior(0.0, Scale)),
        };
    }

    private ScalarPrior? Override(string parameterName)
    {
        for (int i = Overrides.Count - 1; i >= 0; i--)
            if (Overrides[i].Matches(parameterName)) return Overrides[i].Prior;
        return null;
    }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> when an override matches none of <paramref name="parameterNames"/> (a typo would otherwise pass silently).</summary>
    public void CheckAllOverridesMatch(IReadOnlyCollection<string> parameterNames)
    {
        foreach (var o in Overrides)
            if (!parameterNames.Any(o.Matches))
                throw new ArgumentException($"--prior '{o.Pattern}=...': the pattern matches no parameter (parameters: {string.Join(", ", parameterNames)})");
    }
}
