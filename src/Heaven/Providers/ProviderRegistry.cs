namespace Heaven.Providers;

/// <summary>
/// The providers Heaven has, by name. A deployment asking for another provider (or none) is left
/// alone without a status: another deployment system may own it (the original Heaven's rule).
/// Heaven.Deployments.DeploymentAdmission adds the repositories' policy on top.
/// </summary>
public sealed class ProviderRegistry(IEnumerable<IDeployProvider> providers)
{
    private readonly Dictionary<string, IDeployProvider> byName = providers.ToDictionary(p => p.Name, StringComparer.Ordinal);

    public IReadOnlyCollection<string> Names => byName.Keys;

    public IDeployProvider? Find(string? name) => name is not null && byName.TryGetValue(name, out var provider) ? provider : null;
}
