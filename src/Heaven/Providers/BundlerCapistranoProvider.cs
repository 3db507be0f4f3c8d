using System.Text.RegularExpressions;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>Section <c>Providers:Bundler</c>: how the <c>bundler_capistrano</c> provider installs a bundle.</summary>
public sealed partial class BundlerOptions : ISelfValidatingOptions
{
    public const string Section = "Providers:Bundler";

    /// <summary>The host of a private gem server (<c>gems.example.com</c>, or its URL), the original's <c>BUNDLER_PRIVATE_SOURCE</c>.</summary>
    public string? PrivateSource { get; set; }

    /// <summary><c>user:password</c> (or a token) for <see cref="PrivateSource"/>, the original's <c>BUNDLER_PRIVATE_CREDENTIALS</c>.</summary>
    public string? PrivateCredentials { get; set; }

    /// <summary>
    /// <c>bundle install --local</c>: resolve against gems already on the machine and never fetch, for
    /// servers that reach no gem server (Debian's packaged gems count as installed).
    /// </summary>
    public bool Local { get; set; }

    /// <summary>Bundler groups not installed: deploying needs neither development nor test gems (<c>BUNDLE_WITHOUT</c>).</summary>
    public string Without { get; set; } = "development:test";

    /// <summary>The host the credentials are for, from a host name or a URL.</summary>
    public string? PrivateHost =>
        string.IsNullOrWhiteSpace(PrivateSource) ? null
        : Uri.TryCreate(PrivateSource.Trim(), UriKind.Absolute, out var uri) && uri.Scheme is "http" or "https" ? uri.Host
        : PrivateSource.Trim();

    /// <summary>
    /// The variable Bundler reads the credentials from, by its own rule for setting names
    /// (<c>Bundler::Settings.key_for</c>): '.' becomes "__", '-' becomes "___", upper case, BUNDLE_ first.
    /// </summary>
    public static string CredentialsVariable(string host) =>
        "BUNDLE_" + host.Replace(".", "__", StringComparison.Ordinal).Replace("-", "___", StringComparison.Ordinal).ToUpperInvariant();

    public IEnumerable<string> Validate()
    {
        var hasSource = !string.IsNullOrWhiteSpace(PrivateSource);
        var hasCredentials = !string.IsNullOrEmpty(PrivateCredentials);
        if (hasSource != hasCredentials)
        {
            yield return $"{LegacyEnvironmentVariables.Describe(Section + ":PrivateSource")} and {LegacyEnvironmentVariables.Describe(Section + ":PrivateCredentials")} go together: set both or neither.";
        }

        if (hasSource && !HostName().IsMatch(PrivateHost ?? ""))
        {
            yield return $"{LegacyEnvironmentVariables.Describe(Section + ":PrivateSource")} must be a host name (gems.example.com) or an http(s) URL.";
        }

        // Never quote the credentials: they are a secret.
        if (hasCredentials && PrivateCredentials!.Any(char.IsControl))
        {
            yield return $"{LegacyEnvironmentVariables.Describe(Section + ":PrivateCredentials")} contains a control character (its value is not shown).";
        }

        if (!Groups().IsMatch(Without ?? ""))
        {
            yield return $"{Section}:Without must list Bundler groups separated by ':' (default development:test), or be empty.";
        }
    }

    [GeneratedRegex(@"^[A-Za-z0-9]([A-Za-z0-9-]{0,62})(\.[A-Za-z0-9]([A-Za-z0-9-]{0,62}))*\z")]
    private static partial Regex HostName();

    [GeneratedRegex(@"^([A-Za-z0-9_]+(:[A-Za-z0-9_]+)*)?\z")]
    private static partial Regex Groups();
}

/// <summary>
/// <c>bundler_capistrano</c>: installs the repository's bundle (without the groups deploying does
/// not need), then runs <c>bundle exec cap &lt;environment&gt; &lt;task&gt;</c> like the <c>capistrano</c> provider.
/// Gems the machine lacks go to <c>&lt;data&gt;/bundler/&lt;owner&gt;/&lt;name&gt;</c> (GEM_HOME), kept between
/// deployments of the repository; gems the machine has (Debian's packaged ones) are used as they are.
/// </summary>
internal sealed class BundlerCapistranoProvider(IProcessRunner runner, IOptions<BundlerOptions> options, TargetPolicy policy, DataDirectory dataDirectory, TimeProvider time) : IDeployProvider
{
    public string Name => "bundler_capistrano";

