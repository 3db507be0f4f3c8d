using System.Text.RegularExpressions;
using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>Section <c>Providers:Fabric</c>.</summary>
public sealed class FabricOptions : ISelfValidatingOptions
{
    public const string Section = "Providers:Fabric";

    /// <summary>
    /// Fabric 2 runs a task with its arguments as options after the task's name
    /// (<c>fab deploy --environment=production</c>); the fabfile's <c>deploy(c, environment, ref, sha)</c> takes them.
    /// </summary>
    public const string DefaultCommandFormat = "fab %{task} --environment=%{environment} --ref=%{ref} --sha=%{sha}";

    /// <summary>The command run in the checkout (the original's <c>DEPLOY_COMMAND_FORMAT</c>); see <see cref="ArgumentTemplate"/>.</summary>
    public string CommandFormat { get; set; } = DefaultCommandFormat;

    public IEnumerable<string> Validate()
    {
        if (ArgumentTemplate.Problem(CommandFormat) is { } problem)
        {
            yield return $"{Setting.Name("Providers:Fabric:CommandFormat")} is not a usable command: {problem}. The default is: {DefaultCommandFormat}";
        }
    }
}

/// <summary>
/// <c>fabric</c>: runs Fabric 2 (Debian's <c>fab</c>) in the checkout with the command of
/// <see cref="FabricOptions.CommandFormat"/>. The deployment's task must be <c>deploy</c> or
/// <c>deploy:&lt;name&gt;</c>, which becomes the Fabric task <c>deploy-&lt;name&gt;</c> (a function
/// <c>deploy_&lt;name&gt;</c> in the fabfile: Fabric writes underscores as dashes).
/// </summary>
public sealed partial class FabricProvider(IProcessRunner runner, IOptions<FabricOptions> options) : IDeployProvider
{
    public string Name => "fabric";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (TaskName(context.Deployment.Task) is not { } task)
        {
            return ProviderOutcome.Error($"task {RefName.Quote(context.Deployment.Task)} is not a deploy task; the fabric provider runs deploy or deploy:<name>");
        }

        IReadOnlyList<string> command;
        try
        {
            command = ArgumentTemplate.Parse(options.Value.CommandFormat).Expand(ArgumentTemplate.ValuesOf(context.Deployment, task));
        }
        catch (ArgumentTemplateException e)
        {
            return ProviderOutcome.Error($"{e.Message} ({Setting.Name("Providers:Fabric:CommandFormat")})");
        }

        return await CommandRunner.RunAsync(runner, context, command, "fab", cancellationToken);
    }

    /// <summary><c>deploy</c> → <c>deploy</c>; <c>deploy:migrations</c> → <c>deploy-migrations</c>; anything else → null.</summary>
    public static string? TaskName(string? task)
    {
        if (task == "deploy")
        {
            return task;
        }

        var match = DeployTask().Match(task ?? "");
        return match.Success ? "deploy-" + match.Groups[1].Value.Replace('_', '-') : null;
    }

    [GeneratedRegex("^deploy:([A-Za-z0-9][A-Za-z0-9_-]{0,99})$")]
    private static partial Regex DeployTask();
}

/// <summary>Runs an argument vector made from a template in the checkout, the way the template-driven providers share.</summary>
internal static class CommandRunner
{
    public static Task<ProviderOutcome> RunAsync(IProcessRunner runner, DeployContext context, IReadOnlyList<string> command, string what, CancellationToken cancellationToken) =>
        RunAsync(runner, context, command, what, DeployEnvironment.For(context), context.Timeout, cancellationToken);

    /// <summary>With an environment of the provider's own and the time left of the deployment's timeout (for a provider that runs several tools).</summary>
    public static async Task<ProviderOutcome> RunAsync(IProcessRunner runner, DeployContext context, IReadOnlyList<string> command, string what, IReadOnlyDictionary<string, string> environment, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await context.Output.WriteLineAsync(OutputStream.Heaven, $"Running {Display(command)}", cancellationToken);
        var result = await runner.RunAsync(
            new ProcessSpec(command[0], command.Skip(1).ToList(), context.WorkingDirectory, environment, timeout),
            context.Output,
            cancellationToken);
        return ProviderOutcomes.FromProcess(result, context, what);
    }

    /// <summary>The command as a person would type it: arguments with unusual characters in single quotes.</summary>
    public static string Display(IReadOnlyList<string> command) =>
        string.Join(' ', command.Select(argument =>
            argument.Length > 0 && argument.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '=' or ':' or ',' or '+' or '@' or '%')
                ? argument
                : "'" + argument.Replace("'", "'\\''", StringComparison.Ordinal) + "'"));
}
