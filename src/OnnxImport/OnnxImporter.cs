using System.Security.Cryptography;
using Bnn.Onnx.OnnxImport.Protobuf;
using Google.Protobuf;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Reads ONNX files into an <see cref="OnnxGraph"/>: weights as named <see cref="Parameter"/>s, everything else
/// as constants, model-local functions inlined, nodes in topological order. Every problem with the file is an
/// <see cref="OnnxImportException"/> with a one-line message naming the file and the node or tensor.
/// </summary>
/// <remarks>
/// Graph rewrites, so that backends see a small, regular graph:
/// <list type="bullet">
/// <item><c>Constant</c> nodes become tensors (parameters when they act as weights, as in jax2onnx functions).</item>
/// <item>Calls to model-local functions (<c>FunctionProto</c>) are replaced by their bodies; values inside a body
/// are renamed <c>{call node}/{value}</c> so that every value name stays unique.</item>
/// <item><c>Dropout</c> (identity at inference) becomes <c>Identity</c> of its data input; its ratio and
/// training-mode inputs are left among the constants, unused.</item>
/// <item>A batch dimension exported as a fixed number is reported as <c>batch</c>
/// (see <see cref="OnnxGraph.ExportedBatchSize"/>).</item>
/// </list>
/// </remarks>
internal static class OnnxImporter
{
    public static OnnxGraph Import(string path) => Import(path, ImportOptions.Default);

    public static OnnxGraph Import(string path, ImportOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        byte[] bytes = ReadFileBytes(path, options, "model file");
        var model = ParseModel(bytes, path);
        string directory = Path.GetDirectoryName(Path.GetFullPath(path)) ?? ".";
        return new GraphImport(model, path, directory, options).Build(Sha256Hex(bytes));
    }

    /// <summary>Imports an in-memory model; external data, if any, is looked up under <paramref name="baseDirectory"/>.</summary>
    public static OnnxGraph Import(ModelProto model, string? baseDirectory, ImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(model);
        return new GraphImport(model, "<model>", baseDirectory, options ?? ImportOptions.Default)
            .Build(Sha256Hex(model.ToByteArray()));
    }

    /// <summary>Reads and parses a model file without interpreting the graph (unknown fields are kept).</summary>
    public static ModelProto ReadModel(string path, ImportOptions? options = null)
    {
        byte[] bytes = ReadFileBytes(path, options ?? ImportOptions.Default, "model file");
        return ParseModel(bytes, path);
    }

    /// <summary>
    /// Reads a serialized <c>TensorProto</c> (the <c>input_0.pb</c> / <c>output_0.pb</c> files of the ONNX
    /// backend tests). Every numeric type becomes double; external data is looked up beside the file.
    /// </summary>
    public static Tensor ReadTensorFile(string pbPath) => ReadTensorFile(pbPath, ImportOptions.Default);

    public static Tensor ReadTensorFile(string pbPath, ImportOptions options)
    {
        byte[] bytes = ReadFileBytes(pbPath, options, "tensor file");
        TensorProto proto;
        try
        {
            proto = TensorProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new OnnxImportException($"{pbPath}: not a serialized ONNX tensor or truncated ({FirstSentence(ex.Message)})", ex);
        }
        string name = proto.Name.Length > 0 ? proto.Name : Path.GetFileNameWithoutExtension(pbPath);
        string directory = Path.GetDirectoryName(Path.GetFullPath(pbPath)) ?? ".";
        return TensorReader.Read(proto, name, directory, options, $"{pbPath}: tensor '{name}'");
    }

    /// <summary>Converts one <c>TensorProto</c> (external data is looked up under <paramref name="baseDirectory"/>).</summary>
    public static Tensor ReadTensor(TensorProto proto, string? baseDirectory = null, ImportOptions? options = null)
    {
        ArgumentNullException.ThrowIfNull(proto);
        return TensorReader.Read(proto, proto.Name, baseDirectory, options ?? ImportOptions.Default, $"tensor '{proto.Name}'");
    }

    private static byte[] ReadFileBytes(string path, ImportOptions options, string what)
    {
        var info = new FileInfo(path);
        if (Directory.Exists(path)) throw new OnnxImportException($"{path}: is a folder, not a {what}");
        if (!info.Exists) throw new OnnxImportException($"{path}: {what} not found");
        if (info.Length > options.MaxFileBytes)
            throw new OnnxImportException($"{path}: {what} is {info.Length} bytes, over the limit of {options.MaxFileBytes}");
        return File.ReadAllBytes(path);
    }

    private static ModelProto ParseModel(byte[] bytes, string path)
    {
        if (WireCheck.FindQuadraticMerge(bytes, ModelProto.Descriptor) is { } repeated)
            throw new OnnxImportException($"{path}: not an ONNX model ({repeated})");
        ModelProto model;
        try
        {
            model = ModelProto.Parser.ParseFrom(bytes);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new OnnxImportException($"{path}: not an ONNX model or truncated ({FirstSentence(ex.Message)})", ex);
        }
        if (model.Graph is null)
            throw new OnnxImportException($"{path}: not an ONNX model or truncated (no graph)");
        if (model.OpsetImport.Count == 0)
            throw new OnnxImportException($"{path}: not an ONNX model or truncated (no opset_import)");
        return model;
    }

    /// <summary>Protobuf's messages run to several sentences; the first says what went wrong.</summary>
    private static string FirstSentence(string message)
    {
        string line = message.ReplaceLineEndings(" ").Trim();
        int end = line.IndexOf(". ", StringComparison.Ordinal);
        return (end > 0 ? line[..end] : line.TrimEnd('.')).ToLowerInvariant();
    }

    private static string Sha256Hex(byte[] bytes) => Convert.ToHexStringLower(SHA256.HashData(bytes));
}
