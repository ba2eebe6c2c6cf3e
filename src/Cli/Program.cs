namespace Finetune.Cli;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("finetune: commands arrive with the Transformers issue (demo, train, eval, embed)");
        return args.Length == 0 ? 0 : 2;
    }
}
