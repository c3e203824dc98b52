using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>Small models built by hand with the ONNX protobuf classes, plus draws around their weights.</summary>
internal static class TestModels
{
    /// <summary>The directory holding Bnn.Onnx.sln: above the test binaries, or above this source file (builds with --artifacts-path).</summary>
    public static string RepoRoot([System.Runtime.CompilerServices.CallerFilePath] string sourceFile = "")
    {
        foreach (var start in new[] { AppContext.BaseDirectory, Path.GetDirectoryName(sourceFile) ?? "" })
        {
            var dir = start.Length > 0 ? new DirectoryInfo(start) : null;
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) dir = dir.Parent;
            if (dir is not null) return dir.FullName;
        }
        throw new InvalidOperationException("Bnn.Onnx.sln not found above the test binaries or the test sources");
    }

    public static string? ModelsFile(string name)
    {
        string path = Path.Combine(RepoRoot(), "models", name);
        return File.Exists(path) ? path : null;
    }

    public static string? SharedFile(string relative) => SharedFolder.File(relative);

    /// <summary>x [batch,2] → Gemm(5, transB) → Tanh → MatMul [5,3] + b → Softplus → Gemm(1, transB) → y [batch,1].</summary>
    public static ModelProto Regression()
    {
        var rng = new Random(11);
        var g = new GraphProto { Name = "regression" };
        g.Input.Add(Info("x", ["batch", 2]));
        g.Output.Add(Info("y", ["batch", 1]));
        g.Initializer.Add(Weights("fc1.weight", [5, 2], rng));
        g.Initializer.Add(Weights("fc1.bias", [5], rng));
        g.Initializer.Add(Weights("fc2.weight", [5, 3], rng));
        g.Initializer.Add(Weights("fc2.bias", [3], rng));
        g.Initializer.Add(Weights("out.weight", [1, 3], rng));
        g.Initializer.Add(Weights("out.bias", [1], rng));
        g.Node.Add(Node("Gemm", ["x", "fc1.weight", "fc1.bias"], ["h1"], IntAttr("transB", 1)));
        g.Node.Add(Node("Tanh", ["h1"], ["a1"]));
        g.Node.Add(Node("MatMul", ["a1", "fc2.weight"], ["h2"]));
        g.Node.Add(Node("Add", ["h2", "fc2.bias"], ["h2b"]));
        g.Node.Add(Node("Softplus", ["h2b"], ["a2"]));
        g.Node.Add(Node("Gemm", ["a2", "out.weight", "out.bias"], ["y"], IntAttr("transB", 1)));
        return Model(g);
    }

    /// <summary>x [batch,2,2] → Flatten → Gemm(4, transB) → Relu → Gemm(3, transB) → logits [batch,3].</summary>
    public static ModelProto Classifier()
    {
        var rng = new Random(12);
        var g = new GraphProto { Name = "classifier" };
        g.Input.Add(Info("x", ["N", 2, 2]));
        g.Output.Add(Info("logits", ["N", 3]));
        g.Initializer.Add(Weights("l1.weight", [4, 4], rng));
        g.Initializer.Add(Weights("l1.bias", [4], rng));
        g.Initializer.Add(Weights("l2.weight", [3, 4], rng));
        g.Initializer.Add(Weights("l2.bias", [3], rng));
        g.Node.Add(Node("Flatten", ["x"], ["flat"], IntAttr("axis", 1)));
        g.Node.Add(Node("Gemm", ["flat", "l1.weight", "l1.bias"], ["h"], IntAttr("transB", 1)));
        g.Node.Add(Node("Relu", ["h"], ["a"]));
        g.Node.Add(Node("Gemm", ["a", "l2.weight", "l2.bias"], ["logits"], IntAttr("transB", 1)));
        return Model(g);
    }

    /// <summary>x [batch,3] → Gemm(1, transB) → Sigmoid → p [batch,1].</summary>
    public static ModelProto Logistic()
    {
        var rng = new Random(13);
        var g = new GraphProto { Name = "logistic" };
        g.Input.Add(Info("x", ["batch", 3]));
        g.Output.Add(Info("p", ["batch", 1]));
        g.Initializer.Add(Weights("w", [1, 3], rng));
        g.Initializer.Add(Weights("b", [1], rng));
        g.Node.Add(Node("Gemm", ["x", "w", "b"], ["z"], IntAttr("transB", 1)));
        g.Node.Add(Node("Sigmoid", ["z"], ["p"]));
        return Model(g);
    }

    /// <summary>
    /// x [batch,3] → MatMul W [3,4] → Add(c [1,4], ·) → Mul(·, s [4]) → Max(·, m [1,4]) → Sub(·, k [4] from a
    /// Constant node) → Tanh → Softmax → Gemm(W2 [4,2], C [2], alpha 0.5, beta 2) → y [batch,2]: sampled and fixed
    /// operands of rank 1 and 2 on either side (c, s, k are sampled; m is a fixed activation constant), and an operator
    /// that is not elementwise between the layers.
    /// </summary>
    public static ModelProto BroadcastMix()
    {
        var rng = new Random(14);
        var g = new GraphProto { Name = "broadcast_mix" };
        g.Input.Add(Info("x", ["batch", 3]));
        g.Output.Add(Info("y", ["batch", 2]));
        g.Initializer.Add(Weights("W", [3, 4], rng));
        g.Initializer.Add(Weights("c", [1, 4], rng));
        g.Initializer.Add(Weights("s", [4], rng));
        g.Initializer.Add(Weights("m", [1, 4], rng));
        g.Initializer.Add(Weights("W2", [4, 2], rng));
        g.Initializer.Add(Weights("C", [2], rng));
        var k = Weights("k", [4], rng);
        g.Node.Add(Node("Constant", [], ["k"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = k }));
        g.Node.Add(Node("MatMul", ["x", "W"], ["h1"]));
        g.Node.Add(Node("Add", ["c", "h1"], ["h2"]));
        g.Node.Add(Node("Mul", ["h2", "s"], ["h3"]));
        g.Node.Add(Node("Max", ["h3", "m"], ["h4"]));
        g.Node.Add(Node("Sub", ["h4", "k"], ["h5"]));
        g.Node.Add(Node("Tanh", ["h5"], ["h6"]));
        g.Node.Add(Node("Softmax", ["h6"], ["h7"], IntAttr("axis", -1)));
        g.Node.Add(Node("Gemm", ["h7", "W2", "C"], ["y"], FloatAttr("alpha", 0.5f), FloatAttr("beta", 2f)));
        return Model(g);
    }

    /// <summary>
    /// x [batch,3] → (Gemm 3→3 → activation) for Elu(α 0.7), Selu, HardSigmoid(α 0.3, β 0.4), Softsign, Erf,
    /// LeakyRelu(α 0.1), Softplus, HardSwish and Celu(α 0.6) in turn → Gemm 3→1 → y [batch,1]: every activation the importer accepts that
    /// ONNX Runtime's CPU provider has no double kernel for, and two that it has.
    /// </summary>
    public static ModelProto Activations()
    {
        var rng = new Random(16);
        var g = new GraphProto { Name = "activations" };
        g.Input.Add(Info("x", ["batch", 3]));
        g.Output.Add(Info("y", ["batch", 1]));
        (string Op, AttributeProto[] Attrs)[] layers =
        [
            ("Elu", [FloatAttr("alpha", 0.7f)]), ("Selu", []), ("HardSigmoid", [FloatAttr("alpha", 0.3f), FloatAttr("beta", 0.4f)]),
            ("Softsign", []), ("Erf", []), ("LeakyRelu", [FloatAttr("alpha", 0.1f)]), ("Softplus", []), ("HardSwish", []),
            ("Celu", [FloatAttr("alpha", 0.6f)]),
        ];
        string current = "x";
        for (int i = 0; i <= layers.Length; i++)
        {
            int width = i == layers.Length ? 1 : 3;
            g.Initializer.Add(Weights($"l{i}.weight", [width, 3], rng, scale: 2));
            g.Initializer.Add(Weights($"l{i}.bias", [width], rng));
            string z = i == layers.Length ? "y" : $"z{i}";
            g.Node.Add(Node("Gemm", [current, $"l{i}.weight", $"l{i}.bias"], [z], IntAttr("transB", 1)));
            if (i == layers.Length) break;
            g.Node.Add(Node(layers[i].Op, [z], [$"a{i}"], layers[i].Attrs));
            current = $"a{i}";
        }
        return Model(g);
    }

    /// <summary>x [batch,1] → MatMul w [1,1] → Add b [1] → Softplus → y [batch,1]: softplus of a chosen pre-activation.</summary>
    public static ModelProto ScaledSoftplus()
    {
        var rng = new Random(15);
        var g = new GraphProto { Name = "scaled_softplus" };
        g.Input.Add(Info("x", ["batch", 1]));
        g.Output.Add(Info("y", ["batch", 1]));
        g.Initializer.Add(Weights("w", [1, 1], rng));
        g.Initializer.Add(Weights("b", [1], rng));
        g.Node.Add(Node("MatMul", ["x", "w"], ["z0"]));
        g.Node.Add(Node("Add", ["z0", "b"], ["z"]));
        g.Node.Add(Node("Softplus", ["z"], ["y"]));
        return Model(g);
    }

    public static OnnxGraph Import(ModelProto model) => OnnxImporter.Import(model, null);

    /// <summary>One block per graph parameter (Source = ONNX name), then σ when <paramref name="withSigma"/>.</summary>
    public static ParameterLayout Layout(OnnxGraph graph, bool withSigma)
    {
        var blocks = graph.Parameters.Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName)).ToList();
        if (withSigma) blocks.Add(("sigma", [], BlockTransform.Log, null));
        return ParameterLayout.FromShapes(blocks);
    }

    /// <summary>S draws: the trained weights plus N(0, 0.3²) noise, σ in [0.1, 0.5).</summary>
    public static double[][] Draws(OnnxGraph graph, ParameterLayout layout, int count, int seed)
    {
        var rng = new Random(seed);
        var trained = graph.Parameters.SelectMany(p => p.Values).ToArray();
        return Enumerable.Range(0, count).Select(_ =>
        {
            var d = new double[layout.Dimension];
            for (int j = 0; j < trained.Length; j++) d[j] = trained[j] + 0.3 * Gaussian(rng);
            for (int j = trained.Length; j < d.Length; j++) d[j] = 0.1 + 0.4 * rng.NextDouble();
            return d;
        }).ToArray();
    }

    public static double Gaussian(Random rng) =>
        Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    public static double[] Inputs(int rows, int width, int seed)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, rows * width).Select(_ => 2 * rng.NextDouble() - 1).ToArray();
    }

    private static ModelProto Model(GraphProto g)
    {
        var m = new ModelProto { IrVersion = 8, ProducerName = "bnn-tests", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m;
    }

    private static TensorProto Weights(string name, long[] dims, Random rng, double scale = 1)
    {
        int size = (int)dims.Aggregate(1L, (a, b) => a * b);
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(Enumerable.Range(0, size).Select(_ => (float)(scale * (rng.NextDouble() * 2 - 1))));
        return t;
    }

    private static ValueInfoProto Info(string name, object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s } : new TensorShapeProto.Types.Dimension { DimValue = (int)d });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }

    private static NodeProto Node(string op, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var n = new NodeProto { OpType = op, Name = op + "_" + outputs[0] };
        n.Input.AddRange(inputs);
        n.Output.AddRange(outputs);
        n.Attribute.AddRange(attributes);
        return n;
    }

    private static AttributeProto IntAttr(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    private static AttributeProto FloatAttr(string name, float value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Float, F = value };

    public static byte[] Bytes(ModelProto model) => model.ToByteArray();
}

