using Finetune.Kernels.Cuda;
using Finetune.Nn;
using Finetune.Nn.Optim;
using Finetune.Nn.Training;
using Finetune.App;
using Finetune.Peft;

namespace Finetune.Tests.Cuda;

/// <summary>
/// The caching allocator under training: its statistics stay flat over 500 steps, and running out of memory in the
/// middle of a step raises CudaOutOfMemoryException naming the request and the cache, after which emptying the cache
/// lets a smaller step run with nothing leaked.
/// </summary>
public class DeviceMemoryTests : CudaFixture
{
    public DeviceMemoryTests(string kind) : base(kind) { }

    private static readonly BertConfig Tiny = SmallModels.Bert with { HiddenSize = 16, NumLayers = 1, IntermediateSize = 32, NumHeads = 2 };

    /// <summary>One optimizer step as Engine.Train takes it (scope, loss read, clipping, AdamW); returns the loss.</summary>
    private static float Step(IClassifier classifier, Batch batch, Optimizer optimizer)
    {
        using var scope = TensorScope.Begin();
        var loss = classifier.Logits(batch).CrossEntropy(batch.Labels);
        float value = loss.Item();
        loss.Backward();
        GradientClipping.ClipGlobalNorm(optimizer.Parameters, 1f);
        optimizer.Step();
        optimizer.ZeroGrad();
        return value;
    }

    private static PreparedClassifier Prepare(Device device, bool unfused = false) =>
        FineTuning.Prepare(new BertModel(Tiny, new Generator(3)),
            new FineTuneOptions { Method = "lora", Labels = SmallModels.Labels, Device = device, Unfused = unfused });

    private static List<NamedParameter> Trainable(Module model) =>
        model.NamedParameters().Where(p => p.Value.Trainable).Select(p => new NamedParameter(p.Key, p.Value.Value)).ToList();

    /// <summary>Fixed-shape batches (every sentence cut to <paramref name="length"/> tokens), so every step asks for the same sizes.</summary>
    private static List<SmallModels.Tokens> Fixed(int count, int length, ulong seed) =>
        SmallModels.Sentences(count, seed).Select(t => t with { Ids = Enumerable.Range(0, length).Select(i => t.Ids[i % t.Ids.Length]).ToArray() }).ToList();

    [Test]
    public void Allocator_statistics_stay_flat_over_500_training_steps()
    {
        const int Steps = 500, WarmUp = 10;
        using var prepared = Prepare(Cuda.Device);
        using var optimizer = new AdamW(Trainable(prepared.Model), 1e-3f);
        var sentences = Fixed(32, 8, 21);
        var stats = new List<(long Allocated, long Reserved, long DeviceAllocations)>();
        var losses = new List<float>();
        for (int step = 0; step < Steps; step++)
        {
            using (TensorScope.Begin())
            {
                var batch = SmallModels.Collate(sentences.Skip(step % 8 * 4).Take(4).ToList(), Cuda.Device);
                losses.Add(Step(prepared.Classifier, batch, optimizer));
            }
            stats.Add((Cuda.Allocator.AllocatedBytes, Cuda.Allocator.ReservedBytes, Cuda.Allocator.DeviceAllocations));
        }
        var settled = stats[WarmUp - 1];
        TestContext.Out.WriteLine($"after {WarmUp} steps: allocated {settled.Allocated}, reserved {settled.Reserved}, device allocations {settled.DeviceAllocations}; " +
                                  $"after {Steps}: {stats[^1]}");
        for (int i = WarmUp; i < Steps; i++)
        {
            Assert.That(stats[i].Allocated, Is.EqualTo(settled.Allocated), $"allocated bytes after step {i + 1}");
            Assert.That(stats[i].Reserved, Is.LessThanOrEqualTo(settled.Reserved), $"reserved bytes after step {i + 1}");
            Assert.That(stats[i].DeviceAllocations, Is.EqualTo(settled.DeviceAllocations), $"device allocations after step {i + 1}");
        }
        Assert.That(losses.TakeLast(20).Average(), Is.LessThan(losses.Take(20).Average()), "it trains");
    }

    [Test]
    public void Out_of_memory_mid_step_names_the_request_and_the_cache_and_a_smaller_step_then_runs()
    {
        if (!OnHost) Assert.Ignore("needs a device with a small memory cap: the host device");
        var device = Device.Cuda(1);
        using var small = CudaBackend.CreateHost(device, 4L << 20);
        Backends.Register(small);
        // Composed LoRA: its many step temporaries leave blocks in the cache that the large step cannot reuse, so the
        // out-of-memory path has a cache to give back (the fused kernels need too few temporaries to show it).
        using var prepared = Prepare(device, unfused: true);
        using var optimizer = new AdamW(Trainable(prepared.Model), 1e-3f);
        // A small step first, so the cache holds blocks when the large one runs out.
        using (TensorScope.Begin()) Step(prepared.Classifier, SmallModels.Collate(Fixed(2, 8, 1), device), optimizer);
        long baseline = small.Allocator.AllocatedBytes;
        Assert.That(small.Allocator.CachedBytes, Is.Positive);

        var e = Assert.Throws<CudaOutOfMemoryException>(() =>
        {
            using var scope = TensorScope.Begin();
            Step(prepared.Classifier, SmallModels.Collate(Fixed(64, 48, 2), device), optimizer);
        })!;
        TestContext.Out.WriteLine(e.Message);
        Assert.That(e.RequestedBytes, Is.Positive);
        Assert.That(e.CacheReleasedBytes, Is.Positive, "the cache was given back before the retry");
        Assert.That(e.Message, Does.Contain("cannot allocate").And.Contain("cache of").And.Contain("in use by tensors"));
        prepared.Model.ZeroGrad();
        Assert.That(small.Allocator.AllocatedBytes, Is.EqualTo(baseline), "the failed step's temporaries and gradients were all freed");

        small.EmptyCache();
        Assert.That(small.Allocator.ReservedBytes, Is.EqualTo(baseline));
        float loss;
        using (TensorScope.Begin()) loss = Step(prepared.Classifier, SmallModels.Collate(Fixed(2, 8, 3), device), optimizer);
        Assert.That(float.IsFinite(loss));
        Assert.That(small.Allocator.AllocatedBytes, Is.EqualTo(baseline), "no block leaked");
    }
}
