namespace Heaven.AutoDeploy;

/// <summary>
/// What one auto-deploy evaluation decided for one environment, and why: the answer to "why did (or
/// didn't) this commit deploy itself?", kept for <c>heaven autodeploy-log</c>.
/// </summary>
public sealed class AutoDeployDecision
{
    public long Id { get; set; }

    /// <summary><c>owner/name</c> as the event spelled it.</summary>
    public required string Repository { get; set; }

    public required string Sha { get; set; }

    public required string Environment { get; set; }

    public AutoDeployOutcome Outcome { get; set; }

    /// <summary>Why, in words: "production is locked by alice", "context ci/test is pending".</summary>
    public required string Reason { get; set; }

    /// <summary>The event that asked: "status ci/test success", "check_suite completed".</summary>
    public required string Trigger { get; set; }

    public string? DeliveryId { get; set; }

    /// <summary>The deployment Heaven created on GitHub, when it did.</summary>
    public long? GitHubDeploymentId { get; set; }

    public DateTime DecidedAt { get; set; }

    /// <summary>
    /// (repository, environment, sha) in lower case. Unique among Deploying and Deployed rows, so two
    /// evaluations of one commit (two contexts turning green together, two nodes) create one deployment.
    /// </summary>
    public required string DeployKey { get; set; }

    public static string KeyOf(string repository, string environment, string sha) => $"{repository}|{environment}|{sha}".ToLowerInvariant();

    public string ShortSha => Heaven.Model.CommitSha.Abbreviated(Sha);

    /// <summary>"skipped: production is locked by alice".</summary>
    public string Summary => $"{OutcomeWord(Outcome)}: {Reason}";

    public static string OutcomeWord(AutoDeployOutcome outcome) => outcome switch
    {
        AutoDeployOutcome.Deployed => "deployed",
        AutoDeployOutcome.Deploying => "deploying",
        AutoDeployOutcome.Failed => "failed",
        _ => "skipped",
    };
}

public enum AutoDeployOutcome
{
    /// <summary>A condition did not hold; nothing was asked of GitHub.</summary>
    Skipped,

    /// <summary>Claimed: the deployment is being created (a crash here is cleaned up by the next evaluation).</summary>
    Deploying,

    /// <summary>GitHub created the deployment; its webhook brings it back like any other.</summary>
    Deployed,

    /// <summary>GitHub refused to create it, or the evaluation could not be finished.</summary>
    Failed,
}
