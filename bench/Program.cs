namespace Finetune.Bench;

public static class Program
{
    public static int Main(string[] args)
    {
        Console.WriteLine("usage: dotnet run -c Release --project bench -- gemm");
        return 2;
    }
}
