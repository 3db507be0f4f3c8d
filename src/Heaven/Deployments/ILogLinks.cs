namespace Heaven.Deployments;

/// <summary>Makes log links for statuses: Heaven's own signed log page when Heaven:PublicUrl is set.</summary>
internal interface ILogLinks
{
    /// <summary>Null when Heaven has no public address (the gist is the log link then).</summary>
    Task<string?> LogUrlAsync(long deploymentId, CancellationToken cancellationToken);
}
