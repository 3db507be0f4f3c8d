using Heaven.Configuration;
using Heaven.Repositories;

namespace Heaven.Deployments;

/// <summary>How deployments run. Section <c>Deployments</c>.</summary>
public sealed class DeploymentOptions : ISelfValidatingOptions
{
    public const string Section = "Deployments";

    /// <summary>Seconds a deploy may run before it is stopped (the original's DEPLOYMENT_TIMEOUT).</summary>
    public int Timeout { get; set; } = 300;

    /// <summary>hubot-deploy's command prefix: tasks <c>&lt;prefix&gt;:lock</c> and <c>&lt;prefix&gt;:unlock</c>.</summary>
    public string TaskPrefix { get; set; } = "deploy";

    /// <summary>
    /// How many deployments (to different environments) one node runs at once. 0 makes a node that only
    /// takes webhooks and leaves running deploys to the other nodes sharing its database.
    /// </summary>
    public int MaxParallel { get; set; } = 16;

    /// <summary>
    /// How many deployments of one repository one node runs at once, so a repository that queues many
    /// deploys cannot take every slot. A deployment beyond it stays queued and starts when one of its
    /// repository's deploys on this node ends. At or above <see cref="MaxParallel"/> it never holds
    /// anything back (MaxParallel is reached first); 0 is refused, since it would run nothing.
    /// </summary>
    public int MaxParallelPerRepository { get; set; } = 4;

    /// <summary>
    /// How long a worker's claim lasts without renewal. A worker renews it while the deploy runs; when
    /// a node dies, its deployments are reported lost this long after its last renewal.
    /// </summary>
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>
    /// How often the dispatcher looks at the queue when nothing woke it: the safety net under the
    /// wake-ups nodes announce to each other. Not a setting (tests stretch it to prove the wake-ups).
    /// </summary>
    internal TimeSpan DispatchPollInterval { get; set; } = TimeSpan.FromSeconds(2);

    /// <summary>How often a running deploy's worker reads its cancel flag when no announcement came. Not a setting.</summary>
    internal TimeSpan CancelPollInterval { get; set; } = TimeSpan.FromSeconds(1);

    /// <summary>
    /// What a deployment to an environment that is already deploying does: <c>reject</c> (the
    /// original's "Already deploying."), <c>queue</c> or <c>supersede</c>. Repositories and their
    /// environments may set their own (<c>Repositories:&lt;repo&gt;[:Environments:&lt;env&gt;]:Concurrency</c>).
    /// </summary>
    public ConcurrencyPolicy Concurrency { get; set; } = ConcurrencyPolicy.Reject;

    /// <summary>Under <c>queue</c>: how many deployments may wait for one environment; more are rejected.</summary>
    public int MaxQueueLength { get; set; } = 20;

    /// <summary>
    /// On SIGTERM or Ctrl+C: how many seconds running deploys get to finish before they are cancelled
    /// ("Cancelled: Heaven was shut down"). A service manager's stop timeout must be longer (docs/operations.md).
    /// </summary>
    public int DrainTimeout { get; set; } = 600;

    /// <summary>Post <c>pending</c> instead of <c>in_progress</c> when a deploy starts (older GitHub Enterprise).</summary>
    public bool UsePendingState { get; set; }

    public IEnumerable<string> Validate()
    {
        if (Timeout is < 1 or > 86_400)
        {
            yield return $"{Setting.Name("Deployments:Timeout")} must be a whole number of seconds from 1 to 86400; got {Timeout}.";
        }

        if (MaxParallel is < 0 or > 1000)
        {
            yield return $"Deployments:MaxParallel must be a whole number from 0 (this node runs no deploys) to 1000; got {MaxParallel}.";
        }

        if (MaxParallelPerRepository is < 1 or > 1000)
        {
            yield return $"Deployments:MaxParallelPerRepository must be a whole number from 1 to 1000 (a value at or above Deployments:MaxParallel sets no limit of its own); got {MaxParallelPerRepository}.";
        }

        if (MaxQueueLength is < 1 or > 10_000)
        {
            yield return $"Deployments:MaxQueueLength must be a whole number from 1 to 10000; got {MaxQueueLength}.";
        }

        if (!Enum.IsDefined(Concurrency))
        {
            yield return $"Deployments:Concurrency must be reject, queue or supersede; got {Concurrency}.";
        }

        if (LeaseSeconds is < 5 or > 3600)
        {
            yield return $"Deployments:LeaseSeconds must be a whole number of seconds from 5 to 3600; got {LeaseSeconds}.";
        }

        if (DrainTimeout is < 0 or > 86_400)
        {
            yield return $"Deployments:DrainTimeout must be a whole number of seconds from 0 (cancel running deploys at once) to 86400; got {DrainTimeout}.";
        }

        if (string.IsNullOrWhiteSpace(TaskPrefix) || !TaskPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            yield return $"{Setting.Name("Deployments:TaskPrefix")} must be a word of letters, digits, '-' or '_' (hubot-deploy's default is 'deploy'); got '{TaskPrefix}'.";
        }
    }
}
