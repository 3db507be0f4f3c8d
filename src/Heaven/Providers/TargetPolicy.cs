using Heaven.Configuration;
using Heaven.Model;
using Heaven.Repositories;
using Microsoft.Extensions.Options;

namespace Heaven.Providers;

/// <summary>Section <c>Providers</c>: how strictly repositories are held to their target lists.</summary>
public sealed class TargetPolicyOptions : ISelfValidatingOptions
{
    public const string Section = "Providers";

    /// <summary>
    /// A repository without a list for the kind of target it deploys to (<c>HerokuApps</c>,
    /// <c>ElasticBeanstalk:Applications</c>, <c>Dpl:Providers</c>, <c>Dpl:Targets:&lt;provider&gt;</c>)
    /// is refused, and the Bundler private source's credentials go only to repositories that say
    /// <c>BundlerPrivateSource=true</c>. Off by default: the payload chooses, as in the original Heaven.
    /// </summary>
    public bool RequireTargetLists { get; set; }

    /// <summary>Nothing to check beyond what binding does (a word that is not true or false stops the start).</summary>
    public IEnumerable<string> Validate() => [];
}

/// <summary>Why a deployment may not go where its payload says: the status text, and the log line with what is allowed.</summary>
internal sealed record TargetRefusal(string Status, string Detail)
{
    /// <summary>Writes the detail to the deployment's log and ends the deploy with <c>error</c>, before anything reached the target.</summary>
    public async Task<ProviderOutcome> RefuseAsync(DeployContext context, CancellationToken cancellationToken)
    {
        await context.Output.WriteLineAsync(OutputStream.Heaven, Detail, cancellationToken);
        return ProviderOutcome.Error(Status);
    }
}

/// <summary>
/// Which targets a repository may deploy to with the server's credentials, checked where each provider
/// picks its target, before any request or command. A target outside the repository's list is
/// refused, naming the setting that would allow it; a repository without a list is refused only
/// when <see cref="TargetPolicyOptions.RequireTargetLists"/> is on.
/// </summary>
internal sealed class TargetPolicy(IOptions<RepositoryOptions> repositories, IOptions<TargetPolicyOptions> options)
{
    public const string RequireSetting = TargetPolicyOptions.Section + ":RequireTargetLists";

    /// <summary>What GitHub keeps of a status description.</summary>
    private const int StatusLength = 140;

    /// <summary>
    /// The dpl option that names where each dpl provider deploys (dpl spells options with '_' or '-'
    /// alike). Providers not listed here (npm, pypi, rubygems, ...) publish what the repository is and
    /// are held to <c>Dpl:Providers</c> only.
    /// </summary>
    internal static readonly IReadOnlyDictionary<string, string> DplTargetOptions = new Dictionary<string, string>(StringComparer.Ordinal)
    {
        ["heroku"] = "app",
        ["s3"] = "bucket",
        ["gcs"] = "bucket",
        ["pages"] = "repo",
        ["releases"] = "repo",
        ["elasticbeanstalk"] = "app",
        ["codedeploy"] = "application",
        ["lambda"] = "function_name",
        ["surge"] = "domain",
        ["firebase"] = "project",
        ["gae"] = "project",
        ["netlify"] = "site",
        ["scalingo"] = "app",
        ["engineyard"] = "app",
        ["openshift"] = "app",
    };

    public bool RequireLists => options.Value.RequireTargetLists;

    public TargetRefusal? HerokuApp(string repository, string app)
    {
        var settings = repositories.Value.For(repository);
        return Check(repository, settings, settings?.Targets.HerokuApps, "HerokuApps", "heroku app", [app]);
    }

    public TargetRefusal? Beanstalk(string repository, string application, string environment)
    {
        var settings = repositories.Value.For(repository);
        var targets = settings?.Targets ?? RepositoryTargets.None;
        return Check(repository, settings, targets.BeanstalkApplications, "ElasticBeanstalk:Applications", "Elastic Beanstalk application", [application])
            // Environments narrow an allowed application further; without them any of its environments will do.
            ?? (targets.BeanstalkEnvironments is { } environments
                ? Check(repository, settings, environments, "ElasticBeanstalk:Environments", "Elastic Beanstalk environment", [environment])
                : null);
    }

