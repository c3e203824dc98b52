using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// <see cref="ShapeInference"/> against the shapes ONNX's own backend tests record (every conformance case whose ops it
/// knows), symbolic batch dimensions through shape arithmetic, and <see cref="InputShape"/> resolution.
/// </summary>
public class ShapeInferenceTests
{
    private static Dimension D(long v) => Dimension.Fixed(v);
    private static Dimension S(string s) => Dimension.Symbolic(s);

    private static string Text(IReadOnlyList<Dimension>? shape) => shape is null ? "unknown" : "[" + string.Join(", ", shape) + "]";

    private static OnnxGraph Graph(ValueInfo[] inputs, Node[] nodes, string output, Dictionary<string, Tensor>? constants = null,
        Parameter[]? parameters = null, long opset = 17) => new()
    {
        Producer = "test",
        ProducerVersion = "0",
        IrVersion = 8,
        Opsets = new Dictionary<string, long> { [""] = opset },
        Inputs = inputs,
        Outputs = [new ValueInfo(output, ElementType.Float, [])],
        Nodes = nodes,
        Parameters = parameters ?? [],
        Constants = constants ?? [],
        Sha256 = "",
    };

    private static Node Node(string op, string[] inputs, string output, params NodeAttribute[] attributes) =>
        new(output + "_node", op, "", inputs, [output], attributes.ToDictionary(a => a.Name));

    private static NodeAttribute Int(string name, long v) => new(name, AttributeKind.Int, Int: v);
    private static NodeAttribute Ints(string name, params long[] v) => new(name, AttributeKind.Ints, Ints: v);
    private static Tensor Int64(string name, params long[] values) => new(name, ElementType.Int64, [values.Length], values.Select(v => (double)v).ToArray());

    [SharedFact("onnx/conformance")]
    public void Every_conformance_case_whose_ops_are_known_gets_the_recorded_output_shapes()
    {
        string folder = Path.Combine(TestPaths.SharedOnnx, "conformance");
        var rows = File.ReadAllLines(Path.Combine(folder, "INDEX.tsv")).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t')).ToList();
        int checkedCases = 0;
        var failures = new List<string>();
        foreach (var row in rows)
        {
            string dir = Path.Combine(folder, row[1]);
            var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"), new ImportOptions { FreeBatchDimension = false });
            if (!graph.Nodes.All(n => ShapeInference.KnownOps.Contains(n.OpType))) continue;

            // The data inputs get the shapes of the case's tensors; integer inputs (shapes, axes, indices) become constants, as exporters write them.
            var data = Path.Combine(dir, "test_data_set_0");
            var constants = new Dictionary<string, Tensor>(graph.Constants);
            var shapes = new Dictionary<string, IReadOnlyList<Dimension>>();
            var inputs = new List<ValueInfo>();
            for (int i = 0; i < graph.Inputs.Count; i++)
            {
                string file = Path.Combine(data, $"input_{i}.pb");
                if (!File.Exists(file)) continue;
                var t = OnnxImporter.ReadTensorFile(file);
                if (ElementTypes.IsFloating(t.SourceType)) inputs.Add(graph.Inputs[i] with { Shape = t.Shape.Select(d => D(d)).ToArray() });
                else constants[graph.Inputs[i].Name] = t with { Name = graph.Inputs[i].Name };
            }
            var g = new OnnxGraph
            {
                Producer = graph.Producer, ProducerVersion = graph.ProducerVersion, IrVersion = graph.IrVersion, Opsets = graph.Opsets,
                Inputs = inputs, Outputs = graph.Outputs, Nodes = graph.Nodes, Parameters = graph.Parameters, Constants = constants, Sha256 = "",
            };
            var inferred = ShapeInference.Infer(g);
            checkedCases++;
            for (int o = 0; o < graph.Outputs.Count; o++)
            {
                var expected = OnnxImporter.ReadTensorFile(Path.Combine(data, $"output_{o}.pb")).Shape.Select(d => D(d)).ToArray();
                var actual = inferred.GetValueOrDefault(graph.Outputs[o].Name);
                if (actual is null || !actual.SequenceEqual(expected))
                    failures.Add($"{row[1]} output {o}: inferred {Text(actual)}, recorded {Text(expected)}");
            }
        }
        Assert.True(checkedCases >= 150, $"only {checkedCases} cases use known ops");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
    }

