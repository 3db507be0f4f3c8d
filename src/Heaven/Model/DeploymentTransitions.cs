namespace Heaven.Model;

/// <summary>
/// The one place that decides which state a deployment may move to. Every change of
/// <see cref="DeploymentRecord.State"/> goes through <see cref="Move"/>.
/// </summary>
internal static class DeploymentTransitions
{
    private static readonly Dictionary<DeploymentState, DeploymentState[]> Allowed = new()
    {
        // A queued deployment is claimed, turned away (lock, concurrency, superseded), left to another
        // system, refused by its repository's settings (Errored), or cancelled before it started. A
        // lock or unlock task succeeds without ever running: it only changes the lock table.
        [DeploymentState.Queued] = [DeploymentState.Running, DeploymentState.Rejected, DeploymentState.Ignored, DeploymentState.Errored, DeploymentState.Cancelled, DeploymentState.Succeeded],
        // A running one ends exactly once. Errored also covers "worker lost" from the reaper.
        [DeploymentState.Running] = [DeploymentState.Succeeded, DeploymentState.Failed, DeploymentState.Errored, DeploymentState.Cancelled],
    };

    public static bool IsFinal(DeploymentState state) => !Allowed.ContainsKey(state);

    public static bool CanMove(DeploymentState from, DeploymentState to) =>
        Allowed.TryGetValue(from, out var targets) && targets.Contains(to);

    /// <exception cref="InvalidOperationException">the move is not one of the allowed transitions.</exception>
    public static void Move(DeploymentRecord deployment, DeploymentState to, DateTime now)
    {
        if (!CanMove(deployment.State, to))
        {
            throw new InvalidOperationException($"Deployment {deployment.Id} cannot go from {deployment.State} to {to}.");
        }

        deployment.State = to;
        deployment.StateChangedAt = now;
        if (to == DeploymentState.Running)
        {
            deployment.StartedAt = now;
        }

        if (IsFinal(to))
        {
            deployment.FinishedAt = now;
        }
    }
}
