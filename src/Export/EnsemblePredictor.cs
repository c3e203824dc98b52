using System.Globalization;
using System.Text;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;

namespace Bnn.Onnx.Export;

/// <summary>What the ensemble returns for a batch: every member, the mean and the predictive standard deviation.</summary>
/// <param name="Members">[S, N, K] row-major: member s, sample n, output k (non-batch dims flattened).</param>
/// <param name="Mean">[N, K].</param>
/// <param name="Std">[N, K].</param>
internal sealed record EnsembleOutputs(int MemberCount, int Rows, int Outputs, double[] Members, double[] Mean, double[] Std)
{
    public double Member(int s, int n, int k) => Members[((long)s * Rows + n) * Outputs + k];
}

/// <summary>
/// Runs an ensemble written by <see cref="EnsembleBuilder"/> on ONNX Runtime and turns its outputs into
/// predictive summaries. Holds an <see cref="InferenceSession"/>: dispose it.
/// </summary>
internal sealed class EnsembleSession : IDisposable
{
    private readonly InferenceSession _session;

    /// <param name="path">The ensemble file.</param>
    /// <param name="useCuda">Run on the CUDA execution provider (the GPU package of ONNX Runtime and CUDA libraries are needed).</param>
    public EnsembleSession(string path, bool useCuda = false)
    {
        var model = ModelFiles.Read(path);
        var meta = model.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        Likelihood = meta.TryGetValue(EnsembleBuilder.LikelihoodKey, out var l) && Enum.TryParse<EnsembleLikelihood>(l, ignoreCase: true, out var kind)
            ? kind
            : throw new InvalidDataException($"{path}: not a bnn ensemble (no '{EnsembleBuilder.LikelihoodKey}' metadata)");
        Metadata = meta;
        var sigma = model.Graph.Initializer.FirstOrDefault(t => t.Name == EnsembleBuilder.SigmaInitializer);
        MemberSigma = sigma is null ? null : OnnxTensors.ToDoubles(sigma);

        using var options = new SessionOptions { LogSeverityLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_ERROR };
        // Where CUDA cannot start, ONNX Runtime would also log the failure itself: the one line thrown below says it.
        var env = useCuda ? OrtEnv.Instance() : null;
        var envLevel = env?.EnvLogLevel;
        if (env is not null) env.EnvLogLevel = OrtLoggingLevel.ORT_LOGGING_LEVEL_FATAL;
        try
        {
            if (useCuda) AppendCuda(options);
            _session = new InferenceSession(path, options);
        }
        catch (OnnxRuntimeException ex) when (useCuda && ex.Message.Contains("CUDA", StringComparison.OrdinalIgnoreCase))
        {
            throw new NotSupportedException($"--device cuda: ONNX Runtime's CUDA execution provider cannot run on this machine: {FirstLine(ex.Message)}");
        }
        catch (OnnxRuntimeException ex)
        {
            throw new InvalidDataException($"{path}: ONNX Runtime cannot load the ensemble: {ex.Message}");
        }
        finally
        {
            if (env is not null) env.EnvLogLevel = envLevel!.Value;
        }

        if (_session.InputNames.Count != 1)
            throw new NotSupportedException($"{path}: the ensemble has {_session.InputNames.Count} inputs; predict supports one");
        InputName = _session.InputNames[0];
        var input = _session.InputMetadata[InputName];
        InputType = input.ElementDataType;
        if (InputType is not (TensorElementType.Float or TensorElementType.Double))
            throw new NotSupportedException($"{path}: input '{InputName}' has element type {InputType}; predict reads float or double");
        if (input.Dimensions.Length == 0) throw new NotSupportedException($"{path}: input '{InputName}' is a scalar; a batch axis is needed");
        FeatureShape = input.Dimensions.Skip(1).ToArray();
        Input = new ValueInfo(InputName, InputType == TensorElementType.Float ? ElementType.Float : ElementType.Double,
            input.Dimensions.Select((d, i) => d >= 0 ? Dimension.Fixed(d)
                : input.SymbolicDimensions is { } names && i < names.Length && names[i].Length > 0 ? Dimension.Symbolic(names[i]) : Dimension.Unknown).ToArray());
    }

