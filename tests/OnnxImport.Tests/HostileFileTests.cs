using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests;

/// <summary>Every bad file is refused with one OnnxImportException line that says what and where.</summary>
public class HostileFileTests
{
    private static OnnxImportException Refused(string path, ImportOptions? options = null)
    {
        var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(path, options ?? ImportOptions.Default));
        Assert.DoesNotContain('\n', ex.Message);
        Assert.IsAssignableFrom<IOException>(ex);
        return ex;
    }

    private static OnnxImportException Refused(ModelProto model, string name = "model.onnx")
    {
        using var folder = new TempFolder();
        var ex = Refused(folder.Write(name, model));
        Assert.Contains(name, ex.Message);
        return ex;
    }

    [Fact]
    public void Tiny_mlp_itself_imports()
    {
        using var folder = new TempFolder();
        var graph = OnnxImporter.Import(folder.Write("tiny.onnx", TinyMlp()));
        Assert.Equal(["fc.weight", "fc.bias"], graph.Parameters.Select(p => p.Name));
    }

    [Fact]
    public void Text_file_is_not_an_onnx_model()
    {
        using var folder = new TempFolder();
        string path = folder.File("notes.onnx");
        File.WriteAllText(path, "this is not a model\n");
        Assert.Contains("not an ONNX model", Refused(path).Message);

        File.WriteAllBytes(path, []);
        Assert.Contains("not an ONNX model", Refused(path).Message);
    }

    [Fact]
    public void Every_truncation_of_a_real_model_is_refused()
    {
        byte[] bytes = File.ReadAllBytes(TestPaths.Model("blog_mlp_pytorch.onnx"));
        using var folder = new TempFolder();
        string path = folder.File("cut.onnx");
        for (int length = 0; length < bytes.Length; length++)
        {
            File.WriteAllBytes(path, bytes[..length]);
            var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(path));
            Assert.Contains("cut.onnx", ex.Message);
        }
    }

    [Fact]
    public void Missing_file_and_folder_are_refused()
    {
        using var folder = new TempFolder();
        Assert.Contains("not found", Refused(folder.File("absent.onnx")).Message);
        Assert.Contains("folder", Refused(folder.Path).Message);
    }

    [Fact]
    public void Unsupported_op_names_the_op_the_node_and_what_is_supported()
    {
        var model = TinyMlp();
        model.Graph.Node[1] = Node("Conv", "/features/conv1/Conv", ["h"], ["y"]);
        var ex = Refused(model);
        Assert.Contains("op 'Conv' is not supported yet", ex.Message);
        Assert.Contains("/features/conv1/Conv", ex.Message);
        Assert.Contains("supported: ", ex.Message);
        foreach (string op in new[] { "Gemm", "MatMul", "Softplus", "BatchNormalization" }) Assert.Contains(op, ex.Message);
    }

    [Fact]
    public void Supported_op_list_covers_the_issue()
    {
        string[] required = ["Gemm", "MatMul", "Add", "Sub", "Mul", "Div", "Relu", "LeakyRelu", "Elu", "Selu", "Tanh", "Sigmoid",
            "HardSigmoid", "Softplus", "Softsign", "Gelu", "Erf", "Exp", "Log", "Neg", "Sqrt", "Pow", "Softmax", "LogSoftmax",
            "Identity", "Reshape", "Flatten", "Transpose", "Concat", "Squeeze", "Unsqueeze", "Cast", "Clip", "ReduceSum",
            "ReduceMean", "Constant", "Dropout", "BatchNormalization"];
        Assert.All(required, op => Assert.Contains(op, SupportedOps.All));
        Assert.DoesNotContain("Conv", SupportedOps.All);
    }

    [Theory]
    [InlineData(nameof(TensorProto.Types.DataType.String), "STRING")]
    [InlineData(nameof(TensorProto.Types.DataType.Complex64), "COMPLEX64")]
    [InlineData(nameof(TensorProto.Types.DataType.Float8E4M3Fn), "FLOAT8E4M3FN")]
    public void Unsupported_dtype_names_the_type_and_the_tensor(string typeName, string spelled)
    {
        var type = Enum.Parse<TensorProto.Types.DataType>(typeName);
        var model = TinyMlp();
        model.Graph.Initializer[1] = new TensorProto { Name = "fc.bias", DataType = (int)type, Dims = { 3 }, RawData = ByteString.CopyFrom(new byte[24]) };
        var ex = Refused(model);
        Assert.Contains($"unsupported dtype {spelled}", ex.Message);
        Assert.Contains("'fc.bias'", ex.Message);
    }

    [Fact]
    public void Raw_data_shorter_than_declared_is_refused()
    {
        var model = TinyMlp();
        model.Graph.Initializer[0] = new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 3, 2 }, RawData = ByteString.CopyFrom(new byte[20]) };
        var ex = Refused(model);
        Assert.Contains("'fc.weight'", ex.Message);
        Assert.Contains("needs 24 bytes", ex.Message);

        model.Graph.Initializer[0] = Floats("fc.weight", [3, 2], 1, 2, 3);
        Assert.Contains("has 6 elements but the tensor holds 3", Refused(model).Message);
    }

    [Fact]
    public void Huge_declared_dims_are_refused_before_allocating()
    {
        var model = TinyMlp();
        model.Graph.Initializer[0] = new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 1L << 40, 1L << 40 } };
        long before = GC.GetAllocatedBytesForCurrentThread();
        var ex = Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(model, null));
        Assert.True(GC.GetAllocatedBytesForCurrentThread() - before < 16 << 20, "allocated more than 16 MB before refusing");
        Assert.Contains("'fc.weight'", ex.Message);
        Assert.Contains("too large", ex.Message);

        model.Graph.Initializer[0] = new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 100_000, 100_000 } };
        Assert.Contains("exceeds the limit", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(model, null)).Message);

        model.Graph.Initializer[0] = new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 3, -2 } };
        Assert.Contains("negative dimension", Assert.Throws<OnnxImportException>(() => OnnxImporter.Import(model, null)).Message);
    }

    [Fact]
    public void Limits_on_file_size_and_node_count_are_enforced()
    {
        using var folder = new TempFolder();
        string path = folder.Write("tiny.onnx", TinyMlp());
        Assert.Contains("over the limit", Refused(path, new ImportOptions { MaxFileBytes = 16 }).Message);
        Assert.Contains("more than 1 nodes", Refused(path, new ImportOptions { MaxNodes = 1 }).Message);
        Assert.Contains("exceeds the limit of 4 elements", Refused(path, new ImportOptions { MaxTensorElements = 4 }).Message);
    }

    [Fact]
    public void Cycle_is_refused_naming_a_node_on_it()
    {
        var model = TinyMlp();
        model.Graph.Node.Clear();
        model.Graph.Node.Add(Node("Add", "a", ["x", "c"], ["b"]));
        model.Graph.Node.Add(Node("Tanh", "b_node", ["b"], ["c"]));
        model.Graph.Node.Add(Node("Gemm", "fc", ["c", "fc.weight", "fc.bias"], ["y"], Int("transB", 1)));
        var ex = Refused(model);
        Assert.Contains("cycle", ex.Message);
        Assert.Contains("node 'a' (Add)", ex.Message);
    }

    [Fact]
    public void Dangling_input_is_refused_naming_node_and_value()
    {
        var model = TinyMlp();
        model.Graph.Node[1] = Node("Add", "add", ["h", "nowhere"], ["y"]);
        var ex = Refused(model);
        Assert.Contains("node 'add' (Add)", ex.Message);
        Assert.Contains("input 'nowhere' is not produced", ex.Message);
    }

    [Fact]
    public void Unproduced_output_and_doubly_produced_value_are_refused()
    {
        var model = TinyMlp();
        model.Graph.Output.Add(Value("z", "batch", 3));
        Assert.Contains("graph output 'z' is not produced", Refused(model).Message);

        model = TinyMlp();
        model.Graph.Node.Add(Node("Relu", "again", ["h"], ["y"]));
        Assert.Contains("value 'y' is produced twice", Refused(model).Message);
    }

    [Fact]
    public void Unknown_domain_is_refused()
    {
        var model = TinyMlp();
        model.Graph.Node[1] = new NodeProto { OpType = "FusedGelu", Domain = "com.microsoft", Name = "fused", Input = { "h" }, Output = { "y" } };
        var ex = Refused(model);
        Assert.Contains("unknown domain 'com.microsoft'", ex.Message);
        Assert.Contains("'fused'", ex.Message);
    }

    [Fact]
    public void Recursive_function_is_stopped_at_the_depth_limit()
    {
        var model = TinyMlp();
        var function = new FunctionProto { Name = "Loop", Domain = "custom", Input = { "a" }, Output = { "b" } };
        function.Node.Add(new NodeProto { OpType = "Loop", Domain = "custom", Name = "again", Input = { "a" }, Output = { "b" } });
        model.Functions.Add(function);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        model.Graph.Node[1] = new NodeProto { OpType = "Loop", Domain = "custom", Name = "call", Input = { "h" }, Output = { "y" } };
        Assert.Contains("nested deeper than 16", Refused(model).Message);
    }

    [Fact]
    public void Dropout_whose_mask_is_used_is_refused()
    {
        var model = TinyMlp();
        model.Graph.Node[1] = Node("Dropout", "drop", ["h"], ["y", "mask"]);
        model.Graph.Output.Add(Value("mask", "batch", 3));
        Assert.Contains("mask output 'mask' is used", Refused(model).Message);
    }

    // ------------------------------------------------------------------ external data

    private static ModelProto WithExternalWeight(string location, long? length = null, long? offset = null)
    {
        var model = TinyMlp();
        var t = new TensorProto { Name = "fc.weight", DataType = 1, Dims = { 3, 2 }, DataLocation = TensorProto.Types.DataLocation.External };
        t.ExternalData.Add(new StringStringEntryProto { Key = "location", Value = location });
        if (offset is not null) t.ExternalData.Add(new StringStringEntryProto { Key = "offset", Value = offset.Value.ToString() });
        if (length is not null) t.ExternalData.Add(new StringStringEntryProto { Key = "length", Value = length.Value.ToString() });
        model.Graph.Initializer[0] = t;
        return model;
    }

    private static byte[] SixFloats() => Enumerable.Range(1, 6).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray();

    [Fact]
    public void External_data_beside_the_model_is_read_with_offset_and_length()
    {
        using var folder = new TempFolder();
        File.WriteAllBytes(folder.File("weights.bin"), [.. new byte[8], .. SixFloats()]);
        var graph = OnnxImporter.Import(folder.Write("m.onnx", WithExternalWeight("weights.bin", length: 24, offset: 8)));
        Assert.Equal([1.0, 2, 3, 4, 5, 6], graph.Parameters[0].Values);
    }

    [Fact]
    public void Missing_external_data_file_is_refused()
    {
        using var folder = new TempFolder();
        var ex = Refused(folder.Write("m.onnx", WithExternalWeight("weights.bin")));
        Assert.Contains("'weights.bin' not found", ex.Message);
        Assert.Contains("'fc.weight'", ex.Message);
    }

    [Fact]
    public void External_data_outside_the_model_folder_is_refused()
    {
        using var outer = new TempFolder();
        string inner = Path.Combine(outer.Path, "model");
        Directory.CreateDirectory(inner);
        File.WriteAllBytes(outer.File("secret.bin"), SixFloats());
        string model = Path.Combine(inner, "m.onnx");

        File.WriteAllBytes(model, WithExternalWeight("../secret.bin").ToByteArray());
        Assert.Contains("outside the model's folder", Refused(model).Message);

        File.WriteAllBytes(model, WithExternalWeight(outer.File("secret.bin")).ToByteArray());
        Assert.Contains("absolute path", Refused(model).Message);

        File.WriteAllBytes(model, WithExternalWeight("sub/../../secret.bin").ToByteArray());
        Assert.Contains("outside the model's folder", Refused(model).Message);
    }

    [Fact]
    public void External_data_through_a_symlink_pointing_out_is_refused()
    {
        using var outer = new TempFolder();
        string inner = Path.Combine(outer.Path, "model");
        Directory.CreateDirectory(inner);
        File.WriteAllBytes(outer.File("secret.bin"), SixFloats());
        File.CreateSymbolicLink(Path.Combine(inner, "weights.bin"), outer.File("secret.bin"));
        Directory.CreateSymbolicLink(Path.Combine(inner, "data"), outer.Path);
        string model = Path.Combine(inner, "m.onnx");

        File.WriteAllBytes(model, WithExternalWeight("weights.bin").ToByteArray());
        Assert.Contains("link that points outside", Refused(model).Message);

        File.WriteAllBytes(model, WithExternalWeight("data/secret.bin").ToByteArray());
        Assert.Contains("link that points outside", Refused(model).Message);

        // A link that stays inside the folder is fine.
        File.Copy(outer.File("secret.bin"), Path.Combine(inner, "real.bin"));
        File.CreateSymbolicLink(Path.Combine(inner, "alias.bin"), Path.Combine(inner, "real.bin"));
        File.WriteAllBytes(model, WithExternalWeight("alias.bin").ToByteArray());
        Assert.Equal(6, OnnxImporter.Import(model).Parameters[0].Size);
    }

    [Fact]
    public void External_data_smaller_than_declared_is_refused()
    {
        using var folder = new TempFolder();
        File.WriteAllBytes(folder.File("weights.bin"), SixFloats()[..20]);
        var ex = Refused(folder.Write("m.onnx", WithExternalWeight("weights.bin")));
        Assert.Contains("needs 24 bytes", ex.Message);
        Assert.Contains("holds 20", ex.Message);

        File.WriteAllBytes(folder.File("weights.bin"), SixFloats());
        Assert.Contains("length 12 does not match", Refused(folder.Write("m.onnx", WithExternalWeight("weights.bin", length: 12))).Message);
        Assert.Contains("holds 0", Refused(folder.Write("m.onnx", WithExternalWeight("weights.bin", offset: 1000))).Message);
    }
}
