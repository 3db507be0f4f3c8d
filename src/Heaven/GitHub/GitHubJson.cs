using System.Globalization;
using System.Text.Json.Nodes;

namespace Heaven.GitHub;

/// <summary>
/// Reading fields of GitHub's JSON (webhook payloads and API answers) defensively: a field that is
/// missing, null, of another type or empty reads as null, so callers say what stands in for it.
/// </summary>
internal static class GitHubJson
{
    public static string? Text(JsonNode? node) =>
        node is JsonValue value && value.TryGetValue<string>(out var text) && !string.IsNullOrEmpty(text) ? text : null;

    /// <summary>GitHub's timestamps (<c>2014-05-20T08:09:49Z</c>); a zone-less one counts as UTC.</summary>
    public static DateTimeOffset? Time(JsonNode? node) =>
        Text(node) is { } text && DateTimeOffset.TryParse(text, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out var at) ? at : null;
}