    /// <summary>
    /// True in the build made with <c>-p:BnnOnnxRuntime=gpu</c> (ONNX Runtime's Linux CUDA package), false in the default
    /// build (the CPU package, which has no CUDA execution provider).
    /// </summary>
    public static bool GpuBuild { get; } =
#if BNN_ORT_GPU
        true;
#else
        false;
#endif

    /// <summary>
    /// Adds the CUDA execution provider (device 0). Throws a one-line <see cref="NotSupportedException"/> in the CPU build
    /// (it names the build switch) and where the GPU build finds no GPU or no CUDA libraries.
    /// </summary>
    private static void AppendCuda(SessionOptions options)
    {
        if (!GpuBuild)
            throw new NotSupportedException(
                "--device cuda: this build uses ONNX Runtime's CPU package, which has no CUDA execution provider; " +
                "build with -p:BnnOnnxRuntime=gpu (Linux, an NVIDIA GPU with CUDA 13 and cuDNN) or use --device cpu");
        try
        {
            options.AppendExecutionProvider_CUDA(0);
        }
        catch (Exception ex) when (ex is OnnxRuntimeException or EntryPointNotFoundException or DllNotFoundException)
        {
            throw new NotSupportedException(
                $"--device cuda: ONNX Runtime's CUDA execution provider cannot start on this machine (no NVIDIA GPU, or the CUDA 13 and cuDNN libraries are not on the library path; use --device cpu): {FirstLine(ex.Message)}");
        }
    }

    private static string FirstLine(string message) => message.ReplaceLineEndings("\n").Split('\n', StringSplitOptions.RemoveEmptyEntries).FirstOrDefault()?.Trim() ?? "";

    /// <summary>The ensemble's input as declared (symbolic dimensions by name), for <see cref="InputShape.Resolve"/>.</summary>
    public ValueInfo Input { get; }

    public EnsembleLikelihood Likelihood { get; }
    public IReadOnlyDictionary<string, string> Metadata { get; }

    /// <summary>σ per member (and per output when σ is a vector) for a normal likelihood, else null.</summary>
    public double[]? MemberSigma { get; }

    public string InputName { get; }
    public TensorElementType InputType { get; }

    /// <summary>The input's dimensions after the batch axis; −1 for a symbolic one (see <see cref="Input"/>).</summary>
    public int[] FeatureShape { get; }

    /// <summary>Values per sample (the product of <see cref="FeatureShape"/>); throws when a dimension is symbolic.</summary>
    public int FeatureSize => FeatureShape.Any(d => d < 0)
        ? throw new NotSupportedException($"input '{InputName}' [{string.Join(", ", Input.Shape)}] has symbolic dimensions besides the batch axis; their sizes must be given")
        : FeatureShape.Aggregate(1, (a, b) => a * b);

    /// <summary>Runs the ensemble on <paramref name="rows"/> samples stored row-major in <paramref name="features"/>.</summary>
    public EnsembleOutputs Run(ReadOnlySpan<double> features, int rows) => Run(features, rows, FeatureShape);

    /// <summary>
    /// Runs the ensemble on <paramref name="rows"/> samples stored row-major in <paramref name="features"/>, each of shape
    /// <paramref name="sampleShape"/> (the input's dimensions after the batch, symbolic ones resolved).
    /// </summary>
    public EnsembleOutputs Run(ReadOnlySpan<double> features, int rows, IReadOnlyList<int> sampleShape)
    {
        if (sampleShape.Count != FeatureShape.Length || sampleShape.Where((d, i) => d <= 0 || FeatureShape[i] >= 0 && FeatureShape[i] != d).Any())
            throw new ArgumentException($"sample shape [{string.Join(", ", sampleShape)}] does not fit input '{InputName}' [{string.Join(", ", Input.Shape)}]");
        int size = sampleShape.Aggregate(1, (a, b) => checked(a * b));
        if (features.Length != rows * size)
            throw new ArgumentException($"{features.Length} input values for {rows} rows of {size}");
        long[] shape = [rows, .. sampleShape.Select(d => (long)d)];
        using var input = InputType == TensorElementType.Float
            ? OrtValue.CreateTensorValueFromMemory(features.ToArray().Select(v => (float)v).ToArray(), shape)
            : OrtValue.CreateTensorValueFromMemory(features.ToArray(), shape);
        using var runOptions = new RunOptions();
        using var outputs = _session.Run(runOptions, [InputName], [input],
            [EnsembleBuilder.MembersOutput, EnsembleBuilder.MeanOutput, EnsembleBuilder.StdOutput]);

        double[] Read(OrtValue v) => v.GetTensorTypeAndShape().ElementDataType == TensorElementType.Float
            ? v.GetTensorDataAsSpan<float>().ToArray().Select(x => (double)x).ToArray()
            : v.GetTensorDataAsSpan<double>().ToArray();

        var membersShape = outputs[0].GetTensorTypeAndShape().Shape;
        int s = (int)membersShape[0];
        var members = Read(outputs[0]);
        int k = rows == 0 ? 0 : members.Length / (s * rows);
        return new EnsembleOutputs(s, rows, k, members, Read(outputs[1]), Read(outputs[2]));
    }

