namespace Heaven.Model;

/// <summary>A GitHub deployment Heaven has been asked to run, with everything the later steps need.</summary>
public sealed class DeploymentRecord
{
    private string payloadJson = "{}";
    private DeploymentPayload? payload;

    public long Id { get; set; }

    public long GitHubDeploymentId { get; set; }

    /// <summary><c>owner/name</c>, as GitHub spells it.</summary>
    public required string Repository { get; set; }

    /// <summary>From the signed payload's <c>repository.clone_url</c> (GitHub Enterprise works the same).</summary>
    public required string CloneUrl { get; set; }

    public required string Ref { get; set; }

    public required string Sha { get; set; }

    public required string Task { get; set; }

    public required string Environment { get; set; }

    /// <summary>The deployment's <c>payload</c> as JSON, nested objects intact (<c>config</c>, <c>notify</c>, ...).</summary>
    public required string PayloadJson
    {
        get => payloadJson;
        set => (payloadJson, payload) = (value, null);
    }

    /// <summary>The payload, read (once) into the fields Heaven uses.</summary>
    public DeploymentPayload Payload => payload ??= DeploymentPayload.Parse(payloadJson);

    public string? Description { get; set; }

    public string? CreatorLogin { get; set; }

    /// <summary>
    /// Who asked, as the pages show it (<see cref="DeploymentPayload.Deployer"/>), kept beside the
    /// payload so lists need not read it; null on rows recorded before it was kept (read from the
    /// payload then) and when nobody is named.
    /// </summary>
    public string? Deployer { get; set; }

    /// <summary>The delivery that brought it; redeliveries point at the same row.</summary>
    public required string DeliveryId { get; set; }

    public DateTime ReceivedAt { get; set; }

    /// <summary>
    /// The app being deployed: <c>payload.name</c> when present (the original's lock key), else the
    /// repository's name. At most one deployment runs per (repository, app, environment).
    /// </summary>
    public required string App { get; set; }

    /// <summary>(repository, app, environment) in one lower-case string; unique among Running rows.</summary>
    public required string ExclusivityKey { get; set; }

    public DeploymentState State { get; set; } = DeploymentState.Queued;

    public DateTime StateChangedAt { get; set; }

    /// <summary>The node holding the lease while Running.</summary>
    public string? LeaseOwner { get; set; }

    /// <summary>Fencing token: bumped by every claim and by the reaper; writes after the claim must carry it.</summary>
    public long LeaseGeneration { get; set; }

    public DateTime? LeaseExpiresAt { get; set; }

    /// <summary>Who asked to cancel; the worker notices within two seconds wherever it runs.</summary>
    public string? CancelRequestedBy { get; set; }

    public DateTime? CancelRequestedAt { get; set; }

    /// <summary>
    /// When it started waiting for its environment (a <c>queued</c> status was posted), under the
    /// queue and supersede policies; null while it has not waited. A waiting deployment is claimed
    /// only once its environment is free.
    /// </summary>
    public DateTime? WaitingSince { get; set; }

    public DateTime? StartedAt { get; set; }

    public DateTime? FinishedAt { get; set; }

    /// <summary>The provider that ran (or was asked for).</summary>
    public string? Provider { get; set; }

    /// <summary>What happened, in the words of the last status posted.</summary>
    public string? StatusDescription { get; set; }

    public string? GistId { get; set; }

    public string? GistUrl { get; set; }

    /// <summary>
    /// The W3C <c>traceparent</c> of the span that took the deployment in: the worker, on whichever
    /// node, continues the same trace from it. Null when nobody traced the intake.
    /// </summary>
    public string? TraceParent { get; set; }
}
