namespace Finetune.Peft;

/// <summary>A layer an adapter injected that can fold its update into the base weight and take it out again.</summary>
public interface IMergeableLayer
{
    bool Merged { get; }

    void Merge();

    void Unmerge();
}
