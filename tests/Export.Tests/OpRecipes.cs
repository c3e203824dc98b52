using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>
/// A small network built around one operator: x [batch,3] → Gemm 3→4 (sampled) → h → the recipe's nodes → z
/// [batch,k] → Gemm k→1 (sampled) → y [batch,1]. Weights are seeded uniform(−1, 1); <see cref="Param"/> tensors sit
/// where the importer makes them parameters, <see cref="Floats"/> and <see cref="Ints"/> are constants.
/// </summary>
internal sealed class RecipeGraph
{
    private readonly GraphProto _g;
    private readonly Random _rng;
    private int _counter;

    public RecipeGraph(string name, int seed, bool firstLayer = true)
    {
        _rng = new Random(seed);
        _g = new GraphProto { Name = name };
        _g.Input.Add(Info("x", ElementType.Float, ["batch", 3]));
        if (firstLayer) Op("Gemm", ["x", Param("l1.weight", [4, 3]), Param("l1.bias", [4])], "h", Int("transB", 1));
    }

    /// <summary>A float initializer of random values in ±<paramref name="scale"/>.</summary>
    public string Param(string name, long[] dims, double scale = 1, ElementType type = ElementType.Float)
    {
        int size = (int)dims.Aggregate(1L, (a, b) => a * b);
        var values = Enumerable.Range(0, size).Select(_ => (float)(scale * (2 * _rng.NextDouble() - 1))).ToArray();
        if (type == ElementType.Float16) values = values.Select(v => (float)(Half)v).ToArray();
        _g.Initializer.Add(Tensor(name, dims, values, type));
        return name;
    }

    /// <summary>A float constant with the given values.</summary>
    public string Floats(long[] dims, params float[] values)
    {
        string name = $"const_{_counter++}";
        _g.Initializer.Add(Tensor(name, dims, values, ElementType.Float));
        return name;
    }

    /// <summary>A 1-D int64 constant (shapes, axes).</summary>
    public string Ints(params long[] values)
    {
        string name = $"ints_{_counter++}";
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Int64 };
        t.Dims.Add(values.Length);
        t.Int64Data.AddRange(values);
        _g.Initializer.Add(t);
        return name;
    }

    /// <summary>Adds a node; returns its (first) output, named <paramref name="output"/> or fresh.</summary>
    public string Op(string op, string[] inputs, string? output = null, params AttributeProto[] attributes)
    {
        output ??= $"{op.ToLowerInvariant()}_{_counter++}";
        var n = new NodeProto { OpType = op, Name = $"{op}_{output}" };
        n.Input.AddRange(inputs);
        n.Output.Add(output);
        n.Attribute.AddRange(attributes);
        _g.Node.Add(n);
        return output;
    }

    public string Op(string op, params string[] inputs) => Op(op, inputs, null);

    /// <summary>Adds the output layer on <paramref name="z"/> [batch, <paramref name="width"/>] and returns the model.</summary>
    public ModelProto Finish(string z, int width, long opset)
    {
        Op("Gemm", [z, Param("out.weight", [1, width]), Param("out.bias", [1])], "y", Int("transB", 1));
        _g.Output.Add(Info("y", ElementType.Float, ["batch", 1]));
        var model = new ModelProto { IrVersion = opset >= 20 ? 9 : 8, ProducerName = "bnn-tests", Graph = _g };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    public static AttributeProto Float(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static AttributeProto Ints(string name, params long[] values)
    {
        var a = new AttributeProto { Name = name, Type = AttributeProto.Types.AttributeType.Ints };
        a.Ints.AddRange(values);
        return a;
    }

    public static AttributeProto Text(string name, string value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.String, S = Google.Protobuf.ByteString.CopyFromUtf8(value) };

    public static AttributeProto Value(TensorProto t) =>
        new() { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = t };

    public static TensorProto Tensor(string name, long[] dims, float[] values, ElementType type)
    {
        var t = new TensorProto { Name = name, DataType = (int)type };
        t.Dims.AddRange(dims);
        if (type == ElementType.Float16)
            t.Int32Data.AddRange(values.Select(v => (int)BitConverter.HalfToUInt16Bits((Half)v)));
        else
            t.FloatData.AddRange(values);
        return t;
    }

    private static ValueInfoProto Info(string name, ElementType type, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        return new ValueInfoProto { Name = name, Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)type, Shape = shape } } };
    }
}

