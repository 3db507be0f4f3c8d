using System.Text.Json.Nodes;

namespace Heaven.Intake;

/// <summary>
/// The request headers kept with a delivery, so an operator sees what GitHub sent (User-Agent,
/// X-GitHub-Hook-ID, X-GitHub-Hook-Installation-Target-*, ...) and a redelivery carries them again.
/// Nothing that could let someone act as the sender is kept: the signatures (checked on arrival),
/// credentials and cookies, and any header whose name speaks of a secret or a token.
/// X-GitHub-Event and X-GitHub-Delivery are the delivery's own fields.
/// </summary>
public static class StoredHeaders
{
    /// <summary>At most this many headers are kept, each value up to <see cref="MaxValueLength"/> characters.</summary>
    public const int MaxCount = 64;

    public const int MaxValueLength = 1024;

    private static readonly HashSet<string> Dropped = new(StringComparer.OrdinalIgnoreCase)
    {
        "Authorization",
        "Proxy-Authorization",
        "Cookie",
        SignatureVerifier.HeaderName,
        "X-Hub-Signature",
        "X-GitHub-Event",
        "X-GitHub-Delivery",
    };

    /// <summary>Whether a header is kept: not a signature, credential, cookie, secret or token.</summary>
    public static bool IsKept(string name) =>
        name.Length is > 0 and <= 128
        && name[0] != ':'
        && !Dropped.Contains(name)
        && !name.Contains("secret", StringComparison.OrdinalIgnoreCase)
        && !name.Contains("token", StringComparison.OrdinalIgnoreCase);

    /// <summary>The headers of a request that are kept, in the order they came.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> From(IHeaderDictionary headers) =>
        headers.Where(h => IsKept(h.Key))
            .Take(MaxCount)
            .Select(h => KeyValuePair.Create(h.Key, Clamp(h.Value.ToString())))
            .ToList();

    /// <summary>The stored form: a JSON object of name and value; null when there are none.</summary>
    public static string? ToJson(IReadOnlyList<KeyValuePair<string, string>>? headers)
    {
        if (headers is not { Count: > 0 })
        {
            return null;
        }

        var json = new JsonObject();
        foreach (var (name, value) in headers)
        {
            json[name] = value;
        }

        return json.ToJsonString();
    }

    /// <summary>The stored headers; empty for deliveries recorded before headers were kept.</summary>
    public static IReadOnlyList<KeyValuePair<string, string>> Parse(string? json)
    {
        if (string.IsNullOrEmpty(json) || JsonNode.Parse(json) is not JsonObject stored)
        {
            return [];
        }

        return stored.Select(h => KeyValuePair.Create(h.Key, h.Value?.GetValue<string>() ?? "")).Where(h => IsKept(h.Key)).ToList();
    }

    private static string Clamp(string value) => value.Length <= MaxValueLength ? value : value[..(MaxValueLength - 1)] + "…";
}