    /// <summary>
    /// The central <paramref name="interval"/> of the predictive distribution for sample n, output k.
    /// Normal: quantiles of the equal-weight mixture (1/S)·Σ_s N(μ_s, σ_s²) (noise included), found by bisection
    /// on its CDF. Bernoulli/Categorical: empirical quantiles (type 7, as numpy's default) of the member probabilities.
    /// </summary>
    public (double Lower, double Upper) Interval(EnsembleOutputs outputs, int n, int k, double interval)
    {
        double alpha = (1 - interval) / 2;
        var mu = new double[outputs.MemberCount];
        for (int s = 0; s < mu.Length; s++) mu[s] = outputs.Member(s, n, k);
        if (Likelihood == EnsembleLikelihood.Normal && MemberSigma is not null)
        {
            int perMember = MemberSigma.Length / outputs.MemberCount;
            var sigma = new double[mu.Length];
            for (int s = 0; s < sigma.Length; s++) sigma[s] = MemberSigma[s * perMember + (perMember == 1 ? 0 : k)];
            return (PredictiveQuantiles.NormalMixture(mu, sigma, alpha), PredictiveQuantiles.NormalMixture(mu, sigma, 1 - alpha));
        }
        Array.Sort(mu);
        return (PredictiveQuantiles.Empirical(mu, alpha), PredictiveQuantiles.Empirical(mu, 1 - alpha));
    }

    public void Dispose() => _session.Dispose();
}

/// <summary>Quantiles used by <c>bnn predict</c>.</summary>
internal static class PredictiveQuantiles
{
    /// <summary>Type-7 quantile of sorted values: linear interpolation between order statistics at (n−1)·p.</summary>
    public static double Empirical(IReadOnlyList<double> sorted, double p)
    {
        double h = (sorted.Count - 1) * p;
        int lo = (int)Math.Floor(h);
        int hi = Math.Min(lo + 1, sorted.Count - 1);
        return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
    }

    /// <summary>
    /// The p-quantile of (1/S)·Σ_s N(μ_s, σ_s²): bisection on the mixture CDF over [min μ − 40 max σ, max μ + 40 max σ]
    /// to a width of 1e-12 of the bracket.
    /// </summary>
    public static double NormalMixture(IReadOnlyList<double> mu, IReadOnlyList<double> sigma, double p)
    {
        double maxSigma = sigma.Max();
        double lo = mu.Min() - 40 * maxSigma, hi = mu.Max() + 40 * maxSigma;
        double tolerance = (hi - lo) * 1e-12;
        for (int iteration = 0; iteration < 200 && hi - lo > tolerance; iteration++)
        {
            double mid = 0.5 * (lo + hi);
            double cdf = 0;
            for (int s = 0; s < mu.Count; s++) cdf += NormalCdf((mid - mu[s]) / sigma[s]);
            if (cdf / mu.Count < p) lo = mid; else hi = mid;
        }
        return 0.5 * (lo + hi);
    }

    /// <summary>Φ(z) = erfc(−z/√2)/2.</summary>
    public static double NormalCdf(double z) => 0.5 * Erfc(-z / Math.Sqrt(2));

