using System.Diagnostics;
using System.Text;
using Bnn.Onnx.OnnxImport;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;
using Xunit.Abstractions;
using static Bnn.Onnx.Tests.ModelBuilder;

namespace Bnn.Onnx.Tests.Fuzz;

/// <summary>
/// The importer under fuzzing: thousands of seeded mutations of real model files, hand-made hostile files and
/// hostile external data. Every case must end in a graph or in a bad-input exception with one line (what
/// <c>bnn</c> turns into exit code 2), never hang, and allocate no more than a multiple of the bytes given.
/// Cases that once broke the importer are kept in <c>Fuzz/corpus</c> and replayed.
/// </summary>
/// <remarks>
/// The number of mutations per seed file can be raised with the environment variable <c>BNN_FUZZ_SCALE</c>
/// (a multiplier, default 1) for a longer local run; the seeds stay deterministic.
/// </remarks>
public class ImporterFuzzTests(ITestOutputHelper output)
{
    /// <summary>Float32 777 fills the file outside the model's folder: finding it in a graph means it was read.</summary>
    private const float SecretValue = 777f;

    private static int Scale => int.TryParse(Environment.GetEnvironmentVariable("BNN_FUZZ_SCALE"), out int s) && s > 0 ? s : 1;

    public static string CorpusFolder => Path.Combine(AppContext.BaseDirectory, "Fuzz", "corpus");

    // ------------------------------------------------------------------ mutation of real files

    [Fact]
    public void Mutations_of_the_committed_models_end_in_a_graph_or_one_line_refusal()
    {
        var seeds = Directory.GetFiles(TestPaths.Models, "*.onnx").Order(StringComparer.Ordinal).ToList();
        Assert.True(seeds.Count >= 10, $"expected the fixtures in {TestPaths.Models}");
        FuzzSeeds(seeds, casesPerSeed: 200 * Scale, besides: [TestPaths.Model("external_data_pytorch.weights")]);
    }

    [SharedFact]
    public void Mutations_of_the_shared_reference_models_end_in_a_graph_or_one_line_refusal()
    {
        var seeds = new[] { "pytorch", "flax-style", "jax2onnx" }
            .SelectMany(d => Directory.Exists(Path.Combine(TestPaths.SharedOnnx, d)) ? Directory.GetFiles(Path.Combine(TestPaths.SharedOnnx, d), "*.onnx") : [])
            .Order(StringComparer.Ordinal).ToList();
        Assert.NotEmpty(seeds);
        // Large files cost more per case: fewer mutations of them.
        FuzzSeeds(seeds, casesPerSeed: 150 * Scale, besides: [], casesFor: (path, n) => new FileInfo(path).Length > 100_000 ? n / 5 : n);
    }

    private void FuzzSeeds(List<string> seeds, int casesPerSeed, string[] besides, Func<string, int, int>? casesFor = null)
    {
        using var sandbox = new Sandbox();
        foreach (string file in besides) File.Copy(file, Path.Combine(sandbox.ModelFolder, Path.GetFileName(file)));

        var violations = new List<string>();
        var outcomes = new Dictionary<string, int>(StringComparer.Ordinal);
        int cases = 0;
        var maxElapsed = TimeSpan.Zero;
        var clock = Stopwatch.StartNew();
        foreach (string seedPath in seeds)
        {
            byte[] seed = File.ReadAllBytes(seedPath);
            string seedName = Path.GetFileName(seedPath);
            int count = casesFor?.Invoke(seedPath, casesPerSeed) ?? casesPerSeed;
            for (int i = 0; i < count; i++)
            {
                int caseSeed = StableSeed(seedName, i);
                var (bytes, what) = Mutator.Mutate(seed, new Random(caseSeed));
                var result = sandbox.Import(bytes);
                cases++;
                if (result.Elapsed > maxElapsed) maxElapsed = result.Elapsed;
                string outcome = result.Error?.GetType().Name ?? (result.Finished ? "imported" : "hang");
                outcomes[outcome] = outcomes.GetValueOrDefault(outcome) + 1;
                string? problem = ImportProbe.Violation(result, bytes.Length + sandbox.BesideBytes) ?? sandbox.SecretLeak(result);
                if (problem is not null)
                    violations.Add($"{seedName} case {i} (seed {caseSeed}, {what}): {problem} -> saved as {SaveFailure(seedName, i, bytes)}");
            }
        }
        output.WriteLine($"{cases} mutated files from {seeds.Count} seeds in {clock.Elapsed.TotalSeconds:0.0} s (slowest case {maxElapsed.TotalMilliseconds:0} ms)");
        output.WriteLine("outcomes: " + string.Join(", ", outcomes.OrderByDescending(kv => kv.Value).Select(kv => $"{kv.Key} {kv.Value}")));
        Assert.True(violations.Count == 0, $"{violations.Count} of {cases} cases broke the contract:\n" + string.Join("\n", violations.Take(10)));
        // The mutations must reach past the parser: some cases import, some are refused for reasons other than framing.
        Assert.True(outcomes.GetValueOrDefault("imported") > cases / 50, "too few mutated files import: the mutations only test the parser");
    }

