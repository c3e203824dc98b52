using Bnn.Onnx.Cli;

return CliRunner.Run(BnnRoot.Create(), args);
