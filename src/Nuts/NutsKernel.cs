namespace Bnn.Onnx.Nuts;

/// <summary>
/// Multinomial No-U-Turn Sampler with the generalised U-turn criterion (Betancourt 2017, "A Conceptual Introduction to
/// Hamiltonian Monte Carlo", appendix A), following Stan's <c>base_nuts::transition</c> / <c>build_tree</c>: the
/// trajectory is doubled forwards or backwards at random, each new subtree is built recursively, states are drawn
/// multinomially (biased progressive sampling at the top level, uniform progressive sampling inside subtrees), and
/// the U-turn criterion is checked across every merged subtree plus the two extra checks between neighbouring
/// subtrees. Integrator: leapfrog (velocity Verlet). A transition whose energy error exceeds
/// <see cref="MaxEnergyError"/> or is not finite is divergent; it never throws.
/// One kernel per chain: it owns preallocated buffers so that a leapfrog step allocates nothing.
/// </summary>
internal sealed class NutsKernel
{
    private readonly ILogDensity _density;
    private readonly int _d;

    // Stan's z_: the integrator's current point, and the trajectory ends / selected states.
    private readonly PhasePoint _z, _zForward, _zBackward, _zSample, _zPropose;

    // Momenta and sharp momenta at the ends of the forward and backward subtrees (Stan's p_fwd_bck etc.).
    private readonly double[] _pForwardForward, _pSharpForwardForward, _pForwardBackward, _pSharpForwardBackward;
    private readonly double[] _pBackwardForward, _pSharpBackwardForward, _pBackwardBackward, _pSharpBackwardBackward;
    private readonly double[] _rho, _rhoForward, _rhoBackward, _rhoExtended;

    // One workspace per recursion depth, allocated the first time a tree grows that deep.
    private readonly List<SubtreeWorkspace> _workspaces = [];

    private int _leapfrogSteps;
    private double _sumMetropolisProb;
    private bool _divergent;
    private double _h0;
    private double _stepSize;
    private EuclideanMetric _metric = null!; // set from the parameters at the start of each call

