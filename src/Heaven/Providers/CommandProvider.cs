using Heaven.Execution;
using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>
/// <c>command</c>: runs the command the server configured for the repository
/// (<c>Repositories:&lt;owner/name&gt;:Command</c>, or <c>...:Environments:&lt;env&gt;:Command</c> for one
/// environment) in the checkout — kubectl, helm, docker, a team's own tool. The payload chooses
/// nothing but the values of the placeholders, which are checked like Fabric's.
/// </summary>
internal sealed class CommandProvider(IProcessRunner runner, IOptions<RepositoryOptions> repositories) : IDeployProvider
{
    public string Name => "command";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var deployment = context.Deployment;
        var (template, key) = repositories.Value.For(deployment.Repository)?.CommandFor(deployment.Environment) ?? (null, null);
        if (string.IsNullOrWhiteSpace(template))
        {
            return ProviderOutcome.Error($"no command is configured for {deployment.Repository}; set {RepositoryOptions.Section}:{deployment.Repository}:Command on the Heaven server");
        }

        IReadOnlyList<string> command;
        try
        {
            command = ArgumentTemplate.Parse(template).Expand(ArgumentTemplate.ValuesOf(deployment, deployment.Task));
        }
        catch (ArgumentTemplateException e)
        {
            return ProviderOutcome.Error($"{e.Message} ({key})");
        }

        return await CommandRunner.RunAsync(runner, context, command, Path.GetFileName(command[0]), cancellationToken);
    }
}