    /// <summary>dpl's provider, its target option, its <c>script</c> provider and gems it would install from the checkout.</summary>
    public TargetRefusal? Dpl(string repository, string provider, IReadOnlyList<string> arguments, string workingDirectory)
    {
        var settings = repositories.Value.For(repository);
        var targets = settings?.Targets ?? RepositoryTargets.None;
        var name = settings?.Repository ?? repository;
        if (provider == "script" && !targets.DplAllowScript)
        {
            var key = Key(name, "Dpl:AllowScript");
            return new TargetRefusal(
                Fit($"dpl's script provider is not allowed for {repository}: it runs any command; set {key}=true", $"dpl's script provider is not allowed: set {key}=true"),
                $"dpl's script provider runs any command with dpl's credentials, so a repository needs {key}=true to use it.");
        }

        if (Check(repository, settings, targets.DplProviders, "Dpl:Providers", "dpl provider", [provider]) is { } notListed)
        {
            return notListed;
        }

        if (DplTargetOptions.TryGetValue(provider, out var option))
        {
            // dpl's heroku gets the server's Heroku key when it has none of its own: HerokuApps holds it too.
            var (list, relative) = targets.DplTargets.TryGetValue(provider, out var own) ? (own, $"Dpl:Targets:{provider}")
                : provider == "heroku" && targets.HerokuApps is { } apps ? (apps, "HerokuApps")
                : (null, $"Dpl:Targets:{provider}");
            var values = OptionValues(arguments, option);
            if (values.Count == 0 && (list is not null || RequireLists))
            {
                var key = Key(name, relative);
                return new TargetRefusal(
                    Fit($"payload.config.dpl_options.{option} is not set; {key} lists where {repository} may deploy with dpl {provider}", $"payload.config.dpl_options.{option} is not set; {key} lists the allowed ones"),
                    $"dpl {provider} deploys to its --{option}, which the payload does not name; {key} lists the ones {repository} may use ({Allowed(list)}).");
            }

            if (Check(repository, settings, list, relative, $"dpl {provider} {option}", values) is { } outside)
            {
                return outside;
            }
        }

        if (!targets.DplAllowGemInstall && Gems(workingDirectory) is { } gem)
        {
            var key = Key(name, "Dpl:AllowGemInstall");
            return new TargetRefusal(
                Fit($"the checkout holds {Clamp(gem)}, which dpl may install: not allowed for {repository} unless {key}=true", $"the checkout holds {Clamp(gem)}, which dpl may install: not allowed unless {key}=true"),
                $"dpl installs a provider's gem from a .gem file in the working directory ({gem} here), which runs the repository's code as dpl; {key}=true allows it.");
        }

        return null;
    }

    /// <summary>The setting that would let dpl fetch gems for this repository, when it does not; null when it does.</summary>
    public string? DplGemInstallSetting(string repository)
    {
        var settings = repositories.Value.For(repository);
        return settings?.Targets.DplAllowGemInstall == true ? null : Key(settings?.Repository ?? repository, "Dpl:AllowGemInstall");
    }

    /// <summary>May the <c>bundler_capistrano</c> provider give this repository the private gem source's credentials, and if not, why.</summary>
    public (bool Allowed, string? Why) BundlerPrivateSource(string repository)
    {
        var settings = repositories.Value.For(repository);
        var key = Key(settings?.Repository ?? repository, "BundlerPrivateSource");
        return settings?.Targets.BundlerPrivateSource switch
        {
            true => (true, null),
            false => (false, $"{key} is false"),
            null when RequireLists => (false, $"{RequireSetting} is on and {key} is not true"),
            null => (true, null),
        };
    }

    /// <summary>Every value is on the list; no list refuses only when lists are required.</summary>
    /// <param name="kind">What the values name, for a person: "heroku app", "dpl s3 bucket".</param>
    private TargetRefusal? Check(string repository, RepositorySettings? settings, IReadOnlyList<string>? list, string relative, string kind, IReadOnlyList<string> values)
    {
        var key = Key(settings?.Repository ?? repository, relative);
        if (list is null)
        {
            var target = values.Count > 0 ? $"{kind} '{Clamp(values[0])}'" : kind;
            return RequireLists
                ? new TargetRefusal(
                    Fit($"{target} is not allowed for {repository}: {RequireSetting} needs {key}", $"{target} is not allowed: {RequireSetting} needs {key}", $"{target}: {RequireSetting} needs {key}"),
                    $"{target} is not allowed for {repository}: {RequireSetting} is on and {key} is not set; list what {repository} may deploy to there.")
                : null;
        }

        if (values.FirstOrDefault(v => !list.Contains(v, StringComparer.Ordinal)) is not { } outside)
        {
            return null;
        }

        var shown = $"{kind} '{Clamp(outside)}'";
        return new TargetRefusal(
            Fit($"{shown} is not allowed for {repository}: add it to {key}", $"{shown} is not allowed: add it to {key}"),
            $"{shown} is not allowed for {repository}: add it to {key} (allowed: {Allowed(list)}).");
    }

    /// <summary>The first wording that fits a GitHub status (140 characters), else the last, which GitHub's cut shortens.</summary>
    private static string Fit(params string[] wordings) =>
        wordings.FirstOrDefault(w => w.Length <= StatusLength) ?? wordings[^1];

    /// <summary>The values of <c>--option=value</c> (or <c>--option</c> alone, as an empty value) among dpl's arguments.</summary>
    private static List<string> OptionValues(IReadOnlyList<string> arguments, string option)
    {
        var values = new List<string>();
        foreach (var argument in arguments)
        {
            if (!argument.StartsWith("--", StringComparison.Ordinal))
            {
                continue;
            }

            var equals = argument.IndexOf('=', StringComparison.Ordinal);
            var name = (equals < 0 ? argument[2..] : argument[2..equals]).Replace('-', '_');
            if (name == option)
            {
                values.Add(equals < 0 ? "" : argument[(equals + 1)..]);
            }
        }

        return values;
    }

    /// <summary>A <c>.gem</c> file at the checkout's root: dpl 1 installs <c>dpl-&lt;provider&gt;-&lt;version&gt;.gem</c> from there, and <c>gem install &lt;name&gt;</c> finds such files first.</summary>
    private static string? Gems(string workingDirectory)
    {
        try
        {
            return Directory.EnumerateFiles(workingDirectory, "*.gem").Select(Path.GetFileName).Order(StringComparer.Ordinal).FirstOrDefault();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static string Key(string repository, string relative) => $"{RepositoryOptions.Section}:{repository}:{relative}";

    private static string Allowed(IReadOnlyList<string>? list) => list is null ? "no list" : list.Count == 0 ? "none" : string.Join(", ", list);

    private static string Clamp(string? text) => text is null ? "" : text.Length <= 60 ? text : text[..59] + "…";
}
