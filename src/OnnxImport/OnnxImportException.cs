namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// A model file the importer cannot use: not ONNX, truncated, an unsupported op or data type, a refused external
/// data path, a malformed graph. The message is one line that says what is wrong and where (file, node, tensor).
/// </summary>
/// <remarks>
/// Derives from <see cref="IOException"/> (as Google.Protobuf's <c>InvalidProtocolBufferException</c> does)
/// because <see cref="InvalidDataException"/> is sealed.
/// </remarks>
internal class OnnxImportException : IOException
{
    public OnnxImportException(string message) : base(OneLine(message)) { }

    public OnnxImportException(string message, Exception inner) : base(OneLine(message), inner) { }

    /// <summary>
    /// Names quoted from a hostile file may hold line breaks and other control characters: they are written as
    /// escapes (<c>\n</c>, <c>\u001B</c>) so that the message stays one line and cannot rewrite the terminal.
    /// </summary>
    internal static string OneLine(string message)
    {
        if (!message.Any(IsLineBreaking)) return message;
        var line = new System.Text.StringBuilder(message.Length + 16);
        foreach (char c in message)
        {
            line.Append(c switch
            {
                '\n' => "\\n",
                '\r' => "\\r",
                '\t' => "\\t",
                _ when IsLineBreaking(c) => $"\\u{(int)c:X4}",
                _ => c.ToString(),
            });
        }
        return line.ToString();
    }

    private static bool IsLineBreaking(char c) => char.IsControl(c) || c is '\u2028' or '\u2029';
}
