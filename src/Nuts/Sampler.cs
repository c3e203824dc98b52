using System.Diagnostics;
using System.Runtime.ExceptionServices;

namespace Bnn.Onnx.Nuts;

/// <summary>
/// The driver: runs NUTS chains with Stan's warmup and streams post-warmup draws to an <see cref="IDrawSink"/>.
/// <see cref="Run"/> gives each chain its own thread and density instance; <see cref="RunLockstep"/> advances all
/// chains together on a batched density. Chain c draws its random numbers from <see cref="Rng.ForChain"/>(seed, c)
/// only, so draws are identical bit for bit whatever the threads or their timing.
/// On cancellation every chain finishes its current iteration, the sink is completed with interrupted = true and
/// the result says <see cref="SamplingResult.Interrupted"/>; nothing is thrown.
/// </summary>
internal static class Sampler
{
    /// <summary>Runs independent chains on threads (at most <see cref="SamplerOptions.MaxParallelism"/> at once).</summary>
    /// <param name="densityForChain">Called once per chain, on that chain's thread: a density instance for it.</param>
    /// <param name="layout">Maps θ to the values the sink receives (σ rather than log σ); null: θ as is.</param>
    /// <param name="sink">Receives post-warmup draws; calls are serialised by the driver.</param>
    /// <param name="initialPosition">Proposes chain c's start on the unconstrained scale; called again (up to
    /// <see cref="SamplerOptions.MaxInitAttempts"/> times) while the start has a non-finite log density or gradient.
    /// Null, or a null return: uniform(−r, r) with r = <see cref="SamplerOptions.InitRadius"/>.</param>
    /// <param name="generatedQuantities">Per chain: quantities computed at each draw and passed to a sink that
    /// implements <see cref="IGeneratedQuantitySink"/>.</param>
    public static SamplingResult Run(
        SamplerOptions options,
        Func<int, ILogDensity> densityForChain,
        ParameterLayout? layout,
        IDrawSink sink,
        Func<int, Rng, double[]?>? initialPosition = null,
        Func<int, IGeneratedQuantities>? generatedQuantities = null,
        IProgress<ChainProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options.Validate();
        int parallelism = Math.Clamp(options.MaxParallelism ?? Environment.ProcessorCount, 1, options.Chains);
        return RunThreads(options, parallelism, densityForChain, layout, sink, initialPosition, generatedQuantities,
            progress, cancellationToken, onChainExit: null);
    }

    /// <summary>
    /// Runs all chains in lockstep on a batched density: every leapfrog step of every running chain is gathered into
    /// one <see cref="IBatchedLogDensity.LogDensityAndGradient"/> call (chains that have finished are left out).
    /// Each chain's tree is still its own; one thread per chain only waits for the batch.
    /// </summary>
    public static SamplingResult RunLockstep(
        SamplerOptions options,
        IBatchedLogDensity density,
        ParameterLayout? layout,
        IDrawSink sink,
        Func<int, Rng, double[]?>? initialPosition = null,
        Func<int, IGeneratedQuantities>? generatedQuantities = null,
        IProgress<ChainProgress>? progress = null,
        CancellationToken cancellationToken = default)
    {
        options.Validate();
        var coordinator = new LockstepCoordinator(density, options.Chains);
        return RunThreads(options, options.Chains, c => new LockstepChainDensity(coordinator, c), layout, sink,
            initialPosition, generatedQuantities, progress, cancellationToken, onChainExit: coordinator.Leave);
    }

    /// <summary>
    /// Draws a finite start: calls <paramref name="propose"/> (null or a null return: uniform(−radius, radius)) until
    /// log p and ∇ log p are finite, at most <paramref name="maxAttempts"/> times, else throws
    /// <see cref="InvalidDataException"/>.
    /// </summary>
    public static NutsState FindFiniteStart(ILogDensity density, Rng rng, Func<Rng, double[]?>? propose,
        int maxAttempts = 100, double radius = 2.0, int chain = 0)
    {
        int d = density.Dimension;
        var gradient = new double[d];
        double lastLp = double.NaN;
        for (int attempt = 0; attempt < maxAttempts; attempt++)
        {
            var position = propose?.Invoke(rng) ?? UniformStart(rng, d, radius);
            if (position.Length != d)
                throw new ArgumentException($"chain {chain}: the initial position has {position.Length} values, the model has {d} parameters");
            lastLp = density.LogDensityAndGradient(position, gradient);
            if (double.IsFinite(lastLp) && VectorMath.AllFinite(gradient) && VectorMath.AllFinite(position))
                return new NutsState(position, lastLp, gradient);
        }
        throw new InvalidDataException(
            $"chain {chain}: no initial position with a finite log density and gradient in {maxAttempts} attempts " +
            $"(last log density {lastLp}); check the data, the priors and the initialisation");
    }

