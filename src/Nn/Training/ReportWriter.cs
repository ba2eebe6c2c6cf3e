using Finetune.Nn.IO;

namespace Finetune.Nn.Training;

/// <summary>Writes a run's report as report.json, through a temporary file and a rename.</summary>
public static class ReportWriter
{
    public static void Write(string directory, TrainingReport report)
    {
        Directory.CreateDirectory(directory);
        AtomicFile.WriteAllText(Path.Combine(directory, "report.json"), report.ToJson());
    }
}
