using System.Globalization;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Tests;

/// <summary>Paths to the repository root and the shared reference data.</summary>
internal static class TestPaths
{
    public static string RepoRoot { get; } = FindRoot();

    /// <summary>The shared reference folder (<see cref="SharedFolder"/>), or null when absent.</summary>
    public static string? Shared => SharedFolder.Root;

    public static string Models => Path.Combine(RepoRoot, "models");

    private static string FindRoot()
    {
        // The build output usually lies inside the repository; with --artifacts-path it may not, so also try the
        // project directory recorded at build time.
        string? projectDir = typeof(TestPaths).Assembly.GetCustomAttributes(typeof(System.Reflection.AssemblyMetadataAttribute), false)
            .Cast<System.Reflection.AssemblyMetadataAttribute>().FirstOrDefault(a => a.Key == "ProjectDirectory")?.Value;
        foreach (var start in new[] { AppContext.BaseDirectory, projectDir })
        {
            var dir = start is null ? null : new DirectoryInfo(start);
            while (dir is not null && !File.Exists(Path.Combine(dir.FullName, "Bnn.Onnx.sln"))) dir = dir.Parent;
            if (dir is not null) return dir.FullName;
        }
        throw new InvalidOperationException("Bnn.Onnx.sln not found above " + AppContext.BaseDirectory);
    }

    public static double[][] ReadCsv(string path) =>
        File.ReadAllLines(path).Where(l => l.Trim().Length > 0)
            .Select(l => l.Split(',').Select(s => double.Parse(s, CultureInfo.InvariantCulture)).ToArray()).ToArray();
}

/// <summary>Hand-built graphs for tests that must not depend on the importer.</summary>
internal static class Graphs
{
    public static Node Node(string op, string[] inputs, string[] outputs, params NodeAttribute[] attributes) =>
        new(outputs[0] + "_node", op, "", inputs, outputs, attributes.ToDictionary(a => a.Name));

    public static NodeAttribute Int(string name, long v) => new(name, AttributeKind.Int, Int: v);
    public static NodeAttribute Float(string name, double v) => new(name, AttributeKind.Float, Float: v);
    public static NodeAttribute Ints(string name, params long[] v) => new(name, AttributeKind.Ints, Ints: v);
    public static NodeAttribute String(string name, string v) => new(name, AttributeKind.String, String: v);

    public static OnnxGraph Graph(ValueInfo[] inputs, ValueInfo[] outputs, Node[] nodes, Parameter[] parameters,
        Dictionary<string, Tensor>? constants = null, long opset = 17) => new()
    {
        Producer = "test",
        ProducerVersion = "0",
        IrVersion = 8,
        Opsets = new Dictionary<string, long> { [""] = opset },
        Inputs = inputs,
        Outputs = outputs,
        Nodes = nodes,
        Parameters = parameters,
        Constants = constants ?? [],
        Sha256 = "",
    };

    public static ValueInfo Batch(string name, params long[] rest) =>
        new(name, ElementType.Float, [Dimension.Symbolic("batch"), .. rest.Select(Dimension.Fixed)]);

    /// <summary>A deterministic pseudo-random vector (for weights in tests).</summary>
    public static double[] Random(int n, int seed, double scale = 1.0)
    {
        var rng = new Random(seed);
        return Enumerable.Range(0, n).Select(_ => scale * Normal(rng)).ToArray();
    }

    public static double Normal(Random rng) => Math.Sqrt(-2 * Math.Log(1 - rng.NextDouble())) * Math.Cos(2 * Math.PI * rng.NextDouble());

    /// <summary>An MLP of Gemm (transB = 1, PyTorch layout) layers with <paramref name="activation"/> between them, optionally ending in <paramref name="head"/>.</summary>
    public static OnnxGraph Mlp(int[] widths, string activation, int seed, string? head = null, long opset = 17)
    {
        var nodes = new List<Node>();
        var parameters = new List<Parameter>();
        string current = "x";
        for (int l = 0; l < widths.Length - 1; l++)
        {
            int fin = widths[l], fout = widths[l + 1];
            parameters.Add(new Parameter($"layer{l}.weight", $"w{l}", [fout, fin], Random(fout * fin, seed + 2 * l, 0.8)));
            parameters.Add(new Parameter($"layer{l}.bias", $"b{l}", [fout], Random(fout, seed + 2 * l + 1, 0.5)));
            string z = $"z{l}";
            nodes.Add(Node("Gemm", [current, $"w{l}", $"b{l}"], [z], Int("transB", 1)));
            current = z;
            if (l < widths.Length - 2)
            {
                nodes.Add(Node(activation, [z], [$"h{l}"]));
                current = $"h{l}";
            }
        }
        if (head is not null)
        {
            nodes.Add(Node(head, [current], ["y"], head == "Sigmoid" ? [] : [Int("axis", -1)]));
            current = "y";
        }
        return Graph([Batch("x", widths[0])], [Batch(current, widths[^1])], nodes.ToArray(), parameters.ToArray(), opset: opset);
    }
}
