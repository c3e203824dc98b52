using System.Text;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests.Fuzz;

/// <summary>
/// Hand-made hostile files that random mutation is unlikely to hit: huge declared shapes over little data, huge
/// repeated fields, recursive and exponentially fanned-out functions, nesting past the protobuf recursion limit,
/// inputs that make naive name bookkeeping quadratic. Each writes its file into a folder and returns the path.
/// </summary>
internal static class HostileModels
{
    public static IReadOnlyDictionary<string, Func<string, string>> All { get; } = new Dictionary<string, Func<string, string>>
    {
        ["dims_2^40_x_2^40_over_24_bytes"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 1, Dims = { 1L << 40, 1L << 40 }, RawData = ByteString.CopyFrom(new byte[24]) })),
        ["dims_int_max_squared"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 1, Dims = { int.MaxValue, int.MaxValue }, FloatData = { 1, 2, 3 } })),
        ["dims_product_overflows_long"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 11, Dims = { 1 << 20, 1 << 20, 1 << 20, 1 << 20 }, RawData = ByteString.CopyFrom(new byte[8]) })),
        ["dims_zero_times_2^40"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 1, Dims = { 0, 1L << 40 } })),
        ["dims_negative"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 1, Dims = { -3, -2 }, FloatData = { 1, 2, 3, 4, 5, 6 } })),
        ["dims_at_the_element_limit_with_no_data"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 9, Dims = { 1 << 13, 1 << 14 } })),
        ["constant_with_huge_dims"] = dir => Write(dir, WithConstant(new TensorProto
            { DataType = 1, Dims = { 1L << 40, 1L << 40 }, RawData = ByteString.CopyFrom(new byte[4]) })),
        ["tensor_attribute_with_huge_dims"] = dir => Write(dir, WithTensorAttribute(new TensorProto
            { DataType = 1, Dims = { 1L << 31, 1L << 31 } })),
        ["million_float_data_for_one_element"] = dir => Write(dir, WithWeight(Floats("fc.weight", [1], new float[1_000_000]))),
        ["million_floats_declared_and_present"] = dir => Write(dir, WithWeight(Floats("fc.weight", [1000, 1000], new float[1_000_000]))),
        ["million_int32_data_as_bool"] = dir => Write(dir, WithWeight(new TensorProto
            { Name = "fc.weight", DataType = 9, Dims = { 1_000_000 }, Int32Data = { new int[1_000_000] } })),
        ["node_with_100k_inputs"] = dir => Write(dir, NodeWithManyInputs(100_000)),
        ["chain_of_99k_unnamed_nodes_with_short_value_names"] = dir => Write(dir, ShortNamedChain(99_000)),
        ["20k_value_infos"] = dir => Write(dir, ManyValueInfos(20_000)),
        ["function_calls_itself"] = dir => Write(dir, SelfRecursive()),
        ["mutually_recursive_functions"] = dir => Write(dir, MutuallyRecursive()),
        ["chain_of_10000_functions"] = dir => Write(dir, FunctionChain(10_000)),
        ["functions_fanned_out_10x_16_deep_of_constants"] = dir => Write(dir, FanOut(fan: 10, depth: 16, leafOp: "Constant", names: "short")),
        ["functions_fanned_out_10x_16_deep_of_relus"] = dir => Write(dir, FanOut(fan: 10, depth: 16, leafOp: "Relu", names: "short")),
        ["functions_fanned_out_with_empty_node_names"] = dir => Write(dir, FanOut(fan: 8, depth: 6, leafOp: "Relu", names: "empty")),
        ["functions_fanned_out_with_long_node_names"] = dir => Write(dir, FanOut(fan: 2, depth: 15, leafOp: "Relu", names: "long")),
        ["function_attribute_reference_fanned_out"] = dir => Write(dir, AttributeReferenceFanOut()),
        ["graph_attributes_nested_120_deep"] = dir => Write(dir, NestedGraphAttributes(120)),
        ["graph_attributes_nested_20_deep"] = dir => Write(dir, NestedGraphAttributes(20)),
        ["sequence_types_nested_200_deep"] = dir => Write(dir, NestedSequenceType(200)),
        ["unknown_groups_nested_100k_deep"] = dir => WriteBytes(dir, [.. TinyMlp().ToByteArray(), .. NestedGroups(100_000)]),
        ["unknown_length_delimited_nested_100k_deep"] = dir => WriteBytes(dir, [.. TinyMlp().ToByteArray(), .. NestedUnknownMessages(100_000)]),
        ["5k_parameters_with_one_dotted_name"] = dir => Write(dir, SameDottedName(5_000)),
        ["no_graph"] = dir => Write(dir, new ModelProto { IrVersion = 8, OpsetImport = { new OperatorSetIdProto { Version = 17 } } }),
        ["empty_file"] = dir => WriteBytes(dir, []),
        ["length_prefix_2^62"] = dir => WriteBytes(dir, [0x3A, .. WireTree.Varint(1UL << 62), 0x0A, 0x00]),
        ["length_prefix_negative"] = dir => WriteBytes(dir, [0x3A, .. WireTree.Varint(unchecked((ulong)-5L)), 0x0A, 0x00]),
        ["string_length_2^31"] = dir => WriteBytes(dir, [0x12, .. WireTree.Varint(1UL << 31), .. Encoding.ASCII.GetBytes("pytorch")]),
    };

    private static string Write(string dir, ModelProto model) => WriteBytes(dir, model.ToByteArray());

    private static string WriteBytes(string dir, byte[] bytes)
    {
        string path = Path.Combine(dir, "hostile.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    private static ModelProto WithWeight(TensorProto weight)
    {
        var model = TinyMlp();
        model.Graph.Initializer[0] = weight;
        return model;
    }

    private static ModelProto WithConstant(TensorProto value)
    {
        var model = TinyMlp();
        model.Graph.Node.Insert(0, Node("Constant", "c", [], ["c_out"], new AttributeProto { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = value }));
        return model;
    }

    private static ModelProto WithTensorAttribute(TensorProto value)
    {
        var model = TinyMlp();
        model.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "weird", Type = AttributeProto.Types.AttributeType.Tensor, T = value });
        return model;
    }

    private static ModelProto NodeWithManyInputs(int count)
    {
        var model = TinyMlp();
        var sum = Node("Sum", "sum", Enumerable.Repeat("h", count).ToArray(), ["s"]);
        model.Graph.Node[1] = Node("Tanh", "act", ["s"], ["y"]);
        model.Graph.Node.Insert(1, sum);
        return model;
    }

    /// <summary>The smallest nodes a file can hold (no node names, value names of 1-4 characters): most nodes per byte.</summary>
    private static ModelProto ShortNamedChain(int count)
    {
        static string Short(int i) => i == 0 ? "h" : Convert.ToString(i, 16);
        var model = TinyMlp();
        model.Graph.Node.RemoveAt(1);
        for (int i = 0; i < count; i++)
            model.Graph.Node.Add(new NodeProto { OpType = "Neg", Input = { Short(i) }, Output = { i == count - 1 ? "y" : Short(i + 1) } });
        return model;
    }

    private static ModelProto ManyValueInfos(int count)
    {
        var model = TinyMlp();
        for (int i = 0; i < count; i++) model.Graph.ValueInfo.Add(Value($"v{i}", "batch", 3));
        return model;
    }

    private static ModelProto WithFunctions(params FunctionProto[] functions)
    {
        var model = TinyMlp();
        model.Functions.AddRange(functions);
        model.OpsetImport.Add(new OperatorSetIdProto { Domain = "custom", Version = 1 });
        model.Graph.Node[1] = new NodeProto { OpType = functions[0].Name, Domain = "custom", Name = "call", Input = { "h" }, Output = { "y" } };
        return model;
    }

    private static FunctionProto Function(string name, params NodeProto[] body)
    {
        var f = new FunctionProto { Name = name, Domain = "custom", Input = { "a" }, Output = { "b" } };
        f.Node.AddRange(body);
        return f;
    }

    private static NodeProto Call(string function, string name, string input = "a", string output = "b") =>
        new() { OpType = function, Domain = "custom", Name = name, Input = { input }, Output = { output } };

    private static ModelProto SelfRecursive() => WithFunctions(Function("F", Call("F", "again")));

    private static ModelProto MutuallyRecursive() => WithFunctions(Function("A", Call("B", "to_b")), Function("B", Call("A", "to_a")));

    private static ModelProto FunctionChain(int length) =>
        WithFunctions(Enumerable.Range(0, length)
            .Select(i => i == length - 1 ? Function($"F{i}", Node("Relu", "leaf", ["a"], ["b"])) : Function($"F{i}", Call($"F{i + 1}", $"c{i}")))
            .ToArray());

    /// <summary>
    /// F0 calls F1 <paramref name="fan"/> times, F1 calls F2 as often, and so on: a file of a few kilobytes whose
    /// full expansion has fan^depth nodes.
    /// </summary>
    private static ModelProto FanOut(int fan, int depth, string leafOp, string names)
    {
        string NodeName(int level, int i) => names switch
        {
            "empty" => "",
            "long" => new string((char)('a' + i % 26), 20_000) + level,
            _ => $"n{i}",
        };
        var functions = new List<FunctionProto>();
        for (int level = 0; level < depth; level++)
        {
            var f = new FunctionProto { Name = $"F{level}", Domain = "custom", Input = { "a" }, Output = { "b" } };
            for (int i = 0; i < fan; i++)
            {
                string output = i == fan - 1 ? "b" : $"t{i}";
                string input = i == 0 ? "a" : $"t{i - 1}";
                f.Node.Add(level == depth - 1
                    ? leafOp == "Constant"
                        ? Node("Constant", NodeName(level, i), [], [output], new AttributeProto
                            { Name = "value", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("w", [64], new float[64]) })
                        : Node(leafOp, NodeName(level, i), [input], [output])
                    : Call($"F{level + 1}", NodeName(level, i), input, output));
            }
            functions.Add(f);
        }
        return WithFunctions([.. functions]);
    }

    /// <summary>A function whose body refers 50 times to the caller's big tensor attribute, called through 8 levels.</summary>
    private static ModelProto AttributeReferenceFanOut()
    {
        var functions = new List<FunctionProto>();
        const int depth = 8;
        for (int level = 0; level < depth; level++)
        {
            var f = new FunctionProto { Name = $"F{level}", Domain = "custom", Input = { "a" }, Output = { "b" }, Attribute = { "big" } };
            for (int i = 0; i < 4; i++)
            {
                string input = i == 0 ? "a" : $"t{i - 1}", output = i == 3 ? "b" : $"t{i}";
                var node = level == depth - 1 ? Node("Relu", $"r{i}", [input], [output]) : Call($"F{level + 1}", $"n{i}", input, output);
                for (int k = 0; k < 50; k++)
                    node.Attribute.Add(new AttributeProto { Name = k == 0 ? "big" : $"big{k}", RefAttrName = "big", Type = AttributeProto.Types.AttributeType.Tensor });
                f.Node.Add(node);
            }
            functions.Add(f);
        }
        var model = WithFunctions([.. functions]);
        model.Graph.Node[1].Attribute.Add(new AttributeProto
            { Name = "big", Type = AttributeProto.Types.AttributeType.Tensor, T = Floats("big", [20_000], new float[20_000]) });
        return model;
    }

    private static ModelProto NestedGraphAttributes(int depth)
    {
        GraphProto inner = new() { Name = "leaf" };
        for (int i = 0; i < depth; i++)
        {
            var wrapper = new GraphProto { Name = $"g{i}" };
            wrapper.Node.Add(new NodeProto { OpType = "If", Name = $"if{i}", Attribute = { new AttributeProto { Name = "then_branch", Type = AttributeProto.Types.AttributeType.Graph, G = inner } } });
            inner = wrapper;
        }
        var model = TinyMlp();
        model.Graph.Node[1].Attribute.Add(new AttributeProto { Name = "body", Type = AttributeProto.Types.AttributeType.Graph, G = inner });
        return model;
    }

    private static ModelProto NestedSequenceType(int depth)
    {
        var type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = 1 } };
        for (int i = 0; i < depth; i++) type = new TypeProto { SequenceType = new TypeProto.Types.Sequence { ElemType = type } };
        var model = TinyMlp();
        model.Graph.Input.Add(new ValueInfoProto { Name = "seq", Type = type });
        return model;
    }

    /// <summary>Unknown field 1000 as start-group tags nested <paramref name="depth"/> deep, then as many end-group tags.</summary>
    private static byte[] NestedGroups(int depth)
    {
        byte[] start = WireTree.Varint((1000UL << 3) | 3), end = WireTree.Varint((1000UL << 3) | 4);
        var output = new MemoryStream();
        for (int i = 0; i < depth; i++) output.Write(start);
        for (int i = 0; i < depth; i++) output.Write(end);
        return output.ToArray();
    }

    /// <summary>Unknown field 1000 as length-delimited bytes that would nest <paramref name="depth"/> deep if parsed as messages.</summary>
    private static byte[] NestedUnknownMessages(int depth)
    {
        // Written from the outside in: the length of level i is the size of everything inside it.
        byte[] tag = WireTree.Varint((1000UL << 3) | 2);
        var lengths = new ulong[depth];
        ulong inside = 0;
        for (int i = depth - 1; i >= 0; i--)
        {
            lengths[i] = inside;
            inside += (ulong)(tag.Length + WireTree.Varint(inside).Length);
        }
        var output = new MemoryStream();
        foreach (ulong length in lengths)
        {
            output.Write(tag);
            WireTree.WriteVarint(output, length);
        }
        return output.ToArray();
    }

    /// <summary>Many weights whose names all become <c>a.b</c> once dotted: <c>a.b</c>, <c>a/b</c>, <c>a./b</c>, ...</summary>
    private static ModelProto SameDottedName(int count)
    {
        var model = TinyMlp();
        model.Graph.Node.RemoveAt(1);
        string previous = "h";
        for (int i = 0; i < count; i++)
        {
            string separator = Convert.ToString(i + 2, 2)[1..].Replace('0', '.').Replace('1', '/');
            string name = $"a{separator}b";
            model.Graph.Initializer.Add(Floats(name, [3], 1, 2, 3));
            string output = i == count - 1 ? "y" : $"m{i}";
            model.Graph.Node.Add(Node("Mul", $"mul{i}", [previous, name], [output]));
            previous = output;
        }
        return model;
    }
}
