using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>ONNX's own backend node tests (onnx v1.22.0, ../shared/onnx/conformance): every case, forward, 1e-5 relative.</summary>
public class ConformanceTests
{
    public static TheoryData<string> Cases()
    {
        var data = new TheoryData<string>();
        if (SharedData.Root is null)
        {
            data.Add("(shared folder absent)");
            return data;
        }
        foreach (var line in File.ReadLines(SharedData.Path("onnx", "conformance", "INDEX.tsv")).Skip(1))
        {
            var fields = line.Split('\t');
            if (fields.Length > 1) data.Add(fields[1]);
        }
        return data;
    }

    [SharedTheory]
    [MemberData(nameof(Cases))]
    public void Case_reproduces_the_recorded_outputs_in_float64(string name) => Check(name, ComputePrecision.Float64);

    internal static void Check(string name, ComputePrecision precision)
    {
        var dir = SharedData.Path("onnx", "conformance", name);
        var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"));
        var data = Path.Combine(dir, "test_data_set_0");
        var inputs = new Dictionary<string, OnnxImport.Tensor>();
        for (int i = 0; i < graph.Inputs.Count; i++)
            inputs[graph.Inputs[i].Name] = OnnxImporter.ReadTensorFile(Path.Combine(data, $"input_{i}.pb"));

        using var function = new TorchGraphFunction(graph, new BackendOptions(precision));
        var outputs = function.Evaluate(inputs);

        double tolerance = precision == ComputePrecision.Float64 ? 1e-5 : 1e-4;
        for (int o = 0; o < graph.Outputs.Count; o++)
        {
            var expected = OnnxImporter.ReadTensorFile(Path.Combine(data, $"output_{o}.pb"));
            var actual = outputs[o];
            Assert.Equal(expected.Shape, actual.Shape);
            for (int k = 0; k < expected.Size; k++)
            {
                double e = expected.Data[k], a = actual.Data[k];
                if (double.IsNaN(e)) { Assert.True(double.IsNaN(a), $"{name}[{k}]: expected NaN, got {a}"); continue; }
                if (double.IsInfinity(e)) { Assert.Equal(e, a); continue; }
                Assert.True(Math.Abs(a - e) <= tolerance * Math.Max(Math.Abs(e), 1e-2),
                    $"{name} output {o}[{k}]: expected {e:R}, got {a:R}");
            }
        }
    }
}