    [Fact]
    public void A_symbolic_batch_stays_a_symbol_through_shape_arithmetic_and_reshape()
    {
        // x [N, 3, 4] → Reshape(x, Concat(Unsqueeze(Gather(Shape(x), 0)), [-1])) = [N, 12], what PyTorch writes for x.view(x.size(0), -1).
        var x = new ValueInfo("x", ElementType.Float, [S("N"), D(3), D(4)]);
        var graph = Graph([x],
        [
            Node("Shape", ["x"], "shape"),
            Node("Gather", ["shape", "zero"], "n", Int("axis", 0)),
            Node("Unsqueeze", ["n", "axes0"], "n1"),
            Node("Concat", ["n1", "minus1"], "target", Int("axis", 0)),
            Node("Reshape", ["x", "target"], "flat"),
            Node("Flatten", ["x"], "flat2", Int("axis", 2)),
            Node("Reshape", ["flat", "rows4"], "r4"),
            Node("ReduceMean", ["x"], "m", Ints("axes", 1), Int("keepdims", 0)),
            Node("Transpose", ["x"], "t", Ints("perm", 2, 0, 1)),
            Node("MatMul", ["t", "w"], "mm"),
            Node("Slice", ["shape", "one", "two"], "middle"),
            Node("Concat", ["n1", "middle", "minus1"], "target3", Int("axis", 0)),
            Node("Reshape", ["flat", "target3"], "r3"),
        ], "flat",
        new Dictionary<string, Tensor>
        {
            ["zero"] = new("zero", ElementType.Int64, [], [0]),
            ["axes0"] = Int64("axes0", 0),
            ["minus1"] = Int64("minus1", -1),
            ["rows4"] = Int64("rows4", -1, 4),
            ["one"] = Int64("one", 1),
            ["two"] = Int64("two", 2),
        },
        [new Parameter("w", "w", [3, 5], new double[15])]);

        var shapes = ShapeInference.Infer(graph);

        Assert.Equal([S("N"), D(12)], shapes["flat"]);
        Assert.Equal([S("3*N"), D(4)], shapes["flat2"]);
        Assert.Equal([S("3*N"), D(4)], shapes["r4"]);
        Assert.Equal([S("N"), D(4)], shapes["m"]);
        Assert.Equal([D(4), S("N"), D(3)], shapes["t"]);
        Assert.Equal([D(4), S("N"), D(5)], shapes["mm"]);
        Assert.Equal([D(3)], shapes["shape"]);
        Assert.Equal([D(1)], shapes["middle"]);
        Assert.Equal([S("N"), D(3), D(4)], shapes["r3"]);
    }

    [Fact]
    public void Given_input_shapes_replace_the_declared_ones_and_an_unknown_op_leaves_its_output_unknown()
    {
        var x = new ValueInfo("x", ElementType.Float, [S("batch"), S("seq"), D(1)]);
        var graph = Graph([x],
        [
            Node("MatMul", ["x", "w"], "h"),
            Node("ReduceSum", ["h", "axes"], "s", Int("keepdims", 0)),
            Node("Gemm", ["s", "v"], "y", Int("transB", 1)),
            Node("NonMaxSuppression", ["y"], "z"),
        ], "y",
        new Dictionary<string, Tensor> { ["axes"] = Int64("axes", 1) },
        [new Parameter("w", "w", [1, 4], new double[4]), new Parameter("v", "v", [2, 4], new double[8])]);

        var declared = ShapeInference.Infer(graph);
        Assert.Equal([S("batch"), S("seq"), D(4)], declared["h"]);
        Assert.Equal([S("batch"), D(2)], declared["y"]);
        Assert.Null(declared["z"]);

        var bound = ShapeInference.Infer(graph, new Dictionary<string, IReadOnlyList<Dimension>> { ["x"] = [D(7), D(5), D(1)] });
        Assert.Equal([D(7), D(5), D(4)], bound["h"]);
        Assert.Equal([D(7), D(2)], bound["y"]);
    }

