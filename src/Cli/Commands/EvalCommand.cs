using System.CommandLine;
using System.Globalization;
using System.Text;
using Bnn.Onnx.Export;
using Bnn.Onnx.GraphToPotential;
using Bnn.Onnx.OnnxImport;

namespace Bnn.Onnx.Cli.Commands;

/// <summary>
/// <c>bnn eval MODEL.onnx --input X.csv [--input-shape NAME=SIZE]… [--backend auto|cpu|torch] [--precision float64|float32] [--out Y.csv]</c>:
/// the rebuilt graph at the file's own weights, so a user can check that an import reproduces their model.
/// Input CSV: no header, one sample per row filling the model input's non-batch dimensions in row-major order (a single
/// symbolic dimension takes its size from the row width, see <see cref="InputShapeOption"/>);
/// output CSV the same way for the first graph output (round-trip formatting, invariant culture).
/// </summary>
internal static class EvalCommand
{
    public static Command Create()
    {
        var model = new Argument<FileInfo>("model") { Description = "The ONNX model file." };
        var input = new Option<FileInfo>("--input") { Description = "CSV of inputs: no header, one sample per row.", Required = true };
        var backend = new Option<string>("--backend") { Description = "auto (compiled CPU when it covers every op, else torch), cpu or torch.", DefaultValueFactory = _ => "auto" };
        var precision = new Option<string>("--precision") { Description = "float64 or float32.", DefaultValueFactory = _ => "float64" };
        var output = new Option<FileInfo?>("--out") { Description = "Write the outputs here instead of stdout." };
        var inputShape = InputShapeFlag.Create();

        var command = new Command("eval", "Evaluate the imported network at the file's own weights on inputs from a CSV file.");
        command.Arguments.Add(model);
        command.Options.Add(input);
        command.Options.Add(backend);
        command.Options.Add(precision);
        command.Options.Add(output);
        command.Options.Add(inputShape);
        command.SetAction(int (parseResult) =>
        {
            var kind = CliRunner.Validated(() => BackendSelector.Parse(parseResult.GetValue(backend) ?? "auto"));
            var options = new BackendOptions(CliRunner.Validated(() => BackendOptions.ParsePrecision(parseResult.GetValue(precision) ?? "float64")));
            var file = parseResult.GetValue(model)!;
            var given = InputShapeOption.Parse(parseResult.GetValue(inputShape));
            var graph = OnnxImporter.Import(file.FullName);
            string inputPath = parseResult.GetValue(input)!.FullName;
            var shape = InputShapeOption.Resolve(graph, given, InputShapeOption.FirstRowWidth(inputPath), inputPath, Console.Error);
            graph = shape.Bind(graph);
            var (inputs, rows) = FeatureCsv.Read(inputPath, shape.Width);

            var factory = CliRunner.Validated(() => BackendSelector.Select(kind, graph, Backends.All));

            var parameters = graph.Parameters.SelectMany(p => p.Values).ToArray();
            using var function = factory.CompileGraph(graph, options);
            var outputs = new double[rows * function.OutputWidth];
            function.Forward(parameters, inputs, rows, outputs);

            var text = new StringBuilder();
            for (int r = 0; r < rows; r++)
            {
                for (int k = 0; k < function.OutputWidth; k++)
                {
                    if (k > 0) text.Append(',');
                    text.Append(outputs[r * function.OutputWidth + k].ToString("R", CultureInfo.InvariantCulture));
                }
                text.Append('\n');
            }
            if (parseResult.GetValue(output) is FileInfo outFile)
                AtomicFile.WriteAllText(outFile.FullName, text.ToString());
            else
                Console.Out.Write(text.ToString());
            return 0;
        });
        return command;
    }
}
