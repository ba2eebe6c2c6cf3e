using Finetune.Nn;
using Finetune.Nn.Data;

namespace Finetune.Cli.Commands;

/// <summary>The Fashion-MNIST halves that pretrain-vit and compare share.</summary>
internal static class FashionMnistRun
{
    /// <summary>Training and test images of <paramref name="classes"/>, relabelled 0…4, each cut to its first N.</summary>
    public static (List<LabeledImage> Train, List<LabeledImage> Test) Load(IReadOnlyList<int> classes, int trainExamples, int testExamples)
    {
        var (train, test) = ImdbRun.Status($"Loading Fashion-MNIST ({FashionMnist.DebianPackage})", () =>
            (FashionMnist.Subset(FashionMnist.Load("train"), classes), FashionMnist.Subset(FashionMnist.Load("t10k"), classes)));
        if (trainExamples < 1)
            throw new ArgumentOutOfRangeException("--train-examples", trainExamples, "--train-examples must be at least 1");
        if (testExamples < 1) throw new ArgumentOutOfRangeException("--test-examples", testExamples, "--test-examples must be at least 1");
        return (train.Take(trainExamples).ToList(), test.Take(testExamples).ToList());
    }

    public static string ClassList(IReadOnlyList<int> classes) => string.Join(", ", classes.Select(c => FashionMnist.ClassNames[c]));
}
