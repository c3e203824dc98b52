using System.Globalization;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A Bayesian head on a frozen backbone (models/head/, made by models/make_head_fixtures.py): ONNX Runtime's features, the head's log density
/// and gradient against the same layers imported as a standalone model, and the frozen-backbone ensemble against the
/// full model with each member's head (member files run by ONNX Runtime).
/// </summary>
public class FrozenPartTests
{
    /// <summary>Model, the --sample pattern, training table, likelihood.</summary>
    public static TheoryData<string, string, string, string> Heads => new()
    {
        { "digits_cnn_op13", "fc*", "digits_train.csv", nameof(LikelihoodKind.Categorical) },
        { "digits_transformer_op14", "head.*", "digits_train.csv", nameof(LikelihoodKind.Categorical) },
        { "diabetes_resnorm_op17", "head.*", "diabetes_train.csv", nameof(LikelihoodKind.Normal) },
    };

    private const int Rows = 48;

    private static string Path_(string name) => TestModels.ModelsFile(Path.Combine("head", name)) ?? throw new FileNotFoundException(name);

    /// <summary>The first <see cref="Rows"/> rows of a headed CSV: features row-major and the last column.</summary>
    private static (double[] X, double[] Y) Table(string file)
    {
        var lines = File.ReadLines(Path_(file)).Skip(1).Take(Rows)
            .Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();
        return (lines.SelectMany(r => r[..^1]).ToArray(), lines.Select(r => r[^1]).ToArray());
    }

    private static double[][] Csv(string file) => File.ReadLines(Path_(file)).Where(l => l.Length > 0)
        .Select(l => l.Split(',').Select(v => double.Parse(v, CultureInfo.InvariantCulture)).ToArray()).ToArray();

    private static (OnnxGraph Graph, HeadCut Cut, int[] SampleShape) Open(string model, string pattern)
    {
        var graph = OnnxImporter.Import(Path_(model + ".onnx"), new ImportOptions { AcceptAnyOp = true });
        var cut = HeadCut.Create(graph, new ParameterSelection([], [pattern]));
        int[] sampleShape = graph.Inputs[0].Shape.Skip(1).Select(d => (int)d.Value!.Value).ToArray();
        return (graph, cut, sampleShape);
    }

    private static (OnnxGraph Head, double[] Features, int Width) Features(string model, HeadCut cut, double[] x, int rows, int[] sampleShape)
    {
        using var session = new FrozenPartSession(ModelFiles.Read(Path_(model + ".onnx")), cut.Feature);
        var (features, shape, type) = session.Compute(x, rows, sampleShape);
        var head = cut.Head(new ValueInfo(cut.Feature, type, [Dimension.Symbolic("batch"), .. shape.Select(d => Dimension.Fixed(d))]));
        return (head, features, shape.Aggregate(1, (a, b) => a * b));
    }

