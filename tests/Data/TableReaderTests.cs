using System.Text;
using Finetune.Nn.Data;
using Parquet;
using Parquet.Schema;

namespace Finetune.Tests.Data;

public class TableReaderTests
{
    private static MemoryStream Bytes(string text) => new(Encoding.UTF8.GetBytes(text));

    private static RecordTable Csv(string text, char delimiter = ',') => CsvTable.Read(Bytes(text), "data.csv", delimiter);

    [Test]
    public void Csv_reads_quoted_fields_with_commas_quotes_and_newlines()
    {
        var t = Csv("text,label\n\"Hello, world\",pos\n\"She said \"\"no\"\"\nthen left\",neg\nplain,pos\n");
        Assert.That(t.Columns, Is.EqualTo(new[] { "text", "label" }));
        Assert.That(t.Rows.Select(r => r.Values[0]), Is.EqualTo(new[] { "Hello, world", "She said \"no\"\nthen left", "plain" }));
        Assert.That(t.Rows.Select(r => r.Number), Is.EqualTo(new[] { 1, 2, 3 }));
        Assert.That(t.Rows.All(r => r.Problem is null));
    }

    [Test]
    public void Tsv_uses_tabs_and_a_utf8_bom_is_not_part_of_the_first_column()
    {
        var t = CsvTable.Read(new MemoryStream(Encoding.UTF8.GetPreamble().Concat(Encoding.UTF8.GetBytes("sentence\tlabel\ncafé, naïve\t1\n")).ToArray()), "d.tsv", '\t');
        Assert.That(t.Columns, Is.EqualTo(new[] { "sentence", "label" }));
        Assert.That(t.Rows[0].Values, Is.EqualTo(new[] { "café, naïve", "1" }));
    }

    [Test]
    public void Csv_rows_with_too_few_or_too_many_fields_are_marked()
    {
        var t = Csv("a,b,c\n1,2,3\n4,5\n6,7,8,9\n");
        Assert.That(t.Rows[1].Values, Is.EqualTo(new string?[] { "4", "5", null }));
        Assert.That(t.Rows[1].Problem, Is.Null, "a short row only lacks values");
        Assert.That(t.Rows[2].Problem, Does.Contain("4 fields where the header has 3"));
    }

    [Test]
    public void Csv_header_problems_name_the_file()
    {
        Assert.That(Assert.Throws<DataFileException>(() => Csv(""))!.Message, Does.StartWith("data.csv: ").And.Contain("empty"));
        Assert.That(Assert.Throws<DataFileException>(() => Csv("text,text\nx,y\n"))!.Message, Does.Contain("column 'text'").And.Contain("twice"));
        Assert.That(Assert.Throws<DataFileException>(() => Csv("text,,label\n"))!.Message, Does.Contain("header field 2 is empty"));
        var invalid = new MemoryStream(new byte[] { (byte)'t', (byte)'\n', 0xC3, 0x28, (byte)'\n' });
        Assert.That(Assert.Throws<DataFileException>(() => CsvTable.Read(invalid, "x.csv"))!.Message, Does.Contain("not UTF-8"));
    }

    [Test]
    public void Jsonl_reads_keys_in_order_of_appearance_and_keeps_types_as_text()
    {
        var t = JsonlTable.Read(Bytes("{\"text\": \"a\", \"label\": 1}\n\n{\"label\": \"neg\", \"text\": \"b\", \"score\": 0.5, \"ok\": true, \"tags\": [1, 2]}\n{\"text\": null}\n"), "d.jsonl");
        Assert.That(t.Columns, Is.EqualTo(new[] { "text", "label", "score", "ok", "tags" }));
        Assert.That(t.Rows[0].Values, Is.EqualTo(new string?[] { "a", "1", null, null, null }));
        Assert.That(t.Rows[1].Values, Is.EqualTo(new string?[] { "b", "neg", "0.5", "true", "[1, 2]" }));
        Assert.That(t.Rows[2].Values[0], Is.Null);
        Assert.That(t.Rows[1].Raw, Does.Contain("\"tags\""));
    }

