using System.Text.RegularExpressions;

namespace Bnn.Onnx.OnnxImport;

/// <summary>
/// Parameter naming. Meaningful initializer names become a dotted tree path (<c>encoder.0.weight</c>,
/// <c>params/Dense_0/kernel</c> → <c>params.Dense_0.kernel</c>); names an exporter made up (<c>const_3</c>,
/// <c>onnx::MatMul_18</c>, <c>17</c>, <c>/0/Constant_output_0</c>) are opaque: such a weight or bias takes the prefix of
/// its layer's one named partner (<c>onnx::MatMul_18</c> beside <c>0.bias</c> → <c>0.weight</c>), or else becomes
/// <c>layer{k}.weight</c> / <c>layer{k}.bias</c> in layer order.
/// </summary>
internal static partial class ParameterNames
{
    [GeneratedRegex(@"^_*(const|constant|const_val|val|value|init|initializer|tensor|param|arg|t|c|v|p)?[_:]?\d+$", RegexOptions.IgnoreCase)]
    private static partial Regex GenericNumbered();

    [GeneratedRegex(@"(^|[/.])Constant(_\d+)?_output_\d+$")]
    private static partial Regex ConstantOutput();

    /// <summary>True for names an exporter generated, which say nothing about the layer.</summary>
    public static bool IsOpaque(string onnxName)
    {
        string name = onnxName.Trim();
        return name.Length == 0
            || name.StartsWith("onnx::", StringComparison.Ordinal)
            || GenericNumbered().IsMatch(name)
            || ConstantOutput().IsMatch(name)
            || Split(name).Length == 0;
    }

    /// <summary>Splits a name on '.' and '/' into tree segments, dropping empty ones.</summary>
    public static string[] Split(string onnxName) =>
        onnxName.Split(['.', '/'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);

    /// <summary>The dotted tree path of a meaningful name: <c>params/Dense_0/kernel</c> → <c>params.Dense_0.kernel</c>.</summary>
    public static string Dotted(string onnxName) => string.Join('.', Split(onnxName));
}
