namespace Bnn.Onnx.Nuts;

/// <summary>How a block is stored in the unconstrained position vector.</summary>
public enum BlockTransform
{
    /// <summary>Stored as is.</summary>
    Identity,

    /// <summary>Stored as log x (a positive scale such as σ); reported as exp of the stored value.</summary>
    Log,
}
