using System.Buffers.Binary;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests;

/// <summary>The schema round-trips what it does not know; tensors of every numeric type read as double.</summary>
public class ProtobufAndTensorTests
{
    private static byte[] Field(int number, byte[] payload)
    {
        using var stream = new MemoryStream();
        using (var output = new CodedOutputStream(stream, leaveOpen: true))
        {
            output.WriteTag(number, WireFormat.WireType.LengthDelimited);
            output.WriteBytes(ByteString.CopyFrom(payload));
            output.Flush();
        }
        return stream.ToArray();
    }

    [Fact]
    public void Unknown_fields_survive_parse_write_parse()
    {
        byte[] original = File.ReadAllBytes(TestPaths.Model("blog_mlp_pytorch.onnx"));
        // training_info (ModelProto 20) and a sparse initializer (GraphProto 15, inside a second graph field that
        // protobuf merges into the first) are not in the project's schema.
        byte[] trainingInfo = Field(20, [0x0A, 0x02, 0x68, 0x69]);
        byte[] sparse = Field(7, Field(15, [0x12, 0x03, 0x61, 0x62, 0x63]));
        byte[] withUnknown = [.. original, .. trainingInfo, .. sparse];

        var parsed = ModelProto.Parser.ParseFrom(withUnknown);
        byte[] written = parsed.ToByteArray();
        var reparsed = ModelProto.Parser.ParseFrom(written);

        Assert.Equal(parsed, reparsed);
        Assert.Equal(written, reparsed.ToByteArray());
        Assert.True(IndexOf(written, trainingInfo) >= 0, "ModelProto unknown field 20 lost");
        Assert.True(IndexOf(reparsed.Graph.ToByteArray(), Field(15, [0x12, 0x03, 0x61, 0x62, 0x63])) >= 0, "GraphProto unknown field 15 lost");
        Assert.Equal(6, reparsed.Graph.Initializer.Count);

        // The importer is not disturbed by them.
        Assert.Equal(81, OnnxImporter.Import(reparsed, null).TotalParameters);
    }

    private static int IndexOf(byte[] haystack, byte[] needle) => haystack.AsSpan().IndexOf(needle);

    public static TheoryData<string> NumericTypes => new()
    {
        nameof(TensorProto.Types.DataType.Float), nameof(TensorProto.Types.DataType.Double), nameof(TensorProto.Types.DataType.Float16),
        nameof(TensorProto.Types.DataType.Bfloat16), nameof(TensorProto.Types.DataType.Int8), nameof(TensorProto.Types.DataType.Uint8),
        nameof(TensorProto.Types.DataType.Int16), nameof(TensorProto.Types.DataType.Uint16), nameof(TensorProto.Types.DataType.Int32),
        nameof(TensorProto.Types.DataType.Uint32), nameof(TensorProto.Types.DataType.Int64), nameof(TensorProto.Types.DataType.Uint64),
        nameof(TensorProto.Types.DataType.Bool),
    };

    [Theory]
    [MemberData(nameof(NumericTypes))]
    public void Every_numeric_type_reads_the_same_from_raw_bytes_and_typed_fields(string typeName)
    {
        var type = Enum.Parse<TensorProto.Types.DataType>(typeName);
        double[] values = type switch
        {
            TensorProto.Types.DataType.Bool => [1, 0, 1, 1],
            TensorProto.Types.DataType.Float or TensorProto.Types.DataType.Double or TensorProto.Types.DataType.Float16
                or TensorProto.Types.DataType.Bfloat16 => [1, -3.5, 2, 100],
            TensorProto.Types.DataType.Int8 or TensorProto.Types.DataType.Int16 or TensorProto.Types.DataType.Int32
                or TensorProto.Types.DataType.Int64 => [1, -3, 2, 100],
            _ => [1, 0, 2, 100],
        };

        var raw = new TensorProto { Name = "t", DataType = (int)type, Dims = { 2, 2 }, RawData = ByteString.CopyFrom(Raw(type, values)) };
        var typed = new TensorProto { Name = "t", DataType = (int)type, Dims = { 2, 2 } };
        Typed(typed, type, values);

        var fromRaw = OnnxImporter.ReadTensor(raw);
        var fromTyped = OnnxImporter.ReadTensor(typed);
        Assert.Equal(values, fromRaw.Data);
        Assert.Equal(values, fromTyped.Data);
        Assert.Equal([2, 2], fromRaw.Shape);
        Assert.Equal((int)type, (int)fromRaw.SourceType);
    }

