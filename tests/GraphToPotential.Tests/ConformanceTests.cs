using System.Text;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;
using Xunit.Abstractions;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Every op the compiled backend claims, against the ONNX backend node tests in ../shared/onnx/conformance
/// (forward within 1e-5 relative; plain layout, and with input 0's axis 0 as the batch where the op allows),
/// and its reverse pass against central finite differences in float64.
/// </summary>
public class ConformanceTests(ITestOutputHelper output)
{
    private sealed record Case(string Op, string Name, string[] NodeOps, string Signature);

    private static readonly Dictionary<string, int[]> StaticInputs = new()
    {
        ["Reshape"] = [1], ["Squeeze"] = [1], ["Unsqueeze"] = [1], ["ReduceSum"] = [1], ["ReduceMean"] = [1], ["Clip"] = [1, 2],
    };

    private static List<Case>? Cases()
    {
        if (TestPaths.Shared is not string shared) return null;
        string index = Path.Combine(shared, "onnx", "conformance", "INDEX.tsv");
        return File.ReadAllLines(index).Skip(1).Where(l => l.Length > 0).Select(l => l.Split('\t'))
            .Select(f => new Case(f[0], f[1], f[4].Split([',', ';', ' '], StringSplitOptions.RemoveEmptyEntries), f[5])).ToList();
    }

    /// <summary>Why a case is outside what the backend claims, or null when it must pass.</summary>
    private static string? SkipReason(Case c)
    {
        var missing = c.NodeOps.Where(o => !CompiledBackend.SupportedOps.Contains(o)).Distinct().ToArray();
        if (missing.Length > 0) return $"uses unclaimed op(s) {string.Join(",", missing)}";
        string outputs = c.Signature[(c.Signature.IndexOf("->", StringComparison.Ordinal) + 2)..];
        foreach (var part in outputs.Split(';'))
            if (!part.Contains(":FLOAT[") && !part.Contains(":DOUBLE[")) return $"output type {part.Trim()} (the backend computes float32/float64)";
        return null;
    }

    private static string CaseDir(Case c) => Path.Combine(TestPaths.Shared!, "onnx", "conformance", c.Name);

    /// <summary>The case's graph with shape/axes/bounds inputs and integer inputs turned into constants, plus the data inputs.</summary>
    private static (OnnxGraph Graph, List<(string Name, Tensor Data)> Inputs, List<Tensor> Outputs) Load(Case c)
    {
        string dir = CaseDir(c);
        var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"));
        var data = Path.Combine(dir, "test_data_set_0");
        var inputs = graph.Inputs.Select((v, i) => (v.Name, OnnxImporter.ReadTensorFile(Path.Combine(data, $"input_{i}.pb")))).ToList();
        var outputs = graph.Outputs.Select((_, i) => OnnxImporter.ReadTensorFile(Path.Combine(data, $"output_{i}.pb"))).ToList();
        var staticNames = new HashSet<string>();
        foreach (var node in graph.Nodes)
            if (StaticInputs.TryGetValue(node.OpType, out var slots))
                foreach (int s in slots) if (node.InputOrNull(s) is string n) staticNames.Add(n);
        var constants = new Dictionary<string, Tensor>(graph.Constants);
        var remaining = new List<(string, Tensor)>();
        foreach (var (name, t) in inputs)
        {
            bool isFloat = t.SourceType is ElementType.Float or ElementType.Double or ElementType.Float16 or ElementType.BFloat16;
            if (staticNames.Contains(name) || !isFloat) constants[name] = t with { Name = name };
            else remaining.Add((name, t));
        }
        var g = new OnnxGraph
        {
            Producer = graph.Producer, ProducerVersion = graph.ProducerVersion, IrVersion = graph.IrVersion, Opsets = graph.Opsets,
            Inputs = graph.Inputs.Where(v => remaining.Any(r => r.Item1 == v.Name)).ToArray(),
            Outputs = graph.Outputs, Nodes = graph.Nodes, Parameters = graph.Parameters, Constants = constants, Sha256 = graph.Sha256,
        };
        return (g, remaining, outputs);
    }

    private static string? CompareForward(OnnxGraph graph, List<(string Name, Tensor Data)> inputs, List<Tensor> expected, string? rowInput)
    {
        int rows = rowInput is null ? 1 : inputs.First(i => i.Name == rowInput).Data.Shape[0];
        var shapes = inputs.ToDictionary(i => i.Name, i => i.Data.Shape);
        var program = ProgramBuilder<double>.Build(graph, new CompileSettings(rows, rowInput, shapes, ParameterGradients: false,
            KeepValues: graph.Outputs.Select(o => o.Name).ToArray()));
        var state = new ProgramState<double>(program);
        foreach (var (name, t) in inputs) state.SetLogical(program.Value(name), t.Data);
        state.Forward(false);
        for (int o = 0; o < graph.Outputs.Count; o++)
        {
            var value = program.Value(graph.Outputs[o].Name);
            if (!value.Shape.SequenceEqual(expected[o].Shape))
                return $"output {o} shape {value.ShapeText}, expected [{string.Join(", ", expected[o].Shape)}]";
            var actual = new double[value.Size];
            state.ReadLogical(value, actual);
            for (int i = 0; i < actual.Length; i++)
            {
                double e = expected[o].Data[i], a = actual[i];
                if (a == e || (double.IsNaN(e) && double.IsNaN(a))) continue;
                if (!(Math.Abs(a - e) <= 1e-5 * Math.Abs(e) + 1e-6))
                    return $"output {o}[{i}] = {a:R}, expected {e:R}";
            }
        }
        return null;
    }

