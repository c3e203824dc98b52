namespace Bnn.Onnx.Nuts;

/// <summary>How a block is stored in the unconstrained position vector.</summary>
internal enum BlockTransform
{
    /// <summary>Stored as is.</summary>
    Identity,

    /// <summary>Stored as log x (a positive scale such as σ); reported as exp of the stored value.</summary>
    Log,

    /// <summary>
    /// Non-centred: stored as z, reported as w = s·z, where s is the value of the scalar <see cref="Log"/> block named
    /// <see cref="ParameterLayout.ScaleBlockName"/>(this block's name). With z ~ N(0, 1) this is w ~ N(0, s²) without
    /// the funnel between w and s that a centred parameterisation gives NUTS (Papaspiliopoulos, Roberts and Sköld
    /// 2007; Stan User's Guide, "Reparameterization").
    /// </summary>
    NonCentered,
}
