namespace Heaven.Repositories;

/// <summary>
/// One repository's auto-deploy (<c>Repositories:&lt;owner/name&gt;:AutoDeploy</c>): the environments a
/// green default-branch commit goes to, and the contexts that must be green first.
/// </summary>
/// <param name="Environments">Where to deploy; never empty.</param>
/// <param name="Contexts">Commit status contexts and check run names that must be green; empty means all of them.</param>
public sealed record AutoDeploySettings(IReadOnlyList<string> Environments, IReadOnlyList<string> Contexts)
{
    /// <summary>The spelling that asks for every context reported on the commit.</summary>
    public const string AllContexts = "all";

    public bool RequiresAllContexts => Contexts.Count == 0;
}
