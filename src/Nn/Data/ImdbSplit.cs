
namespace Finetune.Nn.Data;

public sealed record ImdbSplit(IReadOnlyList<Review> Train, IReadOnlyList<Review> Validation, IReadOnlyList<Review> Test);
