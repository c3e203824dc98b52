using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.Nuts;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Microsoft.ML.OnnxRuntime;

namespace Bnn.Onnx.Tests;

public sealed class EnsembleTests : IDisposable
{
    private const double Tolerance = 1e-5;
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-ensemble-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    private static void Near(double expected, double actual, string what) =>
        Assert.True(Math.Abs(expected - actual) <= Tolerance * Math.Max(1, Math.Abs(expected)),
            $"{what}: expected {expected:G9}, got {actual:G9}");

    private string Save(ModelProto model, string name)
    {
        string path = Path.Combine(_dir, name);
        ModelFiles.WriteAtomically(path, model);
        return path;
    }

    private static double[] RunFile(string path, string inputName, double[] inputs, long[] shape)
    {
        using var session = new InferenceSession(path);
        using var input = OrtValue.CreateTensorValueFromMemory(inputs.Select(v => (float)v).ToArray(), shape);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, [inputName], [input], [session.OutputNames[0]]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray().Select(v => (double)v).ToArray();
    }

    /// <summary>
    /// Builds the ensemble and member files for <paramref name="model"/>, runs both on ONNX Runtime, and checks
    /// <c>members</c>, <c>mean</c> and <c>std</c> against the C# reference forward pass of every draw.
    /// </summary>
    private void CheckAgainstReference(ModelProto model, EnsembleLikelihood likelihood, int members, long[] inputShape,
        Func<double[,], double[,]> head)
    {
        var graph = TestModels.Import(model);
        bool normal = likelihood == EnsembleLikelihood.Normal;
        var layout = TestModels.Layout(graph, withSigma: normal);
        var draws = TestModels.Draws(graph, layout, members, seed: 5);
        int rows = (int)inputShape[0];
        int width = (int)inputShape.Skip(1).Aggregate(1L, (a, b) => a * b);
        var inputs = TestModels.Inputs(rows, width, seed: 9);

        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(likelihood,
            Metadata: new Dictionary<string, string> { ["bnn.seed"] = "42" }));
        Assert.Equal(8, ensemble.IrVersion);
        Assert.Equal(17, ensemble.OpsetImport.Single().Version);
        Assert.Equal(graph.Inputs.Select(i => i.Name), ensemble.Graph.Input.Select(i => i.Name));
        Assert.Equal(graph.Inputs[0].Shape[0].Symbol, ensemble.Graph.Input[0].Type.TensorType.Shape.Dim[0].DimParam);
        Assert.Equal(["members", "mean", "std"], ensemble.Graph.Output.Select(o => o.Name));
        var meta = ensemble.MetadataProps.ToDictionary(e => e.Key, e => e.Value);
        Assert.Equal(graph.Sha256, meta["bnn.source_sha256"]);
        Assert.Equal(members.ToString(), meta["bnn.members"]);
        Assert.Equal("42", meta["bnn.seed"]);
        string path = Save(ensemble, "ensemble.onnx");

        // Reference: every member's forward pass in double.
        var expected = draws.Select(d => head(ReferenceForward.Run(graph, layout, d, inputs, rows))).ToArray();
        int k = expected[0].GetLength(1);

        using var session = new EnsembleSession(path);
        var outputs = session.Run(inputs, rows);
        Assert.Equal((members, rows, k), (outputs.MemberCount, outputs.Rows, outputs.Outputs));
        int sigmaOffset = normal ? layout.Find("sigma")!.Offset : -1;
        for (int n = 0; n < rows; n++)
            for (int j = 0; j < k; j++)
            {
                double mean = 0, meanSq = 0, noise = 0;
                for (int s = 0; s < members; s++)
                {
                    double v = expected[s][n, j];
                    Near(v, outputs.Member(s, n, j), $"members[{s},{n},{j}]");
                    mean += v / members;
                    meanSq += v * v / members;
                    if (normal) noise += draws[s][sigmaOffset] * draws[s][sigmaOffset] / members;
                }
                Near(mean, outputs.Mean[n * k + j], $"mean[{n},{j}]");
                // Predictive sd: sqrt(Var_s[μ_s] + E_s[σ_s²]) for normal, sd of the probabilities otherwise.
                Near(Math.Sqrt(Math.Max(meanSq - mean * mean, 0) + noise), outputs.Std[n * k + j], $"std[{n},{j}]");
            }