    /// <summary>Stan's default start: each coordinate uniform(−radius, radius) on the unconstrained scale.</summary>
    public static double[] UniformStart(Rng rng, int dimension, double radius = 2.0)
    {
        var q = new double[dimension];
        for (int i = 0; i < dimension; i++) q[i] = rng.NextUniform(-radius, radius);
        return q;
    }

    private static SamplingResult RunThreads(
        SamplerOptions o, int parallelism, Func<int, ILogDensity> densityForChain, ParameterLayout? layout,
        IDrawSink sink, Func<int, Rng, double[]?>? initialPosition, Func<int, IGeneratedQuantities>? generatedQuantities,
        IProgress<ChainProgress>? progress, CancellationToken ct, Action<int>? onChainExit)
    {
        var total = Stopwatch.StartNew();
        var results = new ChainResult?[o.Chains];
        var errors = new Exception?[o.Chains];
        var writer = new SerialisedSink(sink);
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(ct);
        int next = -1;

        void Worker()
        {
            int c;
            while ((c = Interlocked.Increment(ref next)) < o.Chains)
            {
                try
                {
                    results[c] = new ChainRunner(c, o, layout, writer, progress).Run(densityForChain, initialPosition,
                        generatedQuantities, stop.Token);
                }
                catch (Exception ex)
                {
                    errors[c] = ex;
                    try { stop.Cancel(); } catch (ObjectDisposedException) { }
                }
                finally
                {
                    onChainExit?.Invoke(c);
                }
            }
        }

        if (parallelism == 1)
        {
            Worker();
        }
        else
        {
            var threads = new Thread[parallelism];
            for (int t = 0; t < parallelism; t++)
            {
                threads[t] = new Thread(Worker) { IsBackground = true, Name = $"nuts-worker-{t}" };
                threads[t].Start();
            }
            foreach (var t in threads) t.Join();
        }

        var firstError = errors.FirstOrDefault(e => e is not null);
        if (firstError is not null)
        {
            writer.Complete(interrupted: true);
            ExceptionDispatchInfo.Capture(firstError).Throw();
        }

        var chains = results.Select((r, c) => r ?? ChainRunner.Empty(c)).ToArray();
        bool interrupted = chains.Any(r => r.DrawsCompleted < o.Draws || r.WarmupIterationsCompleted < o.Warmup);
        writer.Complete(interrupted);
        return new SamplingResult(o, chains, interrupted,
            chains.Max(r => r.WarmupSeconds), chains.Max(r => r.SamplingSeconds), total.Elapsed.TotalSeconds);
    }

    /// <summary>Serialises sink calls from the chain threads.</summary>
    private sealed class SerialisedSink(IDrawSink sink)
    {
        private readonly Lock _lock = new();
        private bool _completed;

        public void Write(int chain, int draw, in SamplerStats stats, ReadOnlySpan<double> constrained, ReadOnlySpan<double> generated)
        {
            lock (_lock)
            {
                sink.Write(chain, draw, stats, constrained);
                if (sink is IGeneratedQuantitySink g && generated.Length > 0) g.WriteGenerated(chain, draw, generated);
            }
        }

        public void Complete(bool interrupted)
        {
            lock (_lock)
            {
                if (_completed) return;
                _completed = true;
                sink.Complete(interrupted);
            }
        }
    }

    /// <summary>Counts gradient evaluations of the density it wraps.</summary>
    private sealed class CountingDensity(ILogDensity inner) : ILogDensity
    {
        public long Evaluations;
        public int Dimension => inner.Dimension;

        public double LogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
        {
            Evaluations++;
            return inner.LogDensityAndGradient(position, gradient);
        }
    }

    /// <summary>One chain: initialisation, warmup, sampling.</summary>
    private sealed class ChainRunner(int chain, SamplerOptions o, ParameterLayout? layout, SerialisedSink writer, IProgress<ChainProgress>? progress)
    {
        private long _lastReport;

        public static ChainResult Empty(int chain) =>
            new(chain, [], double.NaN, [], null, 0, 0, 0, 0, 0, 0, 0, 0, 0, double.NaN, double.NaN);

