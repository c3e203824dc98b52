using System.Text.RegularExpressions;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The ONNX backend node-test cases in ../shared/onnx/conformance import, keep their op sequence (Constant nodes
/// folded), and their input/output .pb files read with the dtype and shape INDEX.tsv records.
/// </summary>
public partial class ConformanceTests
{
    private static string Folder => Path.Combine(TestPaths.SharedOnnx, "conformance");

    [GeneratedRegex(@"^(?<name>[^:]*):(?<type>[A-Z0-9]+)\[(?<dims>[^\]]*)\]$")]
    private static partial Regex Signature();

    private static readonly Dictionary<string, ElementType> TypeNames = new()
    {
        ["FLOAT"] = ElementType.Float, ["DOUBLE"] = ElementType.Double, ["FLOAT16"] = ElementType.Float16,
        ["BFLOAT16"] = ElementType.BFloat16, ["INT8"] = ElementType.Int8, ["INT16"] = ElementType.Int16,
        ["INT32"] = ElementType.Int32, ["INT64"] = ElementType.Int64, ["UINT8"] = ElementType.UInt8,
        ["UINT16"] = ElementType.UInt16, ["UINT32"] = ElementType.UInt32, ["UINT64"] = ElementType.UInt64,
        ["BOOL"] = ElementType.Bool,
    };

    [SharedFact]
    public void Every_conformance_case_imports_with_its_ops_and_tensor_files()
    {
        var rows = File.ReadAllLines(Path.Combine(Folder, "INDEX.tsv")).Skip(1).Select(l => l.Split('\t')).ToList();
        Assert.True(rows.Count >= 200, $"only {rows.Count} cases indexed");
        var options = new ImportOptions { FreeBatchDimension = false };
        foreach (var row in rows)
        {
            string caseName = row[1];
            string dir = Path.Combine(Folder, caseName);
            var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"), options);

            var expectedOps = row[4].Split(' ', StringSplitOptions.RemoveEmptyEntries).Where(op => op != "Constant");
            Assert.True(expectedOps.SequenceEqual(graph.Nodes.Select(n => n.OpType)),
                $"{caseName}: ops {string.Join(" ", graph.Nodes.Select(n => n.OpType))}, index says {row[4]}");
            Assert.Equal(long.Parse(row[3]["opset".Length..]), graph.Opset);

            string[] sides = row[5].Split(" -> ");
            CheckTensorFiles(caseName, dir, "input", sides[0]);
            CheckTensorFiles(caseName, dir, "output", sides[1]);
        }
    }

    private static void CheckTensorFiles(string caseName, string dir, string kind, string signature)
    {
        var specs = signature.Split(';', StringSplitOptions.RemoveEmptyEntries);
        for (int i = 0; i < specs.Length; i++)
        {
            string file = Path.Combine(dir, "test_data_set_0", $"{kind}_{i}.pb");
            var m = Signature().Match(specs[i].Trim());
            Assert.True(m.Success, $"{caseName}: cannot read signature '{specs[i]}'");
            if (!File.Exists(file)) continue; // optional input left out
            var tensor = OnnxImporter.ReadTensorFile(file);
            int[] dims = m.Groups["dims"].Value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)
                .Select(int.Parse).ToArray();
            Assert.True(dims.SequenceEqual(tensor.Shape), $"{caseName} {kind}_{i}: shape [{string.Join(",", tensor.Shape)}], index says {specs[i]}");
            Assert.Equal(TypeNames[m.Groups["type"].Value], tensor.SourceType);
            Assert.Equal(dims.Aggregate(1, (a, b) => a * b), tensor.Data.Length);
        }
    }
}
