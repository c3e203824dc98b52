using System.Globalization;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>The observation model p(y | f(x; θ)).</summary>
internal enum LikelihoodKind
{
    /// <summary>y ~ N(f(x), σ²), per output; σ sampled (LogNormal(0,1) prior, stored as log σ) or fixed.</summary>
    Normal,

    /// <summary>y ∈ {0, 1} ~ Bernoulli(sigmoid(f(x))) on a single logit output (a graph ending in Sigmoid is read as a probability).</summary>
    Bernoulli,

    /// <summary>y ∈ {0, …, K−1} ~ Categorical(softmax(f(x))) on K logits (a graph ending in Softmax/LogSoftmax is used as is).</summary>
    Categorical,
}

/// <summary>What each likelihood reads from the network's output.</summary>
internal static class LikelihoodKinds
{
    /// <summary>How <paramref name="likelihood"/> reads the graph's first output, which decides its output head (<see cref="OutputHeads.Detect"/>).</summary>
    public static OutputReading Reading(this LikelihoodKind likelihood) => likelihood switch
    {
        LikelihoodKind.Bernoulli => OutputReading.Logit,
        LikelihoodKind.Categorical => OutputReading.ClassLogits,
        _ => OutputReading.Value,
    };
}

/// <summary>Floating-point type the backend computes the network in. Sums of log densities are always accumulated in double.</summary>
internal enum ComputePrecision { Float64, Float32 }

/// <summary>Everything that defines the posterior besides the graph and the data.</summary>
/// <param name="Priors">Priors over the network's parameters.</param>
/// <param name="Likelihood">The observation model.</param>
/// <param name="FixedSigma">For <see cref="LikelihoodKind.Normal"/>: a fixed noise scale σ; null samples σ (block <c>sigma</c>).</param>
internal sealed record PosteriorOptions(PriorOptions Priors, LikelihoodKind Likelihood = LikelihoodKind.Normal, double? FixedSigma = null)
{
    public static PosteriorOptions Default { get; } = new(PriorOptions.Default);

    /// <summary>Parses <c>normal</c>, <c>bernoulli</c> or <c>categorical</c>.</summary>
    public static LikelihoodKind ParseLikelihood(string text) => text.Trim().ToLowerInvariant() switch
    {
        "normal" or "gaussian" => LikelihoodKind.Normal,
        "bernoulli" => LikelihoodKind.Bernoulli,
        "categorical" => LikelihoodKind.Categorical,
        _ => throw new ArgumentException($"--likelihood '{text}': expected normal, bernoulli or categorical"),
    };

    /// <summary>True when σ is part of the position (normal likelihood without a fixed σ).</summary>
    public bool SamplesSigma => Likelihood == LikelihoodKind.Normal && FixedSigma is null;

    /// <summary>Throws a one-line <see cref="ArgumentException"/> for inconsistent settings.</summary>
    public void Validate()
    {
        if (FixedSigma is double s)
        {
            if (Likelihood != LikelihoodKind.Normal)
                throw new ArgumentException($"--sigma applies to the normal likelihood only, not {Likelihood.ToString().ToLowerInvariant()}");
            if (!double.IsFinite(s) || s <= 0)
                throw new ArgumentException($"--sigma {s.ToString("R", CultureInfo.InvariantCulture)}: must be finite and positive");
        }
    }
}

/// <summary>How a backend computes: precision, device (TorchSharp only: <c>cpu</c> or <c>cuda</c>), threads per instance.</summary>
internal sealed record BackendOptions(ComputePrecision Precision = ComputePrecision.Float64, string Device = "cpu", int Threads = 1)
{
    public static BackendOptions Default { get; } = new();

    /// <summary>Parses <c>float64</c>/<c>double</c> or <c>float32</c>/<c>float</c>.</summary>
    public static ComputePrecision ParsePrecision(string text) => text.Trim().ToLowerInvariant() switch
    {
        "float64" or "double" or "f64" => ComputePrecision.Float64,
        "float32" or "float" or "f32" => ComputePrecision.Float32,
        _ => throw new ArgumentException($"--precision '{text}': expected float64 or float32"),
    };
}