/// <summary>
/// A straightforward forward pass over an imported graph in double precision, for the MLP operators the tests use:
/// values are [rows, width] matrices.
/// </summary>
internal static class ReferenceForward
{
    public static double[,] Run(OnnxGraph graph, ParameterLayout layout, double[] draw, double[] inputs, int rows)
    {
        var values = new Dictionary<string, double[,]>();
        int width = inputs.Length / rows;
        var x = new double[rows, width];
        for (int n = 0; n < rows; n++) for (int j = 0; j < width; j++) x[n, j] = inputs[n * width + j];
        values[graph.Inputs[0].Name] = x;

        double[,] Get(string name)
        {
            if (values.TryGetValue(name, out var v)) return v;
            var block = layout.Blocks.First(b => b.Source == name);
            int r = block.Shape.Length == 2 ? block.Shape[0] : 1, c = block.Shape.Length == 2 ? block.Shape[1] : block.Size;
            var m = new double[r, c];
            for (int i = 0; i < r; i++) for (int j = 0; j < c; j++) m[i, j] = draw[block.Offset + i * c + j];
            return m;
        }

        foreach (var node in graph.Nodes)
        {
            var a = Get(node.Inputs[0]);
            double[,] y = node.OpType switch
            {
                "Flatten" or "Identity" => a,
                "Gemm" => Add(MatMul(a, node.GetInt("transB", 0) == 1 ? T(Get(node.Inputs[1])) : Get(node.Inputs[1])), Get(node.Inputs[2])),
                "MatMul" => MatMul(a, Get(node.Inputs[1])),
                "Add" => Add(a, Get(node.Inputs[1])),
                "Relu" => Map(a, v => Math.Max(v, 0)),
                "Tanh" => Map(a, Math.Tanh),
                "Sigmoid" => Map(a, v => 1 / (1 + Math.Exp(-v))),
                "Softplus" => Map(a, v => Math.Log(1 + Math.Exp(v))),
                "Softmax" => Softmax(a),
                _ => throw new NotSupportedException(node.OpType),
            };
            values[node.Outputs[0]] = y;
        }
        return values[graph.Outputs[0].Name];
    }