    [SharedFact("onnx/conformance")]
    public void EveryClaimedOpMatchesTheConformanceCasesForward()
    {
        var cases = Cases();
        if (cases is null) { output.WriteLine("SKIPPED: ../shared not found"); return; }
        var failures = new List<string>();
        var skipped = new StringBuilder();
        var passedOps = new HashSet<string>();
        int passed = 0, rowPassed = 0;
        foreach (var c in cases)
        {
            if (SkipReason(c) is string reason) { skipped.AppendLine($"  {c.Name}: {reason}"); continue; }
            try
            {
                var (graph, inputs, outputs) = Load(c);
                if (CompareForward(graph, inputs, outputs, null) is string error) { failures.Add($"{c.Name}: {error}"); continue; }
                passed++;
                passedOps.Add(c.Op);
                if (inputs.Count > 0 && inputs[0].Data.Shape.Length > 0 && inputs[0].Data.Shape[0] > 0)
                {
                    try
                    {
                        if (CompareForward(graph, inputs, outputs, inputs[0].Name) is string rowError) failures.Add($"{c.Name} (batch layout): {rowError}");
                        else rowPassed++;
                    }
                    catch (NotSupportedException) { /* the op works across the batch axis: plain layout only */ }
                }
            }
            catch (Exception ex)
            {
                failures.Add($"{c.Name}: {ex.GetType().Name}: {ex.Message}");
            }
        }
        output.WriteLine($"passed {passed} cases ({rowPassed} also in the batch layout); skipped:\n{skipped}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        var claimedWithCases = cases.Select(c => c.Op).Where(CompiledBackend.SupportedOps.Contains).Distinct();
        var unverified = claimedWithCases.Where(op => !passedOps.Contains(op)).ToArray();
        Assert.True(unverified.Length == 0, "claimed ops without a passing case: " + string.Join(", ", unverified));
    }

    [SharedFact("onnx/conformance")]
    public void EveryClaimedOpGradientMatchesFiniteDifferences()
    {
        var cases = Cases();
        if (cases is null) { output.WriteLine("SKIPPED: ../shared not found"); return; }
        var failures = new List<string>();
        var checkedOps = new HashSet<string>();
        foreach (var c in cases)
        {
            if (SkipReason(c) is not null || c.Name.Contains("expanded")) continue;
            var (graph, inputs, _) = Load(c);
            if (inputs.Count == 0 || inputs.Any(i => i.Data.Size == 0)) continue;
            bool positive = c.NodeOps.Any(o => o is "Log" or "Sqrt" or "Pow");
            // Inputs become parameters with fresh random values (no kinks hit), loss L = Σ w·y over all outputs.
            int seed = c.Name.GetHashCode(StringComparison.Ordinal) & 0xffff;
            var rng = new Random(seed);
            var parameters = inputs.Select(i => new Parameter(i.Name, i.Name, i.Data.Shape,
                i.Data.Data.Select(_ => positive ? 0.5 + Math.Abs(Graphs.Normal(rng)) : Graphs.Normal(rng)).ToArray())).ToArray();
            var g = new OnnxGraph
            {
                Producer = "", ProducerVersion = "", IrVersion = graph.IrVersion, Opsets = graph.Opsets, Inputs = [],
                Outputs = graph.Outputs, Nodes = graph.Nodes, Parameters = parameters, Constants = graph.Constants, Sha256 = "",
            };
            var program = ProgramBuilder<double>.Build(g, new CompileSettings(1, null, KeepValues: g.Outputs.Select(o => o.Name).ToArray()));
            var state = new ProgramState<double>(program);
            var outs = g.Outputs.Select(o => program.Value(o.Name)).ToArray();
            var weights = outs.Select((v, i) => Graphs.Random(v.Size, seed + 100 + i)).ToArray();
            var theta = parameters.SelectMany(p => p.Values).ToArray();

            double Loss(double[] th)
            {
                state.SetParameters(th);
                state.Forward(false);
                double l = 0;
                for (int o = 0; o < outs.Length; o++)
                {
                    var y = new double[outs[o].Size];
                    state.ReadLogical(outs[o], y);
                    for (int i = 0; i < y.Length; i++) l += weights[o][i] * y[i];
                }
                return l;
            }

            state.SetParameters(theta);
            state.Forward(true);
            state.ClearGradients();
            for (int o = 0; o < outs.Length; o++) state.AddGradientLogical(outs[o], weights[o]);
            state.Backward();
            var grad = new double[theta.Length];
            state.ReadParameterGradients(grad);
            for (int i = 0; i < theta.Length; i++)
            {
                double h = 1e-6 * Math.Max(1, Math.Abs(theta[i]));
                var tp = (double[])theta.Clone(); tp[i] += h;
                var tm = (double[])theta.Clone(); tm[i] -= h;
                double fd = (Loss(tp) - Loss(tm)) / (2 * h);
                if (Math.Abs(fd - grad[i]) > 1e-5 * (1 + Math.Abs(fd)))
                {
                    failures.Add($"{c.Name}: ∂L/∂θ[{i}] = {grad[i]:R}, finite difference {fd:R}");
                    break;
                }
            }
            checkedOps.Add(c.Op);
        }
        output.WriteLine($"gradient-checked ops: {string.Join(", ", checkedOps.Order())}");
        Assert.True(failures.Count == 0, string.Join("\n", failures));
        Assert.True(checkedOps.Count >= 25, $"only {checkedOps.Count} ops gradient-checked");
    }
}
