using ScottPlot;

namespace Bnn.Onnx.Cli.Plotting;

/// <summary>Chain colours and PNG output shared by the plots.</summary>
internal static class PlotOutput
{
    private static readonly ScottPlot.Palettes.Category10 Palette = new();

    /// <summary>The colour of chain <paramref name="chain"/> (matplotlib's tab10, as ArviZ uses).</summary>
    public static Color ChainColor(int chain) => Palette.GetColor(chain);

    /// <summary>
    /// The label of chain <paramref name="chain"/> (0-based in draws.parquet): numbered from 1, as Stan and the
    /// progress lines of <c>bnn sample</c> number chains.
    /// </summary>
    public static string ChainLabel(int chain) => $"chain {chain + 1}";

    /// <summary>Writes PNG bytes under a temporary name and renames them into place.</summary>
    public static void WritePng(string path, byte[] png)
    {
        string full = Path.GetFullPath(path);
        string? folder = Path.GetDirectoryName(full);
        if (folder is not null && !Directory.Exists(folder))
            throw new DirectoryNotFoundException($"output folder not found: {folder}");
        string temp = Path.Combine(folder ?? ".", $".{Path.GetFileName(full)}.{Environment.ProcessId}.tmp");
        try
        {
            File.WriteAllBytes(temp, png);
            File.Move(temp, full, overwrite: true);
        }
        finally
        {
            if (File.Exists(temp)) File.Delete(temp);
        }
    }

    public static void Save(Plot plot, string path, int width, int height) =>
        WritePng(path, plot.GetImageBytes(width, height, ImageFormat.Png));

    public static void Save(Multiplot multiplot, string path, int width, int height)
    {
        using var image = multiplot.Render(width, height);
        WritePng(path, image.GetImageBytes(ImageFormat.Png, 100));
    }

    /// <summary>A number for a title: four significant digits, NA when not finite.</summary>
    public static string F(double v, string format = "G4") =>
        double.IsFinite(v) ? v.ToString(format, System.Globalization.CultureInfo.InvariantCulture) : "NA";
}
