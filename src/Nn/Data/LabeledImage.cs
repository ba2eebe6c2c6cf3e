
namespace Finetune.Nn.Data;

/// <summary>One 28×28 grey image (bytes 0–255, row-major) and its class 0–9.</summary>
public sealed record LabeledImage(byte[] Pixels, int Label);
