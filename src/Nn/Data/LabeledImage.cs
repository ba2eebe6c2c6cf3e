
namespace Finetune.Nn.Data;

/// <summary>One image as bytes 0–255 in CHW order at the model's size (Fashion-MNIST: 28×28 grey) and its class id.</summary>
public sealed record LabeledImage(byte[] Pixels, int Label);
