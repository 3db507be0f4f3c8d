using Heaven.GitHub;
using Heaven.Storage;

namespace Heaven.Deployments;

/// <summary>
/// Where the deploy engine leaves the statuses GitHub must hear. A status is added to the same
/// database transaction as the state change it reports, so neither happens without the other.
/// </summary>
public interface IDeploymentStatusOutbox
{
    /// <summary>Adds the status to <paramref name="db"/> without saving; the caller's commit makes it durable.</summary>
    void Add(HeavenDbContext db, DeploymentRecord deployment, DeploymentStatusRequest status);

    /// <summary>Tells the sender there is something to post (after the commit).</summary>
    void Wake();
}
