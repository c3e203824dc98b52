namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// The squashing node a graph's first output ends in, which a likelihood on logits removes: it reads the node's
/// input (numerically stable, and never squashing twice). The network's prediction (<c>bnn eval</c>, predictive
/// draws) still includes it, and an ensemble's members are probabilities either way. Decided by
/// <see cref="OutputHeads.Detect"/> for sampling and export alike.
/// </summary>
internal enum OutputHead
{
    /// <summary>No head: the output is the mean (normal) or the logits (bernoulli, categorical).</summary>
    None,

    /// <summary>The output is Sigmoid(z): bernoulli reads z as the logit.</summary>
    Sigmoid,

    /// <summary>The output is Softmax(z) over the class axis: categorical reads z as logits.</summary>
    Softmax,

    /// <summary>The output is LogSoftmax(z) over the class axis: categorical reads z as logits (log_softmax is shift-invariant).</summary>
    LogSoftmax,
}

/// <summary>What a likelihood reads from the graph's first output, which decides the heads it removes.</summary>
internal enum OutputReading
{
    /// <summary>The output as it is (a normal likelihood's mean): no head is removed.</summary>
    Value,

    /// <summary>One logit per row (bernoulli): a final Sigmoid is the head.</summary>
    Logit,

    /// <summary>K class logits per row (categorical): a final Softmax or LogSoftmax over the class axis is the head.</summary>
    ClassLogits,
}

/// <summary>The one rule for output heads, read by the posterior (sampling) and the ensemble builder (export).</summary>
internal static class OutputHeads
{
    /// <summary>
    /// The head of <paramref name="graph"/>'s first output for a likelihood that reads it as <paramref name="reading"/>,
    /// and the value that likelihood reads: the head node's input, or the output itself when there is no head.
    /// <list type="bullet">
    /// <item><see cref="OutputReading.Logit"/>: the output is produced by a Sigmoid node.</item>
    /// <item><see cref="OutputReading.ClassLogits"/>: the output is produced by a Softmax or LogSoftmax node that
    /// normalises over the class axis of a [batch, K] output (axis 1 or −1; the default axis is −1 from opset 13,
    /// 1 before).</item>
    /// </list>
    /// Anything else (another final op, a Softmax over another axis, an output of other rank) has no head.
    /// </summary>
    public static (OutputHead Head, string Value) Detect(OnnxGraph graph, OutputReading reading)
    {
        if (graph.Outputs.Count == 0) return (OutputHead.None, "");
        string output = graph.Outputs[0].Name;
        var last = graph.Nodes.LastOrDefault(n => n.Outputs.Contains(output));
        if (last is null || last.InputOrNull(0) is not string z) return (OutputHead.None, output);
        return (reading, last.OpType) switch
        {
            (OutputReading.Logit, "Sigmoid") => (OutputHead.Sigmoid, z),
            (OutputReading.ClassLogits, "Softmax") when OverClassAxis(graph, last) => (OutputHead.Softmax, z),
            (OutputReading.ClassLogits, "LogSoftmax") when OverClassAxis(graph, last) => (OutputHead.LogSoftmax, z),
            _ => (OutputHead.None, output),
        };
    }

    /// <summary>True when a Softmax/LogSoftmax node normalises over the class axis of a [batch, K] output.</summary>
    private static bool OverClassAxis(OnnxGraph graph, Node node)
    {
        if (graph.Outputs[0].Shape.Count != 2) return false;
        long axis = node.GetInt("axis", graph.Opset >= 13 ? -1 : 1);
        return axis is 1 or -1;
    }
}
