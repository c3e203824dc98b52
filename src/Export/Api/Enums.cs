namespace Bnn.Onnx;

/// <summary>The observation model that links the network's first output to the target column.</summary>
public enum ModelLikelihood
{
    /// <summary>y ~ Normal(f(x), σ²): the output is the mean; σ is sampled (LogNormal(0, 1) prior) unless <see cref="SampleOptions.Sigma"/> fixes it.</summary>
    Normal,

    /// <summary>y ∈ {0, 1} ~ Bernoulli(sigmoid(z)): the output is one logit (or a probability when the graph ends in Sigmoid).</summary>
    Bernoulli,

    /// <summary>y ∈ {0, …, K−1} ~ Categorical(softmax(z)): the output holds K logits (a final Softmax/LogSoftmax is not applied twice).</summary>
    Categorical,
}

/// <summary>The Euclidean metric (mass matrix) NUTS adapts during warmup.</summary>
public enum SamplerMetric
{
    /// <summary>A diagonal metric (Stan's <c>diag_e</c>; the default).</summary>
    Diagonal,

    /// <summary>A dense metric (Stan's <c>dense_e</c>).</summary>
    Dense,

    /// <summary>nutpie's low-rank plus diagonal metric, learnt from draws and gradients.</summary>
    LowRank,
}

/// <summary>How each chain's starting point is chosen.</summary>
public enum ChainInitialization
{
    /// <summary>A draw from the priors (NumPyro's <c>init_to_sample</c>; the default).</summary>
    Prior,

    /// <summary>Uniform(−2, 2) on the unconstrained scale (Stan's default).</summary>
    Uniform,

    /// <summary>The file's trained weights (σ from the residuals), each chain jittered slightly.</summary>
    Onnx,
}

/// <summary>The phase a chain is in.</summary>
public enum SamplingPhase
{
    /// <summary>Warmup: step size and metric adaptation; these iterations are not kept.</summary>
    Warmup,

    /// <summary>Sampling: every iteration is a kept draw.</summary>
    Sampling,

    /// <summary>The chain has finished (or stopped when cancelled).</summary>
    Done,
}

/// <summary>
/// The squashing node a graph's first output ends in, which a likelihood on logits reads through (so that it never
/// squashes twice).
/// </summary>
public enum ModelHead
{
    /// <summary>No head: the output is the mean (normal) or the logits (bernoulli, categorical).</summary>
    None,

    /// <summary>The output is Sigmoid(z): the bernoulli likelihood reads z as the logit.</summary>
    Sigmoid,

    /// <summary>The output is Softmax(z) over the class axis: the categorical likelihood reads z as logits.</summary>
    Softmax,

    /// <summary>The output is LogSoftmax(z) over the class axis: the categorical likelihood reads z as logits.</summary>
    LogSoftmax,
}
