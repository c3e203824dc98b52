namespace Bnn.Onnx.Pipeline;

internal static class ParquetData
{
    public static (IReadOnlyList<string> Columns, double[][] Values) ReadNumericColumns(string path) =>
        throw new NotSupportedException($"{Path.GetFileName(path)}: Parquet data input is not available yet; use CSV");
}