    [Test]
    public void Jsonl_lines_that_are_not_objects_are_marked_with_their_line()
    {
        var t = JsonlTable.Read(Bytes("{\"text\": \"a\"}\n[1, 2]\n{broken\n{\"text\": \"b\", \"text\": \"c\"}\n"), "d.jsonl");
        Assert.That(t.Rows[0].Problem, Is.Null);
        Assert.That(t.Rows[1].Problem, Does.Contain("line 2 is a JSON array"));
        Assert.That(t.Rows[2].Problem, Does.Contain("line 3 is not valid JSON"));
        Assert.That(t.Rows[3].Problem, Does.Contain("the key 'text' twice"));
    }

    [Test]
    public void Text_lines_are_one_column_tables()
    {
        var t = LineTable.Read(Bytes("first\n\nthird"), "in.txt");
        Assert.That(t.Columns, Is.EqualTo(new[] { LineTable.Column }));
        Assert.That(t.Rows.Select(r => r.Values[0]), Is.EqualTo(new[] { "first", "", "third" }));
    }

    [Test]
    public async Task Parquet_reads_strings_numbers_nulls_and_several_row_groups()
    {
        var text = new DataField<string>("text");
        var label = new DataField<long>("label");
        var score = new DataField<double?>("score");
        var tags = new DataField<byte[]>("image");
        var schema = new ParquetSchema(text, label, score, tags);
        var stream = new MemoryStream();
        await using (var writer = await ParquetWriter.CreateAsync(schema, stream))
        {
            for (int g = 0; g < 2; g++)
            {
                using var group = writer.CreateRowGroup();
                await group.WriteAsync(text, new[] { $"row {2 * g}", $"row {2 * g + 1}" });
                await group.WriteAsync<long>(label, new long[] { g, 10 + g });
                await group.WriteAsync<double>(score, new double?[] { 0.25, null });
                await group.WriteAsync(tags, new[] { new byte[] { 1 }, new byte[] { 2 } });
            }
        }
        var t = ParquetTable.Read(new MemoryStream(stream.ToArray()), "d.parquet");
        Assert.That(t.Columns, Is.EqualTo(new[] { "text", "label", "score", "image" }));
        Assert.That(t.Rows.Select(r => r.Values[0]), Is.EqualTo(new[] { "row 0", "row 1", "row 2", "row 3" }));
        Assert.That(t.Rows.Select(r => r.Values[1]), Is.EqualTo(new[] { "0", "10", "1", "11" }));
        Assert.That(t.Rows.Select(r => r.Values[2]), Is.EqualTo(new[] { "0.25", null, "0.25", null }));
        Assert.That(Assert.Throws<DataFileException>(() => t.Require("image", "--text-column"))!.Message, Does.Contain("column 'image'").And.Contain("binary"));
    }

    [Test]
    public void Damaged_parquet_files_are_one_clear_error()
    {
        var e = Assert.Throws<DataFileException>(() => ParquetTable.Read(Bytes("PAR1 this is not parquet PAR1"), "bad.parquet"))!;
        Assert.That(e.Message, Does.StartWith("bad.parquet: ").And.Contain("not a readable Parquet file"));
    }

    [Test]
    public void A_missing_column_lists_the_columns_there_are()
    {
        var e = Assert.Throws<DataFileException>(() => Csv("sentence,label\nx,1\n").Require("text", "--text-column"))!;
        Assert.That(e.Message, Is.EqualTo("data.csv: column 'text': no such column (named by --text-column); the file's columns are 'sentence', 'label'"));
    }

    [Test]
    public void Table_files_are_read_by_extension()
    {
        Assert.That(TableFile.FormatOf("a.TSV", "--data"), Is.EqualTo(TableFormat.Tsv));
        Assert.That(TableFile.FormatOf("a.ndjson", "--data"), Is.EqualTo(TableFormat.Jsonl));
        Assert.That(TableFile.FormatOf("a.txt", "--input", linesOtherwise: true), Is.EqualTo(TableFormat.Lines));
        Assert.That(Assert.Throws<ArgumentException>(() => TableFile.FormatOf("a.xlsx", "--data"))!.Message, Does.Contain("'.xlsx'").And.Contain(".parquet"));
    }
}
