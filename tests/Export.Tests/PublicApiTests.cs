using System.Reflection;

namespace Bnn.Onnx.Tests;

/// <summary>
/// The library package's public surface is exactly the documented API (namespace <c>Bnn.Onnx</c>, src/Export/Api,
/// docs/api): a type made public anywhere else in the shipped assemblies fails here, as does an API type left out of
/// the reference.
/// </summary>
public class PublicApiTests
{
    /// <summary>The documented API, by full name.</summary>
    private static readonly string[] Documented =
    [
        "Bnn.Onnx.BnnModel",
        "Bnn.Onnx.ChainInitialization",
        "Bnn.Onnx.DataTable",
        "Bnn.Onnx.EnsemblePrediction",
        "Bnn.Onnx.EnsemblePredictor",
        "Bnn.Onnx.ModelHead",
        "Bnn.Onnx.ModelImportOptions",
        "Bnn.Onnx.ModelLikelihood",
        "Bnn.Onnx.ModelParameter",
        "Bnn.Onnx.PosteriorDraws",
        "Bnn.Onnx.PosteriorRun",
        "Bnn.Onnx.RunDiagnostics",
        "Bnn.Onnx.SampleOptions",
        "Bnn.Onnx.SampleProgress",
        "Bnn.Onnx.SamplerMetric",
        "Bnn.Onnx.SamplingPhase",
        "Bnn.Onnx.VariableSummary",
    ];

    /// <summary>The assemblies the Bnn.Onnx package ships (the TorchSharp backend is not one of them).</summary>
    private static readonly string[] Shipped =
        ["Bnn.Onnx.Export", "Bnn.Onnx.OnnxImport", "Bnn.Onnx.Nuts", "Bnn.Onnx.GraphToPotential"];

    [Fact]
    public void Given_the_shipped_assemblies_Then_their_exported_types_are_exactly_the_documented_api()
    {
        var exported = Shipped.SelectMany(name => Assembly.Load(name).GetExportedTypes()).Select(t => t.FullName!).Order(StringComparer.Ordinal).ToArray();
        Assert.Equal(Documented, exported);
    }

    [Fact]
    public void Given_the_api_Then_it_lives_in_the_export_assembly_and_every_type_has_a_reference_page()
    {
        var api = typeof(BnnModel).Assembly.GetExportedTypes();
        Assert.All(api, t => Assert.Equal("Bnn.Onnx", t.Namespace));
        string docs = Path.Combine(TestModels.RepoRoot(), "docs", "api");
        Assert.All(Documented, name => Assert.True(File.Exists(Path.Combine(docs, name + ".md")), $"docs/api/{name}.md is missing"));
    }

    [Fact]
    public void Given_the_library_Then_it_references_no_torchsharp()
    {
        var references = Shipped.SelectMany(name => Assembly.Load(name).GetReferencedAssemblies()).Select(a => a.Name).ToHashSet();
        Assert.DoesNotContain("TorchSharp", references);
        Assert.DoesNotContain("Bnn.Onnx.GraphToPotential.Torch", references);
    }
}
