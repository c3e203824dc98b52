using System.Numerics;

namespace Bnn.Onnx.GraphToPotential.Compiled;

/// <summary>
/// The likelihood step with the output layer integrated out (<see cref="PosteriorModel.Integrated"/>): the program
/// computes the final hidden activations h, and <see cref="CollapsedOutputLayer"/> needs all N rows of them at once
/// (its A = S⁻¹ + ΦᵀΦ/σ² sums over every row). So the blocks run in two passes on the chain's own thread: the forward
/// pass of every block gathers h (N × H, copied column by column: the engine and the layer both hold it rows-innermost), the collapsed log likelihood gives ∂ℓ/∂h, then each block's backward pass is
/// seeded with its rows of ∂ℓ/∂h. A state keeps the values of the last block it ran forward, so only the earlier
/// blocks on the same state are run forward again (none when the data fit one block). Sums run in block order: the
/// result does not depend on the thread count.
/// </summary>
internal sealed partial class CompiledLogDensity<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private CollapsedOutputLayer? _collapsed;

    /// <summary>Called by the constructor: sets up the collapsed likelihood when the model integrates its output layer.</summary>
    private void InitialiseCollapsed()
    {
        if (_model.Integrated is not { } integrated) return;
        _collapsed = integrated.CreateLayer(_model.Data.Targets);
    }

    private double CollapsedLogDensityAndGradient(ReadOnlySpan<double> position, Span<double> gradient)
    {
        var lane = _lanes[0];
        int h = _k;
        _job++;
        lane.State.SetParameters(_network);
        lane.State.Prepare();
        if (lane.LastState is { } lastState)
        {
            lastState.SetParameters(_network);
            lastState.Prepare();
        }
        lane.PreparedJob = _job;

        // Pass 1: h for every block.
        int fullRows = _program.Rows, lastFull = -1;
        for (int bi = 0; bi < _blocks.Length; bi++)
        {
            var b = _blocks[bi];
            var state = Load(lane, b, bi, out var input);
            state.ForwardPrepared(true, input);
            if (!b.Last) lastFull = bi;
            // The block's h is held rows-innermost (unit j's rows contiguous), as Φ's columns are.
            var value = b.Last ? _lastPredictor! : _predictor;
            int r0 = bi * fullRows;
            for (int j = 0; j < h; j++)
            {
                var src = state.V.AsSpan(value.Offset + j * b.Rows, b.Rows);
                var dst = _collapsed!.HiddenColumn(j).Slice(r0, b.Rows);
                for (int r = 0; r < src.Length; r++) dst[r] = double.CreateTruncating(src[r]);
            }
        }

        double ll = _collapsed!.LogLikelihoodOfColumns(_logSigma, true, out double dLogSigma);
        if (!double.IsFinite(ll))
        {
            gradient.Clear();
            return double.NegativeInfinity;
        }

        // Pass 2: the backward pass of every block, seeded with its rows of ∂ℓ/∂h; the last block first (its state
        // still holds its values), then the last full block, then the earlier ones run forward again.
        Array.Clear(lane.State.G, 0, _program.ParameterGradSize);
        if (lane.LastState is { } last) Array.Clear(last.G, 0, _lastProgram!.ParameterGradSize);
        for (int bi = _blocks.Length - 1; bi >= 0; bi--)
        {
            var b = _blocks[bi];
            var state = Load(lane, b, bi, out var input);
            if (!b.Last && bi != lastFull) state.ForwardPrepared(true, input);
            state.ClearActivationGradients();
            var value = b.Last ? _lastPredictor! : _predictor;
            if (value.NeedsGrad)
            {
                int r0 = bi * fullRows;
                for (int j = 0; j < h; j++)
                {
                    var src = _collapsed.GradientColumn(j).Slice(r0, b.Rows);
                    var dst = state.G.AsSpan(value.GradOffset + j * b.Rows, b.Rows);
                    for (int r = 0; r < src.Length; r++) dst[r] += T.CreateTruncating(src[r]);
                }
            }
            state.Backward(input);
        }
        var network = gradient[.._parameters];
        lane.State.ReadParameterGradients(network);
        lane.LastState?.AddParameterGradients(network);
        if (_model.SigmaOffset >= 0) gradient[_model.SigmaOffset] = dLogSigma;
        _model.PullBackNetworkGradient(position, gradient);
        return ll + _model.LogPrior(position, gradient);
    }

    /// <summary>
    /// The state block <paramref name="bi"/> runs on, as <c>RunShard</c> prepares it: the dense layers on the row input
    /// read it from the block's own array when they are its only readers (<paramref name="input"/>), otherwise it is
    /// copied into the state (<paramref name="input"/> empty).
    /// </summary>
    private ProgramState<T> Load(Lane lane, Block b, int bi, out ReadOnlySpan<T> input)
    {
        var state = b.Last ? lane.LastState! : lane.State;
        if (state.Program.RowInputDirect)
        {
            input = b.Inputs;
            return state;
        }
        input = default;
        if (b.Last) b.Inputs.CopyTo(state.V.AsSpan(_lastInputOffset));
        else if (lane.LoadedBlock != bi)
        {
            b.Inputs.CopyTo(state.V.AsSpan(_inputOffset));
            lane.LoadedBlock = bi;
        }
        return state;
    }
}
