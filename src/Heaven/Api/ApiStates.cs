using Heaven.Model;

namespace Heaven.Api;

/// <summary>A deployment's state as the API names it: GitHub's words where GitHub has one.</summary>
internal static class ApiStates
{
    public static string Name(DeploymentState state) => state switch
    {
        DeploymentState.Queued => "queued",
        DeploymentState.Running => "in_progress",
        DeploymentState.Succeeded => "success",
        DeploymentState.Failed => "failure",
        DeploymentState.Errored => "error",
        DeploymentState.Cancelled => "cancelled",
        DeploymentState.Rejected => "rejected",
        DeploymentState.Ignored => "ignored",
        _ => state.ToString().ToLowerInvariant(),
    };
}
