using System.CommandLine;
using System.Globalization;
using Bnn.Onnx.Cli.Reporting;
using Bnn.Onnx.Cli.Sampling;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn sample MODEL.onnx --data D.csv|D.parquet [options] --out DIR</c>: NUTS over the network's weights.
/// </summary>
internal static class SampleCommand
{
    /// <summary>Parameters printed in full up to this many scalars; beyond it, the worst-mixing ones.</summary>
    private const int FullTableLimit = 200;

    public static Command Create() => Create(out _);

    /// <summary>
    /// The command, and how its parsed options become <see cref="SampleSettings"/> (what <c>bnn batch</c> uses to
    /// give each job's options exactly their <c>bnn sample</c> meaning).
    /// </summary>
    public static Command Create(out Func<ParseResult, SampleSettings> toSettings)
    {
        var model = new Argument<string>("model") { Description = "The ONNX model whose weights to sample." };
        var data = new Option<string>("--data") { Description = "Training data: CSV with a header row, or Parquet.", Required = true };
        var outDir = new Option<string>("--out") { Description = "Run directory for draws.parquet, summary.csv and run.json.", Required = true };
        var features = new Option<string?>("--features") { Description = "Comma-separated feature columns (default: every column but the target)." };
        var target = new Option<string?>("--target") { Description = "Target column (default: the last column)." };
        var likelihood = new Option<string>("--likelihood") { Description = "normal, bernoulli or categorical.", DefaultValueFactory = _ => "normal" };
        likelihood.AcceptOnlyFromAmong("normal", "bernoulli", "categorical");
        var sigma = new Option<double?>("--sigma") { Description = "Fixed noise scale for the normal likelihood (default: sampled, σ ~ LogNormal(0,1))." };
        var priorScale = new Option<(PriorScaling Scaling, double Scale)>("--prior-scale")
        {
            Description = "The default prior on the weights: C for Normal(0, C²) on every parameter; fan-in[:C] for Normal(0, C²/fan_in) "
                + "on each weight tensor and Normal(0, C²) on biases; hierarchical[:C] for a scale per weight tensor, "
                + "s ~ LogNormal(log(C/√fan_in), 1), sampled non-centred (reported as scale[NAME]). C defaults to 1.",
            DefaultValueFactory = _ => (PriorScaling.Fixed, 1.0),
            CustomParser = result =>
            {
                string token = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                try
                {
                    return PriorOptions.ParseScale(token);
                }
                catch (ArgumentException ex)
                {
                    result.AddError(ex.Message);
                    return default;
                }
            },
        };
        var prior = new Option<string[]>("--prior") { Description = "Per-parameter prior override, e.g. 'layer0.*=normal(0,0.5)' (glob on the dotted name, as bnn import lists them; repeatable, last match wins); "
            + "the families are normal(MEAN,SCALE), student_t(NU,MEAN,SCALE) and laplace(MEAN,SCALE). "
            + "An underconfident classifier: --prior-scale fan-in with the output layer's weight widened, e.g. '2.weight=normal(0,3)'.", AllowMultipleArgumentsPerToken = false };
        var chains = new Option<int>("--chains") { Description = "Number of chains.", DefaultValueFactory = _ => 4 };
        var warmup = new Option<int>("--warmup") { Description = "Warmup iterations per chain.", DefaultValueFactory = _ => 1000 };
        var draws = new Option<int>("--draws") { Description = "Post-warmup draws per chain.", DefaultValueFactory = _ => 1000 };
        var seed = new Option<ulong?>("--seed")
        {
            Description = "Run seed (default: random, recorded in run.json).",
            CustomParser = result =>
            {
                string token = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                if (ulong.TryParse(token, NumberStyles.None, CultureInfo.InvariantCulture, out ulong value)) return value;
                result.AddError($"--seed '{token}': expected a whole number from 0 to {ulong.MaxValue}");
                return null;
            },
        };
        var targetAccept = new Option<double>("--target-accept") { Description = "Target acceptance statistic for step-size adaptation (Stan's adapt_delta).", DefaultValueFactory = _ => 0.8 };
        var maxDepth = new Option<int>("--max-depth") { Description = "Maximum tree depth (a trajectory has at most 2^depth leapfrog steps); lower values cost fewer gradients per draw but may leave chains unmixed.", DefaultValueFactory = _ => 10 };
        var metric = new Option<string>("--metric") { Description = "diag, dense or low-rank Euclidean metric (low-rank: diagonal plus the directions where the posterior is correlated, learnt from draws and gradients by minimising the Fisher divergence, nutpie's).", DefaultValueFactory = _ => "diag" };
        metric.AcceptOnlyFromAmong("diag", "dense", "low-rank");
        var adaptation = new Option<string>("--metric-adaptation") { Description = "stan (windowed variance, Stan's) or gradient (nutpie's sqrt(Var[θ]/Var[∇ log p]), diag only).", DefaultValueFactory = _ => "stan" };
        adaptation.AcceptOnlyFromAmong("stan", "gradient");
        var init = new Option<string>("--init") { Description = "Chain starts: prior (a prior draw), uniform (−2..2, Stan's) or onnx (the file's weights).", DefaultValueFactory = _ => "prior" };
        init.AcceptOnlyFromAmong("prior", "uniform", "onnx");
        var backend = new Option<string>("--backend") { Description = "auto, cpu (compiled) or torch (TorchSharp).", DefaultValueFactory = _ => "auto" };
        backend.AcceptOnlyFromAmong("auto", "cpu", "torch");
        var device = new Option<string>("--device") { Description = "cpu or cuda (torch backend).", DefaultValueFactory = _ => "cpu" };
        device.AcceptOnlyFromAmong("cpu", "cuda");
        var precision = new Option<string>("--precision") { Description = "float64 or float32 arithmetic in the backend.", DefaultValueFactory = _ => "float64" };
        precision.AcceptOnlyFromAmong("float64", "float32");
        var parallel = new Option<int?>("--parallel-chains") { Description = "Chains run at once (default: one per core)." };
        var threadsPerChain = new Option<int?>("--threads-per-chain") { Description = "Threads that evaluate one chain's gradient (cpu backend; default: the spare cores, cores ÷ chains running). The draws do not depend on it." };
        var noProgress = new Option<bool>("--no-progress") { Description = "No live progress display." };
        var chainIds = new Option<int[]?>("--chain-ids")
        {
            Description = "Sample only these chains of the --chains (comma-separated, 0-based as draws.parquet's chain column); each gets the draws it has in the full run. Join the parts with bnn merge.",
            CustomParser = result =>
            {
                string token = result.Tokens.Count == 1 ? result.Tokens[0].Value : "";
                var ids = new List<int>();
                foreach (var part in token.Split(',', StringSplitOptions.TrimEntries))
                {
                    if (!int.TryParse(part, NumberStyles.None, CultureInfo.InvariantCulture, out int id))
                    {
                        result.AddError($"--chain-ids '{token}': expected comma-separated whole numbers from 0, e.g. 2,3");
                        return null;
                    }
                    ids.Add(id);
                }
                return ids.ToArray();
            },
        };
        var integrateOutput = new Option<bool>("--integrate-output")
        {
            Description = "Integrate the final affine layer out exactly (normal likelihood; the last layer Gemm, or MatMul then Add, with normal priors): "
                + "NUTS samples the hidden weights and sigma on y ~ N(Phi m, sigma^2 I + Phi S Phi^T), and at every saved draw the output weights are drawn "
                + "from their exact Gaussian conditional, so draws.parquet still holds every weight and the predictive means are the network's outputs at those drawn weights; "
                + "lp__ is then the collapsed model's. Exact, not an approximation. Pays when the final hidden layer is narrow (tens of units) and most transitions "
                + "hit the maximum tree depth with a tiny step size (the run then prints a hint); a gradient costs ~1.5·N·(H+1)² multiply-adds more. "
                + "cpu backend only. Off by default; --integrate-output false turns it off.",
        };
        var inputShape = InputShapeFlag.Create();
        var (freeze, samplePatterns) = FrozenHeadOptions.Create();

        var command = new Command("sample", "Sample the posterior over the network's weights with NUTS; writes draws.parquet, summary.csv and run.json.");
        command.Arguments.Add(model);
        foreach (var o in new Option[] { data, outDir, features, target, likelihood, sigma, priorScale, prior, chains, warmup, draws, seed,
                     targetAccept, maxDepth, metric, adaptation, init, backend, device, precision, parallel, threadsPerChain, noProgress, inputShape, chainIds, freeze, samplePatterns, integrateOutput })
            command.Options.Add(o);

        SampleSettings Settings(ParseResult parse)
        {
            ulong runSeed = parse.GetValue(seed) ?? (ulong)Random.Shared.NextInt64(1, int.MaxValue);
            return new SampleSettings
            {
                ModelPath = parse.GetValue(model)!,
                DataPath = parse.GetValue(data)!,
                OutDir = parse.GetValue(outDir)!,
                Features = parse.GetValue(features)?.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries),
                Target = parse.GetValue(target),
                Likelihood = PosteriorOptions.ParseLikelihood(parse.GetValue(likelihood)!),
                Sigma = parse.GetValue(sigma),
                PriorScale = parse.GetValue(priorScale).Scale,
                PriorScaling = parse.GetValue(priorScale).Scaling,
                Priors = parse.GetValue(prior) ?? [],
                InputDimensions = InputShapeOption.Parse(parse.GetValue(inputShape)),
                Selection = FrozenHead.Selection(parse.GetValue(freeze), parse.GetValue(samplePatterns)),
                Sampler = new SamplerOptions
                {
                    Chains = parse.GetValue(chains),
                    Warmup = parse.GetValue(warmup),
                    Draws = parse.GetValue(draws),
                    Seed = runSeed,
                    TargetAccept = parse.GetValue(targetAccept),
                    MaxTreeDepth = parse.GetValue(maxDepth),
                    Metric = parse.GetValue(metric) switch { "dense" => MetricKind.Dense, "low-rank" => MetricKind.LowRank, _ => MetricKind.Diagonal },
                    MetricAdaptation = parse.GetValue(adaptation) == "gradient" ? MetricAdaptation.GradientBased : MetricAdaptation.Stan,
                    MaxParallelism = parse.GetValue(parallel),
                },
                Init = Enum.Parse<InitStrategy>(parse.GetValue(init)!, ignoreCase: true),
                Backend = BackendSelector.Parse(parse.GetValue(backend)!),
                Device = parse.GetValue(device)!,
                Precision = BackendOptions.ParsePrecision(parse.GetValue(precision)!),
                ThreadsPerChain = parse.GetValue(threadsPerChain),
                LiveProgress = !parse.GetValue(noProgress) && !Console.IsErrorRedirected && !Console.IsOutputRedirected
                    && Environment.GetEnvironmentVariable("CI") is null,
                CommandLine = string.Join(' ', Environment.GetCommandLineArgs().Skip(1).Select(Quote)),
                ChainIds = parse.GetValue(chainIds) is { Length: > 0 } ids ? ids : null,
                IntegrateOutput = parse.GetValue(integrateOutput),
            };
        }
        toSettings = Settings;