        // Each member file reproduces its draw's forward pass (the source graph's own output, before any head).
        var paths = MemberModelWriter.WriteAll(Path.Combine(_dir, "members"), model, layout, draws);
        Assert.Equal(members, paths.Count);
        Assert.Equal("member_0000.onnx", Path.GetFileName(paths[0]));
        for (int s = 0; s < members; s++)
        {
            var raw = ReferenceForward.Run(graph, layout, draws[s], inputs, rows);
            var got = RunFile(paths[s], graph.Inputs[0].Name, inputs, inputShape);
            for (int n = 0; n < rows; n++)
                for (int j = 0; j < k; j++) Near(raw[n, j], got[n * k + j], $"member {s} output[{n},{j}]");
        }
    }

    [Fact]
    public void Given_a_regression_mlp_Then_the_ensemble_matches_the_reference_forward_of_every_draw() =>
        CheckAgainstReference(TestModels.Regression(), EnsembleLikelihood.Normal, members: 7, [6, 2], y => y);

    [Fact]
    public void Given_a_classifier_with_logits_Then_members_are_softmax_probabilities_of_every_draw() =>
        CheckAgainstReference(TestModels.Classifier(), EnsembleLikelihood.Categorical, members: 5, [4, 2, 2], ReferenceForward.Softmax);

    [Fact]
    public void Given_a_graph_ending_in_sigmoid_Then_bernoulli_members_are_not_squashed_twice() =>
        CheckAgainstReference(TestModels.Logistic(), EnsembleLikelihood.Bernoulli, members: 4, [5, 3], y => y);

    /// <summary>
    /// A float64 ensemble (Tanh and Softplus, Gemm and MatMul) loads in ONNX Runtime, which has no double Softplus
    /// kernel, and agrees with the double reference forward to 1e-12.
    /// </summary>
    [Fact]
    public void Given_a_float64_ensemble_Then_members_equal_the_reference_forward_to_double_precision()
    {
        var graph = TestModels.Import(TestModels.Regression());
        var layout = TestModels.Layout(graph, withSigma: true);
        var draws = TestModels.Draws(graph, layout, 4, seed: 8);
        // The model's input is float, so the rows are float values; everything after the input Cast is double.
        var inputs = TestModels.Inputs(7, 2, seed: 3).Select(v => (double)(float)v).ToArray();
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Normal, ElementType.Double));
        Assert.DoesNotContain(ensemble.Graph.Node, n => n.OpType == "Softplus");
        using var session = new EnsembleSession(Save(ensemble, "ensemble64.onnx"));
        var outputs = session.Run(inputs, 7);
        for (int s = 0; s < draws.Length; s++)
        {
            var expected = ReferenceForward.Run(graph, layout, draws[s], inputs, 7);
            for (int n = 0; n < 7; n++)
                Assert.True(Math.Abs(expected[n, 0] - outputs.Member(s, n, 0)) <= 1e-12 * Math.Max(1, Math.Abs(expected[n, 0])),
                    $"member {s} row {n}: {expected[n, 0]:R} vs {outputs.Member(s, n, 0):R}");
        }
    }

    [Fact]
    public void Given_a_member_file_Then_only_the_weights_differ_and_keep_their_element_type()
    {
        var model = TestModels.Regression();
        var graph = TestModels.Import(model);
        var layout = TestModels.Layout(graph, withSigma: true);
        var draw = TestModels.Draws(graph, layout, 1, seed: 3)[0];
        var member = MemberModelWriter.Create(model, layout, draw);

        Assert.Equal(model.Graph.Node, member.Graph.Node);
        Assert.Equal(model.Graph.Input, member.Graph.Input);
        foreach (var block in layout.Blocks.Where(b => b.Source is not null))
        {
            var t = member.Graph.Initializer.Single(i => i.Name == block.Source);
            Assert.Equal((int)TensorProto.Types.DataType.Float, t.DataType);
            var expected = draw.AsSpan(block.Offset, block.Size).ToArray().Select(v => (double)(float)v);
            Assert.Equal(expected, OnnxTensors.ToDoubles(t));
        }
    }

    [Fact]
    public void Given_draws_in_chains_Then_members_are_thinned_evenly_in_chain_draw_order()
    {
        var picked = MemberSelection.Thin([4, 4, 2], 5, out double thinning);
        Assert.Equal(2.0, thinning);
        Assert.Equal([(0, 0), (0, 2), (1, 0), (1, 2), (2, 0)], picked);
        Assert.Throws<ArgumentException>(() => MemberSelection.Thin([3], 4, out _));
    }

    /// <summary>Fixture files (committed models/ and the shared reference folder) that are present.</summary>
    public static TheoryData<string, string> FixtureModels()
    {
        var data = new TheoryData<string, string>();
        foreach (var (file, likelihood) in AllFixtures)
            if (Resolve(file) is not null) data.Add(file, likelihood);
        if (data.Count == 0) data.Add("models/blog_mlp_pytorch.onnx", "normal"); // fails loudly: the fixtures are missing
        return data;
    }

    /// <summary>The fixture, its symbolic non-batch input dimensions (a sequence length) bound to 5 as a run binds them from its data.</summary>
    private static OnnxGraph ImportWithSequenceLength(string path)
    {
        var graph = OnnxImporter.Import(path);
        var sizes = graph.Inputs[0].Shape.Skip(1).Where(d => d.Value is null && d.Symbol is not null)
            .Select(d => d.Symbol!).Distinct().ToDictionary(symbol => symbol, _ => 5);
        return sizes.Count == 0 ? graph : InputShape.Resolve(graph.Inputs[0], sizes).Bind(graph);
    }

    private static string? Resolve(string file) =>
        file.StartsWith("models/") ? TestModels.ModelsFile(file["models/".Length..]) : TestModels.SharedFile(file["shared/".Length..]);

    private static readonly (string, string)[] AllFixtures =
    [
        ("models/blog_mlp_pytorch.onnx", "normal"),
        ("models/blog_mlp_pytorch_opset9.onnx", "normal"),
        ("models/blog_mlp_flax_gemm.onnx", "normal"),
        ("models/blog_mlp_flax_matmul.onnx", "normal"),
        ("models/regression8_relu_pytorch.onnx", "normal"),
        ("models/regression8_tanh_pytorch.onnx", "normal"),
        ("models/linreg_pytorch.onnx", "normal"),
        ("models/float16_weights.onnx", "normal"),
        ("models/binary_logit_pytorch.onnx", "bernoulli"),
        ("models/multiclass_logits_pytorch.onnx", "categorical"),
        ("models/multiclass_softmax_pytorch.onnx", "categorical"),
        ("models/skip_regressor_op13.onnx", "normal"),
        ("models/skip_regressor_op17.onnx", "normal"),
        ("models/skip_classifier_op13.onnx", "categorical"),
        ("models/skip_classifier_op17.onnx", "categorical"),
        ("models/hardswish_pytorch_op13.onnx", "normal"),
        ("models/hardswish_pytorch_op17.onnx", "normal"),
        ("models/celu_pytorch_op17.onnx", "normal"),
        ("models/step_mlp_op13_folded.onnx", "normal"),
        ("models/step_mlp_op13_unfolded.onnx", "normal"),
        ("models/step_mlp_op17_folded.onnx", "normal"),
        ("models/step_mlp_op17_unfolded.onnx", "normal"),
        ("models/weight_paths_pytorch.onnx", "normal"),
        ("models/layernorm_mlp_op17.onnx", "normal"),
        ("models/layernorm_nobias_op17.onnx", "normal"),
        ("models/prelu_shared_op13.onnx", "normal"),
        ("models/prelu_shared_op17.onnx", "normal"),
        ("models/prelu_channel_op13.onnx", "normal"),
        ("models/prelu_channel_op17.onnx", "normal"),
        ("models/batchnorm_classifier_op17.onnx", "categorical"),
        ("models/elu_pytorch_op17.onnx", "normal"),
        ("models/gelu_pytorch_op17.onnx", "normal"),
        ("models/gelu_tanh_pytorch_op17.onnx", "normal"),
        ("models/groupnorm_mlp_op17.onnx", "normal"),
        ("models/hardshrink_pytorch_op17.onnx", "normal"),
        ("models/hardsigmoid_pytorch_op17.onnx", "normal"),
        ("models/hardtanh_pytorch_op17.onnx", "normal"),
        ("models/layernorm_mlp_op13.onnx", "normal"),
        ("models/layernorm_noaffine_op13.onnx", "normal"),
        ("models/leakyrelu_pytorch_op17.onnx", "normal"),
        ("models/logsigmoid_pytorch_op17.onnx", "normal"),
        ("models/logsoftmax_pytorch_op17.onnx", "normal"),
        ("models/mish_pytorch_op17.onnx", "normal"),
        ("models/prelu_skip_op17.onnx", "normal"),
        ("models/relu6_pytorch_op17.onnx", "normal"),
        ("models/relu_pytorch_op17.onnx", "normal"),
        ("models/residual_layernorm_gelu_op13.onnx", "normal"),
        ("models/residual_layernorm_gelu_op17.onnx", "normal"),
        ("models/rmsnorm_mlp_op17.onnx", "normal"),
        ("models/rrelu_pytorch_op17.onnx", "normal"),
        ("models/selu_pytorch_op17.onnx", "normal"),
        ("models/sigmoid_pytorch_op17.onnx", "normal"),
        ("models/silu_pytorch_op17.onnx", "normal"),
        ("models/softmax_pytorch_op17.onnx", "normal"),
        ("models/softplus_beta_pytorch_op17.onnx", "normal"),
        ("models/softplus_pytorch_op17.onnx", "normal"),
        ("models/softshrink_pytorch_op17.onnx", "normal"),
        ("models/softsign_pytorch_op17.onnx", "normal"),
        ("models/structure_mlp_op17.onnx", "normal"),
        ("models/untrained_norms_op13.onnx", "normal"),
        ("models/untrained_norms_op17.onnx", "normal"),
        ("models/tanh_pytorch_op17.onnx", "normal"),
        ("models/tanhshrink_pytorch_op17.onnx", "normal"),
        ("models/sequence_mean_pytorch.onnx", "normal"),
        ("shared/onnx/pytorch/nested_encoder_head_op17.onnx", "normal"),
        ("shared/onnx/pytorch/clf_softmax_op17.onnx", "categorical"),
        ("shared/onnx/jax2onnx/my_callable.onnx", "normal"),
    ];

    /// <summary>
    /// For committed and shared fixture models: the ensemble's <c>members</c> equal, member by member, what
    /// ONNX Runtime computes from that member's own file (through the same head).
    /// </summary>
    [Theory]
    [MemberData(nameof(FixtureModels))]
    public void Given_a_fixture_model_Then_every_ensemble_member_equals_its_member_file(string file, string likelihood)
    {
        string path = Resolve(file) ?? throw new FileNotFoundException($"fixture {file} is missing");
        CheckMembersAgainstMemberFiles(ModelFiles.Read(path), ImportWithSequenceLength(path), Enum.Parse<EnsembleLikelihood>(likelihood, ignoreCase: true), file);
    }

    /// <summary>
    /// Operands of rank 1 and 2 next to feature-major layers: a sampled [1,4] bias on the left of Add, sampled vectors
    /// in Mul and Sub (one from a Constant node), a fixed [1,4] in Max, a Softmax that needs the source layout back,
    /// and a Gemm with alpha, beta and transB = 0 after it. Four rows and four features, so a misplaced broadcast
    /// gives wrong numbers rather than a shape error.
    /// </summary>
    [Fact]
    public void Given_broadcast_operands_of_every_rank_Then_every_ensemble_member_equals_its_member_file()
    {
        var model = TestModels.BroadcastMix();
        CheckMembersAgainstMemberFiles(model, TestModels.Import(model), EnsembleLikelihood.Normal, "broadcast mix");
    }

    /// <summary>
    /// The float ensemble writes Softplus as Relu(z) − Log(Sigmoid(|z|)). Over pre-activations from −1e4 to 1e4
    /// (where e^z overflows and Sigmoid underflows) every member stays finite and within float rounding of the
    /// exact softplus, as ONNX Runtime's own Softplus in the member file does.
    /// </summary>
    [Fact]
    public void Given_extreme_preactivations_Then_the_float_softplus_matches_the_exact_value_to_float_rounding()
    {
        var model = TestModels.ScaledSoftplus();
        var graph = TestModels.Import(model);
        var layout = TestModels.Layout(graph, withSigma: true);
        double[][] draws = [[1, 0, 0.2], [-1, 0, 0.2], [30, -5, 0.2]]; // w, b, σ: z = w·x + b
        var grid = Enumerable.Range(0, 4001).Select(i => -100 + 0.05 * i);
        double[] inputs = [.. grid.Select(v => (double)(float)v), -1e4, -89, 89, 1e4, 1e-30, -1e-30, 0];
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Normal));
        Assert.DoesNotContain(ensemble.Graph.Node, n => n.OpType == "Softplus");
        using var session = new EnsembleSession(Save(ensemble, "softplus.onnx"));
        var outputs = session.Run(inputs, inputs.Length);
        var memberPaths = MemberModelWriter.WriteAll(Path.Combine(_dir, "softplus_members"), model, layout, draws);
        for (int s = 0; s < draws.Length; s++)
        {
            var ortSoftplus = RunFile(memberPaths[s], "x", inputs, [inputs.Length, 1]);
            for (int n = 0; n < inputs.Length; n++)
            {
                double z = (float)((float)draws[s][0] * (float)inputs[n] + (float)draws[s][1]);
                double exact = Math.Max(z, 0) + Math.Log(1 + Math.Exp(-Math.Abs(z)));
                double got = outputs.Member(s, n, 0);
                Assert.True(double.IsFinite(got) && Math.Abs(got - exact) <= 1e-6 + 5e-7 * Math.Abs(exact),
                    $"member {s}, z = {z:G9}: softplus {exact:G9}, ensemble {got:G9}");
                Assert.True(Math.Abs(ortSoftplus[n] - exact) <= 1e-6 + 5e-7 * Math.Abs(exact),
                    $"member file {s}, z = {z:G9}: softplus {exact:G9}, ONNX Runtime Softplus {ortSoftplus[n]:G9}");
            }
        }
    }

    /// <summary>
    /// <c>nn.LogSigmoid</c> as PyTorch writes it (Log of Sigmoid), with the first layer's weights and biases scaled so
    /// the hidden pre-activations reach ±100: every float32 member equals the compiled backend's forward pass on its draw
    /// to 1e-5, where ONNX Runtime's float Sigmoid, clamped at −18, would be off by |z| − 18 (the member files are).
    /// </summary>
    [Fact]
    public void Given_log_of_sigmoid_far_below_minus_18_Then_the_ensemble_equals_the_compiled_forward()
    {
        string path = TestModels.ModelsFile("logsigmoid_pytorch_op17.onnx") ?? throw new FileNotFoundException("models/logsigmoid_pytorch_op17.onnx");
        var graph = OnnxImporter.Import(path);
        var layout = TestModels.Layout(graph, withSigma: true);
        var trained = graph.Parameters.SelectMany(p => p.Values).ToArray();
        int firstLayer = graph.Parameters[0].Size + graph.Parameters[1].Size; // 0.weight [8,1], 0.bias [8]
        var draws = new[] { 10.0, -10.0, 40.0 }.Select(scale =>
            trained.Select((v, j) => j < firstLayer ? v * scale : v).Append(0.2).ToArray()).ToArray();
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(EnsembleLikelihood.Normal));
        using var session = new EnsembleSession(Save(ensemble, "logsigmoid.onnx"));
        double[] inputs = [.. Enumerable.Range(0, 41).Select(i => (double)(float)(-2 + 0.1 * i))];
        var outputs = session.Run(inputs, inputs.Length);
        using var forward = new CompiledBackend().CompileGraph(graph, BackendOptions.Default);
        bool farBelow = false;
        for (int s = 0; s < draws.Length; s++)
        {
            var expected = new double[inputs.Length];
            forward.Forward(draws[s][..trained.Length], inputs, inputs.Length, expected);
            for (int n = 0; n < inputs.Length; n++)
                Assert.True(Math.Abs(expected[n] - outputs.Member(s, n, 0)) <= 1e-5 * Math.Max(1, Math.Abs(expected[n])),
                    $"member {s} x = {inputs[n]}: compiled {expected[n]:G9}, ensemble {outputs.Member(s, n, 0):G9}");
            for (int n = 0; n < inputs.Length && !farBelow; n++)
                for (int j = 0; j < 8; j++)
                    farBelow |= draws[s][j] * inputs[n] + draws[s][8 + j] < -40;
        }
        Assert.True(farBelow, "no hidden pre-activation below -40: the case is not exercised");
    }

    /// <summary>
    /// Activations without a double kernel in ONNX Runtime (Elu, Selu, HardSigmoid, Softsign, Erf, Softplus, HardSwish, Celu) next to
    /// two with one: float32 and float64 ensembles both load and equal each member file, which runs the operators themselves.
    /// </summary>
    [Theory]
    [InlineData(nameof(ElementType.Float))]
    [InlineData(nameof(ElementType.Double))]
    public void Given_every_activation_Then_float_and_double_ensembles_equal_the_member_files(string typeName)
    {
        var type = Enum.Parse<ElementType>(typeName);
        var model = TestModels.Activations();
        CheckMembersAgainstMemberFiles(model, TestModels.Import(model), EnsembleLikelihood.Normal, $"activations ({type})", type);
    }

    private void CheckMembersAgainstMemberFiles(ModelProto model, OnnxGraph graph, EnsembleLikelihood kind, string file,
        ElementType type = ElementType.Float)
    {
        var layout = TestModels.Layout(graph, withSigma: kind == EnsembleLikelihood.Normal);
        const int members = 3;
        // Values exactly representable in float16, so a member file with float16 weights holds the same numbers.
        var draws = TestModels.Draws(graph, layout, members, seed: 17).Select(d => d.Select(v => (double)(Half)v).ToArray()).ToArray();
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(kind, type));
        string ensemblePath = Save(ensemble, "ensemble.onnx");

        var input = graph.Inputs[0];
        var featureShape = input.Shape.Skip(1).Select(d => d.Value ?? throw new InvalidOperationException("symbolic feature dim")).ToArray();
        const int rows = 4;
        int width = (int)featureShape.Aggregate(1L, (a, b) => a * b);
        var inputs = TestModels.Inputs(rows, width, seed: 2);

        using var session = new EnsembleSession(ensemblePath);
        var outputs = session.Run(inputs, rows);
        var paths = MemberModelWriter.WriteAll(Path.Combine(_dir, "members"), model, layout, draws);
        string lastOp = graph.Nodes.Last(n => n.Outputs.Contains(graph.Outputs[0].Name)).OpType;
        for (int s = 0; s < members; s++)
        {
            var raw = RunFile(paths[s], input.Name, inputs, [rows, .. featureShape]);
            int k = raw.Length / rows;
            Assert.Equal(k, outputs.Outputs);
            for (int n = 0; n < rows; n++)
            {
                var row = raw.AsSpan(n * k, k).ToArray();
                if (kind == EnsembleLikelihood.Bernoulli && lastOp != "Sigmoid") row = row.Select(v => 1 / (1 + Math.Exp(-v))).ToArray();
                if (kind == EnsembleLikelihood.Categorical && lastOp == "LogSoftmax") row = row.Select(Math.Exp).ToArray();
                else if (kind == EnsembleLikelihood.Categorical && lastOp != "Softmax")
                {
                    var m = new double[1, k];
                    for (int j = 0; j < k; j++) m[0, j] = row[j];
                    var p = ReferenceForward.Softmax(m);
                    row = Enumerable.Range(0, k).Select(j => p[0, j]).ToArray();
                }
                for (int j = 0; j < k; j++) Near(row[j], outputs.Member(s, n, j), $"{file} member {s} [{n},{j}]");
            }
        }
    }

    /// <summary>
    /// For the same fixtures and draws: the ensemble's <c>members</c>, <c>mean</c> and <c>std</c> equal what the
    /// compiled CPU backend computes from each draw (its forward pass through the same head; for <c>normal</c> the
    /// std adds each draw's σ²), to 1e-5.
    /// </summary>
    [Theory]
    [MemberData(nameof(FixtureModels))]
    public void Given_a_fixture_model_Then_the_ensemble_equals_the_compiled_backend_on_the_same_draws(string file, string likelihood)
    {
        string path = Resolve(file) ?? throw new FileNotFoundException($"fixture {file} is missing");
        var graph = ImportWithSequenceLength(path);
        var compiled = new CompiledBackend();
        Assert.Null(compiled.Unsupported(graph));
        var kind = Enum.Parse<EnsembleLikelihood>(likelihood, ignoreCase: true);
        bool normal = kind == EnsembleLikelihood.Normal;
        var layout = TestModels.Layout(graph, withSigma: normal);
        const int members = 5, rows = 6;
        var draws = TestModels.Draws(graph, layout, members, seed: 23);
        var ensemble = EnsembleBuilder.Build(graph, layout, draws, new EnsembleOptions(kind));
        int width = GraphShapes.InputWidth(graph);
        var inputs = TestModels.Inputs(rows, width, seed: 4);

        using var session = new EnsembleSession(Save(ensemble, "ensemble.onnx"));
        var outputs = session.Run(inputs, rows);
        using var forward = compiled.CompileGraph(graph, BackendOptions.Default);
        int k = forward.OutputWidth;
        Assert.Equal(k, outputs.Outputs);
        string lastOp = graph.Nodes.Last(n => n.Outputs.Contains(graph.Outputs[0].Name)).OpType;
        var expected = new double[members][];
        for (int s = 0; s < members; s++)
        {
            var raw = new double[rows * k];
            forward.Forward(draws[s], inputs, rows, raw);
            var m = new double[rows, k];
            for (int n = 0; n < rows; n++)
                for (int j = 0; j < k; j++) m[n, j] = raw[n * k + j];
            if (kind == EnsembleLikelihood.Bernoulli && lastOp != "Sigmoid")
                for (int n = 0; n < rows; n++) m[n, 0] = 1 / (1 + Math.Exp(-m[n, 0]));
            if (kind == EnsembleLikelihood.Categorical && lastOp == "LogSoftmax")
                for (int n = 0; n < rows; n++) for (int j = 0; j < k; j++) m[n, j] = Math.Exp(m[n, j]);
            else if (kind == EnsembleLikelihood.Categorical && lastOp != "Softmax") m = ReferenceForward.Softmax(m);
            expected[s] = Enumerable.Range(0, rows * k).Select(i => m[i / k, i % k]).ToArray();
        }
        int sigmaOffset = normal ? layout.Find("sigma")!.Offset : -1;
        for (int i = 0; i < rows * k; i++)
        {
            double mean = 0, meanSq = 0, noise = 0;
            for (int s = 0; s < members; s++)
            {
                double v = expected[s][i];
                Near(v, outputs.Member(s, i / k, i % k), $"{file} members[{s},{i / k},{i % k}]");
                mean += v / members;
                meanSq += v * v / members;
                if (normal) noise += draws[s][sigmaOffset] * draws[s][sigmaOffset] / members;
            }
            Near(mean, outputs.Mean[i], $"{file} mean[{i / k},{i % k}]");
            Near(Math.Sqrt(Math.Max(meanSq - mean * mean, 0) + noise), outputs.Std[i], $"{file} std[{i / k},{i % k}]");
        }
    }
}