        public ChainResult Run(Func<int, ILogDensity> densityForChain, Func<int, Rng, double[]?>? initialPosition,
            Func<int, IGeneratedQuantities>? generatedQuantities, CancellationToken ct)
        {
            if (ct.IsCancellationRequested) return Empty(chain);
            var rng = Rng.ForChain(o.Seed, o.ChainId(chain));
            var density = new CountingDensity(densityForChain(chain));
            int d = density.Dimension;
            if (layout is not null && layout.Dimension != d)
                throw new ArgumentException($"the parameter layout has {layout.Dimension} values, the density {d}");
            var gq = generatedQuantities?.Invoke(chain);
            var generated = new double[gq?.Names.Count ?? 0];
            var constrained = new double[d];

            var warmupClock = Stopwatch.StartNew();
            Func<Rng, double[]?>? propose = initialPosition is null ? null : r => initialPosition(chain, r);
            var state = FindFiniteStart(density, rng, propose, o.MaxInitAttempts, o.InitRadius, chain);
            var initial = (double[])state.Position.Clone();

            var kernel = new NutsKernel(density, o.MaxTreeDepth, o.MaxEnergyError);
            var warmup = new WindowAdaptation(kernel, o);
            var parameters = warmup.Init(rng, state);
            int warmupDivergences = 0, warmupDone = 0;
            for (; warmupDone < o.Warmup && !ct.IsCancellationRequested; warmupDone++)
            {
                (state, var info) = kernel.Step(rng, state, parameters);
                if (info.Divergent) warmupDivergences++;
                Report(warmupDone, SamplerPhase.Warmup, parameters.StepSize, info.TreeDepth, warmupDivergences,
                    density.Evaluations, force: warmupDone == 0);
                parameters = warmup.Update(rng, state, info);
            }
            parameters = warmup.Final();
            warmupClock.Stop();
            long warmupEvaluations = density.Evaluations;

            var samplingClock = Stopwatch.StartNew();
            var energies = new double[o.Draws];
            int divergences = 0, saturations = 0, drawsDone = 0;
            double acceptSum = 0;
            for (; warmupDone == o.Warmup && drawsDone < o.Draws && !ct.IsCancellationRequested; drawsDone++)
            {
                (state, var info) = kernel.Step(rng, state, parameters);
                if (info.Divergent) divergences++;
                if (info.TreeDepth >= o.MaxTreeDepth) saturations++;
                energies[drawsDone] = info.Energy;
                acceptSum += info.AcceptStat;
                Write(drawsDone, state, info, parameters.StepSize);
                Report(o.Warmup + drawsDone, SamplerPhase.Sampling, parameters.StepSize, info.TreeDepth, divergences,
                    density.Evaluations, force: drawsDone == 0);
            }
            samplingClock.Stop();
            Report(warmupDone + drawsDone, SamplerPhase.Done, parameters.StepSize, 0, divergences, density.Evaluations, force: true);

            return new ChainResult(chain, initial, parameters.StepSize, parameters.Metric.InverseMassDiagonal(),
                parameters.Metric.InverseMassDense(), warmupEvaluations, density.Evaluations - warmupEvaluations,
                warmupClock.Elapsed.TotalSeconds, samplingClock.Elapsed.TotalSeconds,
                warmupDone, drawsDone, warmupDivergences, divergences, saturations,
                ConvergenceDiagnostics.Ebfmi(energies.AsSpan(0, drawsDone)), drawsDone > 0 ? acceptSum / drawsDone : double.NaN);

            // Passes one draw, its sampler columns and generated quantities to the sink.
            void Write(int draw, NutsState s, NutsInfo info, double stepSize)
            {
                if (layout is null) s.Position.AsSpan().CopyTo(constrained);
                else layout.Constrain(s.Position, constrained);
                gq?.Compute(s.Position, rng, generated);
                var stats = new SamplerStats(s.LogDensity, info.AcceptStat, stepSize, info.TreeDepth,
                    info.LeapfrogSteps, info.Divergent, info.Energy);
                writer.Write(chain, draw, stats, constrained, generated);
            }
        }

        private void Report(int iteration, SamplerPhase phase, double stepSize, int depth, int divergences, long evaluations, bool force)
        {
            if (progress is null) return;
            long now = Stopwatch.GetTimestamp();
            if (!force && Stopwatch.GetElapsedTime(_lastReport, now).TotalMilliseconds < 100) return;
            _lastReport = now;
            progress.Report(new ChainProgress(chain, iteration, o.Warmup + o.Draws, phase, stepSize, depth, divergences, evaluations));
        }
    }
}
