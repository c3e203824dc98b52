using BenchmarkDotNet.Attributes;
using Bnn.Onnx.Export;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// The packed ensemble (one graph, S = 100 members stacked on a leading axis) against the 100 member files run one
/// after another, on a batch of 1,000 rows of the blog's 1→5→10→1 softplus MLP. Sessions are created in setup, so
/// only inference is timed; a third case loads each member file before running it, as a batch job over the files would.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class EnsembleBenchmarks
{
    private const int Members = 100;

    /// <summary>Rows per request: the batch of 1,000, and a single row (a typical online request).</summary>
    [Params(1, 1000)]
    public int Rows { get; set; }

    private string[] _memberPaths = [];

    private string _dir = "";
    private InferenceSession _packed = null!;
    private InferenceSession[] _memberSessions = [];
    private OrtValue _input = null!;
    private RunOptions _runOptions = null!;

    [GlobalSetup]
    public void Setup()
    {
        _dir = Directory.CreateTempSubdirectory("bnn-bench-ensemble-").FullName;
        var model = BlogMlp();
        var graph = OnnxImporter.Import(model, null);
        var layout = ParameterLayout.FromShapes(graph.Parameters
            .Select(p => (p.Name, p.Shape, BlockTransform.Identity, (string?)p.OnnxName))
            .Append(("sigma", [], BlockTransform.Log, null)));
        var rng = new Random(1);
        var trained = graph.Parameters.SelectMany(p => p.Values).ToArray();
        var draws = Enumerable.Range(0, Members).Select(_ =>
            trained.Select(v => v + 0.1 * (rng.NextDouble() - 0.5)).Append(0.2).ToArray()).ToArray();

        string packedPath = Path.Combine(_dir, "ensemble.onnx");
        ModelFiles.WriteAtomically(packedPath, EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Normal)));
        var memberPaths = MemberModelWriter.WriteAll(Path.Combine(_dir, "members"), model, layout, draws);
        _memberPaths = memberPaths.ToArray();

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        _packed = new InferenceSession(packedPath, options);
        _memberSessions = memberPaths.Select(p => new InferenceSession(p, options)).ToArray();
        var x = Enumerable.Range(0, Rows).Select(i => (float)(-1 + 2.0 * i / (Rows - 1))).ToArray();
        _input = OrtValue.CreateTensorValueFromMemory(x, [Rows, 1]);
        _runOptions = new RunOptions();
    }

    [GlobalCleanup]
    public void Cleanup()
    {
        _input.Dispose();
        _runOptions.Dispose();
        _packed.Dispose();
        foreach (var s in _memberSessions) s.Dispose();
        Directory.Delete(_dir, recursive: true);
    }

    [Benchmark(Baseline = true, Description = "100 member files, one after another")]
    public float MemberFiles()
    {
        float sum = 0;
        foreach (var session in _memberSessions)
        {
            using var outputs = session.Run(_runOptions, ["x"], [_input], [session.OutputNames[0]]);
            sum += outputs[0].GetTensorDataAsSpan<float>()[0];
        }
        return sum;
    }

    /// <summary>The member files as a batch job meets them: each file opened, run once and closed.</summary>
    [Benchmark(Description = "100 member files, each loaded then run")]
    public float MemberFilesLoaded()
    {
        float sum = 0;
        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        foreach (var path in _memberPaths)
        {
            using var session = new InferenceSession(path, options);
            using var outputs = session.Run(_runOptions, ["x"], [_input], [session.OutputNames[0]]);
            sum += outputs[0].GetTensorDataAsSpan<float>()[0];
        }
        return sum;
    }

    [Benchmark(Description = "packed ensemble (S = 100)")]
    public float PackedEnsemble()
    {
        using var outputs = _packed.Run(_runOptions, ["x"], [_input], [EnsembleBuilder.MembersOutput, EnsembleBuilder.MeanOutput, EnsembleBuilder.StdOutput]);
        return outputs[1].GetTensorDataAsSpan<float>()[0];
    }

    /// <summary>The blog's network, PyTorch layout: Gemm(transB=1) 1→5, softplus, 5→10, softplus, 10→1.</summary>
    private static ModelProto BlogMlp()
    {
        var rng = new Random(7);
        var g = new GraphProto { Name = "blog_mlp" };
        g.Input.Add(Info("x", 1));
        g.Output.Add(Info("y", 1));
        int[] widths = [1, 5, 10, 1];
        string current = "x";
        for (int layer = 0; layer < 3; layer++)
        {
            var w = new TensorProto { Name = $"{2 * layer}.weight", DataType = (int)TensorProto.Types.DataType.Float };
            w.Dims.AddRange([widths[layer + 1], widths[layer]]);
            w.FloatData.AddRange(Enumerable.Range(0, widths[layer + 1] * widths[layer]).Select(_ => (float)(rng.NextDouble() - 0.5)));
            var b = new TensorProto { Name = $"{2 * layer}.bias", DataType = (int)TensorProto.Types.DataType.Float };
            b.Dims.Add(widths[layer + 1]);
            b.FloatData.AddRange(Enumerable.Range(0, widths[layer + 1]).Select(_ => (float)(rng.NextDouble() - 0.5)));
            g.Initializer.Add(w);
            g.Initializer.Add(b);
            string linear = layer == 2 ? "y" : $"h{layer}";
            var gemm = new NodeProto { OpType = "Gemm", Name = $"gemm{layer}" };
            gemm.Input.AddRange([current, w.Name, b.Name]);
            gemm.Output.Add(linear);
            gemm.Attribute.Add(new AttributeProto { Name = "transB", Type = AttributeProto.Types.AttributeType.Int, I = 1 });
            g.Node.Add(gemm);
            current = linear;
            if (layer < 2)
            {
                var act = new NodeProto { OpType = "Softplus", Name = $"softplus{layer}" };
                act.Input.Add(linear);
                act.Output.Add($"a{layer}");
                g.Node.Add(act);
                current = $"a{layer}";
            }
        }
        var m = new ModelProto { IrVersion = 8, ProducerName = "bnn-bench", Graph = g };
        m.OpsetImport.Add(new OperatorSetIdProto { Domain = "", Version = 17 });
        return m;
    }

    private static ValueInfoProto Info(string name, int width)
    {
        var shape = new TensorShapeProto();
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimParam = "batch" });
        shape.Dim.Add(new TensorShapeProto.Types.Dimension { DimValue = width });
        return new ValueInfoProto
        {
            Name = name,
            Type = new TypeProto { TensorType = new TypeProto.Types.Tensor { ElemType = (int)TensorProto.Types.DataType.Float, Shape = shape } },
        };
    }
}
