using System.Text.RegularExpressions;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Which weights are sampled: <c>--freeze PATTERN</c> and <c>--sample PATTERN</c> (each repeatable), globs on the
/// dotted parameter names where <c>*</c> matches any run of characters (dots included) and <c>?</c> one character.
/// A parameter is sampled when it matches some <see cref="Sample"/> pattern (or none is given) and no
/// <see cref="Freeze"/> pattern; every other weight keeps its trained value and gets no prior.
/// </summary>
/// <param name="Freeze">Weights to hold at their trained values.</param>
/// <param name="Sample">Weights to sample (the complement of <see cref="Freeze"/>; empty: every parameter).</param>
internal sealed record ParameterSelection(IReadOnlyList<string> Freeze, IReadOnlyList<string> Sample)
{
    /// <summary>No pattern: every parameter is sampled, as without the options.</summary>
    public static ParameterSelection Everything { get; } = new([], []);

    /// <summary>True when no pattern was given.</summary>
    public bool IsEverything => Freeze.Count == 0 && Sample.Count == 0;

    /// <summary>True when <paramref name="name"/> matches the glob <paramref name="pattern"/> as a whole.</summary>
    public static bool Matches(string pattern, string name)
    {
        string regex = "^" + Regex.Escape(pattern).Replace(@"\*", ".*").Replace(@"\?", ".") + "$";
        return Regex.IsMatch(name, regex, RegexOptions.CultureInvariant);
    }

    /// <summary>True when <paramref name="name"/> is sampled under these patterns.</summary>
    public bool IsSampled(string name) =>
        (Sample.Count == 0 || Sample.Any(p => Matches(p, name))) && !Freeze.Any(p => Matches(p, name));

    /// <summary>The patterns as the command line gives them (<c>--freeze 'conv*' --sample 'fc*'</c>).</summary>
    public override string ToString() =>
        string.Join(' ', Freeze.Select(p => $"--freeze '{p}'").Concat(Sample.Select(p => $"--sample '{p}'")));
}
