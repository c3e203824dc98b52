using System.CommandLine;

namespace Bnn.Onnx.Cli;

/// <summary>The <c>--input-shape NAME=SIZE</c> option (repeatable); <see cref="InputShapeOption"/> parses and applies it.</summary>
internal static class InputShapeFlag
{
    /// <summary>The option, for every command that reads model inputs.</summary>
    public static Option<string[]> Create() => new("--input-shape")
    {
        Description = "Size of a symbolic input dimension, NAME=SIZE (e.g. seq=5; repeatable). A single one may be left out: it takes its size from the values per row.",
        AllowMultipleArgumentsPerToken = false,
    };

}
