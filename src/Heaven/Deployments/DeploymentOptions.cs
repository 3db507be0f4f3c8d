using Heaven.Configuration;
using Heaven.Ssh;

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
    /// The deploy key (the original's one line with literal \n separators, with or without the
    /// BEGIN/END lines; real newlines work too). Loaded into an ssh-agent of each deployment's own.
    /// Never logged.
    /// </summary>
    public string? PrivateKey { get; set; }

    /// <summary>
    /// Refuse hosts whose key is not yet in the data directory's <c>known_hosts</c>. Off by default:
    /// a new host's key is added on first contact (OpenSSH's accept-new); a changed key is always refused.
    /// </summary>
    public bool StrictHostKeyChecking { get; set; }

    /// <summary>
    /// How many deployments (to different environments) one node runs at once. 0 makes a node that only
    /// takes webhooks and leaves running deploys to the other nodes sharing its database.
    /// </summary>
    public int MaxParallel { get; set; } = 16;

    /// <summary>
    /// How long a worker's claim lasts without renewal. A worker renews it while the deploy runs; when
    /// a node dies, its deployments are reported lost this long after its last renewal.
    /// </summary>
    public int LeaseSeconds { get; set; } = 30;

    /// <summary>
    /// What a deployment to an environment that is already deploying does: <c>reject</c> (the
    /// original's "Already deploying."), <c>queue</c> or <c>supersede</c>. Repositories and their
    /// environments may set their own (<c>Repositories:&lt;repo&gt;[:Environments:&lt;env&gt;]:Concurrency</c>).
    /// </summary>
    public ConcurrencyPolicy Concurrency { get; set; } = ConcurrencyPolicy.Reject;

    /// <summary>Under <c>queue</c>: how many deployments may wait for one environment; more are rejected.</summary>
    public int MaxQueueLength { get; set; } = 20;

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

        if (!string.IsNullOrWhiteSpace(PrivateKey) && !DeployKey.TryParse(PrivateKey, out _, out var keyProblem))
        {
            // The value itself is never repeated: it is (or was meant to be) a secret.
            yield return $"{Setting.Name("Deployments:PrivateKey")} is not a usable private key: {keyProblem}. (Its value is not shown.)";
        }

        if (string.IsNullOrWhiteSpace(TaskPrefix) || !TaskPrefix.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_'))
        {
            yield return $"{Setting.Name("Deployments:TaskPrefix")} must be a word of letters, digits, '-' or '_' (hubot-deploy's default is 'deploy'); got '{TaskPrefix}'.";
        }
    }
}
