namespace Finetune.Nn.Text;

public enum TruncationMode
{
    /// <summary>Keep the first tokens.</summary>
    Head,

    /// <summary>Keep the first quarter of the budget from the start and the rest from the end.</summary>
    HeadAndTail,
}
