using System.Globalization;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// The compiled engine's cost per gradient, step by step (<c>Bnn.Onnx.Benchmarks profile MODEL DATA LIKELIHOOD [REPS]</c>):
/// every kernel of the one-thread program (each dense layer's matrix kernel and activation pass, the likelihood, each
/// dense layer's reverse parts: ∂z with the bias gradient, the weight gradient, the input gradient), timed on the
/// engine's own states and data as the least thread CPU time of REPS calls (a machine shared with other work disturbs
/// the least time far less than a median), scaled to one gradient (the full blocks' count × a full block + the last
/// block), with its multiply-adds and its rate against one core's measured FMA peak; the whole gradient's least time
/// too, and what is left over (per-position packing, gradient read-out and shard sums, the prior).
/// Kernels that work in place (the activation passes) run on a restored copy of their input before each timed call.
/// </summary>
internal static class KernelProfile
{
    public static int Run(string[] args)
    {
        string modelPath = args[1], dataPath = args[2];
        var likelihood = PosteriorOptions.ParseLikelihood(args[3]);
        int reps = args.Length > 4 ? int.Parse(args[4], CultureInfo.InvariantCulture) : 2000;
        var graph = OnnxImporter.Import(modelPath);
        var data = LadderTiming.ReadTable(dataPath);
        var model = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, likelihood), data);
        var peaks = LadderTiming.FmaPeak().ToDictionary(p => p.Name, p => p.Rate);
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"# FMA peak, one core (G multiply-adds/s): float64 {peaks["float64x4"] / 1e9:F1} (512-bit {peaks["float64x8"] / 1e9:F1}), float32 {peaks["float32x8"] / 1e9:F1} (512-bit {peaks["float32x16"] / 1e9:F1})"));
        Profile<double>(model, reps, peaks["float64x4"]);
        Profile<float>(model, reps, peaks["float32x8"]);
        return 0;
    }

    private static void Profile<T>(PosteriorModel model, int reps, double peak) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        var precision = typeof(T) == typeof(float) ? ComputePrecision.Float32 : ComputePrecision.Float64;
        using var potential = new CompiledBackend().CreatePotential(model, new BackendOptions(precision, "cpu", 1));
        var density = (CompiledLogDensity<T>)potential.CreateLogDensity();
        var position = potential.PositionAtFileWeights();
        var gradient = new double[position.Length];
        for (int i = 0; i < 50; i++) density.LogDensityAndGradient(position, gradient);
        double overhead = Least(() => { }, () => { }, reps);
        double whole = Least(() => { }, () => density.LogDensityAndGradient(position, gradient), reps) - overhead;

        int full = density.ProfileFullBlocks;
        var rows = new List<(string Step, string Shape, double Macs, double Us, double Alone)>();

        // Both states were prepared and ran by the last call. Each block's steps run in the order a call runs them;
        // each step is timed inside that sequence (its least over the reps) and alone (repeated on a restored copy
        // of the arenas, so its data are as hot as they can be).
        var timings = new Dictionary<string, (string Shape, double MacsFull, double MacsLast, double Full, double Last, double AloneFull, double AloneLast)>();
        var order = new List<string>();
        double blockFull = 0, blockLast = 0;
        foreach (bool last in new[] { false, true })
        {
            var state = density.ProfileState(last);
            if (state is null) continue;
            int r = state.Program.Rows;
            var v = state.V;
            var g = state.G;
            var ops = state.Program.Ops;
            var steps = new List<(string Name, string Shape, double Macs, Action Run)>();
            // The first layers read the block's inputs from its own array where they are the inputs' only readers.
            var direct = state.Program.ReadsRowInputDirectly;
            var inputs = density.ProfileInputs(last);
            if (!state.Program.RowInputDirect)
                steps.Add(("block inputs copied into the state", "", 0, () => density.ProfileLoadInputs(last)));
            for (int i = 0; i < ops.Length; i++)
            {
                if (state.Program.OpPerPosition[i]) continue;
                var op = ops[i];
                T[]? src = direct[i] ? inputs : null;
                if (op is DenseOp<T> d)
                {
                    string shape = $"{d.K}→{d.N}";
                    steps.Add(($"forward {shape} matrix{(d.ActivationName == "relu" ? " + ReLU" : "")}", shape, d.K * d.N * r,
                        () => d.ForwardParts(v, true, DenseOp<T>.ForwardMatrix, src)));
                    if (d.ActivationName is not ("relu" or "none"))
                        steps.Add(($"forward {shape} {d.ActivationName}", shape, 0, () => d.ForwardParts(v, true, DenseOp<T>.ForwardActivation)));
                }
                else
                    steps.Add(($"forward {op.GetType().Name.Split('`')[0]} {op.Node}", "", 0, () => op.Forward(v, true)));
            }
            steps.Add(("clear activation gradients", "", 0, state.ClearActivationGradients));
            steps.Add(($"likelihood ({model.Options.Likelihood.ToString().ToLowerInvariant()}, value + seed)", "", 0, () => density.ProfileLikelihood(last)));
            for (int i = ops.Length - 1; i >= 0; i--)
            {
                if (!state.Program.OpNeedsBackward[i]) continue;
                var op = ops[i];
                T[]? src = direct[i] ? inputs : null;
                if (op is DenseOp<T> d)
                {
                    string shape = $"{d.K}→{d.N}";
                    var (weights, input) = d.ReverseParts;
                    steps.Add(($"reverse {shape}: ∂z = ∂y ⊙ f′ ({d.ActivationName}) + bias gradient", shape, 0,
                        () => d.BackwardParts(v, g, DenseOp<T>.BackwardActivation)));
                    if (weights)
                        steps.Add(($"reverse {shape}: weight gradient", shape, d.K * d.N * r, () => d.BackwardParts(v, g, DenseOp<T>.BackwardWeights, src)));
                    if (input)
                        steps.Add(($"reverse {shape}: input gradient", shape, d.K * d.N * r, () => d.BackwardParts(v, g, DenseOp<T>.BackwardInput)));
                }
                else
                    steps.Add(($"reverse {op.GetType().Name.Split('`')[0]} {op.Node}", "", 0, () => op.Backward(v, g)));
            }
            var inSequence = new double[steps.Count];
            Array.Fill(inSequence, double.MaxValue);
            double sequence = double.MaxValue;
            var marks = new long[steps.Count + 1];
            for (int rep = 0; rep < reps; rep++)
            {
                marks[0] = LadderTiming.ThreadCpuNanoseconds();
                for (int q = 0; q < steps.Count; q++)
                {
                    steps[q].Run();
                    marks[q + 1] = LadderTiming.ThreadCpuNanoseconds();
                }
                for (int q = 0; q < steps.Count; q++) inSequence[q] = Math.Min(inSequence[q], marks[q + 1] - marks[q] - overhead);
                sequence = Math.Min(sequence, marks[^1] - marks[0] - steps.Count * overhead);
            }
            if (last) blockLast = sequence; else blockFull = sequence;
            var alone = new double[steps.Count];
            for (int q = 0; q < steps.Count; q++)
            {
                var vs = (T[])v.Clone();
                var gs = (T[])g.Clone();
                alone[q] = Least(() => { vs.CopyTo(v, 0); gs.CopyTo(g, 0); }, steps[q].Run, reps) - overhead;
                vs.CopyTo(v, 0);
                gs.CopyTo(g, 0);
                steps[q].Run();
            }
            for (int q = 0; q < steps.Count; q++)
            {
                var (name, shape, macs, _) = steps[q];
                if (!timings.TryGetValue(name, out var t)) { order.Add(name); t = (shape, 0, 0, 0, 0, 0, 0); }
                if (last) (t.MacsLast, t.Last, t.AloneLast) = (macs, inSequence[q], alone[q]);
                else (t.MacsFull, t.Full, t.AloneFull) = (macs, inSequence[q], alone[q]);
                timings[name] = t;
            }
            var network = NetworkOf(model, position);
            double prepare = Least(() => { }, () => { state.SetParameters(network); state.Prepare(); }, reps) - overhead;
            const string per = "per position: parameters in, weights packed (once per state)";
            if (!timings.TryGetValue(per, out var pt)) { order.Add(per); pt = ("", 0, 0, 0, 0, 0, 0); }
            if (last) pt.Last = pt.AloneLast = prepare; else pt.Full = pt.AloneFull = prepare;
            timings[per] = pt;
        }
        foreach (var step in order)
        {
            var t = timings[step];
            // Per-position work runs once per state and call, the rest once per block.
            if (step.StartsWith("per position", StringComparison.Ordinal)) rows.Add((step, t.Shape, 0, (t.Full + t.Last) / 1e3, (t.Full + t.Last) / 1e3));
            else rows.Add((step, t.Shape, full * t.MacsFull + t.MacsLast, (full * t.Full + t.Last) / 1e3, (full * t.AloneFull + t.AloneLast) / 1e3));
        }
        double allBlocks = Least(() => { }, density.ProfileBlocks, reps) - overhead;
        double prior = Least(() => { }, () => model.LogPrior(position, gradient), reps) - overhead;
        rows.Add(("prior (log density and gradient)", "", 0, prior / 1e3, prior / 1e3));
        string prec = typeof(T) == typeof(float) ? "float32" : "float64";
        double sum = rows.Sum(x => x.Us);
        double totalMacs = rows.Sum(x => x.Macs);
        string Pct(double macs, double us) => macs > 0 ? (100 * macs / peak / (us / 1e6)).ToString("F0", CultureInfo.InvariantCulture) + "%" : "";
        string Rate(double macs, double us) => macs > 0 ? (macs / us / 1e3).ToString("F1", CultureInfo.InvariantCulture) : "";
        Console.WriteLine($"# {prec}: {model.Data.Rows} rows, {full} full blocks + {(density.ProfileState(true) is null ? 0 : 1)} shorter; least thread CPU µs per gradient over {reps} calls; FMA floor at {peak / 1e9:F1} G/s");
        Console.WriteLine("step	multiply-adds	µs in sequence	G madd/s	% of FMA floor	% of gradient	µs alone	G madd/s alone");
        foreach (var (step, _, macs, us, alone) in rows)
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{step}\t{macs:N0}\t{us:F2}\t{Rate(macs, us)}\t{Pct(macs, us)}\t{100 * us / whole * 1e3:F1}%\t{alone:F2}\t{Rate(macs, alone)}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"sum of the steps\t{totalMacs:N0}\t{sum:F2}\t\t{Pct(totalMacs, sum)}\t{100 * sum / whole * 1e3:F1}%\t{rows.Sum(x => x.Alone):F2}"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"rest (shard read-out and sums, parameter and gradient copies)\t\t{whole / 1e3 - sum:F2}\t\t\t{100 * (whole / 1e3 - sum) / whole * 1e3:F1}%"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"whole gradient (LogDensityAndGradient)\t{totalMacs:N0}\t{whole / 1e3:F2}\t\t{Pct(totalMacs, whole / 1e3)}\t100%"));
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"# blocks in sequence, least per block: {(full * blockFull + blockLast) / 1e3:F2} µs per gradient; every block of a call in order with its own inputs, least: {allBlocks / 1e3:F2} µs"));
    }

    private static double[] NetworkOf(PosteriorModel model, double[] position)
    {
        var p = new double[model.ParameterDimension];
        model.NetworkParameters(position, p);
        return p;
    }

    /// <summary>The least thread CPU ns of <paramref name="reps"/> calls of <paramref name="action"/>, each after an untimed <paramref name="setup"/>.</summary>
    private static double Least(Action setup, Action action, int reps)
    {
        setup();
        action();
        double best = double.MaxValue;
        for (int i = 0; i < reps; i++)
        {
            setup();
            long t0 = LadderTiming.ThreadCpuNanoseconds();
            action();
            best = Math.Min(best, LadderTiming.ThreadCpuNanoseconds() - t0);
        }
        return best;
    }
}