    public static double[,] Softmax(double[,] a)
    {
        var y = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
        {
            double max = double.NegativeInfinity, sum = 0;
            for (int j = 0; j < a.GetLength(1); j++) max = Math.Max(max, a[i, j]);
            for (int j = 0; j < a.GetLength(1); j++) sum += y[i, j] = Math.Exp(a[i, j] - max);
            for (int j = 0; j < a.GetLength(1); j++) y[i, j] /= sum;
        }
        return y;
    }

    public static double[,] Map(double[,] a, Func<double, double> f)
    {
        var y = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++) for (int j = 0; j < a.GetLength(1); j++) y[i, j] = f(a[i, j]);
        return y;
    }

    private static double[,] T(double[,] a)
    {
        var y = new double[a.GetLength(1), a.GetLength(0)];
        for (int i = 0; i < a.GetLength(0); i++) for (int j = 0; j < a.GetLength(1); j++) y[j, i] = a[i, j];
        return y;
    }

    private static double[,] MatMul(double[,] a, double[,] b)
    {
        var y = new double[a.GetLength(0), b.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < b.GetLength(1); j++)
            {
                double s = 0;
                for (int k = 0; k < a.GetLength(1); k++) s += a[i, k] * b[k, j];
                y[i, j] = s;
            }
        return y;
    }

    /// <summary>a + b with b a [1, cols] row broadcast over rows (or the same shape).</summary>
    private static double[,] Add(double[,] a, double[,] b)
    {
        var y = new double[a.GetLength(0), a.GetLength(1)];
        for (int i = 0; i < a.GetLength(0); i++)
            for (int j = 0; j < a.GetLength(1); j++) y[i, j] = a[i, j] + b[b.GetLength(0) == 1 ? 0 : i, j];
        return y;
    }
}