    /// <summary>FNV-1a of the seed file's name and the case number: the same case whatever other seeds exist.</summary>
    private static int StableSeed(string seedName, int index)
    {
        uint hash = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes($"{seedName}#{index}")) hash = (hash ^ b) * 16777619;
        return (int)(hash & int.MaxValue);
    }

    private static string SaveFailure(string seedName, int index, byte[] bytes)
    {
        string folder = Path.Combine(Path.GetTempPath(), "bnn-onnx-fuzz-failures");
        Directory.CreateDirectory(folder);
        string path = Path.Combine(folder, $"{Path.GetFileNameWithoutExtension(seedName)}-{index}.onnx");
        File.WriteAllBytes(path, bytes);
        return path;
    }

    // ------------------------------------------------------------------ hand-made hostile files

    public static TheoryData<string> HostileCases => new(HostileModels.All.Keys.Order(StringComparer.Ordinal));

    [Theory]
    [MemberData(nameof(HostileCases))]
    public void Hostile_file_ends_in_a_graph_or_one_line_refusal(string name)
    {
        using var sandbox = new Sandbox();
        string path = HostileModels.All[name](sandbox.ModelFolder);
        long size = new FileInfo(path).Length;
        var result = ImportProbe.Run(path);
        output.WriteLine($"{name}: {size:N0} bytes, {result.AllocatedBytes:N0} allocated, {result.Elapsed.TotalMilliseconds:0} ms: "
            + (result.Error?.Message ?? (result.Finished ? "imported" : "hang")));
        Assert.Null(ImportProbe.Violation(result, size));
    }

    [Fact]
    public void Huge_declared_dims_are_refused_before_anything_is_allocated()
    {
        foreach (string name in new[] { "dims_2^40_x_2^40_over_24_bytes", "dims_int_max_squared", "dims_product_overflows_long", "constant_with_huge_dims", "tensor_attribute_with_huge_dims" })
        {
            using var sandbox = new Sandbox();
            var result = ImportProbe.Run(HostileModels.All[name](sandbox.ModelFolder));
            Assert.IsType<OnnxImportException>(result.Error);
            Assert.True(result.AllocatedBytes < 4 << 20, $"{name}: allocated {result.AllocatedBytes:N0} bytes before refusing");
        }
    }

    [Fact]
    public void Protobuf_recursion_limit_is_applied_to_model_files()
    {
        using var sandbox = new Sandbox();
        foreach (string name in new[] { "graph_attributes_nested_120_deep", "sequence_types_nested_200_deep", "unknown_groups_nested_100k_deep" })
        {
            var error = Assert.IsType<OnnxImportException>(ImportProbe.Run(HostileModels.All[name](sandbox.ModelFolder)).Error);
            Assert.Contains("not an ONNX model", error.Message);
            Assert.IsType<InvalidProtocolBufferException>(error.InnerException);
        }
        // Nesting well inside the limit is fine.
        Assert.Null(ImportProbe.Run(HostileModels.All["graph_attributes_nested_20_deep"](sandbox.ModelFolder)).Error);
    }

    [Fact]
    public void Recursive_and_exploding_functions_are_refused_naming_the_limit()
    {
        using var sandbox = new Sandbox();
        foreach (string name in new[] { "function_calls_itself", "mutually_recursive_functions", "chain_of_10000_functions" })
            Assert.Contains("nested deeper than", Assert.IsType<OnnxImportException>(ImportProbe.Run(HostileModels.All[name](sandbox.ModelFolder)).Error).Message);
        foreach (string name in new[] { "functions_fanned_out_10x_16_deep_of_constants", "functions_fanned_out_10x_16_deep_of_relus",
                     "functions_fanned_out_with_empty_node_names", "functions_fanned_out_with_long_node_names", "function_attribute_reference_fanned_out" })
        {
            var result = ImportProbe.Run(HostileModels.All[name](sandbox.ModelFolder));
            Assert.Contains("inlining functions copies more than", Assert.IsType<OnnxImportException>(result.Error).Message);
            Assert.True(result.AllocatedBytes < 64 << 20, $"{name}: allocated {result.AllocatedBytes:N0} bytes before refusing");
        }
        // Inlining recurses: even a limit raised without bound stops at a depth the stack holds.
        var deep = ImportProbe.Run(HostileModels.All["chain_of_10000_functions"](sandbox.ModelFolder), new ImportOptions { MaxFunctionDepth = int.MaxValue });
        Assert.Contains($"nested deeper than {ImportOptions.MaxSafeFunctionDepth}", Assert.IsType<OnnxImportException>(deep.Error).Message);

        // Without the copy budget, the node limit still stops a fan-out of plain nodes.
        var relus = ImportProbe.Run(HostileModels.All["functions_fanned_out_10x_16_deep_of_relus"](sandbox.ModelFolder), new ImportOptions { MaxNodes = 5000 });
        Assert.Contains("more than 5000 nodes (after inlining functions)", Assert.IsType<OnnxImportException>(relus.Error).Message);
    }

    // ------------------------------------------------------------------ external data

    private static readonly string[] Locations =
    [
        "weights.bin", "./weights.bin", "sub/../weights.bin", "inside_link.bin", "../secret.bin", "../../secret.bin",
        "sub/../../secret.bin", "out_link.bin", "out_dir/secret.bin", "loop_link.bin", "dangling_link.bin", "sub", ".", "",
        "missing.bin", "SECRET", "weights.bin\0", "/etc/passwd", "/dev/zero", "C:\\secret.bin", "\\\\host\\share\\secret.bin",
        "~/secret.bin", "weights.bin/..", "..", string.Concat(Enumerable.Repeat("sub/", 200)) + "../../secret.bin",
    ];

    private static readonly string?[] Numbers =
    [
        null, "0", "4", "8", "24", "28", "32", "-1", "-24", "9223372036854775807", "-9223372036854775808", "4611686018427387904",
        "99999999999999999999", "abc", "", " 8", "1e3", "0x10", "+8",
    ];

    [Fact]
    public void Hostile_external_data_is_refused_or_read_from_inside_the_model_folder()
    {
        using var sandbox = new Sandbox();
        var random = new Random(20_240_808);
        var violations = new List<string>();
        int imported = 0, cases = 300 * Scale;
        for (int i = 0; i < cases; i++)
        {
            var model = TinyMlp();
            var weight = new TensorProto { Name = "fc.weight", DataType = random.Next(4) == 0 ? 11 : 1, Dims = { 3, 2 }, DataLocation = TensorProto.Types.DataLocation.External };
            if (random.Next(8) == 0) weight.Dims[random.Next(2)] = random.Next(2) == 0 ? 1L << 40 : -2;
            // Half the cases point at the weights beside the model, so that offsets and lengths are tried on a real file.
            string location = random.Next(2) == 0 ? Locations[random.Next(4)] : Locations[random.Next(Locations.Length)];
            if (location == "SECRET") location = sandbox.SecretPath;
            var entries = new List<StringStringEntryProto> { new() { Key = "location", Value = location } };
            if (random.Next(2) == 0 && Numbers[random.Next(Numbers.Length)] is { } offset) entries.Add(new() { Key = "offset", Value = offset });
            if (random.Next(2) == 0 && Numbers[random.Next(Numbers.Length)] is { } length) entries.Add(new() { Key = "length", Value = length });
            if (random.Next(6) == 0) entries.Add(new() { Key = "location", Value = "../secret.bin" }); // a second location
            if (random.Next(6) == 0) entries.Reverse();
            weight.ExternalData.AddRange(entries);
            model.Graph.Initializer[0] = weight;
            if (random.Next(5) == 0) model.Graph.Initializer[1] = weight.Clone().Also(t => t.Name = "fc.bias", t => t.Dims.RemoveAt(0));

            byte[] bytes = model.ToByteArray();
            var result = sandbox.Import(bytes);
            if (result.Succeeded) imported++;
            string? problem = ImportProbe.Violation(result, bytes.Length + sandbox.BesideBytes) ?? sandbox.SecretLeak(result);
            if (result.Succeeded && problem is null && weight.DataType == 1 && !sandbox.HoldsWeights(result.Graph!))
                problem = "imported values that are not from weights.bin";
            if (problem is not null)
                violations.Add($"case {i} (location '{location.Replace("\0", "\\0")}', {string.Join(", ", entries.Skip(1).Select(e => $"{e.Key}='{e.Value}'"))}): {problem}");
        }
        output.WriteLine($"{cases} external-data cases, {imported} imported");
        Assert.True(violations.Count == 0, $"{violations.Count} cases broke the contract:\n" + string.Join("\n", violations.Take(10)));
        Assert.True(imported > 0, "no case read the weights beside the model: the test checks nothing");
    }

    // ------------------------------------------------------------------ corpus and exit code

    public static TheoryData<string> CorpusCases => new(Directory.Exists(CorpusFolder)
        ? Directory.GetFiles(CorpusFolder, "*.onnx").Select(Path.GetFileName).OfType<string>().Order(StringComparer.Ordinal)
        : []);

    [Theory]
    [MemberData(nameof(CorpusCases))]
    public void Corpus_case_that_once_broke_the_importer_ends_in_a_graph_or_one_line_refusal(string fileName)
    {
        using var sandbox = new Sandbox();
        File.Copy(TestPaths.Model("external_data_pytorch.weights"), Path.Combine(sandbox.ModelFolder, "external_data_pytorch.weights"));
        byte[] bytes = File.ReadAllBytes(Path.Combine(CorpusFolder, fileName));
        var result = sandbox.Import(bytes);
        output.WriteLine($"{fileName}: {result.AllocatedBytes:N0} bytes allocated, {result.Elapsed.TotalMilliseconds:0} ms: "
            + (result.Error?.Message ?? (result.Finished ? "imported" : "hang")));
        Assert.Null(ImportProbe.Violation(result, bytes.Length + sandbox.BesideBytes));
        Assert.Null(sandbox.SecretLeak(result));
    }

    [Fact]
    public void Corpus_is_copied_beside_the_tests()
    {
        Assert.True(CorpusCases.Count >= 3, $"expected the regression corpus in {CorpusFolder}");
    }

    [Fact]
    public void A_mutated_file_gets_what_bnn_reports_as_exit_code_2_and_one_line()
    {
        using var sandbox = new Sandbox();
        byte[] seed = File.ReadAllBytes(TestPaths.Model("blog_mlp_pytorch.onnx"));
        // Flip bits until the file is refused; the first seeds already do.
        for (int s = 0; s < 100; s++)
        {
            var (bytes, _) = Mutator.Mutate(seed, new Random(s));
            if (sandbox.Import(bytes).Error is not { } error) continue;
            Assert.True(ImportProbe.IsUserError(error), $"{error.GetType().Name} would be an internal error (exit 70)");
            Assert.IsAssignableFrom<IOException>(error);
            string line = $"error: {error.Message.ReplaceLineEndings(" ").Trim()}";
            Assert.Equal(line, $"error: {error.Message}");
            Assert.Contains("case.onnx", error.Message);
            return;
        }
        Assert.Fail("no mutation of the seed was refused");
    }

    // ------------------------------------------------------------------ the sandbox

    /// <summary>
    /// outer/secret.bin (float32 777s) and outer/model/ with weights.bin (the floats 1..8), links that stay
    /// inside, links that point out, a dangling link and a link loop. Cases are written to outer/model/case.onnx.
    /// </summary>
    private sealed class Sandbox : IDisposable
    {
        private readonly TempFolder outer = new();

        public string ModelFolder { get; }
        public string SecretPath { get; }

        /// <summary>Bytes of the regular files beside the model, all of which an import may legitimately read.</summary>
        public long BesideBytes => Directory.GetFiles(ModelFolder).Select(f => new FileInfo(f))
            .Where(f => f.LinkTarget is null && f.Name != "case.onnx").Sum(f => f.Length);

        public Sandbox()
        {
            ModelFolder = Path.Combine(outer.Path, "model");
            Directory.CreateDirectory(Path.Combine(ModelFolder, "sub"));
            SecretPath = outer.File("secret.bin");
            File.WriteAllBytes(SecretPath, Enumerable.Repeat(SecretValue, 64).SelectMany(BitConverter.GetBytes).ToArray());
            File.WriteAllBytes(Path.Combine(ModelFolder, "weights.bin"), Enumerable.Range(1, 8).SelectMany(i => BitConverter.GetBytes((float)i)).ToArray());
            File.CreateSymbolicLink(Path.Combine(ModelFolder, "inside_link.bin"), "weights.bin");
            File.CreateSymbolicLink(Path.Combine(ModelFolder, "out_link.bin"), SecretPath);
            Directory.CreateSymbolicLink(Path.Combine(ModelFolder, "out_dir"), outer.Path);
            File.CreateSymbolicLink(Path.Combine(ModelFolder, "loop_link.bin"), "loop_link.bin");
            File.CreateSymbolicLink(Path.Combine(ModelFolder, "dangling_link.bin"), "nowhere.bin");
        }

        public ProbeResult Import(byte[] bytes)
        {
            string path = Path.Combine(ModelFolder, "case.onnx");
            File.WriteAllBytes(path, bytes);
            return ImportProbe.Run(path);
        }

        /// <summary>Non-null when an imported graph holds values read from the file outside the model's folder.</summary>
        public string? SecretLeak(ProbeResult result)
        {
            if (result.Graph is not { } graph) return null;
            var tensors = graph.Parameters.Select(p => (p.Name, p.Values)).Concat(graph.Constants.Select(c => (c.Key, c.Value.Data)));
            foreach (var (name, values) in tensors)
                if (values.Contains(SecretValue) || values.Contains(BitConverter.SingleToInt32Bits(SecretValue)))
                    return $"tensor '{name}' holds values read from outside the model's folder";
            return null;
        }

        /// <summary>True when the weight holds consecutive floats of weights.bin (1..8), as every in-folder location reads.</summary>
        public bool HoldsWeights(OnnxGraph graph)
        {
            var weight = graph.Parameters.FirstOrDefault(p => p.OnnxName == "fc.weight");
            if (weight is null) return false;
            double first = weight.Values[0];
            return first is >= 1 and <= 8 && weight.Values.Select((v, i) => v == first + i).All(ok => ok);
        }

        public void Dispose() => outer.Dispose();
    }
}

internal static class ProtoExtensions
{
    public static T Also<T>(this T value, params Action<T>[] actions)
    {
        foreach (var action in actions) action(value);
        return value;
    }
}
