using Finetune.Kernels;

namespace Finetune.Nn.Data;

/// <summary>Seeded Fisher–Yates shuffles driven by Philox, so an order depends only on (seed, stream) on every machine.</summary>
public static class Permutation
{
    public static int[] Shuffled(int count, ulong seed, ulong stream = 0)
    {
        var order = new int[count];
        for (int i = 0; i < count; i++) order[i] = i;
        for (int i = count - 1; i > 0; i--)
        {
            // 64 random bits per draw keep the modulo bias below 2^-32 for any count here.
            var block = Philox.Block(seed, (stream << 40) + (ulong)i);
            ulong bits = ((ulong)block.Item1 << 32) | block.Item2;
            int j = (int)(bits % (ulong)(i + 1));
            (order[i], order[j]) = (order[j], order[i]);
        }
        return order;
    }
}