    /// <summary>
    /// The sampled layers as a model file of their own, cut from the source file's protobuf (not from the importer's graph):
    /// input the feature tensor, the nodes that produce the output from it, and their initializers.
    /// </summary>
    private static OnnxGraph Standalone(string model, HeadCut cut, int width)
    {
        var source = ModelFiles.Read(Path_(model + ".onnx"));
        var names = cut.SampledNodes.Select(n => n.Name).ToHashSet();
        var g = new GraphProto { Name = "head" };
        g.Node.AddRange(source.Graph.Node.Where(n => names.Contains(n.Name)).Select(n => n.Clone()));
        var read = g.Node.SelectMany(n => n.Input).ToHashSet();
        g.Initializer.AddRange(source.Graph.Initializer.Where(t => read.Contains(t.Name)).Select(t => t.Clone()));
        var input = new ValueInfoProto { Name = cut.Feature, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = new TensorShapeProto() } } };
        input.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        input.Type.TensorType.Shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        g.Input.Add(input);
        g.Output.AddRange(source.Graph.Output.Select(o => o.Clone()));
        var standalone = new ModelProto { IrVersion = source.IrVersion, Graph = g, ProducerName = source.ProducerName };
        standalone.OpsetImport.AddRange(source.OpsetImport.Select(o => o.Clone()));
        return OnnxImporter.Import(standalone, null);
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void Head_log_density_and_gradient_equal_the_standalone_head_fed_onnx_runtime_features(string model, string pattern, string table,
        string likelihoodName)
    {
        var likelihood = Enum.Parse<LikelihoodKind>(likelihoodName);
        var (_, cut, sampleShape) = Open(model, pattern);
        var (x, y) = Table(table);
        var (head, features, width) = Features(model, cut, x, Rows, sampleShape);
        var standalone = Standalone(model, cut, width);
        Assert.Equal(["Gemm", "Tanh", "Gemm"], standalone.Nodes.Select(n => n.OpType));

        var data = new DataSet(features, width, y);
        var options = new PosteriorOptions(PriorOptions.Default, likelihood);
        var headModel = PosteriorModel.Create(head, options, data);
        var standaloneModel = PosteriorModel.Create(standalone, options, data);
        Assert.Equal(standaloneModel.Layout.Blocks.Select(b => (b.Name, b.Size)), headModel.Layout.Blocks.Select(b => (b.Name, b.Size)));

        var backend = new CompiledBackend();
        using var headPotential = backend.CreatePotential(headModel, BackendOptions.Default);
        using var standalonePotential = backend.CreatePotential(standaloneModel, BackendOptions.Default);
        var headDensity = headPotential.CreateLogDensity();
        var standaloneDensity = standalonePotential.CreateLogDensity();
        var atFile = headPotential.PositionAtFileWeights();
        foreach (var position in new[] { atFile, atFile.Select((v, i) => v + 0.3 * Math.Sin(1.7 * i)).ToArray() })
        {
            var g1 = new double[position.Length];
            var g2 = new double[position.Length];
            double lp1 = headDensity.LogDensityAndGradient(position, g1);
            double lp2 = standaloneDensity.LogDensityAndGradient(position, g2);
            Assert.True(double.IsFinite(lp1));
            Assert.Equal(lp2, lp1, 1e-9 * Math.Abs(lp2));
            for (int i = 0; i < g1.Length; i++) Assert.Equal(g2[i], g1[i], 1e-9 * (1 + Math.Abs(g2[i])));
        }
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void Head_at_the_trained_weights_on_onnx_runtime_features_reproduces_pytorch(string model, string pattern, string table,
        string likelihoodName)
    {
        var likelihood = Enum.Parse<LikelihoodKind>(likelihoodName);
        _ = table;
        _ = likelihood;
        var (_, cut, sampleShape) = Open(model, pattern);
        var inputs = Csv(model + ".input.csv");
        var expected = Csv(model + ".output.csv");
        var (head, features, _) = Features(model, cut, inputs.SelectMany(r => r).ToArray(), inputs.Length, sampleShape);

        var fileWeights = head.Parameters.SelectMany(p => p.Values).ToArray();
        using var function = new CompiledBackend().CompileGraph(head, BackendOptions.Default);
        var output = new double[expected.Length * expected[0].Length];
        function.Forward(fileWeights, features, inputs.Length, output);
        var flat = expected.SelectMany(r => r).ToArray();
        for (int i = 0; i < flat.Length; i++) Assert.Equal(flat[i], output[i], 2e-5 * (1 + Math.Abs(flat[i])));
    }

    [Theory]
    [MemberData(nameof(Heads))]
    public void Ensemble_members_equal_the_full_model_with_each_drawn_head(string model, string pattern, string table, string likelihoodName)
    {
        var likelihood = Enum.Parse<LikelihoodKind>(likelihoodName);
        _ = table;
        var (_, cut, sampleShape) = Open(model, pattern);
        var inputs = Csv(model + ".input.csv");
        int rows = inputs.Length;
        var x = inputs.SelectMany(r => r).ToArray();
        var (head, _, _) = Features(model, cut, x, rows, sampleShape);
        var source = ModelFiles.Read(Path_(model + ".onnx"));

        var layout = ParameterLayout.FromShapes(head.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName)));
        var trained = head.Parameters.SelectMany(p => p.Values).ToArray();
        var members = Enumerable.Range(0, 3).Select(s => trained.Select((v, i) => v + 0.2 * s * Math.Cos(i + s)).ToArray()).ToArray();
        var kind = likelihood == LikelihoodKind.Categorical ? EnsembleLikelihood.Categorical : EnsembleLikelihood.Normal;
        var ensemble = FrozenPart.BuildEnsemble(source, head, layout, members, new EnsembleOptions(kind, FixedSigma: 0.5));

        // The frozen part is there once: every initializer it reads, unstacked, exactly once.
        var backbone = FrozenPart.Backbone(source, cut.Feature);
        foreach (var t in backbone.Graph.Initializer)
            Assert.Equal(t.Dims, Assert.Single(ensemble.Graph.Initializer, e => e.Name == t.Name).Dims);
        foreach (var op in cut.FrozenNodes.Select(n => n.OpType).Where(op => op is "Conv" or "MaxPool" or "Shape" or "Slice").Distinct())
            Assert.Equal(source.Graph.Node.Count(n => n.OpType == op), ensemble.Graph.Node.Count(n => n.OpType == op));

        string dir = Directory.CreateTempSubdirectory("bnn-frozen-").FullName;
        try
        {
            string path = Path.Combine(dir, "ensemble.onnx");
            ModelFiles.WriteAtomically(path, ensemble);
            using var session = new EnsembleSession(path);
            var outputs = session.Run(x, rows, sampleShape);
            Assert.Equal(members.Length, outputs.MemberCount);

            for (int s = 0; s < members.Length; s++)
            {
                var member = MemberModelWriter.Create(source, layout, members[s]);
                var full = RunFull(member, x, rows, sampleShape);
                int k = full.Length / rows;
                for (int n = 0; n < rows; n++)
                {
                    var row = full.AsSpan(n * k, k).ToArray();
                    var expected = kind == EnsembleLikelihood.Categorical ? Softmax(row) : row;
                    for (int j = 0; j < k; j++)
                        Assert.Equal(expected[j], outputs.Member(s, n, j), 2e-5 * (1 + Math.Abs(expected[j])));
                }
            }
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_feature_table_over_the_memory_bound_is_refused_before_it_is_held()
    {
        var (_, cut, sampleShape) = Open("digits_cnn_op13", "fc*");
        var (x, _) = Table("digits_train.csv");
        using var session = new FrozenPartSession(ModelFiles.Read(Path_("digits_cnn_op13.onnx")), cut.Feature);

        var ex = Assert.Throws<NotSupportedException>(() => session.Compute(x, Rows, sampleShape, maxBytes: Rows * 32 * sizeof(double) - 1));
        Assert.Equal($"the features of '{cut.Feature}' for 48 rows take 12,288 bytes (32 values per row as float64), over the limit of 12,287 held in memory; " +
            "use fewer rows or cut later in the network", ex.Message);
        Assert.Equal(Rows * 32, session.Compute(x, Rows, sampleShape, maxBytes: Rows * 32 * sizeof(double)).Values.Length);
    }

    private static double[] RunFull(ModelProto model, double[] x, int rows, int[] sampleShape)
    {
        using var session = new InferenceSession(model.ToByteArray());
        long[] shape = [rows, .. sampleShape.Select(d => (long)d)];
        using var input = OrtValue.CreateTensorValueFromMemory(x.Select(v => (float)v).ToArray(), shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [session.InputNames[0]], [input], [session.OutputNames[0]]);
        Assert.Equal(TensorElementType.Float, outputs[0].GetTensorTypeAndShape().ElementDataType);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray();
    }

    private static double[] Softmax(double[] logits)
    {
        double max = logits.Max();
        var e = logits.Select(v => Math.Exp(v - max)).ToArray();
        double sum = e.Sum();
        return e.Select(v => v / sum).ToArray();
    }
}
