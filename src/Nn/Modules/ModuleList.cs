namespace Finetune.Nn;

/// <summary>An indexed list of children named "0", "1", … (HF <c>encoder.layer.N</c>).</summary>
public sealed class ModuleList : Module
{
    private int _count;

    public int Count => _count;

    public Module this[int index]
    {
        get
        {
            if ((uint)index >= (uint)_count)
                throw new ArgumentOutOfRangeException(nameof(index), index, $"module list: index out of range for {_count} modules");
            return Child<Module>(index.ToString(System.Globalization.CultureInfo.InvariantCulture));
        }
    }

    public void Add(Module module) => RegisterModule((_count++).ToString(System.Globalization.CultureInfo.InvariantCulture), module);
}
