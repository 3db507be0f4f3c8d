using Heaven.Execution;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>
/// <c>shell</c>: runs the repository's own deploy script, <c>payload.config.deploy_script</c>, from the
/// checkout (the original Heaven's semantics). The path must stay inside the checkout, exist and be
/// executable; it is run directly (no shell line is built), with the deploy variables in its environment.
/// </summary>
internal sealed class ShellProvider(IProcessRunner runner) : IDeployProvider
{
    public string Name => "shell";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        var script = context.Config["deploy_script"]?.GetValueKind() == System.Text.Json.JsonValueKind.String
            ? context.Config["deploy_script"]!.GetValue<string>()
            : null;
        var (path, problem) = ResolveScript(context.WorkingDirectory, script);
        if (path is null)
        {
            return ProviderOutcome.Error(problem!);
        }

        await context.Output.WriteLineAsync(OutputStream.Heaven, $"Running {script}", cancellationToken);
        var result = await runner.RunAsync(
            new ProcessSpec(path, [], context.WorkingDirectory, DeployEnvironment.For(context), context.Timeout),
            context.Output,
            cancellationToken);
        return ProviderOutcomes.FromProcess(result, context, "deploy script");
    }

    /// <summary>The script's full path, or why it cannot be run.</summary>
    internal static (string? Path, string? Problem) ResolveScript(string checkout, string? script)
    {
        if (string.IsNullOrWhiteSpace(script))
        {
            return (null, "payload.config.deploy_script is not set; the shell provider needs the path of the deploy script in the repository");
        }

        var (full, problem) = CheckoutFile.Resolve(checkout, script, "deploy script");
        if (full is null)
        {
            return (null, problem);
        }

        if (!CheckoutFile.IsExecutable(full))
        {
            return (null, $"deploy script '{script}' is not executable (git update-index --chmod=+x {script})");
        }

        return (full, null);
    }
}

/// <summary>How a provider's process result reads to a person.</summary>
internal static class ProviderOutcomes
{
    public static ProviderOutcome FromProcess(ProcessResult result, DeployContext context, string what)
    {
        if (result.Cancelled)
        {
            return new ProviderOutcome(DeployResult.Cancelled, "Cancelled");
        }

        if (result.TimedOut)
        {
            return ProviderOutcome.Failure(Heaven.Model.StatusTexts.TimedOut(context.Timeout));
        }

        // The runner words success itself: it knows how long the whole deployment took.
        return result.ExitCode == 0
            ? ProviderOutcome.Success($"{what} succeeded")
            : ProviderOutcome.Failure(result.ExitCode is { } code ? $"{what} exited with status {code}" : $"{what} was killed");
    }
}
