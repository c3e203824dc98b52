using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.GraphToPotential;

/// <summary>
/// The network's final affine layer f = h W + b integrated out exactly (<c>bnn sample --integrate-output</c>,
/// <see cref="CollapsedOutputLayer"/>): the graph is cut at the layer's input h (the N × H final hidden activations),
/// NUTS samples the hidden parameters and σ on the collapsed likelihood y ~ N(Φ m, σ² I + Φ S Φᵀ) with Φ = [h, 1],
/// and at every saved draw W and b are drawn from their exact Gaussian conditional (<see cref="Expand"/> puts them
/// back into the full network's position, so draws files hold every weight).
/// <para>
/// The layer must be the node producing the graph's only output, one value per row: <c>Gemm(h, W, b)</c>
/// (alpha = beta = 1, transA = 0, either transB) or <c>Add(MatMul(h, W), b)</c>, with W and b parameters used
/// nowhere else and fixed normal priors (not hierarchical).
/// </para>
/// </summary>
internal sealed class IntegratedOutput
{
    private readonly int[] _fullOffsetOfReduced; // per reduced block: the full layout's offset of the same block
    private readonly int[] _reducedOffsetOfReduced;
    private readonly int[] _reducedSizes;

    private IntegratedOutput(PosteriorModel full, OnnxGraph hidden, string hiddenValue, Parameter weight, Parameter bias,
        double[] priorMean, double[] priorVariance)
    {
        Full = full;
        HiddenGraph = hidden;
        HiddenValue = hiddenValue;
        Weight = weight;
        Bias = bias;
        PriorMean = priorMean;
        PriorVariance = priorVariance;
        _fullOffsetOfReduced = [];
        _reducedOffsetOfReduced = [];
        _reducedSizes = [];
    }

    private IntegratedOutput(IntegratedOutput cut, ParameterLayout reduced) : this(cut.Full, cut.HiddenGraph, cut.HiddenValue,
        cut.Weight, cut.Bias, cut.PriorMean, cut.PriorVariance)
    {
        var blocks = reduced.Blocks;
        _fullOffsetOfReduced = blocks.Select(b => cut.Full.Layout.Find(b.Name)?.Offset
            ?? throw new InvalidOperationException($"block '{b.Name}' is not in the full layout")).ToArray();
        _reducedOffsetOfReduced = blocks.Select(b => b.Offset).ToArray();
        _reducedSizes = blocks.Select(b => b.Size).ToArray();
        WeightOffset = cut.Full.Layout.Find(cut.Weight.Name)!.Offset;
        BiasOffset = cut.Full.Layout.Find(cut.Bias.Name)!.Offset;
    }

    /// <summary>The posterior over every parameter (the one <c>draws.parquet</c>, the summary and the run record describe).</summary>
    public PosteriorModel Full { get; }

    /// <summary>The graph cut at the output layer's input: its only output is <see cref="HiddenValue"/>, and it holds every parameter but W and b.</summary>
    public OnnxGraph HiddenGraph { get; }

    /// <summary>h, the value the output layer reads ([batch, H]).</summary>
    public string HiddenValue { get; }

    /// <summary>W (H values in row order whatever its layout: [H, 1] or, transposed, [1, H]) and b (one value).</summary>
    public Parameter Weight { get; }

    public Parameter Bias { get; }

    /// <summary>H, the hidden units feeding the output layer.</summary>
    public int HiddenWidth => Weight.Size;

    /// <summary>m: W's prior means, then b's (H + 1 values).</summary>
    public double[] PriorMean { get; }

    /// <summary>diag(S): W's prior variances, then b's.</summary>
    public double[] PriorVariance { get; }

    /// <summary>Offsets of W and b in <see cref="Full"/>'s position.</summary>
    public int WeightOffset { get; }

    public int BiasOffset { get; }

    /// <summary>A new collapsed layer on <paramref name="targets"/> (one per chain: it has scratch buffers).</summary>
    public CollapsedOutputLayer CreateLayer(double[] targets) => new(targets, PriorMean, PriorVariance);

