using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.Tests;

/// <summary>Small hand-built models for the tests, made with the generated protobuf classes.</summary>
internal static class ModelBuilder
{
    public static ValueInfoProto Value(string name, params object[] dims)
    {
        var shape = new TensorShapeProto();
        foreach (var d in dims)
            shape.Dim.Add(d is string s ? new TensorShapeProto.Types.Dimension { DimParam = s }
                : new TensorShapeProto.Types.Dimension { DimValue = Convert.ToInt64(d) });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1, Shape = shape } },
        };
    }

    public static TensorProto Floats(string name, long[] dims, params float[] values)
    {
        var t = new TensorProto { Name = name, DataType = (int)TensorProto.Types.DataType.Float };
        t.Dims.AddRange(dims);
        t.FloatData.AddRange(values);
        return t;
    }

    public static NodeProto Node(string op, string name, string[] inputs, string[] outputs, params AttributeProto[] attributes)
    {
        var node = new NodeProto { OpType = op, Name = name };
        node.Input.AddRange(inputs);
        node.Output.AddRange(outputs);
        node.Attribute.AddRange(attributes);
        return node;
    }

    public static AttributeProto Int(string name, long value) =>
        new() { Name = name, Type = AttributeProto.Types.AttributeType.Int, I = value };

    /// <summary>x [batch,2] → Gemm(W [3,2], b [3], transB=1) → Tanh → y.</summary>
    public static ModelProto TinyMlp()
    {
        var graph = new GraphProto { Name = "tiny" };
        graph.Input.Add(Value("x", "batch", 2));
        graph.Output.Add(Value("y", "batch", 3));
        graph.Initializer.Add(Floats("fc.weight", [3, 2], 1, 2, 3, 4, 5, 6));
        graph.Initializer.Add(Floats("fc.bias", [3], 0.1f, 0.2f, 0.3f));
        graph.Node.Add(Node("Gemm", "fc", ["x", "fc.weight", "fc.bias"], ["h"], Int("transB", 1)));
        graph.Node.Add(Node("Tanh", "act", ["h"], ["y"]));
        return Model(graph);
    }

    public static ModelProto Model(GraphProto graph, long opset = 17)
    {
        var model = new ModelProto { IrVersion = 8, ProducerName = "bnn-onnx-tests", Graph = graph };
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = opset });
        return model;
    }
}

/// <summary>A temporary folder removed at the end of the test.</summary>
internal sealed class TempFolder : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("bnn-onnx-import-").FullName;

    public string File(string name) => System.IO.Path.Combine(Path, name);

    public string Write(string name, ModelProto model)
    {
        string path = File(name);
        System.IO.File.WriteAllBytes(path, model.ToByteArray());
        return path;
    }

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { } catch (UnauthorizedAccessException) { }
    }
}
