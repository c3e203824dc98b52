using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;
using TorchSharp;
using static TorchSharp.torch;
using OnnxTensor = Bnn.Onnx.OnnxImport.Tensor;

namespace Bnn.Onnx.Tests;

/// <summary>
/// Every op, through the ONNX conformance cases: autograd against central finite differences (float64), and
/// the chain dimension — a floating input given as C stacked versions must give each version's own output.
/// </summary>
public class OpTests
{
    private sealed record Case(OnnxGraph Graph, OnnxTensor[] Inputs);

    private static Case Load(string name)
    {
        var dir = SharedData.Path("onnx", "conformance", name);
        var graph = OnnxImporter.Import(Path.Combine(dir, "model.onnx"));
        var inputs = Enumerable.Range(0, graph.Inputs.Count)
            .Select(i => OnnxImporter.ReadTensorFile(Path.Combine(dir, "test_data_set_0", $"input_{i}.pb"))).ToArray();
        return new Case(graph, inputs);
    }

    /// <summary>Runs the graph; input <paramref name="batchedInput"/> (if ≥ 0) is given as [C, …] from <paramref name="stacked"/>.</summary>
    private static double[][] Run(TorchGraph graph, Case c, int batchedInput = -1, double[]? stacked = null, int chains = 0)
    {
        using var scope = torch.NewDisposeScope();
        using var noGrad = torch.no_grad();
        var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal);
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var t = c.Inputs[i];
            long[] shape = t.Shape.Select(d => (long)d).ToArray();
            values[c.Graph.Inputs[i].Name] = i == batchedInput
                ? new TorchValue(graph.Context.FromData(stacked!, [chains, .. shape], t.SourceType), t.SourceType, true)
                : new TorchValue(graph.Context.FromData(t.Data, shape, t.SourceType), t.SourceType, false);
        }
        var names = c.Graph.Outputs.Select(o => o.Name).ToArray();
        graph.Run(values, names);
        return names.Select(n =>
        {
            var v = values[n];
            var flat = TorchGraphFunction.ToDoubles(v.Tensor);
            return v.Batched || batchedInput < 0 ? flat : Enumerable.Repeat(flat, chains).SelectMany(x => x).ToArray();
        }).ToArray();
    }

    /// <summary>L = Σ w ⊙ outputs and ∂L/∂(floating inputs) by autograd.</summary>
    private static (double L, double[]?[] Gradients) LossAndGradient(TorchGraph graph, Case c, double[][] weights)
    {
        using var scope = torch.NewDisposeScope();
        var values = new Dictionary<string, TorchValue>(StringComparer.Ordinal);
        var leaves = new torch.Tensor?[c.Inputs.Length];
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var t = c.Inputs[i];
            long[] shape = t.Shape.Select(d => (long)d).ToArray();
            var tensor = graph.Context.FromData(t.Data, shape, t.SourceType);
            if (ElementTypes.IsFloating(t.SourceType) && t.Size > 0)
            {
                tensor.requires_grad_(true);
                leaves[i] = tensor;
            }
            values[c.Graph.Inputs[i].Name] = new TorchValue(tensor, t.SourceType, false);
        }
        var names = c.Graph.Outputs.Select(o => o.Name).ToArray();
        graph.Run(values, names);
        var loss = torch.zeros(1, ScalarType.Float64);
        for (int o = 0; o < names.Length; o++)
        {
            var v = values[names[o]];
            if (!v.IsFloating || v.Tensor.numel() == 0) continue;
            var w = torch.tensor(weights[o], v.Tensor.shape, ScalarType.Float64);
            loss = loss.add(v.Tensor.to(ScalarType.Float64).mul(w).sum());
        }
        var used = leaves.Where(l => l is not null).Select(l => l!).ToArray();
        var grads = loss.requires_grad && used.Length > 0 ? torch.autograd.grad([loss], used, allow_unused: true) : [];
        var result = new double[]?[c.Inputs.Length];
        for (int i = 0, k = 0; i < leaves.Length; i++)
        {
            if (leaves[i] is null) continue;
            var g = grads.Count > k ? grads[k] : null;
            result[i] = g is null || g.IsInvalid ? new double[c.Inputs[i].Size] : TorchGraphFunction.ToDoubles(g);
            k++;
        }
        return (loss.item<double>(), result);
    }

    private static double Loss(TorchGraph graph, Case c, double[][] weights) =>
        Run(graph, c).Select((o, i) => o.Zip(weights[i], (a, b) => a * b).Sum()).Sum();

    [SharedTheory]
    [MemberData(nameof(ConformanceTests.Cases), MemberType = typeof(ConformanceTests))]
    public void Autograd_matches_central_finite_differences(string name)
    {
        // A cast through float16/bfloat16 is piecewise constant: finite differences say nothing there.
        if (name.Contains("FLOAT16", StringComparison.Ordinal)) return;
        var c = Load(name);
        if (!c.Inputs.Any(t => ElementTypes.IsFloating(t.SourceType) && t.Size > 0)) return;
        using var graph = new TorchGraph(c.Graph, BackendOptions.Default);
        var rng = new Random(name.Length);
        var probeOutputs = Run(graph, c);
        // Integer outputs (pow of an int32 by a float) have no derivative.
        if (c.Graph.Outputs.All(o => !ElementTypes.IsFloating(o.ElementType))) return;
        var weights = probeOutputs.Select(o => o.Select(_ => rng.NextDouble() - 0.5).ToArray()).ToArray();
        var (loss, gradients) = LossAndGradient(graph, c, weights);
        if (!double.IsFinite(loss)) return;

        int checkedCount = 0;
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            if (gradients[i] is not double[] gradient) continue;
            var x = c.Inputs[i].Data;
            int n = x.Length;
            foreach (int k in Enumerable.Range(0, Math.Min(n, 12)).Select(j => n <= 12 ? j : j * (n - 1) / 11).Distinct())
            {
                double original = x[k];
                // An absolute step: softmax of values near 10⁴ varies on the scale of 1, not of x.
                const double h = 1e-6;
                x[k] = original + h;
                double up = Loss(graph, c, weights);
                x[k] = original - h;
                double down = Loss(graph, c, weights);
                x[k] = original;
                double fd = (up - down) / (2 * h);
                double forward = (up - loss) / h, backward = (loss - down) / h;
                if (!double.IsFinite(fd) || !double.IsFinite(gradient[k])) continue;
                // A kink (relu at 0, elu at 0, clip at a bound): the one-sided slopes disagree; no derivative to check.
                if (Math.Abs(forward - backward) > 1e-3 * Math.Max(1, Math.Abs(fd))) continue;
                Assert.True(Math.Abs(fd - gradient[k]) <= 1e-6 * Math.Max(1, Math.Max(Math.Abs(fd), Math.Abs(gradient[k]))),
                    $"{name} ∂L/∂input{i}[{k}] at {original:R}: autograd {gradient[k]:R}, finite difference {fd:R}");
                checkedCount++;
            }
        }
        Assert.True(checkedCount > 0 || name.Contains("clip", StringComparison.Ordinal) || name.Contains("example", StringComparison.Ordinal),
            $"{name}: no input element had a derivative to check");
    }

    [SharedTheory]
    [MemberData(nameof(ConformanceTests.Cases), MemberType = typeof(ConformanceTests))]
    public void A_chain_dimension_on_any_floating_input_gives_each_chains_own_output(string name)
    {
        var c = Load(name);
        using var graph = new TorchGraph(c.Graph, BackendOptions.Default);
        const int chains = 3;
        for (int i = 0; i < c.Inputs.Length; i++)
        {
            var input = c.Inputs[i];
            if (!ElementTypes.IsFloating(input.SourceType) || input.Size == 0) continue;
            // Chain k holds the input scaled by (1 + 0.1 k): positive factors keep every value's sign.
            var stacked = Enumerable.Range(0, chains).SelectMany(k => input.Data.Select(v => v * (1 + 0.1 * k))).ToArray();

            var batched = Run(graph, c, i, stacked, chains);

            var original = input.Data.ToArray();
            for (int k = 0; k < chains; k++)
            {
                for (int j = 0; j < original.Length; j++) input.Data[j] = original[j] * (1 + 0.1 * k);
                var single = Run(graph, c);
                for (int o = 0; o < single.Length; o++)
                {
                    int size = single[o].Length;
                    Assert.Equal(chains * size, batched[o].Length);
                    for (int j = 0; j < size; j++)
                    {
                        double e = single[o][j], a = batched[o][k * size + j];
                        Assert.True(e.Equals(a) || Math.Abs(a - e) <= 1e-12 * Math.Max(1, Math.Abs(e)),
                            $"{name} input {i} chain {k} output {o}[{j}]: single {e:R}, batched {a:R}");
                    }
                }
            }
            original.CopyTo(input.Data, 0);
        }
    }
}
