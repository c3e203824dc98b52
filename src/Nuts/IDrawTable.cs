namespace Bnn.Onnx.Nuts;

/// <summary>
/// Column access to draws: each variable as a chains × draws matrix, so a summary can be computed from memory or
/// from a file one column at a time.
/// </summary>
internal interface IDrawTable
{
    /// <summary>Variable names in column order (parameters, then <c>lp__</c> and the sampler columns, then generated quantities).</summary>
    IReadOnlyList<string> Variables { get; }

    int Chains { get; }

    /// <summary>Draws per chain (equal for all chains).</summary>
    int DrawsPerChain { get; }

    /// <summary>The draws of <paramref name="variable"/> as <c>[chain][draw]</c>.</summary>
    double[][] Column(string variable);
}
