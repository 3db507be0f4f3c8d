using Heaven.Configuration;
using Heaven.WorkItems;

namespace Heaven.AutoDeploy;

/// <summary>
/// How auto-deploy works through recorded events (section <c>AutoDeploy</c>). Which repositories
/// auto-deploy, and where, is per repository: <c>Repositories:&lt;owner/name&gt;:AutoDeploy</c>.
/// </summary>
public sealed class AutoDeployOptions : ISelfValidatingOptions
{
    public const string Section = "AutoDeploy";

    /// <summary>
    /// Retry timings for an evaluation GitHub could not answer (<c>AutoDeploy:Delivery</c>). Given up
    /// after an hour: a commit that waited longer is no longer news, and the next green commit comes.
    /// The lease covers a whole evaluation (several GitHub requests).
    /// </summary>
    public StatusDeliveryOptions Delivery { get; set; } = new() { GiveUpAfter = TimeSpan.FromHours(1), Lease = TimeSpan.FromMinutes(10) };

    public IEnumerable<string> Validate()
    {
        foreach (var problem in Delivery.Validate())
        {
            yield return problem.Replace(StatusDeliveryOptions.Section, $"{Section}:Delivery", StringComparison.Ordinal);
        }
    }
}
