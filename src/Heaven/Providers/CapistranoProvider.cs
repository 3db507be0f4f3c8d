using System.Text.RegularExpressions;
using Heaven.Checkout;
using Heaven.Execution;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>
/// <c>capistrano</c>: runs Capistrano 3 in the checkout, <c>cap &lt;environment&gt; &lt;task&gt;</c>, with the
/// repository's own <c>bin/cap</c> when it has one, else through Bundler when its Gemfile asks for
/// Capistrano, else the <c>cap</c> on the PATH. The ref reaches the Capfile as <c>BRANCH</c>.
/// </summary>
internal sealed class CapistranoProvider(IProcessRunner runner) : IDeployProvider
{
    public string Name => "capistrano";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        if (Capistrano.Problem(context.Deployment) is { } problem)
        {
            return ProviderOutcome.Error(problem);
        }

        var (cap, why, capProblem) = Capistrano.Choose(context.WorkingDirectory);
        if (cap is null)
        {
            return ProviderOutcome.Error(capProblem!);
        }

        await context.Output.WriteLineAsync(OutputStream.Heaven, why!, cancellationToken);
        return await CommandRunner.RunAsync(runner, context, [.. cap, .. Capistrano.Arguments(context.Deployment)], "cap", cancellationToken);
    }
}

/// <summary>What the Capistrano providers share: which tasks they run, how, and with which cap.</summary>
internal static partial class Capistrano
{
    public const string BinStub = "bin/cap";

    /// <summary>Why the deployment cannot go to Capistrano, or null. Both values become arguments of cap, so neither may look like an option.</summary>
    public static string? Problem(Heaven.Model.DeploymentRecord deployment)
    {
        if (!DeployTask().IsMatch(deployment.Task ?? ""))
        {
            return $"task {RefName.Quote(deployment.Task)} is not a deploy task; Capistrano runs deploy or deploy:<name> (lower-case letters, digits, _)";
        }

        if (!Stage().IsMatch(deployment.Environment ?? ""))
        {
            return $"environment {RefName.Quote(deployment.Environment)} cannot be a Capistrano stage: it may only hold letters, digits, - and _, starting with a letter or digit";
        }

        return null;
    }

    /// <summary><c>&lt;stage&gt; &lt;task&gt;</c>: the stage is the deployment's environment (config/deploy/&lt;environment&gt;.rb).</summary>
    public static IReadOnlyList<string> Arguments(Heaven.Model.DeploymentRecord deployment) => [deployment.Environment, deployment.Task];

    /// <summary>The cap to run (program and first arguments) and a line for the log saying why; or why none can run.</summary>
    public static (IReadOnlyList<string>? Command, string? Why, string? Problem) Choose(string checkout)
    {
        // A binstub pins the Capistrano version the repository was written for; it must be the repository's own file.
        if (File.Exists(Path.Combine(checkout, BinStub)) || new FileInfo(Path.Combine(checkout, BinStub)).LinkTarget is not null)
        {
            var (path, problem) = CheckoutFile.Resolve(checkout, BinStub, "Capistrano binstub");
            if (path is null)
            {
                return (null, null, problem);
            }

            if (!CheckoutFile.IsExecutable(path))
            {
                return (null, null, $"Capistrano binstub '{BinStub}' is not executable (git update-index --chmod=+x {BinStub})");
            }

            return ([path], $"Using {BinStub}: the repository has its own Capistrano binstub", null);
        }

        if (BundlerWantsCapistrano(checkout))
        {
            return (["bundle", "exec", "cap"], "Using bundle exec cap: the Gemfile asks for capistrano and Gemfile.lock pins its version", null);
        }

        return (["cap"], "Using cap from the PATH: the repository has no bin/cap, and no Gemfile with capistrano and a Gemfile.lock", null);
    }

    /// <summary>A Gemfile naming capistrano and a lockfile: <c>bundle exec</c> then runs the pinned version without resolving anything.</summary>
    public static bool BundlerWantsCapistrano(string checkout)
    {
        var (gemfile, _) = CheckoutFile.Resolve(checkout, "Gemfile", "Gemfile");
        var (lockfile, _) = CheckoutFile.Resolve(checkout, "Gemfile.lock", "Gemfile.lock");
        return gemfile is not null && lockfile is not null && CapistranoGem().IsMatch(File.ReadAllText(gemfile));
    }

    // \z, not $: in .NET '$' also matches before a final newline, and "deploy\n" is not a deploy task.
    [GeneratedRegex(@"^deploy(:[a-z0-9_]{1,100})?\z")]
    public static partial Regex DeployTask();

    [GeneratedRegex(@"^[A-Za-z0-9][A-Za-z0-9_-]{0,99}\z")]
    private static partial Regex Stage();

    [GeneratedRegex(@"^\s*gem\s*\(?\s*[""']capistrano[""']", RegexOptions.Multiline)]
    private static partial Regex CapistranoGem();
}