    private static byte[] Raw(TensorProto.Types.DataType type, double[] values)
    {
        var bytes = new List<byte>();
        foreach (double v in values)
        {
            byte[] b = type switch
            {
                TensorProto.Types.DataType.Float => BitConverter.GetBytes((float)v),
                TensorProto.Types.DataType.Double => BitConverter.GetBytes(v),
                TensorProto.Types.DataType.Float16 => BitConverter.GetBytes((Half)v),
                TensorProto.Types.DataType.Bfloat16 => BitConverter.GetBytes((ushort)(BitConverter.SingleToUInt32Bits((float)v) >> 16)),
                TensorProto.Types.DataType.Int8 => [(byte)(sbyte)v],
                TensorProto.Types.DataType.Uint8 or TensorProto.Types.DataType.Bool => [(byte)v],
                TensorProto.Types.DataType.Int16 => BitConverter.GetBytes((short)v),
                TensorProto.Types.DataType.Uint16 => BitConverter.GetBytes((ushort)v),
                TensorProto.Types.DataType.Int32 => BitConverter.GetBytes((int)v),
                TensorProto.Types.DataType.Uint32 => BitConverter.GetBytes((uint)v),
                TensorProto.Types.DataType.Int64 => BitConverter.GetBytes((long)v),
                TensorProto.Types.DataType.Uint64 => BitConverter.GetBytes((ulong)v),
                _ => throw new ArgumentOutOfRangeException(nameof(type)),
            };
            bytes.AddRange(b);
        }
        Assert.True(BitConverter.IsLittleEndian);
        return [.. bytes];
    }

    private static void Typed(TensorProto t, TensorProto.Types.DataType type, double[] values)
    {
        foreach (double v in values)
        {
            switch (type)
            {
                case TensorProto.Types.DataType.Float: t.FloatData.Add((float)v); break;
                case TensorProto.Types.DataType.Double: t.DoubleData.Add(v); break;
                case TensorProto.Types.DataType.Int64: t.Int64Data.Add((long)v); break;
                case TensorProto.Types.DataType.Uint32 or TensorProto.Types.DataType.Uint64: t.Uint64Data.Add((ulong)v); break;
                case TensorProto.Types.DataType.Float16: t.Int32Data.Add(BitConverter.HalfToUInt16Bits((Half)v)); break;
                case TensorProto.Types.DataType.Bfloat16: t.Int32Data.Add((int)(BitConverter.SingleToUInt32Bits((float)v) >> 16)); break;
                default: t.Int32Data.Add((int)v); break;
            }
        }
    }

    [Fact]
    public void Tensor_file_is_read_from_disk_and_bad_files_are_refused()
    {
        using var folder = new TempFolder();
        string path = folder.File("input_0.pb");
        File.WriteAllBytes(path, Floats("x", [3], 1.5f, -2, 4).ToByteArray());
        var t = OnnxImporter.ReadTensorFile(path);
        Assert.Equal("x", t.Name);
        Assert.Equal([1.5, -2, 4], t.Data);

        File.WriteAllBytes(path, Floats("x", [3], 1.5f, -2, 4).ToByteArray()[..7]);
        Assert.Contains("input_0.pb", Assert.Throws<OnnxImportException>(() => OnnxImporter.ReadTensorFile(path)).Message);
    }

    [Fact]
    public void Parameter_naming_splits_meaningful_names_and_recognises_opaque_ones()
    {
        Assert.Equal("params.Dense_0.kernel", ParameterNames.Dotted("params/Dense_0/kernel"));
        Assert.Equal("encoder.0.weight", ParameterNames.Dotted("encoder.0.weight"));
        foreach (string opaque in new[] { "const_3", "onnx::MatMul_18", "17", "const_val_0", "/0/Constant_output_0", "/Constant_1_output_0", "" })
            Assert.True(ParameterNames.IsOpaque(opaque), opaque);
        foreach (string meaningful in new[] { "0.weight", "fc1.bias", "params/Dense_0/kernel", "W", "head.weight" })
            Assert.False(ParameterNames.IsOpaque(meaningful), meaningful);
    }

