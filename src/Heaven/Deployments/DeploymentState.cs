namespace Heaven.Deployments;

/// <summary>Where a deployment is in its life. The deployments table is the queue: Queued rows wait to run.</summary>
public enum DeploymentState
{
    Queued,
    Running,
    Succeeded,
    Failed,
    Errored,
    Cancelled,

    /// <summary>Not run: the environment is locked or a deploy is already running there.</summary>
    Rejected,

    /// <summary>Not ours: the deployment asks for a provider Heaven does not handle.</summary>
    Ignored,
}