    /// <summary>
    /// erfc(x): the Maclaurin series of erf for |x| &lt; 2.5 (about 13 correct digits), the Lentz continued fraction
    /// erfc(x) = e^(−x²)/√π · 1/(x + ½/(x + 1/(x + 3⁄2/(x + …)))) beyond (Numerical Recipes §6.2; A&amp;S 7.1.14).
    /// </summary>
    public static double Erfc(double x)
    {
        if (double.IsNaN(x)) return double.NaN;
        if (x < 0) return 2 - Erfc(-x);
        if (x < 2.5)
        {
            double sum = 0, term = x, x2 = x * x;
            for (int n = 0; n < 200; n++)
            {
                double add = term / (2 * n + 1);
                sum += add;
                if (Math.Abs(add) < 1e-17 * Math.Abs(sum)) break;
                term *= -x2 / (n + 1);
            }
            return 1 - 2 / Math.Sqrt(Math.PI) * sum;
        }
        // Modified Lentz evaluation of the continued fraction 1/(x+ (1/2)/(x+ 1/(x+ (3/2)/(x+ ...)))).
        const double tiny = 1e-300;
        double f = x, c = x, d = 0;
        for (int k = 1; k < 500; k++)
        {
            double a = k / 2.0;
            d = x + a * d;
            d = Math.Abs(d) < tiny ? tiny : d;
            c = x + a / c;
            c = Math.Abs(c) < tiny ? tiny : c;
            d = 1 / d;
            double delta = c * d;
            f *= delta;
            if (Math.Abs(delta - 1) < 1e-16) break;
        }
        return Math.Exp(-x * x) / Math.Sqrt(Math.PI) / f;
    }
}

/// <summary>Feature tables as <c>bnn eval</c> reads them: no header, one sample per row, comma-separated, row-major non-batch dims.</summary>
internal static class FeatureCsv
{
    public static (double[] Values, int Rows) Read(string path, int columns)
    {
        if (!File.Exists(path)) throw new FileNotFoundException($"input file not found: {path}", path);
        var values = new List<double>();
        int rows = 0, lineNumber = 0;
        foreach (var line in File.ReadLines(path))
        {
            lineNumber++;
            if (string.IsNullOrWhiteSpace(line)) continue;
            var cells = line.Split(',');
            if (cells.Length != columns)
                throw new FormatException($"{path}:{lineNumber}: {cells.Length} values, the model takes {columns} per sample");
            foreach (var cell in cells)
            {
                if (!double.TryParse(cell.Trim(), NumberStyles.Float, CultureInfo.InvariantCulture, out double v))
                    throw new FormatException($"{path}:{lineNumber}: '{cell.Trim()}' is not a number (the file has no header)");
                values.Add(v);
            }
            rows++;
        }
        if (rows == 0) throw new FormatException($"{path}: no samples");
        return (values.ToArray(), rows);
    }

    /// <summary>Writes <c>mean_k,std_k,lower_k,upper_k</c> per output k, one row per sample, 17 significant digits.</summary>
    public static void WritePredictions(string? path, EnsembleSession session, EnsembleOutputs outputs, double interval, TextWriter? console = null)
    {
        var sb = new StringBuilder();
        sb.AppendJoin(',', Enumerable.Range(0, outputs.Outputs).SelectMany(k => new[] { $"mean_{k}", $"std_{k}", $"lower_{k}", $"upper_{k}" }));
        sb.Append('\n');
        for (int n = 0; n < outputs.Rows; n++)
        {
            for (int k = 0; k < outputs.Outputs; k++)
            {
                var (lower, upper) = session.Interval(outputs, n, k, interval);
                if (k > 0) sb.Append(',');
                int i = n * outputs.Outputs + k;
                sb.Append(F(outputs.Mean[i])).Append(',').Append(F(outputs.Std[i])).Append(',').Append(F(lower)).Append(',').Append(F(upper));
            }
            sb.Append('\n');
        }
        if (path is null)
        {
            (console ?? Console.Out).Write(sb.ToString());
            return;
        }
        string partial = path + ".partial";
        File.WriteAllText(partial, sb.ToString());
        File.Move(partial, path, overwrite: true);
    }

    private static string F(double v) => v.ToString("G17", CultureInfo.InvariantCulture);
}
