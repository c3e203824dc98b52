namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// Observed data: <see cref="Rows"/> samples, each with <see cref="FeatureWidth"/> features (filling the model
/// input's non-batch dimensions in row-major order) and <see cref="TargetWidth"/> targets.
/// <see cref="Features"/> is Rows × FeatureWidth and <see cref="Targets"/> Rows × TargetWidth, both row-major.
/// For bernoulli targets are 0/1; for categorical, integer class labels 0…K−1 (TargetWidth 1).
/// </summary>
internal sealed record DataSet
{
    public DataSet(double[] features, int featureWidth, double[] targets, int targetWidth = 1)
    {
        if (featureWidth <= 0) throw new ArgumentException($"data: feature width must be positive, got {featureWidth}");
        if (targetWidth <= 0) throw new ArgumentException($"data: target width must be positive, got {targetWidth}");
        if (features.Length % featureWidth != 0)
            throw new ArgumentException($"data: {features.Length} feature values do not fill rows of {featureWidth}");
        if (targets.Length % targetWidth != 0)
            throw new ArgumentException($"data: {targets.Length} target values do not fill rows of {targetWidth}");
        int rows = features.Length / featureWidth;
        if (targets.Length / targetWidth != rows)
            throw new ArgumentException($"data: {rows} feature rows but {targets.Length / targetWidth} target rows");
        if (rows == 0) throw new ArgumentException("data: no rows");
        for (int i = 0; i < features.Length; i++)
            if (!double.IsFinite(features[i]))
                throw new InvalidDataException($"data: feature value at row {i / featureWidth + 1}, column {i % featureWidth + 1} is not finite");
        for (int i = 0; i < targets.Length; i++)
            if (!double.IsFinite(targets[i]))
                throw new InvalidDataException($"data: target value at row {i / targetWidth + 1} is not finite");
        Features = features;
        FeatureWidth = featureWidth;
        Targets = targets;
        TargetWidth = targetWidth;
        Rows = rows;
    }

    public double[] Features { get; }
    public int FeatureWidth { get; }
    public double[] Targets { get; }
    public int TargetWidth { get; }

    /// <summary>N, the number of samples.</summary>
    public int Rows { get; }

    /// <summary>Throws a one-line <see cref="InvalidDataException"/> unless every target is 0 or 1.</summary>
    public void ValidateBinary()
    {
        for (int i = 0; i < Targets.Length; i++)
            if (Targets[i] != 0 && Targets[i] != 1)
                throw new InvalidDataException($"data: bernoulli target at row {i / TargetWidth + 1} is {Targets[i]}, expected 0 or 1");
    }

    /// <summary>Throws a one-line <see cref="InvalidDataException"/> unless every target is an integer label in [0, <paramref name="classes"/>).</summary>
    public void ValidateLabels(int classes)
    {
        for (int i = 0; i < Targets.Length; i++)
        {
            double t = Targets[i];
            if (t != Math.Floor(t) || t < 0 || t >= classes)
                throw new InvalidDataException($"data: class label at row {i / TargetWidth + 1} is {t}, expected an integer in 0..{classes - 1}");
        }
    }
}