/// <summary>
/// One small network per operator form the importer accepts (attribute and input forms across opsets), for checking
/// that each stage does what <see cref="OpCapabilities"/> says. <see cref="WeightPaths"/> are networks whose sampled
/// weights pass through shape and cast operators before their layer.
/// </summary>
internal static class OpRecipes
{
    /// <summary>A named network and the initializers that are sampled weights although they do not feed their layer directly.</summary>
    public sealed record Recipe(string Name, ModelProto Model, string[] Weights)
    {
        public override string ToString() => Name;
    }

    private static Recipe Make(string name, Func<RecipeGraph, string, (string Z, int Width)> body, long opset = 17, int seed = 1)
    {
        var g = new RecipeGraph(name, seed);
        var (z, width) = body(g, "h");
        return new Recipe(name, g.Finish(z, width, opset), []);
    }

    private static readonly string[] Activations =
        ["Abs", "Celu", "Elu", "Erf", "Exp", "HardSigmoid", "HardSwish", "LeakyRelu", "Neg", "Relu", "Selu", "Shrink", "Sigmoid", "Softplus", "Softsign", "Tanh", "ThresholdedRelu", "Identity", "Dropout"];

    public static IReadOnlyList<Recipe> All { get; } = Build();

    private static List<Recipe> Build()
    {
        var list = new List<Recipe>();
        foreach (string op in Activations)
            list.Add(Make(op, (g, h) => (g.Op(op, h), 4)));
        list.Add(Make("Elu alpha", (g, h) => (g.Op("Elu", [h], null, RecipeGraph.Float("alpha", 0.7f)), 4)));
        list.Add(Make("Celu alpha", (g, h) => (g.Op("Celu", [h], null, RecipeGraph.Float("alpha", 0.6f)), 4)));
        list.Add(Make("Shrink lambd bias", (g, h) => (g.Op("Shrink", [h], null, RecipeGraph.Float("lambd", 0.3f), RecipeGraph.Float("bias", 0.2f)), 4)));
        list.Add(Make("ThresholdedRelu alpha", (g, h) => (g.Op("ThresholdedRelu", [h], null, RecipeGraph.Float("alpha", 0.25f)), 4)));
        list.Add(Make("HardSigmoid alpha beta", (g, h) => (g.Op("HardSigmoid", [h], null, RecipeGraph.Float("alpha", 0.3f), RecipeGraph.Float("beta", 0.4f)), 4)));
        list.Add(Make("Log", (g, h) => (g.Op("Log", g.Op("Sigmoid", h)), 4)));
        list.Add(Make("Sqrt", (g, h) => (g.Op("Sqrt", g.Op("Sigmoid", h)), 4)));
        list.Add(Make("Pow", (g, h) => (g.Op("Pow", g.Op("Sigmoid", h), g.Floats([], 2f)), 4)));
        list.Add(Make("Cast", (g, h) => (g.Op("Cast", [h], null, RecipeGraph.Int("to", 1)), 4)));
        list.Add(Make("CastLike", (g, h) => (g.Op("CastLike", h, "x"), 4)));
        list.Add(Make("Clip", (g, h) => (g.Op("Clip", h, g.Floats([], -0.5f), g.Floats([], 0.5f)), 4)));
        list.Add(Make("Clip opset 10", (g, h) => (g.Op("Clip", [h], null, RecipeGraph.Float("min", -0.5f), RecipeGraph.Float("max", 0.5f)), 4), opset: 10));
        list.Add(Make("Concat", (g, h) => (g.Op("Concat", [h, "x"], null, RecipeGraph.Int("axis", 1)), 7)));
        list.Add(Make("Concat axis -1, input first", (g, h) => (g.Op("Concat", ["x", g.Op("Tanh", h)], null, RecipeGraph.Int("axis", -1)), 7)));
        list.Add(Make("Concat of two layers", (g, h) => (g.Op("Concat", [h, g.Op("MatMul", h, g.Param("l2.weight", [4, 2]))], null, RecipeGraph.Int("axis", 1)), 6)));
        list.Add(Make("Constant", (g, h) =>
        {
            var k = g.Op("Constant", [], "k", RecipeGraph.Value(RecipeGraph.Tensor("k", [4], [0.5f, -1, 2, 0.25f], ElementType.Float)));
            return (g.Op("Add", h, k), 4);
        }));
        list.Add(Make("Add", (g, h) => (g.Op("Add", h, g.Param("c", [4])), 4)));
        list.Add(Make("Sub", (g, h) => (g.Op("Sub", g.Param("c", [4]), h), 4)));
        list.Add(Make("Mul", (g, h) => (g.Op("Mul", h, g.Param("s", [4])), 4)));
        list.Add(Make("Div", (g, h) => (g.Op("Div", h, g.Floats([4], 1, 1.5f, 2, 1.25f)), 4)));
        list.Add(Make("Gelu", (g, h) => (g.Op("Gelu", h), 4), opset: 20));
        list.Add(Make("Gelu tanh", (g, h) => (g.Op("Gelu", [h], null, RecipeGraph.Text("approximate", "tanh")), 4), opset: 20));
        list.Add(Make("Gemm", (g, h) => (g.Op("Gemm", [h, g.Param("l2.weight", [2, 4]), g.Param("l2.bias", [2])], null,
            RecipeGraph.Int("transB", 1), RecipeGraph.Float("alpha", 0.5f), RecipeGraph.Float("beta", 2f)), 2)));
        list.Add(Make("MatMul", (g, h) => (g.Op("MatMul", h, g.Param("l2.weight", [4, 2])), 2)));
        list.Add(Make("Less Where", (g, h) => (g.Op("Where", g.Op("Less", h, g.Floats([], 0)), g.Op("Mul", h, g.Floats([], 0.1f)), h), 4)));
        list.Add(Make("Where between data and a layer", (g, h) =>
            (g.Op("Where", g.Op("Less", "x", g.Floats([], 0)), g.Op("Tanh", "x"), g.Op("Tanh", g.Op("MatMul", h, g.Param("l2.weight", [4, 3])))), 3)));
        list.Add(Make("Where on a sampled condition", (g, h) =>
            (g.Op("Where", g.Op("Less", g.Param("t", [4]), h), g.Floats([], 1), g.Op("Neg", h)), 4)));
        foreach (string op in new[] { "Softmax", "LogSoftmax" })
        {
            list.Add(Make(op, (g, h) => (g.Op(op, [h], null, RecipeGraph.Int("axis", -1)), 4)));
            list.Add(Make(op + " opset 11", (g, h) => (g.Op(op, [h], null, RecipeGraph.Int("axis", 1)), 4), opset: 11));
        }
        foreach (string op in new[] { "Sum", "Max", "Min" })
        {
            list.Add(Make(op, (g, h) => (g.Op(op, h, g.Floats([4], 0.5f, -0.5f, 0.25f, 0), g.Op("Neg", h)), 4)));
            list.Add(Make(op + " of two", (g, h) => (g.Op(op, g.Op("Tanh", h), g.Floats([1, 4], 0.1f, -0.2f, 0.3f, 0)), 4)));
        }
        list.Add(Make("Sum of one", (g, h) => (g.Op("Sum", h), 4)));
        list.Add(Make("ReduceSum", (g, h) => (g.Op("Concat", [h, g.Op("ReduceSum", h, g.Ints(1))], null, RecipeGraph.Int("axis", 1)), 5)));
        list.Add(Make("ReduceSum opset 11", (g, h) => (g.Op("Concat", [h, g.Op("ReduceSum", [h], null, RecipeGraph.Ints("axes", 1))], null, RecipeGraph.Int("axis", 1)), 5), opset: 11));
        list.Add(Make("ReduceSum keepdims 0", (g, h) =>
            (g.Op("Concat", [h, g.Op("Unsqueeze", g.Op("ReduceSum", [h, g.Ints(-1)], null, RecipeGraph.Int("keepdims", 0)), g.Ints(1))], null, RecipeGraph.Int("axis", 1)), 5)));
        foreach (string op in new[] { "ReduceMean", "ReduceMax" })
        {
            list.Add(Make(op, (g, h) => (g.Op("Concat", [h, g.Op(op, [h], null, RecipeGraph.Ints("axes", -1))], null, RecipeGraph.Int("axis", 1)), 5)));
            list.Add(Make(op + " opset 18", (g, h) => (g.Op("Concat", [h, g.Op(op, h, g.Ints(1))], null, RecipeGraph.Int("axis", 1)), 5), opset: 18));
        }
        list.Add(Make("BatchNormalization", (g, h) => (g.Op("BatchNormalization",
            h, g.Param("bn.weight", [4]), g.Param("bn.bias", [4]), g.Floats([4], 0.1f, -0.2f, 0, 0.3f), g.Floats([4], 1, 0.5f, 2, 1.5f)), 4), opset: 15));
        list.Add(Make("LayerNormalization", (g, h) => (g.Op("LayerNormalization", h, g.Param("ln.weight", [4]), g.Param("ln.bias", [4])), 4)));
        list.Add(Make("LayerNormalization without bias, epsilon", (g, h) =>
            (g.Op("LayerNormalization", [h, g.Param("ln.weight", [4])], null, RecipeGraph.Float("epsilon", 0.01f)), 4)));
        list.Add(Make("LayerNormalization opset 18", (g, h) => (g.Op("LayerNormalization", h, g.Param("ln.weight", [4]), g.Param("ln.bias", [4])), 4), opset: 18));
        list.Add(Make("LayerNormalization over two axes", (g, h) => (g.Op("Reshape", [g.Op("LayerNormalization",
            [g.Op("Reshape", h, g.Ints(-1, 2, 2)), g.Param("ln.weight", [2, 2]), g.Param("ln.bias", [2, 2])], null, RecipeGraph.Int("axis", -2)), g.Ints(-1, 4)]), 4)));
        list.Add(Make("Mish opset 18", (g, h) => (g.Op("Mish", h), 4), opset: 18));
        list.Add(Make("InstanceNormalization", (g, h) => (g.Op("Reshape", [g.Op("InstanceNormalization",
            [g.Op("Reshape", h, g.Ints(-1, 2, 2)), g.Param("in.weight", [2]), g.Param("in.bias", [2])], null, RecipeGraph.Float("epsilon", 0.01f)), g.Ints(-1, 4)]), 4)));
        list.Add(Make("InstanceNormalization opset 18, constant scale and bias", (g, h) => (g.Op("Reshape", [g.Op("InstanceNormalization",
            [g.Op("Reshape", h, g.Ints(-1, 2, 2)), g.Floats([2], 1, 1), g.Floats([2], 0, 0)]), g.Ints(-1, 4)]), 4), opset: 18));
        list.Add(Make("PRelu shared slope", (g, h) => (g.Op("PRelu", h, g.Param("prelu.weight", [1])), 4)));
        list.Add(Make("PRelu per channel", (g, h) => (g.Op("PRelu", h, g.Param("prelu.weight", [4])), 4), opset: 13));
        list.Add(Make("Flatten", (g, h) => (g.Op("Flatten", [g.Op("Reshape", h, g.Ints(-1, 2, 2))], null, RecipeGraph.Int("axis", 1)), 4)));
        list.Add(Make("Reshape", (g, h) => (g.Op("Reshape", g.Op("Tanh", g.Op("Reshape", h, g.Ints(-1, 2, 2))), g.Ints(-1, 4)), 4)));
        list.Add(Make("Transpose", (g, h) =>
            (g.Op("Reshape", g.Op("Transpose", [g.Op("Reshape", h, g.Ints(-1, 2, 2))], null, RecipeGraph.Ints("perm", 0, 2, 1)), g.Ints(-1, 4)), 4)));
        list.Add(Make("Unsqueeze Squeeze", (g, h) => (g.Op("Squeeze", g.Op("Tanh", g.Op("Unsqueeze", h, g.Ints(2))), g.Ints(-1)), 4)));
        list.Add(Make("Unsqueeze Squeeze opset 11", (g, h) =>
            (g.Op("Squeeze", [g.Op("Unsqueeze", [h], null, RecipeGraph.Ints("axes", 1))], null, RecipeGraph.Ints("axes", 1)), 4), opset: 11));
        // Nodes on the data alone (no sampled weight yet) are written in their opset-17 form.
        list.Add(Make("Data preprocessing", (g, h) => (g.Op("Concat", [h,
            g.Op("Softmax", [g.Op("Reshape", "x", g.Ints(-1, 3))], null, RecipeGraph.Int("axis", -1)),
            g.Op("Unsqueeze", g.Op("ReduceMean", ["x"], null, RecipeGraph.Ints("axes", 1), RecipeGraph.Int("keepdims", 0)), g.Ints(1))], null,
            RecipeGraph.Int("axis", 1)), 8)));
        list.Add(Make("Data preprocessing opset 11", (g, h) => (g.Op("Concat", [h,
            g.Op("Softmax", [g.Op("Reshape", "x", g.Ints(-1, 3))], null, RecipeGraph.Int("axis", 1)),
            g.Op("Unsqueeze", [g.Op("ReduceSum", ["x"], null, RecipeGraph.Ints("axes", 1), RecipeGraph.Int("keepdims", 0))], null, RecipeGraph.Ints("axes", 1))], null,
            RecipeGraph.Int("axis", 1)), 8), opset: 11));
        return list;
    }