public sealed class PredictionTests : IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("bnn-predict-").FullName;

    public void Dispose() => Directory.Delete(_dir, recursive: true);

    [Fact]
    public void Given_a_draws_file_When_exported_and_predicted_Then_the_csv_holds_mean_std_and_a_mixture_interval()
    {
        // Given a run: draws.parquet written by the sink, then read back and thinned to S members.
        var model = TestModels.Regression();
        string modelPath = Path.Combine(_dir, "model.onnx");
        ModelFiles.WriteAtomically(modelPath, model);
        var graph = Bnn.Onnx.OnnxImport.OnnxImporter.Import(modelPath);
        var layout = TestModels.Layout(graph, withSigma: true);
        var draws = TestModels.Draws(graph, layout, 40, seed: 8);
        string drawsPath = Path.Combine(_dir, "draws.parquet");
        using (var writer = new ParquetDrawWriter(drawsPath, layout, chains: 2, new ParquetDrawWriterOptions(RowGroupDraws: 8)))
        {
            for (int i = 0; i < 20; i++)
                for (int c = 0; c < 2; c++)
                    writer.Write(c, i, new SamplerStats(-1, 0.8, 0.1, 3, 7, false, 2), draws[c * 20 + i]);
            writer.Complete(false);
        }
        var table = ParquetDrawReader.Read(drawsPath);
        var members = MemberSelection.Select(table, 10, out double thinning);
        Assert.Equal(4.0, thinning);
        Assert.Equal(draws[4], members[1]); // (chain 0, draw 4)
        Assert.Equal(draws[20], members[5]); // (chain 1, draw 0)

        string ensemblePath = Path.Combine(_dir, "ensemble.onnx");
        ModelFiles.WriteAtomically(ensemblePath, EnsembleBuilder.Build(graph, table.Layout, members, new EnsembleOptions(EnsembleLikelihood.Normal)));

        // When predicted.
        string inputPath = Path.Combine(_dir, "x.csv");
        File.WriteAllText(inputPath, "0.5,-0.25\n-1,1\n0,0\n");
        using var session = new EnsembleSession(ensemblePath);
        Assert.Equal([2], session.FeatureShape);
        var (features, rows) = FeatureCsv.Read(inputPath, session.FeatureSize);
        var outputs = session.Run(features, rows);
        string outPath = Path.Combine(_dir, "p.csv");
        FeatureCsv.WritePredictions(outPath, session, outputs, 0.9);

        // Then: the header, and an interval that is the 5%/95% quantiles of the normal mixture.
        var lines = File.ReadAllLines(outPath);
        Assert.Equal("mean_0,std_0,lower_0,upper_0", lines[0]);
        Assert.Equal(4, lines.Length);
        int sigma = layout.Find("sigma")!.Offset;
        for (int n = 0; n < rows; n++)
        {
            var cells = lines[n + 1].Split(',').Select(v => double.Parse(v, System.Globalization.CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(outputs.Mean[n], cells[0]);
            Assert.Equal(outputs.Std[n], cells[1]);
            double Cdf(double y) => Enumerable.Range(0, 10).Average(s =>
                PredictiveQuantiles.NormalCdf((y - outputs.Member(s, n, 0)) / (float)members[s][sigma])); // σ is stored as float32
            Assert.Equal(0.05, Cdf(cells[2]), 9);
            Assert.Equal(0.95, Cdf(cells[3]), 9);
            Assert.True(cells[2] < cells[0] && cells[0] < cells[3]);
        }
    }

    [Theory]
    [InlineData(0.0, 1.0)]
    [InlineData(0.5, 0.4795001221869535)]
    [InlineData(1.0, 0.15729920705028513)]
    [InlineData(3.0, 2.209049699858544e-05)]
    [InlineData(6.0, 2.1519736712498913e-17)]
    [InlineData(-2.0, 1.9953222650189528)]
    public void Erfc_matches_reference_values(double x, double expected) =>
        Assert.True(Math.Abs(PredictiveQuantiles.Erfc(x) - expected) <= 1e-12 * expected, $"erfc({x}) = {PredictiveQuantiles.Erfc(x):R}");

    [Fact]
    public void Given_a_malformed_input_csv_Then_the_error_names_file_and_line()
    {
        string path = Path.Combine(_dir, "bad.csv");
        File.WriteAllText(path, "1,2\nx,3\n");
        var ex = Assert.Throws<FormatException>(() => FeatureCsv.Read(path, 2));
        Assert.Contains("bad.csv:2", ex.Message);
        File.WriteAllText(path, "1,2,3\n");
        Assert.Throws<FormatException>(() => FeatureCsv.Read(path, 2));
    }
}
