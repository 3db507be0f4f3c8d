namespace Heaven.Model;

/// <summary>Where a deployment is in its life. The deployments table is the queue: Queued rows wait to run.</summary>
public enum DeploymentState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Errored,
    Cancelled,

    /// <summary>Not run: the environment is locked, a deploy is already running there (reject policy, full queue), or a newer deployment superseded it; also a lock task refused because someone else holds the lock.</summary>
    Rejected,

    /// <summary>Not ours: the deployment asks for a provider Heaven does not handle.</summary>
    Ignored,
}
