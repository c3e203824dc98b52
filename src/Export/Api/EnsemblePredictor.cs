using Bnn.Onnx.Export;
using Bnn.Onnx.Pipeline;

namespace Bnn.Onnx;

/// <summary>
/// Predictions of an ensemble for a batch of rows, each <c>[row, output]</c>. For a normal likelihood the interval is
/// central over the predictive mixture (1/S)·Σ_s N(μ_s, σ_s²) (noise included); for a classifier,
/// <see cref="Mean"/> holds the class probabilities averaged over the members and the interval is the empirical
/// quantiles of the members' probabilities.
/// </summary>
public sealed class EnsemblePrediction
{
    internal EnsemblePrediction(int members, double interval, double[,] mean, double[,] std, double[,] lower, double[,] upper, bool classifier)
    {
        MemberCount = members;
        Interval = interval;
        Mean = mean;
        Std = std;
        Lower = lower;
        Upper = upper;
        ClassProbabilities = classifier ? mean : null;
    }

    /// <summary>Members S that voted.</summary>
    public int MemberCount { get; }

    /// <summary>The central interval's probability.</summary>
    public double Interval { get; }

    /// <summary>Rows predicted.</summary>
    public int Rows => Mean.GetLength(0);

    /// <summary>Outputs per row (classes for a classifier; non-batch dimensions flattened).</summary>
    public int Outputs => Mean.GetLength(1);

    /// <summary>The posterior predictive mean: the members' average.</summary>
    public double[,] Mean { get; }

    /// <summary>The predictive standard deviation (for a normal likelihood, noise included).</summary>
    public double[,] Std { get; }

    /// <summary>The lower end of the central <see cref="Interval"/>.</summary>
    public double[,] Lower { get; }

    /// <summary>The upper end of the central <see cref="Interval"/>.</summary>
    public double[,] Upper { get; }

    /// <summary>For a bernoulli or categorical ensemble, the averaged class probabilities (the same array as <see cref="Mean"/>); null for a normal one.</summary>
    public double[,]? ClassProbabilities { get; }
}

/// <summary>
/// An ensemble ONNX file written by <see cref="PosteriorRun.ExportEnsemble"/> or <c>bnn export</c>, loaded into
/// ONNX Runtime (CPU) for prediction: the library's <c>bnn predict</c>. Holds a native inference session: dispose it.
/// Predict may be called from several threads at once.
/// </summary>
public sealed class EnsemblePredictor : IDisposable
{
    private readonly EnsembleSession _session;

    private EnsemblePredictor(EnsembleSession session, string path)
    {
        _session = session;
        Path = path;
        MemberCount = session.Metadata.TryGetValue(EnsembleBuilder.MembersKey, out var m)
            && int.TryParse(m, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int s) && s > 0
            ? s
            : throw new InvalidDataException($"{path}: not a bnn ensemble (no '{EnsembleBuilder.MembersKey}' metadata)");
    }

    /// <summary>
    /// Loads an ensemble. Throws <see cref="FileNotFoundException"/> for a missing file and
    /// <see cref="InvalidDataException"/> for a file that is not a bnn ensemble.
    /// </summary>
    /// <param name="path">The ensemble file.</param>
    public static EnsemblePredictor Open(string path)
    {
        ArgumentNullException.ThrowIfNull(path);
        if (!File.Exists(path)) throw new FileNotFoundException($"ensemble file not found: {path}", path);
        var session = new EnsembleSession(path);
        try
        {
            return new EnsemblePredictor(session, System.IO.Path.GetFullPath(path));
        }
        catch
        {
            session.Dispose();
            throw;
        }
    }

    /// <summary>The ensemble file (full path).</summary>
    public string Path { get; }

    /// <summary>The likelihood the run sampled with, which decides what the outputs mean.</summary>
    public ModelLikelihood Likelihood => _session.Likelihood switch
    {
        EnsembleLikelihood.Bernoulli => ModelLikelihood.Bernoulli,
        EnsembleLikelihood.Categorical => ModelLikelihood.Categorical,
        _ => ModelLikelihood.Normal,
    };

    /// <summary>Members S: the draws the ensemble holds.</summary>
    public int MemberCount { get; }

    /// <summary>The input's name in the graph.</summary>
    public string InputName => _session.InputName;

    /// <summary>
    /// Predicts <paramref name="x"/>: one row per sample, its values filling the input's non-batch dimensions in
    /// row-major order (a single symbolic dimension takes its size from the row width).
    /// </summary>
    /// <param name="x">[rows, values per row].</param>
    /// <param name="interval">The central interval's probability, in (0, 1) [0.9].</param>
    public EnsemblePrediction Predict(double[,] x, double interval = 0.9)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Predict(RowMajor(x), x.GetLength(0), x.GetLength(1), interval);
    }

    /// <inheritdoc cref="Predict(double[,], double)"/>
    public EnsemblePrediction Predict(float[,] x, double interval = 0.9)
    {
        ArgumentNullException.ThrowIfNull(x);
        return Predict(RowMajor(x), x.GetLength(0), x.GetLength(1), interval);
    }

    /// <summary>The matrix's values in row-major order, as double.</summary>
    private static double[] RowMajor<T>(T[,] x) where T : System.Numerics.INumberBase<T>
    {
        int rows = x.GetLength(0), width = x.GetLength(1);
        var values = new double[rows * width];
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++) values[r * width + j] = double.CreateChecked(x[r, j]);
        return values;
    }

    /// <summary>Predicts rows given one array each (all of one length).</summary>
    /// <param name="rows">The samples, each filling the input's non-batch dimensions in row-major order.</param>
    /// <param name="interval">The central interval's probability, in (0, 1) [0.9].</param>
    public EnsemblePrediction Predict(IReadOnlyList<double[]> rows, double interval = 0.9)
    {
        ArgumentNullException.ThrowIfNull(rows);
        if (rows.Count == 0) throw new ArgumentException("no rows to predict", nameof(rows));
        int width = rows[0].Length;
        if (rows.Any(r => r.Length != width)) throw new ArgumentException("rows differ in length", nameof(rows));
        return Predict(rows.SelectMany(r => r).ToArray(), rows.Count, width, interval);
    }

    private EnsemblePrediction Predict(double[] values, int rows, int width, double interval)
    {
        if (!(interval > 0 && interval < 1)) throw new ArgumentOutOfRangeException(nameof(interval), interval, "the interval's probability must be in (0, 1)");
        if (rows == 0) throw new ArgumentException("no rows to predict", "x");
        var shape = UserInput.Validated(() => InputShapeOption.Resolve(_session.Input, new Dictionary<string, int>(), width, "x", TextWriter.Null));
        var outputs = _session.Run(values, rows, shape.SampleShape!);
        int k = outputs.Outputs;
        var mean = new double[rows, k];
        var std = new double[rows, k];
        var lower = new double[rows, k];
        var upper = new double[rows, k];
        for (int n = 0; n < rows; n++)
            for (int o = 0; o < k; o++)
            {
                mean[n, o] = outputs.Mean[n * k + o];
                std[n, o] = outputs.Std[n * k + o];
                (lower[n, o], upper[n, o]) = _session.Interval(outputs, n, o, interval);
            }
        return new EnsemblePrediction(outputs.MemberCount, interval, mean, std, lower, upper, Likelihood != ModelLikelihood.Normal);
    }

    /// <summary>Releases the ONNX Runtime session.</summary>
    public void Dispose() => _session.Dispose();
}
