using System.Diagnostics;
using System.Formats.Tar;
using System.IO.Compression;
using System.Text.Json;
using System.Text.RegularExpressions;

namespace Finetune.Nn.Data;

public sealed record ImdbSplit(IReadOnlyList<Review> Train, IReadOnlyList<Review> Validation, IReadOnlyList<Review> Test);
