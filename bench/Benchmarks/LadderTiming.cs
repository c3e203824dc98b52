using System.Diagnostics;
using System.Globalization;
using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.InteropServices;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.GraphToPotential.Compiled;
using Bnn.Onnx.GraphToPotential.Torch;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Benchmarks;

/// <summary>
/// The size ladder's timings (<c>bench/ladder/run.sh</c>), outside BenchmarkDotNet so that one process times every
/// backend × precision × thread count of a rung side by side:
/// <code>
/// Bnn.Onnx.Benchmarks ladder MODEL.onnx DATA.csv LIKELIHOOD [SECONDS] [THREADS…]
/// Bnn.Onnx.Benchmarks fma-peak
/// </code>
/// <c>ladder</c> prints one tab-separated line per configuration: backend, precision, threads, median wall µs per
/// value + gradient of the full log posterior, its interquartile range, and the median process CPU µs per call (on a
/// loaded machine the CPU time of a one-thread configuration is the steadier figure: it leaves out the time the
/// thread waited for a core). The position is the file's weights (σ from the
/// residuals); each figure is the median of 15 batches of ~SECONDS/15 s after a warm-up; a last column gives the
/// least CPU µs per call of the 15 batches, and with <c>LADDER_MIN_CALLS=n</c> a last one the least thread CPU µs of
/// n single calls (the figures least disturbed by other work on a shared machine; NaN without it).
/// <c>LADDER_BACKENDS=compiled</c> times the compiled engine alone. <c>fma-peak</c> prints one
/// core's multiply-add rate (per second of process CPU time, best of 7) for 256-bit and 512-bit vectors in float64 and float32, from 12 independent
/// FMA chains (enough to cover the FMA latency on two ports).
/// </summary>
internal static class LadderTiming
{
    public static int Run(string[] args)
    {
        if (args[0] == "kernels") return Kernels(args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 2000);
        if (args[0] == "fma-peak")
        {
            foreach (var (name, rate) in FmaPeak())
                Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}\t{rate:E4}"));
            return 0;
        }
        string modelPath = args[1], dataPath = args[2];
        var likelihood = PosteriorOptions.ParseLikelihood(args[3]);
        double seconds = args.Length > 4 ? double.Parse(args[4], CultureInfo.InvariantCulture) : 3;
        int[] threads = args.Length > 5 ? args[5..].Select(a => int.Parse(a, CultureInfo.InvariantCulture)).ToArray() : [1];
        var graph = OnnxImporter.Import(modelPath);
        var data = ReadTable(dataPath);
        var model = PosteriorModel.Create(graph, new PosteriorOptions(PriorOptions.Default, likelihood), data);
        foreach (var precision in new[] { ComputePrecision.Float64, ComputePrecision.Float32 })
        {
            foreach (int t in threads) Time("compiled", new CompiledBackend(), model, new BackendOptions(precision, "cpu", t), seconds);
            if (Environment.GetEnvironmentVariable("LADDER_BACKENDS") != "compiled")
                Time("torchsharp", new TorchBackend(), model, new BackendOptions(precision, "cpu", 1), seconds);
        }
        return 0;
    }

    private static void Time(string name, IPotentialBackendFactory backend, PosteriorModel model, BackendOptions options, double seconds)
    {
        using var potential = backend.CreatePotential(model, options);
        var density = potential.CreateLogDensity();
        var position = potential.PositionAtFileWeights();
        var gradient = new double[position.Length];
        // Warm-up (JIT tiers, caches), then the batch size that takes about seconds/15.
        var sw = Stopwatch.StartNew();
        int calls = 0;
        while (sw.Elapsed.TotalSeconds < Math.Min(1.0, seconds / 3) || calls < 20)
        {
            density.LogDensityAndGradient(position, gradient);
            calls++;
        }
        double perCall = sw.Elapsed.TotalSeconds / calls;
        int batch = Math.Max(1, (int)(seconds / 15 / perCall));
        var samples = new double[15];
        var cpu = new double[15];
        using var process = Process.GetCurrentProcess();
        for (int s = 0; s < samples.Length; s++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            sw.Restart();
            for (int i = 0; i < batch; i++) density.LogDensityAndGradient(position, gradient);
            samples[s] = sw.Elapsed.TotalSeconds * 1e6 / batch;
            process.Refresh();
            cpu[s] = (process.TotalProcessorTime - cpu0).TotalSeconds * 1e6 / batch;
        }
        Array.Sort(samples);
        Array.Sort(cpu);
        // LADDER_MIN_CALLS=n: also the least thread CPU time of n single calls (one thread only), the figure that other
        // processes on a shared machine disturb least (no waiting for a core, and the least cache pollution seen).
        double least = double.NaN;
        if (int.TryParse(Environment.GetEnvironmentVariable("LADDER_MIN_CALLS"), out int single) && options.Threads == 1)
            for (int i = 0; i < single; i++)
            {
                long t0 = ThreadCpuNanoseconds();
                density.LogDensityAndGradient(position, gradient);
                least = Math.Min(least is double.NaN ? double.MaxValue : least, (ThreadCpuNanoseconds() - t0) / 1e3);
            }
        string precision = options.Precision == ComputePrecision.Float32 ? "float32" : "float64";
        Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{name}\t{precision}\t{options.Threads}\t{samples[7]:F2}\t{samples[11] - samples[3]:F2}\t{cpu[7]:F2}\t{cpu[0]:F2}\t{least:F2}"));
    }

    /// <summary>
    /// The engine's kernels on the ladder's shapes (192-row blocks), each the least thread CPU time of
    /// <paramref name="reps"/> calls: ns per element for the activations, G multiply-adds/s for the matrix kernels.
    /// </summary>
    private static int Kernels(int reps)
    {
        const int rows = 192;
        var rng = new Random(1);
        double[] Fill(int n, double scale) => Enumerable.Range(0, n).Select(_ => scale * (2 * rng.NextDouble() - 1)).ToArray();
        double Least(Action a)
        {
            a();
            double best = double.MaxValue;
            for (int i = 0; i < reps; i++)
            {
                long t0 = ThreadCpuNanoseconds();
                a();
                best = Math.Min(best, ThreadCpuNanoseconds() - t0);
            }
            return best;
        }
        void Report(string name, double ns, double per, string unit) =>
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{name}\t{ns / 1e3:F2} µs\t{per:F3} {unit}"));

        var x = Fill(64 * rows, 6);
        var y = new double[x.Length];
        var d = new double[x.Length];
        var xf = x.Select(v => (float)v).ToArray();
        var yf = new float[x.Length];
        var df = new float[x.Length];
        double ns = Least(() => SimdMath.Softplus(x, y, d, true));
        Report("softplus f64 64x192", ns, ns / x.Length, "ns/element");
        ns = Least(() => SimdMath.Softplus(xf, yf, df, true));
        Report("softplus f32 64x192", ns, ns / x.Length, "ns/element");
        var xt = x.AsSpan(0, 16 * rows).ToArray();
        var yt = new double[xt.Length];
        ns = Least(() => SimdMath.Tanh(xt, yt));
        Report("tanh f64 16x192", ns, ns / xt.Length, "ns/element");
        var cats = Fill(10 * rows, 20);
        var ez = new double[cats.Length];
        int vl = System.Numerics.Vector<double>.Count;
        ns = Least(() =>
        {
            for (int i = 0; i + vl <= cats.Length; i += vl)
                SimdMath.ExpNonPositive(-System.Numerics.Vector.Abs(new System.Numerics.Vector<double>(cats, i))).CopyTo(ez, i);
        });
        Report("exp f64 10x192", ns, ns / cats.Length, "ns/element");
        foreach (var (k, n) in new[] { (8, 64), (64, 64), (64, 1), (13, 50), (50, 1), (64, 16), (16, 10), (10, 16) })
        {
            var w = Fill(k * n, 0.3);
            var a = Fill(k * rows, 1);
            var o = new double[n * rows];
            var b = Fill(n, 0.1);
            ns = Least(() => Gemm<double>.Rows(w, k, n, a, rows, o, rows, rows, b));
            Report($"Rows f64 {k}->{n}", ns, (double)k * n * rows / ns, "G madd/s");
            var g = new double[k * n];
            ns = Least(() => Gemm<double>.Reduce(a, k, rows, o, n, rows, rows, g, n, 1, 1.0));
            Report($"Reduce f64 {k}x{n}", ns, (double)k * n * rows / ns, "G madd/s");
        }
        return 0;
    }

    [StructLayout(LayoutKind.Sequential)]
    private struct TimeSpec
    {
        public long Seconds;
        public long Nanoseconds;
    }

    [DllImport("libc", EntryPoint = "clock_gettime")]
    private static extern int ClockGetTime(int clock, out TimeSpec time);

    /// <summary>The calling thread's CPU time (Linux CLOCK_THREAD_CPUTIME_ID); NaN-free 0 elsewhere.</summary>
    internal static long ThreadCpuNanoseconds()
    {
        if (!OperatingSystem.IsLinux()) return 0;
        ClockGetTime(3, out var t);
        return t.Seconds * 1_000_000_000 + t.Nanoseconds;
    }

    /// <summary>A numeric CSV with a header; the column named <c>y</c> is the target, every other column a feature.</summary>
    internal static DataSet ReadTable(string path)
    {
        var lines = File.ReadAllLines(path).Where(l => l.Length > 0).ToArray();
        var header = lines[0].Split(',');
        int target = Array.IndexOf(header, "y");
        var features = new List<double>();
        var targets = new List<double>();
        int width = 0;
        foreach (var line in lines.Skip(1))
        {
            var cells = line.Split(',');
            width = 0;
            for (int c = 0; c < cells.Length; c++)
            {
                double v = double.Parse(cells[c], CultureInfo.InvariantCulture);
                if (c == target) targets.Add(v);
                else if (header[c] != "eps") { features.Add(v); width++; }
            }
        }
        return new DataSet(features.ToArray(), width, targets.ToArray());
    }

    internal static IEnumerable<(string Name, double Rate)> FmaPeak()
    {
        yield return ("float64x4", Peak<double>(Vector256.IsHardwareAccelerated, 4, Fma256d));
        yield return ("float32x8", Peak<float>(Vector256.IsHardwareAccelerated, 8, Fma256f));
        yield return ("float64x8", Peak<double>(Vector512.IsHardwareAccelerated, 8, Fma512d));
        yield return ("float32x16", Peak<float>(Vector512.IsHardwareAccelerated, 16, Fma512f));
    }

    private static double Peak<T>(bool accelerated, int lanes, Func<long, double> kernel)
    {
        if (!accelerated) return double.NaN;
        const long iterations = 20_000_000;
        kernel(1000);
        var best = double.MaxValue;
        using var process = Process.GetCurrentProcess();
        for (int rep = 0; rep < 7; rep++)
        {
            process.Refresh();
            var cpu0 = process.TotalProcessorTime;
            kernel(iterations);
            process.Refresh();
            best = Math.Min(best, (process.TotalProcessorTime - cpu0).TotalSeconds);
        }
        return iterations * 12.0 * lanes / best;
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Fma256d(long n)
    {
        var m = Vector256.Create(0.999999);
        var c = Vector256.Create(1e-7);
        Vector256<double> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c); a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c); a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c); a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c); a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Fma256f(long n)
    {
        var m = Vector256.Create(0.99999f);
        var c = Vector256.Create(1e-5f);
        Vector256<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector256.FusedMultiplyAdd(a0, m, c); a1 = Vector256.FusedMultiplyAdd(a1, m, c); a2 = Vector256.FusedMultiplyAdd(a2, m, c);
            a3 = Vector256.FusedMultiplyAdd(a3, m, c); a4 = Vector256.FusedMultiplyAdd(a4, m, c); a5 = Vector256.FusedMultiplyAdd(a5, m, c);
            a6 = Vector256.FusedMultiplyAdd(a6, m, c); a7 = Vector256.FusedMultiplyAdd(a7, m, c); a8 = Vector256.FusedMultiplyAdd(a8, m, c);
            a9 = Vector256.FusedMultiplyAdd(a9, m, c); a10 = Vector256.FusedMultiplyAdd(a10, m, c); a11 = Vector256.FusedMultiplyAdd(a11, m, c);
        }
        return Vector256.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Fma512d(long n)
    {
        var m = Vector512.Create(0.999999);
        var c = Vector512.Create(1e-7);
        Vector512<double> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }

    [MethodImpl(MethodImplOptions.NoInlining)]
    private static double Fma512f(long n)
    {
        var m = Vector512.Create(0.99999f);
        var c = Vector512.Create(1e-5f);
        Vector512<float> a0 = m, a1 = m, a2 = m, a3 = m, a4 = m, a5 = m, a6 = m, a7 = m, a8 = m, a9 = m, a10 = m, a11 = m;
        for (long i = 0; i < n; i++)
        {
            a0 = Vector512.FusedMultiplyAdd(a0, m, c); a1 = Vector512.FusedMultiplyAdd(a1, m, c); a2 = Vector512.FusedMultiplyAdd(a2, m, c);
            a3 = Vector512.FusedMultiplyAdd(a3, m, c); a4 = Vector512.FusedMultiplyAdd(a4, m, c); a5 = Vector512.FusedMultiplyAdd(a5, m, c);
            a6 = Vector512.FusedMultiplyAdd(a6, m, c); a7 = Vector512.FusedMultiplyAdd(a7, m, c); a8 = Vector512.FusedMultiplyAdd(a8, m, c);
            a9 = Vector512.FusedMultiplyAdd(a9, m, c); a10 = Vector512.FusedMultiplyAdd(a10, m, c); a11 = Vector512.FusedMultiplyAdd(a11, m, c);
        }
        return Vector512.Sum(a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9 + a10 + a11);
    }
}
