using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Weights that reach their layer through other nodes (a Transpose written by an export without constant folding,
/// reshapes, casts, a constant factor) stay parameters under their stored names, and opaque names take their layer
/// partner's prefix.
/// </summary>
public class WeightPathTests
{
    private static readonly string[] StepMlpNames = ["hidden.weight", "hidden.bias", "out.weight", "out.bias"];

    [Theory]
    [InlineData(13)]
    [InlineData(17)]
    public void Folded_and_unfolded_exports_list_the_same_parameters_the_unfolded_one_as_stored(int opset)
    {
        var folded = OnnxImporter.Import(TestPaths.Model($"step_mlp_op{opset}_folded.onnx"));
        var unfolded = OnnxImporter.Import(TestPaths.Model($"step_mlp_op{opset}_unfolded.onnx"));

        Assert.Equal(opset, folded.Opset);
        Assert.Equal(opset, unfolded.Opset);
        Assert.Equal(StepMlpNames, folded.Parameters.Select(p => p.Name));
        Assert.Equal(StepMlpNames, unfolded.Parameters.Select(p => p.Name));
        Assert.Equal(8 * 16 + 16 + 16 + 1, folded.TotalParameters);
        Assert.Equal(folded.TotalParameters, unfolded.TotalParameters);

        // The folded file stores the transposed weights under exporter names; the unfolded one stores nn.Linear's own
        // [out, in] weights and transposes them in the graph, on every call.
        Assert.All(folded.Parameters.Where(p => p.Role == ParameterRole.Weight), p => Assert.StartsWith("onnx::MatMul_", p.OnnxName));
        Assert.Equal(StepMlpNames, unfolded.Parameters.Select(p => p.OnnxName));
        Assert.Equal(2, unfolded.Nodes.Count(n => n.OpType == "Transpose"));
        Assert.DoesNotContain(unfolded.Constants.Keys, unfolded.Parameters.Select(p => p.OnnxName).Contains);
        Assert.Equal([[8, 16], [16], [16, 1], [1]], folded.Parameters.Select(p => p.Shape));
        Assert.Equal([[16, 8], [16], [1, 16], [1]], unfolded.Parameters.Select(p => p.Shape));
        Assert.Equal([WeightLayout.InOut, WeightLayout.NotAMatrix, WeightLayout.InOut, WeightLayout.NotAMatrix],
            folded.Parameters.Select(p => p.Layout));
        Assert.Equal([WeightLayout.OutIn, WeightLayout.NotAMatrix, WeightLayout.OutIn, WeightLayout.NotAMatrix],
            unfolded.Parameters.Select(p => p.Layout));
        Assert.Equal([0, 0, 1, 1], folded.Parameters.Select(p => p.Layer));
        Assert.Equal([0, 0, 1, 1], unfolded.Parameters.Select(p => p.Layer));

        for (int k = 0; k < 4; k++)
        {
            var f = folded.Parameters[k];
            var u = unfolded.Parameters[k];
            if (f.Shape.Length == 1)
            {
                Assert.Equal(f.Values, u.Values);
                continue;
            }
            int rows = f.Shape[0], cols = f.Shape[1];
            for (int i = 0; i < rows; i++)
                for (int o = 0; o < cols; o++) Assert.Equal(f.Values[i * cols + o], u.Values[o * rows + i]);
        }
    }

    [Fact]
    public void Parameters_reshaped_cast_and_scaled_on_their_way_stay_the_stored_tensors()
    {
        var graph = OnnxImporter.Import(TestPaths.Model("weight_paths_pytorch.onnx"));

        Assert.Equal(["w1", "b1", "w2", "b2"], graph.Parameters.Select(p => p.Name));
        Assert.Equal([[128], [1, 16], [16], [1, 1]], graph.Parameters.Select(p => p.Shape));
        Assert.Equal([ParameterRole.Weight, ParameterRole.Bias, ParameterRole.Weight, ParameterRole.Bias], graph.Parameters.Select(p => p.Role));
        Assert.Equal([0, 0, 1, 1], graph.Parameters.Select(p => p.Layer));
        Assert.Equal(161, graph.TotalParameters);
        // Every path node stays in the graph, and the factors 0.5 and 4 stay constants.
        foreach (var op in new[] { "Reshape", "Transpose", "Squeeze", "Identity", "Cast", "Unsqueeze", "Mul", "Flatten", "Div" })
            Assert.Contains(graph.Nodes, n => n.OpType == op);
        var factors = graph.Constants.Values.Where(t => ElementTypes.IsFloating(t.SourceType)).Select(t => Assert.Single(t.Data)).Order();
        Assert.Equal([0.5, 4.0], factors);
    }

    /// <summary>x [batch, 2] → MatMul(x, weight path) → Add(bias path) → y, with the given initializer names.</summary>
    private static OnnxGraph Dense(string weightName, string biasName, Func<GraphProto, string, string>? weightPath = null, long[]? weightDims = null)
    {
        var graph = new GraphProto { Name = "dense" };
        graph.Input.Add(Value("x", "batch", 2));
        graph.Output.Add(Value("y", "batch", 3));
        graph.Initializer.Add(Floats(weightName, weightDims ?? [2, 3], 1, 2, 3, 4, 5, 6));
        graph.Initializer.Add(Floats(biasName, [3], 0.1f, 0.2f, 0.3f));
        string w = weightPath is null ? weightName : weightPath(graph, weightName);
        graph.Node.Add(Node("MatMul", "mm", ["x", w], ["xw"]));
        graph.Node.Add(Node("Add", "add", [biasName, "xw"], ["y"]));
        return OnnxImporter.Import(Model(graph), null);
    }

    [Theory]
    [InlineData("onnx::MatMul_18", "0.bias", "0.weight", "0.bias")]
    [InlineData("encoder.2.weight", "onnx::Add_7", "encoder.2.weight", "encoder.2.bias")]
    [InlineData("params/Dense_0/kernel", "const_1", "params.Dense_0.kernel", "params.Dense_0.bias")]
    [InlineData("onnx::MatMul_3", "bias", "weight", "bias")]
    [InlineData("onnx::MatMul_18", "const_4", "layer0.weight", "layer0.bias")]
    public void An_opaque_name_takes_the_prefix_of_its_layers_partner(string weight, string bias, string weightName, string biasName)
    {
        var graph = Dense(weight, bias);

        Assert.Equal([weightName, biasName], graph.Parameters.Select(p => p.Name));
        Assert.Equal([weight, bias], graph.Parameters.Select(p => p.OnnxName));
    }

    [Fact]
    public void An_opaque_weight_without_a_bias_partner_or_whose_partner_name_is_taken_gets_a_layer_name()
    {
        var graph = new GraphProto { Name = "two" };
        graph.Input.Add(Value("x", "batch", 2));
        graph.Output.Add(Value("y", "batch", 3));
        graph.Initializer.Add(Floats("onnx::MatMul_5", [2, 3], 1, 2, 3, 4, 5, 6));
        graph.Initializer.Add(Floats("onnx::MatMul_6", [3, 3], 1, 2, 3, 4, 5, 6, 7, 8, 9));
        graph.Initializer.Add(Floats("head.bias", [3], 0.1f, 0.2f, 0.3f));
        graph.Initializer.Add(Floats("head.weight", [3], 1, 1, 1));
        graph.Node.Add(Node("MatMul", "mm0", ["x", "onnx::MatMul_5"], ["h0"]));
        graph.Node.Add(Node("Tanh", "t", ["h0"], ["a0"]));
        graph.Node.Add(Node("MatMul", "mm1", ["a0", "onnx::MatMul_6"], ["h1"]));
        graph.Node.Add(Node("Add", "add", ["h1", "head.bias"], ["h2"]));
        graph.Node.Add(Node("Mul", "scale", ["h2", "head.weight"], ["y"]));

        var imported = OnnxImporter.Import(Model(graph), null);

        // Layer 0 has no bias; layer 1's partner would make 'head.weight', which names another parameter.
        Assert.Equal(["layer0.weight", "layer1.weight", "head.bias", "head.weight"], imported.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void A_transposed_weight_reports_its_stored_layout()
    {
        static string Transposed(GraphProto g, string w)
        {
            g.Node.Add(Node("Transpose", "t", [w], ["wt"], new AttributeProto
            {
                Name = "perm", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 1, 0 },
            }));
            return "wt";
        }

        var direct = Dense("kernel", "bias");
        var transposed = Dense("weight", "bias", Transposed, [3, 2]);

        Assert.Equal(WeightLayout.InOut, direct.Parameters[0].Layout);
        Assert.Equal(WeightLayout.OutIn, transposed.Parameters[0].Layout);
        Assert.Equal(["weight", "bias"], transposed.Parameters.Select(p => p.Name));
        Assert.Equal(ParameterRole.Weight, transposed.Parameters[0].Role);
        Assert.Equal(transposed.Parameters[0].Layer, transposed.Parameters[1].Layer);
    }

    [Fact]
    public void A_weight_scaled_by_a_tensor_of_more_than_one_element_is_not_traced_through()
    {
        // Mul(W, S) with S a full matrix: which factor is the weight is not clear, so neither is taken for it.
        var graph = Dense("W", "b", (g, w) =>
        {
            g.Initializer.Add(Floats("S", [2, 3], 1, 1, 1, 1, 1, 1));
            g.Node.Add(Node("Mul", "scale", [w, "S"], ["ws"]));
            return "ws";
        });

        Assert.Equal(["b"], graph.Parameters.Select(p => p.Name));
        Assert.Contains("W", graph.Constants.Keys);
        Assert.Contains("S", graph.Constants.Keys);
    }
}
