using TorchSharp;

namespace Bnn.Onnx.Tests;

public class TorchLoadTests
{
    [Fact]
    public void TorchSharp_native_library_loads_and_computes()
    {
        using var x = torch.tensor(new double[] { 1, 2, 3 });
        Assert.Equal(6.0, x.sum().item<double>());
    }
}
