using System.Globalization;
using System.Text.RegularExpressions;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>A normal prior N(μ, s²) on every scalar of one parameter: <see cref="Mean"/> μ, <see cref="Scale"/> s (standard deviation).</summary>
internal sealed record NormalPrior(double Mean, double Scale)
{
    /// <summary>½·log(2π), kept in every log density (see <see cref="LogLikelihoods"/>).</summary>
    public const double HalfLogTwoPi = 0.91893853320467274178;

    /// <summary>log N(x; μ, s²) = −½ log 2π − log s − ½ ((x − μ)/s)².</summary>
    public double LogDensity(double x)
    {
        double z = (x - Mean) / Scale;
        return -HalfLogTwoPi - Math.Log(Scale) - 0.5 * z * z;
    }

    /// <summary>Parses <c>normal(MEAN,SCALE)</c> (case-insensitive, spaces allowed).</summary>
    public static NormalPrior Parse(string text)
    {
        var m = Regex.Match(text.Trim(), @"^normal\s*\(\s*([^,()\s]+)\s*,\s*([^,()\s]+)\s*\)$", RegexOptions.IgnoreCase);
        if (!m.Success
            || !double.TryParse(m.Groups[1].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double mean)
            || !double.TryParse(m.Groups[2].Value, NumberStyles.Float, CultureInfo.InvariantCulture, out double scale))
            throw new ArgumentException($"prior '{text}': expected normal(MEAN,SCALE), e.g. normal(0,0.5)");
        if (!double.IsFinite(mean) || !double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"prior '{text}': the mean must be finite and the scale finite and positive");
        return new NormalPrior(mean, scale);
    }
}

/// <summary>
/// A prior for the parameters whose dotted name matches <see cref="Pattern"/>, a glob where <c>*</c> matches any
/// run of characters (dots included) and <c>?</c> one character: <c>layer0.*=normal(0,0.5)</c>.
/// </summary>
internal sealed record PriorOverride(string Pattern, NormalPrior Prior)
{
    public bool Matches(string parameterName)
    {
        string regex = "^" + Regex.Escape(Pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(parameterName, regex);
    }

    /// <summary>Parses <c>PATTERN=normal(MEAN,SCALE)</c>; a malformed string gives a one-line <see cref="ArgumentException"/>.</summary>
    public static PriorOverride Parse(string text)
    {
        int eq = text.IndexOf('=');
        if (eq <= 0 || eq == text.Length - 1)
            throw new ArgumentException($"--prior '{text}': expected PATTERN=normal(MEAN,SCALE), e.g. 'layer0.*=normal(0,0.5)'");
        string pattern = text[..eq].Trim();
        if (pattern.Length == 0)
            throw new ArgumentException($"--prior '{text}': the pattern before '=' is empty");
        NormalPrior prior;
        try
        {
            prior = NormalPrior.Parse(text[(eq + 1)..]);
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
/// The prior of one graph parameter: every scalar N(<see cref="Normal"/>), or, when <see cref="Scale"/> is set,
/// w = s·z with z ~ N(0, 1) and s from the hyperprior (<see cref="PriorScaling.Hierarchical"/>; then <see cref="Normal"/> is N(0, 1), the prior of z).
/// </summary>
internal sealed record ParameterPrior(NormalPrior Normal, ScaleHyperprior? Scale = null)
{
    /// <summary>The prior as text for the run record: <c>normal(0,0.5)</c>, or <c>normal(0,s), s ~ lognormal(log(0.35355),1)</c>.</summary>
    public override string ToString() => Scale is { } h
        ? $"normal(0,s), s ~ lognormal(log({Format(h.Median)}),1)"
        : $"normal({Format(Normal.Mean)},{Format(Normal.Scale)})";

    private static string Format(double x) => x.ToString("G6", CultureInfo.InvariantCulture);
}

/// <summary>
/// Priors over the network's parameters: the default set by <see cref="Scaling"/> and c = <see cref="Scale"/>
/// (N(0, c²) for every scalar unless scaled by fan-in or hierarchical), unless an override's pattern matches the
/// parameter's dotted name; when several match, the last one wins. An override always gives a fixed normal.
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
    public NormalPrior For(string parameterName) => Override(parameterName) ?? new NormalPrior(0.0, Scale);

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

    private NormalPrior? Override(string parameterName)
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
