using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>
/// One rule decides a graph's output head for sampling and export alike: the posterior's likelihood reads the value
/// before the head, and the ensemble's members are the probabilities that value gives, so both describe one model.
/// </summary>
public sealed class OutputHeadTests : IDisposable
{
    private const int Rows = 5;
    private const int Members = 3;
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-output-head-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    /// <summary><see cref="TestModels.Classifier"/> (logits [N, 3]) followed by <paramref name="op"/>, whose output is the graph's.</summary>
    private static ModelProto ClassifierEndingIn(string op, long? axis)
    {
        var model = TestModels.Classifier();
        var g = model.Graph;
        var head = new NodeProto { OpType = op, Name = "head" };
        head.Input.Add("logits");
        head.Output.Add("probs");
        if (axis is long a) head.Attribute.Add(new AttributeProto { Name = "axis", Type = AttributeProto.Types.AttributeType.Int, I = a });
        g.Node.Add(head);
        var output = g.Output[0].Clone();
        output.Name = "probs";
        g.Output.Clear();
        g.Output.Add(output);
        return model;
    }

    public static TheoryData<string, long?, string> Heads() => new()
    {
        { "Softmax", 1, nameof(OutputHead.Softmax) },
        { "Softmax", -1, nameof(OutputHead.Softmax) },
        { "Softmax", null, nameof(OutputHead.Softmax) },
        { "LogSoftmax", -1, nameof(OutputHead.LogSoftmax) },
        { "Sigmoid", null, nameof(OutputHead.None) },
        { "Relu", null, nameof(OutputHead.None) },
    };

    [Theory]
    [MemberData(nameof(Heads))]
    public void Given_a_classifier_ending_in_an_op_Then_sampling_and_export_read_the_same_head(string op, long? axis, string expectedName)
    {
        var expected = Enum.Parse<OutputHead>(expectedName);
        var model = ClassifierEndingIn(op, axis);
        var graph = TestModels.Import(model);

        // Sampling: the posterior's likelihood reads the head's input, or the output when there is no head.
        var labels = Enumerable.Range(0, Rows).Select(r => (double)(r % 3)).ToArray();
        var posterior = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Categorical),
            new DataSet(TestModels.Inputs(Rows, 4, seed: 3), 4, labels));
        Assert.Equal(expected, posterior.Head);
        Assert.Equal(expected == OutputHead.None ? "probs" : "logits", posterior.LikelihoodValue);
        Assert.Equal((expected, posterior.LikelihoodValue), OutputHeads.Detect(graph, OutputReading.ClassLogits));

        // Export: each member is softmax over the classes of what the likelihood reads.
        var layout = TestModels.Layout(graph, withSigma: false);
        var draws = TestModels.Draws(graph, layout, Members, seed: 5);
        string path = Path.Combine(_dir, $"{op}{axis}.onnx");
        ModelFiles.WriteAtomically(path, EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Categorical)));
        var inputs = TestModels.Inputs(Rows, 4, seed: 9);
        using var session = new EnsembleSession(path);
        var outputs = session.Run(inputs, Rows);

        var logitsGraph = TestModels.Import(TestModels.Classifier());
        for (int s = 0; s < Members; s++)
        {
            var logits = ReferenceForward.Run(logitsGraph, layout, draws[s], inputs, Rows);
            var read = expected == OutputHead.None ? Apply(op, logits) : logits;
            var probabilities = ReferenceForward.Softmax(read);
            for (int n = 0; n < Rows; n++)
                for (int k = 0; k < 3; k++)
                    Assert.True(Math.Abs(probabilities[n, k] - outputs.Member(s, n, k)) <= 1e-5,
                        $"member {s} [{n},{k}]: expected {probabilities[n, k]}, got {outputs.Member(s, n, k)}");
        }
    }

    [Theory]
    [InlineData("Softmax")]
    [InlineData("LogSoftmax")]
    public void Given_a_normalisation_over_the_batch_axis_Then_it_is_no_head(string op)
    {
        var graph = TestModels.Import(ClassifierEndingIn(op, axis: 0));
        var labels = Enumerable.Range(0, Rows).Select(r => (double)(r % 3)).ToArray();

        var posterior = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, LikelihoodKind.Categorical),
            new DataSet(TestModels.Inputs(Rows, 4, seed: 3), 4, labels));

        Assert.Equal(OutputHead.None, posterior.Head);
        Assert.Equal("probs", posterior.LikelihoodValue);
        Assert.Equal((OutputHead.None, "probs"), OutputHeads.Detect(graph, OutputReading.ClassLogits));
    }

    [Fact]
    public void Given_a_graph_ending_in_sigmoid_Then_it_is_a_head_for_one_logit_only()
    {
        var graph = TestModels.Import(TestModels.Logistic());

        Assert.Equal((OutputHead.Sigmoid, "z"), OutputHeads.Detect(graph, OutputReading.Logit));
        Assert.Equal((OutputHead.None, "p"), OutputHeads.Detect(graph, OutputReading.Value));
        Assert.Equal((OutputHead.None, "p"), OutputHeads.Detect(graph, OutputReading.ClassLogits));
    }

    /// <summary>The final op in double: Sigmoid or Relu.</summary>
    private static double[,] Apply(string op, double[,] z)
    {
        Assert.True(op is "Sigmoid" or "Relu", op);
        int rows = z.GetLength(0), cols = z.GetLength(1);
        var y = new double[rows, cols];
        for (int n = 0; n < rows; n++)
            for (int k = 0; k < cols; k++) y[n, k] = op == "Sigmoid" ? 1 / (1 + Math.Exp(-z[n, k])) : Math.Max(z[n, k], 0);
        return y;
    }
}
