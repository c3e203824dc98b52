using BenchmarkDotNet.Running;
using Bnn.Onnx.Benchmarks;

if (args.Length > 0 && args[0] == "profile") return KernelProfile.Run(args);
if (args.Length > 0 && args[0] is "ladder" or "fma-peak" or "kernels") return LadderTiming.Run(args);
BenchmarkSwitcher.FromAssembly(typeof(Program).Assembly).Run(args);
return 0;
