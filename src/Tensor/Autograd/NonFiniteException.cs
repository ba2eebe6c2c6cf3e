namespace Finetune;

public sealed class NonFiniteException : ArithmeticException
{
    public NonFiniteException(string op, string phase, string message) : base(message)
    {
        Op = op;
        Phase = phase;
    }

    /// <summary>The op that first produced a non-finite value.</summary>
    public string Op { get; }

    /// <summary>"forward" or "backward".</summary>
    public string Phase { get; }
}
