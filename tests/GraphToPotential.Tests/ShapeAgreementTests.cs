using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;
using static Bnn.Onnx.Tests.Graphs;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The backend-neutral <see cref="ShapeInference"/> agrees with the compiled program on every fixture model and every
/// PyTorch / Flax-style file in ../shared: for a given row count, every value the compiled program keeps has the
/// inferred shape, and <see cref="GraphShapes.OutputWidth"/> (symbolic batch) is the compiled output's width.
/// </summary>
public class ShapeAgreementTests
{
    public static TheoryData<string> ModelFiles()
    {
        var data = new TheoryData<string>();
        foreach (var f in Directory.GetFiles(TestPaths.Models, "*.onnx").Order()) data.Add(Path.GetFileName(f));
        return data;
    }


    /// <summary>The row widths the model is fed in its fixture inputs (<c>NAME.input.csv</c>, <c>NAME.seq7.input.csv</c>, …).</summary>
    private static int[] FixtureWidths(string modelPath)
    {
        string dir = Path.GetDirectoryName(modelPath)!;
        string stem = Path.GetFileNameWithoutExtension(modelPath);
        return Directory.GetFiles(dir, stem + "*.input.csv")
            .Select(f => File.ReadLines(f).First(l => l.Trim().Length > 0).Split(',').Length).Distinct().Order().ToArray();
    }

    private static void AssertAgrees(string path)
    {
        var imported = OnnxImporter.Import(path);
        var input = Assert.Single(imported.Inputs);
        // A fixed input shape gives one width; a symbolic one is fed the widths of its fixture inputs.
        int[] widths = InputShape.Resolve(input).SampleShape is null ? FixtureWidths(path) : [InputShape.Resolve(input).Width];
        Assert.NotEmpty(widths);
        foreach (int width in widths)
        {
            var graph = InputShape.Resolve(input, rowWidth: width).Bind(imported);
            var sample = graph.Inputs[0].Shape.Skip(1).Select(d => (int)d.Value!.Value).ToArray();
            int outputWidth = GraphShapes.OutputWidth(graph, 0);
            foreach (int rows in new[] { 3, 7 })
            {
                var program = ProgramBuilder<double>.Build(graph, new CompileSettings(rows, input.Name, ParameterGradients: false,
                    KeepValues: graph.Outputs.Select(o => o.Name).ToArray()));
                var inferred = ShapeInference.Infer(graph, new Dictionary<string, IReadOnlyList<Dimension>>
                {
                    [input.Name] = [Dimension.Fixed(rows), .. sample.Select(d => Dimension.Fixed(d))],
                });
                int compared = 0;
                foreach (var (name, value) in program.Values)
                {
                    var shape = inferred.GetValueOrDefault(name);
                    Assert.True(shape is not null, $"{Path.GetFileName(path)}: no shape inferred for '{name}'");
                    Assert.True(shape.Select(d => d.Value).SequenceEqual(value.Shape.Select(d => (long?)d)),
                        $"{Path.GetFileName(path)}, {rows} rows of {width}: '{name}' inferred [{string.Join(", ", shape)}], compiled {value.ShapeText}");
                    compared++;
                }
                Assert.True(compared > graph.Parameters.Count, $"{Path.GetFileName(path)}: only {compared} values compared");
                var output = program.Value(graph.Outputs[0].Name);
                Assert.Equal(0, output.RowAxis);
                Assert.Equal(outputWidth, output.PhysCount);
            }
        }
    }

    [Theory]
    [MemberData(nameof(ModelFiles))]
    public void Inferred_shapes_match_the_compiled_program_on_fixture(string file) => AssertAgrees(Path.Combine(TestPaths.Models, file));

    [SharedFact("onnx/flax-style")]
    public void Inferred_shapes_match_the_compiled_program_on_the_shared_pytorch_and_flax_style_files()
    {
        var files = Directory.GetFiles(SharedFolder.Path("onnx", "pytorch"), "*.onnx")
            .Concat(Directory.GetFiles(SharedFolder.Path("onnx", "flax-style"), "*.onnx")).Order().ToArray();
        Assert.Equal(5, files.Length);
        foreach (var f in files) AssertAgrees(f);
    }

    [Fact]
    public void An_output_without_the_batch_on_axis_0_is_refused_and_a_declared_shape_fills_in_for_an_unknown_op()
    {
        var x = new ValueInfo("x", ElementType.Float, [Dimension.Symbolic("N"), Dimension.Fixed(3)]);
        var transposed = Graph([x], [new ValueInfo("y", ElementType.Float, [])], [Node("Transpose", ["x"], ["y"])], []);
        var ex = Assert.Throws<NotSupportedException>(() => GraphShapes.OutputWidth(transposed, 0));
        Assert.Equal("model: output 'y' [3, N] does not carry the batch on axis 0", ex.Message);

        var declared = new ValueInfo("y", ElementType.Float, [Dimension.Symbolic("N"), Dimension.Fixed(2)]);
        var opaque = Graph([x], [declared], [Node("TopK", ["x", "k"], ["y", "i"])], []);
        Assert.Equal(2, GraphShapes.OutputWidth(opaque, 0));
        var undeclared = Graph([x], [declared with { Shape = [] }], [Node("TopK", ["x", "k"], ["y", "i"])], []);
        Assert.Equal("model: the shape of output 'y' cannot be inferred and the file does not declare it",
            Assert.Throws<NotSupportedException>(() => GraphShapes.OutputWidth(undeclared, 0)).Message);
    }

    [Fact]
    public void A_sequence_models_output_width_is_known_before_its_sequence_length()
    {
        var graph = OnnxImporter.Import(Path.Combine(TestPaths.Models, "sequence_mean_pytorch.onnx"));

        Assert.Equal(["batch", "seq", "1"], graph.Inputs[0].Shape.Select(d => d.ToString()));
        Assert.Equal(["batch", "1"], GraphShapes.OutputShape(graph, 0).Select(d => d.ToString()));
        Assert.Equal(1, GraphShapes.OutputWidth(graph, 0));
        var ex = Assert.Throws<NotSupportedException>(() => GraphShapes.InputWidth(graph));
        Assert.Equal("model: input 'x' [batch, seq, 1] has non-batch dimensions of unknown size (seq); their sizes must be given", ex.Message);
    }
}