        command.SetAction(int (parse) =>
        {
            var settings = Settings(parse);

            using var interruption = new Interruption();
            var outcome = SampleRun.Execute(settings, Console.Error, ProgressView.For(settings, Console.Error), interruption.Token);
            Print(outcome, Console.Out);
            if (outcome.Interrupted)
            {
                Console.Error.WriteLine($"interrupted: {outcome.Report.DrawsPerChain} draws per chain saved in {Path.Combine(settings.OutDir, SampleRun.DrawsFile)}");
                return CliRunner.ExitInterrupted;
            }
            if (outcome.Result.Failure() is { } failure)
            {
                Console.Error.WriteLine($"error: {SamplingFailureMessage.Describe(failure)}");
                return CliRunner.ExitSamplingFailed;
            }
            return 0;
        });
        return command;
    }

    /// <summary>The summary table (every parameter by name), then Stan's warnings and the convergence verdict.</summary>
    public static void Print(SampleOutcome outcome, TextWriter output)
    {
        var report = outcome.Report;
        var r = outcome.Result;
        output.WriteLine(string.Create(CultureInfo.InvariantCulture,
            $"{r.Chains.Count} chains × {report.DrawsPerChain} draws on the {outcome.BackendName} backend; {r.TotalSeconds:F1} s wall (longest chain: warmup {r.WarmupSeconds:F1} s, sampling {r.SamplingSeconds:F1} s), {r.GradientEvaluationsWarmup + r.GradientEvaluationsSampling:N0} gradient evaluations"));
        var parameters = report.Rows.Where(x => !SampleRun.IsPredictive(x.Variable)).ToList();
        if (parameters.Count > FullTableLimit + 1)
        {
            output.WriteLine($"{parameters.Count - 1} parameters; the {FullTableLimit} with the lowest bulk-ESS (all are in summary.csv):");
            parameters = parameters.Where(x => x.Variable != "lp__").OrderBy(x => x.EssBulk).Take(FullTableLimit)
                .Concat(parameters.Where(x => x.Variable == "lp__")).ToList();
        }
        output.Write(SummaryWriter.FormatTable(parameters));

        var predictive = report.Rows.Where(x => SampleRun.IsPredictive(x.Variable)).ToList();
        if (predictive.Count > 0)
        {
            output.WriteLine(
                $"posterior predictive mean at {predictive.Count} inputs: min bulk-ESS {Number(predictive.Min(x => x.EssBulk), "F0")}, min tail-ESS {Number(predictive.Min(x => x.EssTail), "F0")}, max R-hat {Number(predictive.Max(x => x.Rhat), "F3")}");
        }
        foreach (var w in report.SamplerWarnings.Concat(report.ConvergenceWarnings)) output.WriteLine($"warning: {w}");
        if (report.Verdict is { } v) output.WriteLine($"{(v.Converged ? "converged" : "NOT converged")}: {v.Reason}");
        if (outcome.Hint is { } hint) output.WriteLine($"hint: {hint}");
    }

    /// <summary>A statistic as the table shows it: NA when it is not finite (too few draws).</summary>
    private static string Number(double value, string format) =>
        double.IsFinite(value) ? value.ToString(format, CultureInfo.InvariantCulture) : "NA";

    private static string Quote(string arg) => arg.Any(char.IsWhiteSpace) || arg.Contains('\'') ? $"'{arg.Replace("'", "'\\''")}'" : arg;
}