    public async Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(context);
        var started = time.GetTimestamp();
        if (Capistrano.Problem(context.Deployment) is { } problem)
        {
            return ProviderOutcome.Error(problem);
        }

        var (gemfile, gemfileProblem) = CheckoutFile.Resolve(context.WorkingDirectory, "Gemfile", "Gemfile");
        if (gemfile is null)
        {
            return ProviderOutcome.Error($"{gemfileProblem}; the bundler_capistrano provider installs the repository's bundle");
        }

        var settings = options.Value;
        var environment = DeployEnvironment.For(context);
        foreach (var (name, value) in await BundlerEnvironmentAsync(context, settings, cancellationToken))
        {
            environment[name] = value;
        }

        List<string> install = ["bundle", "install"];
        if (settings.Local)
        {
            install.Add("--local");
        }

        var installed = await CommandRunner.RunAsync(runner, context, install, "bundle install", environment, context.Timeout, cancellationToken);
        if (installed.Result != DeployResult.Success)
        {
            return installed;
        }

        // One timeout for the whole deployment: cap gets what bundle install left of it.
        var left = context.Timeout - time.GetElapsedTime(started);
        if (left <= TimeSpan.Zero)
        {
            return ProviderOutcome.Failure(Heaven.Model.StatusTexts.TimedOut(context.Timeout));
        }

        await context.Output.WriteLineAsync(OutputStream.Heaven, "Using bundle exec cap: this is the bundler_capistrano provider", cancellationToken);
        return await CommandRunner.RunAsync(
            runner, context, ["bundle", "exec", "cap", .. Capistrano.Arguments(context.Deployment)], "cap", environment, left, cancellationToken);
    }

    private async Task<Dictionary<string, string>> BundlerEnvironmentAsync(DeployContext context, BundlerOptions settings, CancellationToken cancellationToken)
    {
        var gems = GemHome(context);
        var variables = new Dictionary<string, string>(StringComparer.Ordinal)
        {
            // GEM_HOME, not BUNDLE_PATH: with a path of its own Bundler ignores the gems already on the
            // machine, so --local could not resolve against them.
            ["GEM_HOME"] = gems,
            ["BUNDLE_WITHOUT"] = settings.Without,
            // Heaven often runs as root in containers; the warning is noise in every deploy log.
            ["BUNDLE_SILENCE_ROOT_WARNING"] = "true",
        };

        // Frozen: deploy what the lockfile says, and fail rather than re-resolve into untested versions.
        if (File.Exists(Path.Combine(context.WorkingDirectory, "Gemfile.lock")))
        {
            variables["BUNDLE_FROZEN"] = "true";
        }

        if (settings.PrivateHost is { } host && settings.PrivateCredentials is { Length: > 0 } credentials)
        {
            if (policy.BundlerPrivateSource(context.Deployment.Repository) is (false, var why))
            {
                // Withheld rather than refused: a bundle that needs no private gem still installs.
                await context.Output.WriteLineAsync(
                    OutputStream.Heaven,
                    $"The credentials for {host} ({LegacyEnvironmentVariables.Describe(BundlerOptions.Section + ":PrivateCredentials")}) are not given to {context.Deployment.Repository}: {why}",
                    cancellationToken);
                return variables;
            }

            // Bundler reads a source's credentials from BUNDLE_<HOST>; never a URL or an argument, which logs and ps show.
            context.Masker.Add(credentials);
            if (credentials.IndexOf(':', StringComparison.Ordinal) is var colon and > 0 && colon < credentials.Length - 1)
            {
                context.Masker.Add(credentials[(colon + 1)..]);
            }

            variables[BundlerOptions.CredentialsVariable(host)] = credentials;
        }

        return variables;
    }

    /// <summary>
    /// Gems installed for a repository: kept between deploys in the data directory, except when deploys
    /// run isolated and cannot reach it; then in the deployment's own folder, installed each time.
    /// </summary>
    private string GemHome(DeployContext context)
    {
        if (context.Isolated && context.Workspace is { } workspace)
        {
            var own = Path.Combine(workspace.Path, "gems");
            Directory.CreateDirectory(own);
            context.HandOver(own);
            return own;
        }

        var repository = context.Deployment.Repository;
        var safe = string.Concat(repository.Select(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' ? c : '/'));
        var parts = safe.Split('/', StringSplitOptions.RemoveEmptyEntries).Where(p => p is not "." and not "..");
        var path = Path.Combine([dataDirectory.PathOf("bundler"), .. parts]);
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }
}
