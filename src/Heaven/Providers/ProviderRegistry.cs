using System.Text.Json;
using System.Text.Json.Nodes;
using Heaven.Deployments;

namespace Heaven.Providers;

/// <summary>
/// The providers Heaven has, by name. A deployment asking for another provider (or none) is left
/// alone without a status: another deployment system may own it (the original Heaven's rule).
/// <see cref="DeploymentAdmission"/> adds the repositories' policy on top.
/// </summary>
public sealed class ProviderRegistry(IEnumerable<IDeployProvider> providers)
{
    private readonly Dictionary<string, IDeployProvider> byName = providers.ToDictionary(p => p.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => byName.Keys;

    public IDeployProvider? Find(string? name) => name is not null && byName.TryGetValue(name, out var provider) ? provider : null;

    /// <summary>Also records on the deployment which provider it asked for.</summary>
    public string? ReasonToIgnore(DeploymentRecord deployment)
    {
        var name = ProviderOf(deployment.PayloadJson);
        deployment.Provider = name;
        return name switch
        {
            null => "the deployment names no payload.config.provider; left to another deployment system",
            _ when Find(name) is null => $"provider '{name}' is not one of Heaven's; left to another deployment system",
            _ => null,
        };
    }

    /// <summary>The payload parsed as an object; anything else counts as an empty payload.</summary>
    public static JsonObject PayloadOf(string payloadJson)
    {
        try
        {
            return JsonNode.Parse(payloadJson) as JsonObject ?? [];
        }
        catch (JsonException)
        {
            return [];
        }
    }

    public static string? ProviderOf(string payloadJson) =>
        PayloadOf(payloadJson)["config"] is JsonObject config && config["provider"] is JsonValue value && value.TryGetValue<string>(out var name)
            ? name
            : null;
}