    public NutsKernel(ILogDensity density, int maxTreeDepth = 10, double maxEnergyError = 1000)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxTreeDepth, 1);
        _density = density;
        _d = density.Dimension;
        MaxTreeDepth = maxTreeDepth;
        MaxEnergyError = maxEnergyError;
        _z = new PhasePoint(_d);
        _zForward = new PhasePoint(_d);
        _zBackward = new PhasePoint(_d);
        _zSample = new PhasePoint(_d);
        _zPropose = new PhasePoint(_d);
        _pForwardForward = new double[_d]; _pSharpForwardForward = new double[_d];
        _pForwardBackward = new double[_d]; _pSharpForwardBackward = new double[_d];
        _pBackwardForward = new double[_d]; _pSharpBackwardForward = new double[_d];
        _pBackwardBackward = new double[_d]; _pSharpBackwardBackward = new double[_d];
        _rho = new double[_d]; _rhoForward = new double[_d]; _rhoBackward = new double[_d]; _rhoExtended = new double[_d];
    }

    /// <summary>Maximum tree depth (Stan's services default 10; a depth-j tree holds 2^j leapfrog steps).</summary>
    public int MaxTreeDepth { get; }

    /// <summary>The energy error H − H₀ above which a trajectory is divergent (Stan's <c>max_deltaH</c>, 1000).</summary>
    public double MaxEnergyError { get; }

    public ILogDensity Density => _density;

    /// <summary>BlackJAX's <c>init</c>: evaluates log p and ∇ log p at <paramref name="position"/>.</summary>
    public NutsState Init(ReadOnlySpan<double> position)
    {
        var q = position.ToArray();
        var g = new double[_d];
        double lp = _density.LogDensityAndGradient(q, g);
        return new NutsState(q, lp, g);
    }

    /// <summary>
    /// One NUTS transition from <paramref name="state"/> with the step size ε and metric M⁻¹ of
    /// <paramref name="parameters"/>. Returns a new state (the input is left untouched) and the transition's diagnostics.
    /// </summary>
    public (NutsState State, NutsInfo Info) Step(Rng rng, NutsState state, NutsParameters parameters)
    {
        UseMetric(parameters.Metric);
        _stepSize = parameters.StepSize;
        state.Position.AsSpan().CopyTo(_z.Position);
        state.Gradient.AsSpan().CopyTo(_z.Gradient);
        _z.LogDensity = state.LogDensity;
        _metric.SampleMomentum(rng, _z.Momentum);
        _metric.Velocity(_z.Momentum, _z.Velocity);

        _zForward.CopyFrom(_z);
        _zBackward.CopyFrom(_z);
        _zSample.CopyFrom(_z);
        _zPropose.CopyFrom(_z);

        _z.Momentum.AsSpan().CopyTo(_pForwardForward);
        _z.Velocity.AsSpan().CopyTo(_pSharpForwardForward);
        _z.Momentum.AsSpan().CopyTo(_pForwardBackward);
        _z.Velocity.AsSpan().CopyTo(_pSharpForwardBackward);
        _z.Momentum.AsSpan().CopyTo(_pBackwardForward);
        _z.Velocity.AsSpan().CopyTo(_pSharpBackwardForward);
        _z.Momentum.AsSpan().CopyTo(_pBackwardBackward);
        _z.Velocity.AsSpan().CopyTo(_pSharpBackwardBackward);

        // Summed momentum along the trajectory ρ.
        _z.Momentum.AsSpan().CopyTo(_rho);

        double logSumWeight = 0; // log of the summed multinomial weights exp(H₀ − H) of the trajectory
        _h0 = _z.Hamiltonian;
        _leapfrogSteps = 0;
        _sumMetropolisProb = 0;
        _divergent = false;
        int depth = 0;

        while (depth < MaxTreeDepth)
        {
            Array.Clear(_rhoForward);
            Array.Clear(_rhoBackward);
            bool validSubtree;
            double logSumWeightSubtree = double.NegativeInfinity;
            if (rng.NextDouble() > 0.5)
            {
                // Extend the trajectory forwards.
                _z.CopyFrom(_zForward);
                _rho.AsSpan().CopyTo(_rhoBackward);
                _pForwardBackward.AsSpan().CopyTo(_pBackwardForward);
                _pSharpForwardBackward.AsSpan().CopyTo(_pSharpBackwardForward);
                validSubtree = BuildTree(depth, _zPropose, _pSharpForwardBackward, _pSharpForwardForward, _rhoForward,
                    _pForwardBackward, _pForwardForward, 1, ref logSumWeightSubtree, rng);
                _zForward.CopyFrom(_z);
            }
            else
            {
                // Extend the trajectory backwards.
                _z.CopyFrom(_zBackward);
                _rho.AsSpan().CopyTo(_rhoForward);
                _pBackwardForward.AsSpan().CopyTo(_pForwardBackward);
                _pSharpBackwardForward.AsSpan().CopyTo(_pSharpForwardBackward);
                validSubtree = BuildTree(depth, _zPropose, _pSharpBackwardForward, _pSharpBackwardBackward, _rhoBackward,
                    _pBackwardForward, _pBackwardBackward, -1, ref logSumWeightSubtree, rng);
                _zBackward.CopyFrom(_z);
            }

            if (!validSubtree) break;
            ++depth;

            // Biased progressive sampling at the top level: prefer the new subtree.
            if (logSumWeightSubtree > logSumWeight)
            {
                _zSample.CopyFrom(_zPropose);
            }
            else
            {
                double acceptProb = Math.Exp(logSumWeightSubtree - logSumWeight);
                if (rng.NextDouble() < acceptProb) _zSample.CopyFrom(_zPropose);
            }
            logSumWeight = LogSumExp(logSumWeight, logSumWeightSubtree);

            // Break when the merged trajectory makes a U-turn.
            VectorMath.Add(_rhoBackward, _rhoForward, _rho);
            bool persist = ComputeCriterion(_pSharpBackwardBackward, _pSharpForwardForward, _rho);

            // Demand satisfaction around the merged subtrees (the extra checks of Stan ≥ 2.26).
            VectorMath.Add(_rhoBackward, _pForwardBackward, _rhoExtended);
            persist &= ComputeCriterion(_pSharpBackwardBackward, _pSharpForwardBackward, _rhoExtended);
            VectorMath.Add(_rhoForward, _pBackwardForward, _rhoExtended);
            persist &= ComputeCriterion(_pSharpBackwardForward, _pSharpForwardForward, _rhoExtended);

            if (!persist) break;
        }

        double acceptStat = _leapfrogSteps > 0 ? _sumMetropolisProb / _leapfrogSteps : 0;
        double energy = _zSample.Hamiltonian;
        var next = new NutsState((double[])_zSample.Position.Clone(), _zSample.LogDensity, (double[])_zSample.Gradient.Clone());
        return (next, new NutsInfo(acceptStat, depth, _leapfrogSteps, _divergent, energy));
    }

    /// <summary>Generalised U-turn criterion: p♯₋ · ρ &gt; 0 and p♯₊ · ρ &gt; 0 (Betancourt 2017, A.4.2).</summary>
    private static bool ComputeCriterion(ReadOnlySpan<double> pSharpMinus, ReadOnlySpan<double> pSharpPlus, ReadOnlySpan<double> rho) =>
        VectorMath.Dot(pSharpPlus, rho) > 0 && VectorMath.Dot(pSharpMinus, rho) > 0;

    /// <summary>
    /// Stan's <c>build_tree</c>: extends the trajectory from <c>_z</c> by 2^depth leapfrog steps in direction
    /// <paramref name="sign"/>, writing the subtree's multinomial proposal, end momenta, sharp end momenta and summed
    /// momentum. Returns false when the subtree diverged or turned back on itself.
    /// </summary>
    private bool BuildTree(int depth, PhasePoint zPropose,
        double[] pSharpBegin, double[] pSharpEnd, double[] rho, double[] pBegin, double[] pEnd,
        int sign, ref double logSumWeight, Rng rng)
    {
        if (depth == 0)
        {
            Leapfrog(_z, sign * _stepSize);
            ++_leapfrogSteps;

            double h = _z.Hamiltonian;
            if (double.IsNaN(h)) h = double.PositiveInfinity; // Handles the NaN case: a non-finite energy is a divergence.
            if (h - _h0 > MaxEnergyError) _divergent = true;

            logSumWeight = LogSumExp(logSumWeight, _h0 - h);
            _sumMetropolisProb += _h0 - h > 0 ? 1 : Math.Exp(_h0 - h);

            zPropose.CopyFrom(_z);
            _z.Velocity.AsSpan().CopyTo(pSharpBegin);
            _z.Velocity.AsSpan().CopyTo(pSharpEnd);
            VectorMath.AddScaled(rho, 1.0, _z.Momentum);
            _z.Momentum.AsSpan().CopyTo(pBegin);
            _z.Momentum.AsSpan().CopyTo(pEnd);
            return !_divergent;
        }

        var ws = Workspace(depth);

        // Build the initial subtree.
        double logSumWeightInit = double.NegativeInfinity;
        Array.Clear(ws.RhoInit);
        bool validInit = BuildTree(depth - 1, zPropose, pSharpBegin, ws.PSharpInitEnd, ws.RhoInit, pBegin, ws.PInitEnd,
            sign, ref logSumWeightInit, rng);
        if (!validInit) return false;

        // Build the final subtree.
        double logSumWeightFinal = double.NegativeInfinity;
        Array.Clear(ws.RhoFinal);
        bool validFinal = BuildTree(depth - 1, ws.ZProposeFinal, ws.PSharpFinalBegin, pSharpEnd, ws.RhoFinal, ws.PFinalBegin, pEnd,
            sign, ref logSumWeightFinal, rng);
        if (!validFinal) return false;

        // Multinomial sample from the right subtree (uniform progressive sampling).
        double logSumWeightSubtree = LogSumExp(logSumWeightInit, logSumWeightFinal);
        logSumWeight = LogSumExp(logSumWeight, logSumWeightSubtree);
        if (logSumWeightFinal > logSumWeightSubtree)
        {
            zPropose.CopyFrom(ws.ZProposeFinal);
        }
        else
        {
            double acceptProb = Math.Exp(logSumWeightFinal - logSumWeightSubtree);
            if (rng.NextDouble() < acceptProb) zPropose.CopyFrom(ws.ZProposeFinal);
        }

        VectorMath.Add(ws.RhoInit, ws.RhoFinal, ws.RhoSubtree);
        VectorMath.AddScaled(rho, 1.0, ws.RhoSubtree);

        // Demand satisfaction around the merged subtrees.
        bool persist = ComputeCriterion(pSharpBegin, pSharpEnd, ws.RhoSubtree);

        // Demand satisfaction between the subtrees.
        VectorMath.Add(ws.RhoInit, ws.PFinalBegin, ws.RhoExtended);
        persist &= ComputeCriterion(pSharpBegin, ws.PSharpFinalBegin, ws.RhoExtended);
        VectorMath.Add(ws.RhoFinal, ws.PInitEnd, ws.RhoExtended);
        persist &= ComputeCriterion(ws.PSharpInitEnd, pSharpEnd, ws.RhoExtended);

        return persist;
    }

    /// <summary>
    /// One leapfrog step of size ε (Stan's <c>expl_leapfrog</c>): p ← p + ε/2 ∇log p(θ); θ ← θ + ε M⁻¹p;
    /// p ← p + ε/2 ∇log p(θ). Updates the cached log density, gradient and velocity.
    /// </summary>
    internal void Leapfrog(PhasePoint z, double epsilon)
    {
        VectorMath.AddScaled(z.Momentum, 0.5 * epsilon, z.Gradient);
        _metric.Velocity(z.Momentum, z.Velocity);
        VectorMath.AddScaled(z.Position, epsilon, z.Velocity);
        z.LogDensity = _density.LogDensityAndGradient(z.Position, z.Gradient);
        VectorMath.AddScaled(z.Momentum, 0.5 * epsilon, z.Gradient);
        _metric.Velocity(z.Momentum, z.Velocity);
    }

    /// <summary>
    /// Integrates <paramref name="steps"/> leapfrog steps of the parameters' step size and metric from (θ, p) with a
    /// fresh gradient evaluation and returns the final position, momentum and the Hamiltonian before and after.
    /// For tests of the integrator.
    /// </summary>
    public (double[] Position, double[] Momentum, double InitialEnergy, double FinalEnergy) Integrate(
        ReadOnlySpan<double> position, ReadOnlySpan<double> momentum, NutsParameters parameters, int steps)
    {
        UseMetric(parameters.Metric);
        double epsilon = parameters.StepSize;
        var z = new PhasePoint(_d);
        position.CopyTo(z.Position);
        momentum.CopyTo(z.Momentum);
        z.LogDensity = _density.LogDensityAndGradient(z.Position, z.Gradient);
        _metric.Velocity(z.Momentum, z.Velocity);
        double h0 = z.Hamiltonian;
        for (int s = 0; s < steps; s++) Leapfrog(z, epsilon);
        return ((double[])z.Position.Clone(), (double[])z.Momentum.Clone(), h0, z.Hamiltonian);
    }

    /// <summary>
    /// Stan's <c>init_stepsize</c> heuristic: starting from the parameters' ε, doubles or halves it until the
    /// acceptance probability exp(H₀ − H) of one leapfrog step (under the parameters' metric) from a fresh momentum
    /// crosses 0.8. Returns the new ε.
    /// </summary>
    public double FindReasonableStepSize(Rng rng, NutsState state, NutsParameters parameters)
    {
        UseMetric(parameters.Metric);
        double stepSize = parameters.StepSize;
        if (!(stepSize > 0) || stepSize > 1e7 || double.IsNaN(stepSize)) return stepSize;
        var z = _z;
        double DeltaH(double eps)
        {
            state.Position.AsSpan().CopyTo(z.Position);
            state.Gradient.AsSpan().CopyTo(z.Gradient);
            z.LogDensity = state.LogDensity;
            _metric.SampleMomentum(rng, z.Momentum);
            _metric.Velocity(z.Momentum, z.Velocity);
            double h0 = z.Hamiltonian;
            Leapfrog(z, eps);
            double h = z.Hamiltonian;
            if (double.IsNaN(h)) h = double.PositiveInfinity;
            return h0 - h;
        }

        double logTarget = Math.Log(0.8);
        int direction = DeltaH(stepSize) > logTarget ? 1 : -1;
        while (true)
        {
            double deltaH = DeltaH(stepSize);
            if (direction == 1 && !(deltaH > logTarget)) break;
            if (direction == -1 && !(deltaH < logTarget)) break;
            stepSize = direction == 1 ? 2 * stepSize : 0.5 * stepSize;
            // Stan throws here; we stop at the bounds and let adaptation (or the divergence count) speak.
            if (stepSize > 1e7) return 1e7;
            if (stepSize < 1e-300) return 1e-300;
        }
        return stepSize;
    }

    private void UseMetric(EuclideanMetric metric)
    {
        if (metric.Dimension != _d)
            throw new ArgumentException($"metric dimension {metric.Dimension} does not match the density's {_d}");
        _metric = metric;
    }

    internal static double LogSumExp(double a, double b)
    {
        if (double.IsNegativeInfinity(a)) return b;
        if (double.IsNegativeInfinity(b)) return a;
        double max = Math.Max(a, b);
        if (double.IsPositiveInfinity(max)) return max;
        return max + Math.Log(Math.Exp(a - max) + Math.Exp(b - max));
    }

    private SubtreeWorkspace Workspace(int depth)
    {
        while (_workspaces.Count <= depth) _workspaces.Add(new SubtreeWorkspace(_d));
        return _workspaces[depth];
    }

    /// <summary>Buffers of one recursion level of <see cref="BuildTree"/>.</summary>
    private sealed class SubtreeWorkspace(int d)
    {
        public readonly PhasePoint ZProposeFinal = new(d);
        public readonly double[] PInitEnd = new double[d], PSharpInitEnd = new double[d], RhoInit = new double[d];
        public readonly double[] PFinalBegin = new double[d], PSharpFinalBegin = new double[d], RhoFinal = new double[d];
        public readonly double[] RhoSubtree = new double[d], RhoExtended = new double[d];
    }
}
