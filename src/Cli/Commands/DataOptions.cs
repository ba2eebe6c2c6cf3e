using System.CommandLine;
using Finetune.Nn.Data;

namespace Finetune.Cli.Commands;

/// <summary>train's options for a user's dataset: the files, the columns, the split and what to do with bad rows.</summary>
internal sealed class DataOptions
{
    public readonly Option<string?> Data = new("--data")
    {
        Description = "your training data: a .csv, .tsv, .jsonl or .parquet file of texts (MiniLM), "
            + "or a folder with one folder of images per class (the ViT)",
    };
    public readonly Option<string?> Validation = new("--validation-data")
    {
        Description = "validation file or folder (default: --validation-split of --data)",
    };
    public readonly Option<string?> Test = new("--test-data")
    {
        Description = "test file or folder scored at the end (default: --test-split of --data)",
    };
    public readonly Option<string> TextColumn = new("--text-column")
    {
        Description = "column holding the text", DefaultValueFactory = _ => "text",
    };
    public readonly Option<string?> TextPairColumn = new("--text-pair-column")
    {
        Description = "column holding the second text of a sentence pair",
    };
    public readonly Option<string> LabelColumn = new("--label-column")
    {
        Description = "column holding the label (strings or integers)", DefaultValueFactory = _ => "label",
    };
    public readonly Option<double> ValidationSplit = new("--validation-split")
    {
        Description = "fraction of --data held out for validation when no --validation-data", DefaultValueFactory = _ => 0.1,
    };
    public readonly Option<double> TestSplit = new("--test-split")
    {
        Description = "fraction of --data held out for the test when no --test-data", DefaultValueFactory = _ => 0.1,
    };
    public readonly Option<bool> SkipBadRows = new("--skip-bad-rows")
    {
        Description = "skip and count bad rows (no value, empty text, unknown label, undecodable image) instead of stopping",
    };

    public void AddTo(Command command)
    {
        foreach (var o in new Option[] { Data, Validation, Test, TextColumn, TextPairColumn, LabelColumn, ValidationSplit, TestSplit,
            SkipBadRows })
            command.Options.Add(o);
    }

    /// <summary>The dataset files, or null when --data is not given (the IMDB run).</summary>
    public DatasetFiles? Files(ParseResult r, ulong seed)
    {
        if (r.GetValue(Data) is not { } data)
        {
            foreach (var o in new Option[] { Validation, Test, TextPairColumn }.Where(o => r.GetResult(o) is { Implicit: false }))
                throw new ArgumentException($"{o.Name} needs --data");
            return null;
        }
        return new DatasetFiles
        {
            Train = data,
            Validation = r.GetValue(Validation),
            Test = r.GetValue(Test),
            ValidationSplit = r.GetValue(ValidationSplit),
            TestSplit = r.GetValue(TestSplit),
            SkipBadRows = r.GetValue(SkipBadRows),
            Seed = seed,
        };
    }

    public TextColumns Columns(ParseResult r) => new(r.GetValue(TextColumn)!, r.GetValue(TextPairColumn), r.GetValue(LabelColumn)!);
}
