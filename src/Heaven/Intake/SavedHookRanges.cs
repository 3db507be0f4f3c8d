using System.Text.Json;
using System.Text.Json.Serialization;
using Heaven.Configuration;

namespace Heaven.Intake;

/// <summary>
/// The last-known-good copy of GitHub's <c>hooks</c> ranges, kept in the data directory so a restart
/// while GitHub's <c>/meta</c> cannot be read does not turn every webhook away.
/// </summary>
internal sealed class SavedHookRanges(DataDirectory dataDirectory)
{
    public const string FileName = "github-meta.json";

    public string FilePath => dataDirectory.PathOf(FileName);

    /// <summary>
    /// The saved ranges, or null when there are none or they were read from another GitHub
    /// (<c>GitHub:ApiUrl</c> changed since): another instance's ranges would let the wrong senders in.
    /// </summary>
    public async Task<SavedMeta?> LoadAsync(Uri metaUrl, CancellationToken cancellationToken)
    {
        if (!File.Exists(FilePath))
        {
            return null;
        }

        await using var stream = new FileStream(FilePath, FileMode.Open, FileAccess.Read, FileShare.Read, 4096, useAsync: true);
        var saved = await JsonSerializer.DeserializeAsync(stream, MetaJson.Default.SavedMeta, cancellationToken);
        return saved is { Hooks.Count: > 0 } && saved.Source == metaUrl.AbsoluteUri ? saved : null;
    }

    /// <summary>Replaces the file atomically: a crash mid-write leaves the previous copy, never half a file.</summary>
    public async Task SaveAsync(SavedMeta meta, CancellationToken cancellationToken)
    {
        var temporary = dataDirectory.PathOf($".{FileName}.{Guid.NewGuid():N}.tmp");
        try
        {
            await using (var stream = new FileStream(temporary, FileMode.CreateNew, FileAccess.Write, FileShare.None, 4096, useAsync: true))
            {
                await JsonSerializer.SerializeAsync(stream, meta, MetaJson.Default.SavedMeta, cancellationToken);
                // The rename is only atomic for data that is on disk before it.
                stream.Flush(flushToDisk: true);
            }

            File.Move(temporary, FilePath, overwrite: true);
        }
        finally
        {
            if (File.Exists(temporary))
            {
                File.Delete(temporary);
            }
        }
    }
}

/// <summary>What is saved: where the ranges came from, when, and the <c>hooks</c> list as GitHub sent it.</summary>
internal sealed record SavedMeta(string Source, DateTimeOffset FetchedAt, List<string> Hooks);

/// <summary>The part of GitHub's <c>/meta</c> answer Heaven reads; the rest (git, actions, ...) is skipped.</summary>
internal sealed record MetaDocument(List<string>? Hooks);

[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(SavedMeta))]
[JsonSerializable(typeof(MetaDocument))]
internal sealed partial class MetaJson : JsonSerializerContext;