    /// <summary>
    /// The full network's position from the sampled one (<paramref name="reduced"/>, the hidden parameters and σ) and
    /// the output layer's <paramref name="weights"/> (H, then the bias).
    /// </summary>
    public void Expand(ReadOnlySpan<double> reduced, ReadOnlySpan<double> weights, Span<double> full)
    {
        for (int i = 0; i < _reducedSizes.Length; i++)
            reduced.Slice(_reducedOffsetOfReduced[i], _reducedSizes[i]).CopyTo(full.Slice(_fullOffsetOfReduced[i], _reducedSizes[i]));
        weights[..HiddenWidth].CopyTo(full.Slice(WeightOffset, HiddenWidth));
        full[BiasOffset] = weights[HiddenWidth];
    }

    /// <summary>The file's output layer applied to <paramref name="hidden"/> (rows × H): h·W + b per row, for a starting σ.</summary>
    public double[] ApplyFileWeights(ReadOnlySpan<double> hidden)
    {
        int h = HiddenWidth, rows = hidden.Length / h;
        var f = new double[rows];
        for (int r = 0; r < rows; r++)
        {
            double s = Bias.Values[0];
            for (int j = 0; j < h; j++) s += hidden[r * h + j] * Weight.Values[j];
            f[r] = s;
        }
        return f;
    }

    /// <summary>This cut with its map from <paramref name="reduced"/>, the sampled layout, into <see cref="Full"/>'s.</summary>
    internal IntegratedOutput WithLayout(ParameterLayout reduced) => new(this, reduced);

