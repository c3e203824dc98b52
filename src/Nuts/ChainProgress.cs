namespace Bnn.Onnx.Nuts;

/// <summary>A progress report of one chain (sent at most every 100 ms per chain, plus at phase changes and the end).</summary>
internal readonly record struct ChainProgress(
    int Chain,
    int Iteration,
    int TotalIterations,
    SamplerPhase Phase,
    double StepSize,
    int TreeDepth,
    int Divergences,
    long GradientEvaluations);