    /// <summary>
    /// Networks whose weights reach their MatMul or Gemm through other nodes, as <c>torch.onnx.export(…,
    /// do_constant_folding=False)</c> writes them: Transpose, Reshape, Cast from float16, Identity, Unsqueeze and
    /// Squeeze, Flatten, Mul by a constant, and chains of them, in the first layer (on the data) and the second
    /// (after an activation).
    /// </summary>
    public static IReadOnlyList<Recipe> WeightPaths { get; } =
    [
        Path("Transpose then MatMul", g =>
        {
            var h = g.Op("Add", g.Op("MatMul", "x", g.Op("Transpose", [g.Param("l1.weight", [4, 3])], null, RecipeGraph.Ints("perm", 1, 0))), g.Param("l1.bias", [4]));
            var a = g.Op("Tanh", h);
            return g.Op("Add", g.Op("MatMul", a, g.Op("Transpose", [g.Param("l2.weight", [2, 4])], null, RecipeGraph.Ints("perm", 1, 0))), g.Param("l2.bias", [2]));
        }, "l1.weight", "l2.weight"),
        Path("Reshape then Gemm", g =>
        {
            var a = g.Op("Relu", g.Op("Gemm", ["x", g.Op("Reshape", g.Param("l1.weight", [12]), g.Ints(4, 3)), g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            return g.Op("Gemm", [a, g.Op("Reshape", g.Param("l2.weight", [4, 2]), g.Ints(2, -1)), g.Param("l2.bias", [2])], null, RecipeGraph.Int("transB", 1));
        }, "l1.weight", "l2.weight"),
        Path("Cast from float16 and Identity", g =>
        {
            var w1 = g.Op("Identity", g.Op("Cast", [g.Param("l1.weight", [4, 3], type: ElementType.Float16)], null, RecipeGraph.Int("to", 1)));
            var a = g.Op("Tanh", g.Op("Gemm", ["x", w1, g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            var w2 = g.Op("Cast", [g.Op("Identity", g.Param("l2.weight", [4, 2]))], null, RecipeGraph.Int("to", 1));
            return g.Op("MatMul", a, w2);
        }, "l1.weight", "l2.weight"),
        Path("Unsqueeze and Squeeze", g =>
        {
            var w1 = g.Op("Squeeze", g.Op("Unsqueeze", g.Param("l1.weight", [4, 3]), g.Ints(0)), g.Ints(0));
            var a = g.Op("Sigmoid", g.Op("Gemm", ["x", w1, g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            var w2 = g.Op("Squeeze", [g.Param("l2.weight", [4, 1, 2])], null);
            return g.Op("MatMul", a, w2);
        }, "l1.weight", "l2.weight"),
        Path("Flatten", g =>
        {
            var w1 = g.Op("Flatten", [g.Param("l1.weight", [4, 1, 3])], null, RecipeGraph.Int("axis", 1));
            var a = g.Op("Tanh", g.Op("Gemm", ["x", w1, g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            var w2 = g.Op("Flatten", [g.Param("l2.weight", [2, 2, 2])], null, RecipeGraph.Int("axis", 2));
            return g.Op("MatMul", a, w2);
        }, "l1.weight", "l2.weight"),
        Path("Mul by a constant", g =>
        {
            var w1 = g.Op("Mul", g.Param("l1.weight", [4, 3]), g.Floats([], 0.5f));
            var a = g.Op("Tanh", g.Op("Gemm", ["x", w1, g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            var w2 = g.Op("Mul", g.Floats([1, 2], 2f, -1f), g.Param("l2.weight", [4, 2]));
            return g.Op("MatMul", a, w2);
        }, "l1.weight", "l2.weight"),
        Path("Chain", g =>
        {
            var w1 = g.Op("Reshape", g.Op("Mul", g.Op("Transpose", [g.Param("l1.weight", [3, 4])], null, RecipeGraph.Ints("perm", 1, 0)), g.Floats([], 1.5f)), g.Ints(4, 3));
            var a = g.Op("Softplus", g.Op("Gemm", ["x", w1, g.Param("l1.bias", [4])], null, RecipeGraph.Int("transB", 1)));
            var w2 = g.Op("Transpose", [g.Op("Unsqueeze", g.Op("Identity", g.Param("l2.weight", [2, 4])), g.Ints(0))], null, RecipeGraph.Ints("perm", 0, 2, 1));
            return g.Op("Squeeze", g.Op("MatMul", g.Op("Unsqueeze", a, g.Ints(0)), w2), g.Ints(0));
        }, "l1.weight", "l2.weight"),
    ];

    /// <summary>A weight-path network: <paramref name="body"/> maps x to z [batch, 2]; the output layer follows.</summary>
    private static Recipe Path(string name, Func<RecipeGraph, string> body, params string[] weights)
    {
        var g = new RecipeGraph(name, seed: 3, firstLayer: false);
        return new Recipe(name, g.Finish(body(g), 2, 17), weights);
    }
}
