using System.Collections.Frozen;
using System.Security.Cryptography;

namespace Heaven.Web;

/// <summary>
/// The stylesheet, script and icon of Heaven's pages, built into the executable (no CDN, no build step)
/// and served under <c>/static/</c> to anyone, signed in or not. Pages link the versioned name
/// (<c>/static/heaven.3f9c0a12d4e6.css</c>, a hash of the content), which browsers may keep for a year:
/// a new Heaven has new names. The plain name (<c>/static/heaven.css</c>) is revalidated on every use.
/// </summary>
public sealed class StaticAssets
{
    public const string PathPrefix = "/static/";

    private const string ResourcePrefix = "Heaven.Web.Static.";

    private static readonly FrozenDictionary<string, string> ContentTypes = new Dictionary<string, string>
    {
        [".css"] = "text/css; charset=utf-8",
        [".js"] = "text/javascript; charset=utf-8",
        [".svg"] = "image/svg+xml",
    }.ToFrozenDictionary();

    private readonly FrozenDictionary<string, Asset> byName;
    private readonly FrozenDictionary<string, Asset> byVersionedName;

    private StaticAssets(IReadOnlyList<Asset> assets)
    {
        byName = assets.ToFrozenDictionary(asset => asset.Name, StringComparer.Ordinal);
        byVersionedName = assets.ToFrozenDictionary(asset => asset.VersionedName, StringComparer.Ordinal);
    }

    /// <summary>The assets built into this executable.</summary>
    public static StaticAssets Embedded { get; } = Load();

    public IEnumerable<string> Names => byName.Keys;

    /// <summary>The address a page links: <c>/static/heaven.&lt;hash&gt;.css</c> for <c>heaven.css</c>.</summary>
    public string Url(string name) =>
        byName.TryGetValue(name, out var asset) ? PathPrefix + asset.VersionedName : throw new ArgumentException($"No static asset is named {name}.", nameof(name));

    public static void Map(IEndpointRouteBuilder endpoints) =>
        endpoints.MapMethods(PathPrefix + "{file}", [HttpMethods.Get, HttpMethods.Head], (string file, HttpContext context) => Embedded.Serve(file, context));

    private IResult Serve(string file, HttpContext context)
    {
        var headers = context.Response.Headers;
        headers.XContentTypeOptions = "nosniff";
        if (byVersionedName.TryGetValue(file, out var versioned))
        {
            headers.CacheControl = "public, max-age=31536000, immutable";
            return Results.Bytes(versioned.Content, versioned.ContentType, entityTag: versioned.EntityTag);
        }

        if (byName.TryGetValue(file, out var plain))
        {
            headers.CacheControl = "no-cache";
            return Results.Bytes(plain.Content, plain.ContentType, entityTag: plain.EntityTag);
        }

        return Results.NotFound();
    }

    private static StaticAssets Load()
    {
        var assembly = typeof(StaticAssets).Assembly;
        var assets = new List<Asset>();
        foreach (var resource in assembly.GetManifestResourceNames().Where(name => name.StartsWith(ResourcePrefix, StringComparison.Ordinal)))
        {
            using var stream = assembly.GetManifestResourceStream(resource)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            var content = copy.ToArray();
            var name = resource[ResourcePrefix.Length..];
            var extension = Path.GetExtension(name);
            var hash = Convert.ToHexStringLower(SHA256.HashData(content))[..12];
            assets.Add(new Asset(
                name,
                $"{Path.GetFileNameWithoutExtension(name)}.{hash}{extension}",
                ContentTypes.GetValueOrDefault(extension, "application/octet-stream"),
                content,
                new Microsoft.Net.Http.Headers.EntityTagHeaderValue($"\"{hash}\"")));
        }

        return new StaticAssets(assets);
    }

    private sealed record Asset(string Name, string VersionedName, string ContentType, byte[] Content, Microsoft.Net.Http.Headers.EntityTagHeaderValue EntityTag);
}
