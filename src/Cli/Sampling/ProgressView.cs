using System.Globalization;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.Pipeline;
using Spectre.Console;

namespace Bnn.Onnx.Cli.Sampling;

/// <summary>
/// Shows each chain's progress while sampling: iteration, phase, step size, tree depth and divergences.
/// On a terminal it is a live table (Spectre.Console); otherwise (redirected output, CI) a line per chain at every
/// tenth of the run, on the log writer.
/// </summary>
internal sealed class ProgressView(SamplerOptions options, bool live, TextWriter log) : ISamplingMonitor
{
    private readonly ChainProgress?[] _latest = new ChainProgress?[options.Chains];
    private readonly int[] _lastDecile = Enumerable.Repeat(-1, options.Chains).ToArray();
    private readonly SamplerPhase?[] _lastPhase = new SamplerPhase?[options.Chains];
    private readonly Lock _lock = new();

    public void Report(ChainProgress value)
    {
        lock (_lock)
        {
            if (value.Chain < 0 || value.Chain >= _latest.Length) return;
            _latest[value.Chain] = value;
            if (live) return;
            // A line per chain at every tenth of the run and when its phase changes (warmup → sampling → done), as Stan does.
            int total = Math.Max(1, value.TotalIterations);
            int decile = Math.Min(10, value.Iteration * 10 / total);
            bool phaseChanged = _lastPhase[value.Chain] != value.Phase;
            if (decile <= _lastDecile[value.Chain] && !phaseChanged) return;
            _lastDecile[value.Chain] = decile;
            _lastPhase[value.Chain] = value.Phase;
            string phase = value.Phase == SamplerPhase.Done && value.Iteration < value.TotalIterations ? "stopped" : Phase(value.Phase);
            log.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"chain {value.Chain + 1}: iteration {value.Iteration,5}/{value.TotalIterations} [{value.Iteration * 100 / total,3}%] ({phase})  step size {value.StepSize:G3}  depth {value.TreeDepth}  divergences {value.Divergences}"));
        }
    }

    /// <summary>The display for a run of <paramref name="settings"/> (live unless <see cref="SampleSettings.LiveProgress"/> is off).</summary>
    public static Func<SamplerOptions, ISamplingMonitor> For(SampleSettings settings, TextWriter log) =>
        options => new ProgressView(options, settings.LiveProgress, log);

    /// <summary>Runs <paramref name="sampling"/> while the display updates.</summary>
    public T Run<T>(Func<T> sampling)
    {
        if (!live) return sampling();
        T result = default!;
        AnsiConsole.Live(Render()).AutoClear(false).Start(context =>
        {
            var task = Task.Run(sampling);
            while (!task.Wait(250)) context.UpdateTarget(Render());
            context.UpdateTarget(Render());
            result = task.GetAwaiter().GetResult();
        });
        return result;
    }

    private Table Render()
    {
        var table = new Table().Border(TableBorder.Rounded)
            .AddColumn("chain").AddColumn("iteration").AddColumn("phase").AddColumn("step size")
            .AddColumn("tree depth").AddColumn("divergences").AddColumn("gradients");
        lock (_lock)
        {
            for (int c = 0; c < _latest.Length; c++)
            {
                if (_latest[c] is not { } p)
                {
                    table.AddRow((c + 1).ToString(CultureInfo.InvariantCulture), "-", "starting", "", "", "", "");
                    continue;
                }
                table.AddRow(
                    (c + 1).ToString(CultureInfo.InvariantCulture),
                    $"{p.Iteration}/{p.TotalIterations}",
                    Phase(p.Phase),
                    p.StepSize.ToString("G3", CultureInfo.InvariantCulture),
                    p.TreeDepth.ToString(CultureInfo.InvariantCulture),
                    p.Divergences == 0 ? "0" : $"[red]{p.Divergences}[/]",
                    p.GradientEvaluations.ToString("N0", CultureInfo.InvariantCulture));
            }
        }
        return table;
    }

    private static string Phase(SamplerPhase phase) => phase switch
    {
        SamplerPhase.Warmup => "warmup",
        SamplerPhase.Sampling => "sampling",
        _ => "done",
    };
}