    /// <summary>
    /// Finds the output layer of <paramref name="full"/> and cuts the graph at its input. Throws a one-line
    /// <see cref="NotSupportedException"/> starting <c>--integrate-output:</c> that names why when the model does not qualify.
    /// </summary>
    internal static IntegratedOutput Cut(PosteriorModel full)
    {
        const string Why = "--integrate-output:";
        var graph = full.Graph;
        if (full.Options.Likelihood != LikelihoodKind.Normal)
            throw new NotSupportedException($"{Why} the output layer can be integrated under the normal likelihood only, not {full.Options.Likelihood.ToString().ToLowerInvariant()}");
        if (full.OutputWidth != 1 || graph.Outputs.Count != 1)
            throw new NotSupportedException($"{Why} the model must have one output with one value per row; '{full.OutputName}' has {full.OutputWidth}");
        string output = full.OutputName;
        int lastIndex = graph.Nodes.Count - 1;
        while (lastIndex >= 0 && !graph.Nodes[lastIndex].Outputs.Contains(output)) lastIndex--;
        if (lastIndex < 0)
            throw new NotSupportedException($"{Why} no node produces the output '{output}'");
        var last = graph.Nodes[lastIndex];
        var removed = new List<Node> { last };
        string? hidden, weightName, biasName;
        bool transposed = false;
        switch (last.OpType)
        {
            case "Gemm":
                if (last.GetFloat("alpha", 1.0) != 1.0 || last.GetFloat("beta", 1.0) != 1.0 || last.GetInt("transA", 0) != 0)
                    throw new NotSupportedException($"{Why} the output layer '{last.Name}' is a Gemm with alpha, beta or transA set; only h·W + b is supported");
                hidden = last.InputOrNull(0);
                weightName = last.InputOrNull(1);
                biasName = last.InputOrNull(2);
                transposed = last.GetInt("transB", 0) != 0;
                break;
            case "Add":
                var matMul = last.Inputs.Select(i => graph.Nodes.Take(lastIndex).LastOrDefault(n => n.Outputs.Contains(i)))
                    .FirstOrDefault(n => n is { OpType: "MatMul" });
                if (matMul is null)
                    throw new NotSupportedException($"{Why} the output layer '{last.Name}' is an Add that does not add a bias to a MatMul");
                biasName = last.Inputs.FirstOrDefault(i => !matMul.Outputs.Contains(i));
                hidden = matMul.InputOrNull(0);
                weightName = matMul.InputOrNull(1);
                if (graph.Nodes.Any(n => n != last && n.Inputs.Contains(matMul.Outputs[0])))
                    throw new NotSupportedException($"{Why} the MatMul '{matMul.Name}' of the output layer feeds other nodes too");
                removed.Add(matMul);
                break;
            default:
                throw new NotSupportedException($"{Why} the output is made by a {last.OpType} node ('{last.Name}'); the last layer must be affine (Gemm, or MatMul then Add)");
        }
        var weight = weightName is null ? null : graph.Parameters.FirstOrDefault(p => p.OnnxName == weightName);
        var bias = biasName is null ? null : graph.Parameters.FirstOrDefault(p => p.OnnxName == biasName);
        if (hidden is null || weight is null)
            throw new NotSupportedException($"{Why} the output layer '{last.Name}' must multiply its input by a sampled weight matrix");
        if (bias is null)
            throw new NotSupportedException($"{Why} the output layer '{last.Name}' must add a sampled bias");
        if (bias.Size != 1 || weight.Shape.Length != 2 || weight.Shape[transposed ? 0 : 1] != 1)
            throw new NotSupportedException($"{Why} the output layer '{last.Name}' must map H hidden units to one value (weight [{string.Join(",", weight.Shape)}], bias of {bias.Size})");
        foreach (var p in new[] { weight, bias })
            if (graph.Nodes.Any(n => !removed.Contains(n) && n.Inputs.Contains(p.OnnxName)))
                throw new NotSupportedException($"{Why} the output layer's parameter '{p.Name}' is used elsewhere in the graph");
        if (weight == bias)
            throw new NotSupportedException($"{Why} the output layer's weight and bias are the same tensor");

        int wi = IndexOf(graph, weight), bi = IndexOf(graph, bias);
        var priorMean = new double[weight.Size + 1];
        var priorVariance = new double[weight.Size + 1];
        foreach (var (index, p, at) in new[] { (wi, weight, 0), (bi, bias, weight.Size) })
        {
            var prior = full.Priors[index];
            if (prior.Scale is not null)
                throw new NotSupportedException($"{Why} '{p.Name}' has a hierarchical prior; the output layer needs fixed normal priors (--prior-scaling fixed or fan-in)");
            if (prior.Normal is not { } normal)
                throw new NotSupportedException($"{Why} '{p.Name}' has the prior {prior}; the output layer needs fixed normal priors");
            priorMean.AsSpan(at, p.Size).Fill(normal.Mean);
            priorVariance.AsSpan(at, p.Size).Fill(normal.Scale * normal.Scale);
        }

        var cut = new OnnxGraph
        {
            Producer = graph.Producer,
            ProducerVersion = graph.ProducerVersion,
            IrVersion = graph.IrVersion,
            Opsets = graph.Opsets,
            Inputs = graph.Inputs,
            Outputs = [new ValueInfo(hidden, ElementType.Double, [])],
            Nodes = graph.Nodes.Where(n => !removed.Contains(n)).ToArray(),
            Parameters = graph.Parameters.Where(p => p != weight && p != bias).ToArray(),
            Constants = graph.Constants,
            Sha256 = graph.Sha256,
            ExportedBatchSize = graph.ExportedBatchSize,
            SourcePath = graph.SourcePath,
        };
        int width;
        try
        {
            width = GraphShapes.OutputWidth(cut, 0);
        }
        catch (NotSupportedException ex)
        {
            throw new NotSupportedException($"{Why} the output layer's input '{hidden}': {ex.Message}", ex);
        }
        if (width != weight.Size)
            throw new NotSupportedException($"{Why} the output layer's input '{hidden}' has {width} values per row, but its weight '{weight.Name}' takes {weight.Size}");
        return new IntegratedOutput(full, cut, hidden, weight, bias, priorMean, priorVariance);
    }

    private static int IndexOf(OnnxGraph graph, Parameter p)
    {
        for (int i = 0; i < graph.Parameters.Count; i++)
            if (graph.Parameters[i] == p) return i;
        return -1;
    }
}
