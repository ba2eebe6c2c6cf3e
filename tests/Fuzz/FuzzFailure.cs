namespace Finetune.Tests.Fuzz;

/// <summary>An input that made a reader throw something other than its documented exception (or an unnamed one).</summary>
public sealed record FuzzFailure(int Index, string Exception, string Message, byte[] Input);