    [Fact]
    public void Scalar_activation_constants_and_integer_tensors_are_constants()
    {
        // y = 0.5 * h * (1 + erf(h / sqrt(2))), h = x @ W + b, then a Reshape by an int64 shape.
        var graph = new GraphProto();
        graph.Input.Add(Value("x", 4, 2));
        graph.Output.Add(Value("y", 4, 3));
        graph.Initializer.Add(Floats("W", [2, 3], 1, 2, 3, 4, 5, 6));
        graph.Initializer.Add(Floats("b", [3], 1, 1, 1));
        graph.Initializer.Add(Floats("sqrt2", [], 1.4142135f));
        graph.Initializer.Add(Floats("one", [], 1));
        graph.Initializer.Add(Floats("half", [1], 0.5f));
        var shape = new TensorProto { Name = "shape", DataType = 7, Dims = { 2 }, Int64Data = { 4, 3 } };
        graph.Initializer.Add(shape);
        graph.Node.Add(Node("MatMul", "mm", ["x", "W"], ["xw"]));
        graph.Node.Add(Node("Add", "bias", ["xw", "b"], ["h"]));
        graph.Node.Add(Node("Div", "d", ["h", "sqrt2"], ["hs"]));
        graph.Node.Add(Node("Erf", "e", ["hs"], ["er"]));
        graph.Node.Add(Node("Add", "a1", ["er", "one"], ["e1"]));
        graph.Node.Add(Node("Mul", "m1", ["h", "e1"], ["p"]));
        graph.Node.Add(Node("Mul", "m2", ["p", "half"], ["g"]));
        graph.Node.Add(Node("Reshape", "r", ["g", "shape"], ["y"]));

        var imported = OnnxImporter.Import(Model(graph), null);

        Assert.Equal(["W", "b"], imported.Parameters.Select(p => p.Name));
        Assert.Equal([0, 0], imported.Parameters.Select(p => p.Layer));
        Assert.Equal(["half", "one", "shape", "sqrt2"], imported.Constants.Keys.Order());
        // Batch exported as 4: the input reads as 'batch' and the Reshape no longer pins 4 rows.
        Assert.Equal(4, imported.ExportedBatchSize);
        Assert.Equal("batch", imported.Inputs[0].Shape[0].Symbol);
        Assert.Equal("batch", imported.Outputs[0].Shape[0].Symbol);
        Assert.Equal([-1.0, 3], imported.Constants["shape"].Data);
    }

    [Fact]
    public void Constant_node_forms_fold_and_nodes_come_out_sorted()
    {
        var graph = new GraphProto();
        graph.Input.Add(Value("x", "N", 2));
        graph.Output.Add(Value("y", "N", 2));
        // Listed out of order: the consumer before its producers.
        graph.Node.Add(Node("Add", "add", ["h", "onnx::Add_4"], ["y"]));
        graph.Node.Add(Node("Mul", "scale", ["x", "onnx::Mul_3"], ["h"]));
        graph.Node.Add(Node("Constant", "k1", [], ["onnx::Mul_3"],
            new AttributeProto { Name = "value_floats", Type = AttributeProto.Types.AttributeType.Floats, Floats = { 2, 3 } }));
        graph.Node.Add(Node("Constant", "k2", [], ["onnx::Add_4"],
            new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("", [2], 0.5f, 0.25f) }));
        graph.Node.Add(Node("Constant", "k3", [], ["axes"],
            new AttributeProto { Name = "value_ints", Type = AttributeProto.Types.AttributeType.Ints, Ints = { 0, 1 } }));

        var imported = OnnxImporter.Import(Model(graph), null);

        Assert.Equal(["Mul", "Add"], imported.Nodes.Select(n => n.OpType));
        // The bias added right after the scale joins its layer.
        Assert.Equal(["layer0.weight", "layer0.bias"], imported.Parameters.Select(p => p.Name));
        Assert.Equal(["onnx::Mul_3", "onnx::Add_4"], imported.Parameters.Select(p => p.OnnxName));
        Assert.Equal([0.5, 0.25], imported.Parameters[1].Values);
        Assert.Equal(ElementType.Int64, imported.Constants["axes"].SourceType);
        Assert.Null(imported.ExportedBatchSize);
    }

    [Fact]
    public void Function_attribute_references_take_the_callers_values()
    {
        var function = new FunctionProto { Name = "Leaky", Domain = "local", Input = { "a" }, Output = { "b" }, Attribute = { "slope" } };
        function.Node.Add(Node("LeakyRelu", "inner", ["a"], ["b"],
            new AttributeProto { Name = "alpha", RefAttrName = "slope", Type = AttributeProto.Types.AttributeType.Float }));
        var model = TinyMlp();
        model.Functions.Add(function);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "local", Version = 1 });
        model.Graph.Node[1] = new NodeProto
        {
            OpType = "Leaky", Domain = "local", Name = "act", Input = { "h" }, Output = { "y" },
            Attribute = { new AttributeProto { Name = "slope", Type = AttributeProto.Types.AttributeType.Float, F = 0.25f } },
        };

        var imported = OnnxImporter.Import(model, null);

        var node = imported.Nodes[1];
        Assert.Equal("LeakyRelu", node.OpType);
        Assert.Equal("act/inner", node.Name);
        Assert.Equal(0.25, node.GetFloat("alpha", 0.01));
        Assert.Equal(["h"], node.Inputs);
        Assert.Equal(["y"], node.Outputs);
    }
}
