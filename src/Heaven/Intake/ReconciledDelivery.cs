using System.Globalization;

namespace Heaven.Intake;

/// <summary>
/// How events that reconciliation found on GitHub, and no webhook brought, appear in the delivery log.
/// Their delivery ids are made from GitHub's own ids, so the same event found twice (by two nodes, or
/// by two passes) is one delivery, and a webhook arriving later is recognised as a duplicate.
/// </summary>
public static class ReconciledDelivery
{
    /// <summary>What every reconciled decision's message starts with.</summary>
    public const string Prefix = "reconciled (no webhook arrived): ";

    /// <summary>The delivery id of a deployment reconciliation took in.</summary>
    public static string ForDeployment(long gitHubDeploymentId) =>
        "reconciled-deployment-" + gitHubDeploymentId.ToString(CultureInfo.InvariantCulture);

    /// <summary>The delivery id of a deployment status reconciliation took in for notifications.</summary>
    public static string ForStatus(long gitHubStatusId) =>
        "reconciled-status-" + gitHubStatusId.ToString(CultureInfo.InvariantCulture);
}
