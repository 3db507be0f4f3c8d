using System.Globalization;
using Heaven.Execution;

namespace Heaven.Providers;

/// <summary>
/// The environment a deploy tool runs with: Heaven's allow-list (PATH, HOME, locale, proxies; never
/// Heaven's own secrets), the deployment's ssh variables (<see cref="DeployContext.ExtraEnvironment"/>),
/// then the deploy variables, which nothing overrides. The original Heaven's names come first.
/// </summary>
internal static class DeployEnvironment
{
    public static Dictionary<string, string> For(DeployContext context)
    {
        var d = context.Deployment;
        var environment = ChildEnvironment.FromCurrentProcess();
        foreach (var (name, value) in context.ExtraEnvironment)
        {
            environment[name] = value;
        }

        // The original Heaven's variables, with its semantics (SHA is the short sha).
        environment["BRANCH"] = d.Ref;
        environment["SHA"] = d.Sha.Length > 8 ? d.Sha[..8] : d.Sha;
        environment["DEPLOY_ENV"] = d.Environment;
        environment["DEPLOY_TASK"] = d.Task;
        // Heaven's own, for scripts that need more.
        environment["HEAVEN_DEPLOYMENT_ID"] = d.Id.ToString(CultureInfo.InvariantCulture);
        environment["HEAVEN_GITHUB_DEPLOYMENT_ID"] = d.GitHubDeploymentId.ToString(CultureInfo.InvariantCulture);
        environment["HEAVEN_SHA"] = d.Sha;
        environment["HEAVEN_REF"] = d.Ref;
        environment["HEAVEN_REPOSITORY"] = d.Repository;
        environment["HEAVEN_ENVIRONMENT"] = d.Environment;
        environment["HEAVEN_TASK"] = d.Task;
        environment["HEAVEN_APP"] = d.App;
        environment["HEAVEN_DEPLOYER"] = d.CreatorLogin ?? "";
        environment["HEAVEN_LOG_URL"] = context.LogUrl ?? "";
        environment["HEAVEN_PAYLOAD"] = d.PayloadJson;
        return environment;
    }
}