    [Fact]
    public void Known_dimensions_that_do_not_match_are_reported_with_the_node()
    {
        var x = new ValueInfo("x", ElementType.Float, [S("batch"), D(3)]);
        var graph = Graph([x], [Node("Gemm", ["x", "w"], "y", Int("transB", 1))], "y",
            parameters: [new Parameter("w", "w", [2, 4], new double[8])]);

        var ex = Assert.Throws<InvalidDataException>(() => ShapeInference.Infer(graph));
        Assert.Equal("model: op Gemm (node 'y_node'): A [batch, 3] and B [2, 4] do not conform", ex.Message);
    }

    [Fact]
    public void One_symbolic_dimension_takes_its_size_from_the_row_width_and_says_so()
    {
        var x = new ValueInfo("x", ElementType.Float, [S("batch"), S("seq"), D(2)]);

        var shape = InputShape.Resolve(x, rowWidth: 14);

        Assert.Equal([7, 2], shape.SampleShape!);
        Assert.Equal(14, shape.Width);
        Assert.Equal("input 'x' [batch, seq, 2]: seq = 7, from the 14 values per row", shape.FromRowWidth);
        var ex = Assert.Throws<InvalidDataException>(() => InputShape.Resolve(x, rowWidth: 7));
        Assert.Equal("7 values per row do not fill input 'x' [batch, seq, 2]: its other dimensions take 2 per step, so a row needs a multiple of 2", ex.Message);
    }

    [Fact]
    public void Given_sizes_fill_named_dimensions_and_two_open_ones_stay_unresolved()
    {
        var x = new ValueInfo("x", ElementType.Float, [S("batch"), S("seq"), S("feat")]);

        var open = InputShape.Resolve(x, rowWidth: 12);
        Assert.Null(open.SampleShape);
        Assert.Equal(["seq", "feat"], open.Unresolved);

        var one = InputShape.Resolve(x, new Dictionary<string, int> { ["feat"] = 3 }, rowWidth: 12);
        Assert.Equal([4, 3], one.SampleShape!);
        Assert.Equal("input 'x' [batch, seq, feat]: seq = 4, from the 12 values per row", one.FromRowWidth);

        var both = InputShape.Resolve(x, new Dictionary<string, int> { ["feat"] = 3, ["seq"] = 2 }, rowWidth: 12);
        Assert.Equal([2, 3], both.SampleShape!);
        Assert.Null(both.FromRowWidth);

        var unknown = Assert.Throws<ArgumentException>(() => InputShape.Resolve(x, new Dictionary<string, int> { ["len"] = 3 }));
        Assert.Equal("len=3: input 'x' [batch, seq, feat] has no dimension 'len' (its symbolic dimensions besides the batch: seq, feat)", unknown.Message);
        var batch = Assert.Throws<ArgumentException>(() => InputShape.Resolve(x, new Dictionary<string, int> { ["batch"] = 3 }));
        Assert.Contains("'batch' is the batch axis", batch.Message);
    }

    [Fact]
    public void Binding_declares_the_sizes_and_keeps_the_batch_symbolic()
    {
        var x = new ValueInfo("x", ElementType.Float, [S("batch"), S("seq"), D(1)]);
        var graph = Graph([x], [Node("Identity", ["x"], "y")], "y");

        var bound = InputShape.Resolve(x, rowWidth: 5).Bind(graph);

        Assert.Equal([S("batch"), D(5), D(1)], bound.Inputs[0].Shape);
        Assert.Same(graph.Nodes, bound.Nodes);
        Assert.Equal([S("batch"), D(5), D(1)], ShapeInference.Infer(bound)["y"]);
        var declaredFixed = Graph([x with { Shape = [S("batch"), D(5), D(1)] }], [Node("Identity", ["x"], "y")], "y");
        Assert.Same(declaredFixed, InputShape.Resolve(declaredFixed.Inputs[0]).Bind(declaredFixed));
    }
}
