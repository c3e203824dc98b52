using System.Globalization;
using System.Text.RegularExpressions;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>A normal prior N(μ, s²) on every scalar of one parameter: <see cref="Mean"/> μ, <see cref="Scale"/> s (standard deviation).</summary>
public sealed record NormalPrior(double Mean, double Scale)
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
public sealed record PriorOverride(string Pattern, NormalPrior Prior)
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

/// <summary>
/// Priors over the network's parameters: N(0, <see cref="Scale"/>²) for every scalar, unless an override's
/// pattern matches the parameter's dotted name; when several match, the last one wins.
/// </summary>
public sealed record PriorOptions(double Scale, IReadOnlyList<PriorOverride> Overrides)
{
    /// <summary>N(0, 1) for every parameter.</summary>
    public static PriorOptions Default { get; } = new(1.0, []);

    /// <summary>From the command line: <c>--prior-scale</c> and each <c>--prior</c> string.</summary>
    public static PriorOptions Parse(double scale, IEnumerable<string> overrides)
    {
        if (!double.IsFinite(scale) || scale <= 0)
            throw new ArgumentException($"--prior-scale {scale.ToString("R", CultureInfo.InvariantCulture)}: must be finite and positive");
        return new PriorOptions(scale, overrides.Select(PriorOverride.Parse).ToArray());
    }

    /// <summary>The prior for the parameter named <paramref name="parameterName"/>.</summary>
    public NormalPrior For(string parameterName)
    {
        for (int i = Overrides.Count - 1; i >= 0; i--)
            if (Overrides[i].Matches(parameterName)) return Overrides[i].Prior;
        return new NormalPrior(0.0, Scale);
    }

    /// <summary>Throws a one-line <see cref="ArgumentException"/> when an override matches none of <paramref name="parameterNames"/> (a typo would otherwise pass silently).</summary>
    public void CheckAllOverridesMatch(IReadOnlyCollection<string> parameterNames)
    {
        foreach (var o in Overrides)
            if (!parameterNames.Any(o.Matches))
                throw new ArgumentException($"--prior '{o.Pattern}=...': the pattern matches no parameter (parameters: {string.Join(", ", parameterNames)})");
    }
}
