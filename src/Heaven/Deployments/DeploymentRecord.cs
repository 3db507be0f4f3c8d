namespace Heaven.Deployments;

/// <summary>A GitHub deployment Heaven has been asked to run, with everything the later steps need.</summary>
public sealed class DeploymentRecord
{
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
    public required string PayloadJson { get; set; }

    public string? Description { get; set; }

    public string? CreatorLogin { get; set; }

    /// <summary>The delivery that brought it; redeliveries point at the same row.</summary>
    public required string DeliveryId { get; set; }

    public DateTime ReceivedAt { get; set; }

    public DeploymentState State { get; set; } = DeploymentState.Queued;

    public DateTime StateChangedAt { get; set; }
}
