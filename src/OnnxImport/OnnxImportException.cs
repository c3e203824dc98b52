namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// A model file the importer cannot use: not ONNX, truncated, an unsupported op or data type, a refused external
/// data path, a malformed graph. The message is one line that says what is wrong and where (file, node, tensor).
/// </summary>
/// <remarks>
/// Derives from <see cref="IOException"/> (as Google.Protobuf's <c>InvalidProtocolBufferException</c> does)
/// because <see cref="InvalidDataException"/> is sealed.
/// </remarks>
public class OnnxImportException : IOException
{
    public OnnxImportException(string message) : base(message) { }

    public OnnxImportException(string message, Exception inner) : base(message, inner) { }
}
