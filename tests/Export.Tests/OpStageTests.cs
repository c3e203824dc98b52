using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Each stage does what <see cref="OpCapabilities"/> says: the compiled backend compiles exactly the networks whose
/// ops its column holds, and for every op of the ensemble column the ensemble builds, ONNX Runtime runs it, and every
/// member equals its member file (ONNX Runtime on the source graph) and the compiled backend's forward on the same draw.
/// </summary>
public sealed class OpStageTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-opstage-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    public static TheoryData<string, string> RecipesByType()
    {
        var data = new TheoryData<string, string>();
        foreach (var r in OpRecipes.All)
            foreach (var type in new[] { ElementType.Float, ElementType.Double }) data.Add(r.Name, type.ToString());
        return data;
    }

    public static TheoryData<string, string> WeightPathsByType()
    {
        var data = new TheoryData<string, string>();
        foreach (var r in OpRecipes.WeightPaths)
            foreach (var type in new[] { ElementType.Float, ElementType.Double }) data.Add(r.Name, type.ToString());
        return data;
    }

    private string Save(ModelProto model, string name)
    {
        string path = Path.Combine(_dir, name);
        ModelFiles.WriteAtomically(path, model);
        return path;
    }

    [Fact]
    public void Given_the_recipes_Then_every_op_of_the_ensemble_column_is_exercised()
    {
        var used = OpRecipes.All.SelectMany(r => r.Model.Graph.Node.Select(n => n.OpType)).ToHashSet();
        var missing = OpCapabilities.OpsFor(OpStage.Ensemble).Where(op => !used.Contains(op)).ToArray();
        Assert.True(missing.Length == 0, "ensemble ops without a recipe: " + string.Join(", ", missing));
        Assert.True(OpCapabilities.OpsFor(OpStage.Import).All(used.Contains));
    }

    /// <summary>A network compiles on the compiled backend exactly when the table's compiled column holds each of its ops.</summary>
    [Fact]
    public void Given_every_recipe_Then_the_compiled_backend_compiles_exactly_those_whose_ops_its_column_holds()
    {
        var compiled = new CompiledBackend();
        var verified = new HashSet<string>();
        foreach (var recipe in OpRecipes.All)
        {
            var graph = OnnxImporter.Import(Save(recipe.Model, "compiled.onnx"));
            bool claimed = graph.Nodes.All(n => OpCapabilities.Supports(n.OpType, OpStage.CompiledBackend));
            string? reason = compiled.Unsupported(graph);
            if (!claimed)
            {
                Assert.True(reason is not null, $"{recipe.Name}: the compiled backend accepts an op its column lacks");
                continue;
            }
            Assert.True(reason is null, $"{recipe.Name}: {reason}");
            using var forward = compiled.CompileGraph(graph, BackendOptions.Default);
            var y = new double[3];
            forward.Forward(graph.Parameters.SelectMany(p => p.Values).ToArray(), TestModels.Inputs(3, 3, seed: 1), 3, y);
            Assert.All(y, v => Assert.True(double.IsFinite(v), $"{recipe.Name}: {v}"));
            foreach (var n in recipe.Model.Graph.Node) verified.Add(n.OpType);
        }
        var untested = OpCapabilities.OpsFor(OpStage.CompiledBackend).Where(op => !verified.Contains(op)).ToArray();
        Assert.True(untested.Length == 0, "compiled ops without a compiling recipe: " + string.Join(", ", untested));
    }

    [Theory]
    [MemberData(nameof(RecipesByType))]
    public void Given_a_recipe_Then_every_ensemble_member_equals_its_member_file_and_the_compiled_forward(string name, string typeName)
    {
        var type = Enum.Parse<ElementType>(typeName);
        var recipe = OpRecipes.All.Single(r => r.Name == name);
        var graph = OnnxImporter.Import(Save(recipe.Model, "source.onnx"));
        Assert.Null(EnsembleBuilder.Unsupported(graph));
        CheckEnsemble(recipe.Model, graph, type, name);
    }

    /// <summary>
    /// Sampled weights that pass through Transpose, Reshape, Cast, Identity, Unsqueeze, Squeeze, Flatten or Mul by a
    /// constant before their layer: the ensemble applies those nodes to each member's own weights.
    /// </summary>
    [Theory]
    [MemberData(nameof(WeightPathsByType))]
    public void Given_weights_reaching_their_layer_through_other_nodes_Then_the_ensemble_equals_member_files_and_compiled_forward(string name, string typeName)
    {
        var type = Enum.Parse<ElementType>(typeName);
        var recipe = OpRecipes.WeightPaths.Single(r => r.Name == name);
        var graph = OnnxImporter.Import(Save(recipe.Model, "source.onnx"));
        Assert.All(recipe.Weights, w => Assert.Contains(graph.Parameters, p => p.OnnxName == w));
        CheckEnsemble(recipe.Model, graph, type, name);
    }

    [Fact]
    public void Given_an_op_outside_the_ensemble_column_Then_the_builder_names_the_op_and_node()
    {
        var recipe = OpRecipes.All.Single(r => r.Name == "Tanh");
        var imported = OnnxImporter.Import(Save(recipe.Model, "mish.onnx"));
        var nodes = imported.Nodes.Select(n => n.OpType == "Tanh" ? n with { OpType = "Mish", Name = "act_1" } : n).ToArray();
        var graph = new OnnxGraph
        {
            Producer = "", ProducerVersion = "", IrVersion = 8, Opsets = imported.Opsets, Inputs = imported.Inputs, Outputs = imported.Outputs,
            Nodes = nodes, Parameters = imported.Parameters, Constants = imported.Constants, Sha256 = "",
        };
        var layout = TestModels.Layout(graph, withSigma: true);
        var ex = Assert.Throws<NotSupportedException>(() =>
            EnsembleBuilder.Build(graph, layout, TestModels.Draws(graph, layout, 2, 1), new EnsembleOptions(EnsembleLikelihood.Normal)));
        Assert.Contains("Mish", ex.Message);
        Assert.Contains("act_1", ex.Message);
        Assert.Equal(ex.Message, EnsembleBuilder.Unsupported(graph));
    }

    /// <summary>
    /// A limit only shapes reveal (Softmax before opset 13 over an axis that is not the last, which is a softmax over
    /// the flattened trailing axes): the table passes the node, the trial build names it.
    /// </summary>
    [Fact]
    public void Given_a_limit_that_only_shapes_reveal_Then_the_trial_build_names_the_node()
    {
        var g = new RecipeGraph("softmax_axis", seed: 2);
        var z = g.Op("Reshape", g.Op("Softmax", [g.Op("Reshape", "h", g.Ints(-1, 2, 2))], "p", RecipeGraph.Int("axis", 1)), g.Ints(-1, 4));
        var graph = OnnxImporter.Import(Save(g.Finish(z, 4, opset: 11), "softmax_axis.onnx"));
        Assert.Null(OpCapabilities.Unsupported(graph, OpStage.Ensemble));
        string? reason = EnsembleBuilder.Unsupported(graph);
        Assert.NotNull(reason);
        Assert.Contains("Softmax", reason);
        Assert.Contains("'Softmax_p'", reason);
        Assert.Contains("last axis", reason);
    }

    /// <summary>
    /// Builds a 3-member ensemble of <paramref name="type"/> and checks every member against ONNX Runtime on that member's
    /// file, and against the compiled backend's forward pass where the compiled backend covers the graph.
    /// </summary>
    private void CheckEnsemble(ModelProto model, OnnxGraph graph, ElementType type, string what, bool compareCompiled = true)
    {
        var layout = TestModels.Layout(graph, withSigma: true);
        const int members = 3, rows = 5;
        // Values exactly representable in float16, so a member file with float16 weights holds the same numbers.
        var draws = TestModels.Draws(graph, layout, members, seed: 31).Select(d => d.Select(v => (double)(Half)v).ToArray()).ToArray();
        var inputs = TestModels.Inputs(rows, 3, seed: 6).Select(v => (double)(float)v).ToArray();
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Normal, type));
        using var session = new EnsembleSession(Save(ensemble, "ensemble.onnx"));
        var outputs = session.Run(inputs, rows);
        Assert.Equal((members, rows, 1), (outputs.MemberCount, outputs.Rows, outputs.Outputs));

        var compiled = new CompiledBackend();
        using var forward = compareCompiled && compiled.Unsupported(graph) is null ? compiled.CompileGraph(graph, BackendOptions.Default) : null;
        var paths = MemberModelWriter.WriteAll(Path.Combine(_dir, "members"), model, layout, draws);
        double compiledTolerance = type == ElementType.Double ? 1e-6 : 1e-5;
        for (int s = 0; s < members; s++)
        {
            var file = RunFile(paths[s], inputs, rows);
            var reference = new double[rows];
            forward?.Forward(draws[s], inputs, rows, reference);
            for (int n = 0; n < rows; n++)
            {
                double got = outputs.Member(s, n, 0);
                Near(file[n], got, 1e-5, $"{what} ({type}) member {s} row {n} vs its member file");
                if (forward is not null) Near(reference[n], got, compiledTolerance, $"{what} ({type}) member {s} row {n} vs the compiled forward");
            }
        }
    }

    private static void Near(double expected, double actual, double tolerance, string what) =>
        Assert.True(Math.Abs(expected - actual) <= tolerance * Math.Max(1, Math.Abs(expected)), $"{what}: expected {expected:G9}, got {actual:G9}");

    private static double[] RunFile(string path, double[] inputs, int rows)
    {
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(inputs.Select(v => (float)v).ToArray(), [rows, 3]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["x"], [input], [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray();
    }
}
