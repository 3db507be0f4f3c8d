using Heaven.Model;

namespace Heaven.Repositories;

/// <summary>
/// What the server allows one repository, and its own command (section <c>Repositories:&lt;owner/name&gt;</c>).
/// Nothing configured means the original Heaven's behaviour: the payload chooses.
/// </summary>
public sealed class RepositorySettings
{
    /// <summary><c>owner/name</c> as configured.</summary>
    public required string Repository { get; init; }

    /// <summary>One provider every deployment of the repository runs with, whatever the payload asks.</summary>
    public string? Provider { get; init; }

    /// <summary>The providers a deployment may ask for; empty allows any of Heaven's.</summary>
    public IReadOnlyList<string> Providers { get; init; } = [];

    /// <summary>The environments a deployment may go to; empty allows any.</summary>
    public IReadOnlyList<string> Environments { get; init; } = [];

    /// <summary>The <c>command</c> provider's template for every environment without its own.</summary>
    public string? Command { get; init; }

    /// <summary>Per environment (<c>Environments:&lt;env&gt;:Command</c>), overriding <see cref="Command"/>.</summary>
    public IReadOnlyDictionary<string, string> EnvironmentCommands { get; init; } = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);

    /// <summary>What a deployment to a busy environment does (<c>Concurrency</c>); null: the server's default.</summary>
    public Heaven.Repositories.ConcurrencyPolicy? Concurrency { get; init; }

    /// <summary>Per environment (<c>Environments:&lt;env&gt;:Concurrency</c>), overriding <see cref="Concurrency"/>.</summary>
    public IReadOnlyDictionary<string, Heaven.Repositories.ConcurrencyPolicy> EnvironmentConcurrency { get; init; } = new Dictionary<string, Heaven.Repositories.ConcurrencyPolicy>(StringComparer.OrdinalIgnoreCase);

    /// <summary>
    /// The repository's own webhook secret (<c>WebhookSecret</c>): its deliveries must be signed with
    /// it, and the server-wide secret no longer signs for it. Null: the server-wide secret.
    /// </summary>
    public string? WebhookSecret { get; init; }

    /// <summary>Auto-deploy on a green default-branch commit (<c>AutoDeploy</c>); null: off, as by default.</summary>
    public Heaven.Repositories.AutoDeploySettings? AutoDeploy { get; init; }

    /// <summary>
    /// The repository's own deploy key (<c>DeployKey</c>), used instead of the server's
    /// <c>Deployments:PrivateKey</c> for its deployments; null: the server's. A secret: never shown.
    /// </summary>
    public string? DeployKey { get; init; }

    /// <summary>What the repository may deploy to and which server-wide credentials it may use.</summary>
    public RepositoryTargets Targets { get; init; } = RepositoryTargets.None;

    /// <summary>The setting <paramref name="relative"/> of this repository, as an operator writes it.</summary>
    public string Key(string relative) => $"{RepositoryOptions.Section}:{Repository}:{relative}";

    public Heaven.Repositories.ConcurrencyPolicy? ConcurrencyFor(string environment) =>
        EnvironmentConcurrency.TryGetValue(environment, out var own) ? own : Concurrency;

    /// <summary>The command template for <paramref name="environment"/> and the setting it came from, or nulls.</summary>
    public (string? Template, string? Key) CommandFor(string environment) =>
        EnvironmentCommands.TryGetValue(environment, out var own)
            ? (own, $"{RepositoryOptions.Section}:{Repository}:Environments:{environment}:Command")
            : (Command, Command is null ? null : $"{RepositoryOptions.Section}:{Repository}:Command");
}

/// <summary>
/// Every repository's settings, read from the <c>Repositories</c> section by hand: <c>Environments</c>
/// is both a list of names and a place for per-environment settings, which the binder cannot express.
/// </summary>
/// <remarks>
/// Lists may be written as JSON arrays (<c>"Providers": ["fabric"]</c>), as indexed keys
/// (<c>Repositories__octo/app__Providers__0=fabric</c>) or comma-separated (<c>Providers=fabric,shell</c>).
/// An environment with settings of its own (<c>"Environments": { "production": { "Command": "..." } }</c>)
/// is one of the allowed environments, unless its only setting is <c>Concurrency</c>: choosing how
/// production queues should not forbid deploying to staging.
/// </remarks>
public sealed class RepositoryOptions
{
    public const string Section = "Repositories";

    private static readonly string[] KnownSettings =
        ["Provider", "Providers", "Environments", "Command", "Concurrency", "AutoDeploy", "DeployKey", "HerokuApps", "ElasticBeanstalk", "Dpl", "BundlerPrivateSource", "WebhookSecret"];

    /// <summary>The settings a repository may have (<c>Repositories:&lt;owner/name&gt;:X</c>), for the documentation test.</summary>
    public static IReadOnlyList<string> SettingNames => KnownSettings;

    private static readonly string[] KnownAutoDeploySettings = ["Environments", "Contexts"];
    private static readonly string[] KnownBeanstalkSettings = ["Applications", "Environments"];
    private static readonly string[] KnownDplSettings = ["Providers", "Targets", "AllowScript", "AllowGemInstall"];

    private readonly Dictionary<string, RepositorySettings> byName = new(StringComparer.OrdinalIgnoreCase);
    private readonly List<string> problems = [];

    public IReadOnlyCollection<RepositorySettings> Repositories => byName.Values;

    /// <summary>What was wrong in the section's shape (unknown settings, names that are not owner/name).</summary>
    public IReadOnlyList<string> LoadProblems => problems;

    /// <summary>The settings of <paramref name="repository"/> (GitHub names are case-insensitive), or null.</summary>
    public RepositorySettings? For(string repository) => byName.GetValueOrDefault(repository);

    public void Load(IConfiguration section)
    {
        ArgumentNullException.ThrowIfNull(section);
        foreach (var owner in section.GetChildren())
        {
            // "owner/name" is one key; a key without '/' is an owner whose children are names (a
            // '/' cannot be written in some environments, and JSON may nest the two).
            var repositories = owner.Key.Contains('/', StringComparison.Ordinal)
                ? [owner]
                : owner.GetChildren().Where(c => !KnownSettings.Contains(c.Key, StringComparer.OrdinalIgnoreCase)).ToList();
            if (repositories.Count == 0)
            {
                problems.Add($"{Section}:{owner.Key} is not a repository: use {Section}:<owner>/<name> (for example {Section}:octo/app:Provider).");
            }

            foreach (var repository in repositories)
            {
                var name = repository == owner ? owner.Key : $"{owner.Key}/{repository.Key}";
                Add(name, repository);
            }
        }
    }

    private void Add(string name, IConfigurationSection section)
    {
        var prefix = $"{Section}:{name}";
        if (!RepositoryName.TryParse(name, out _, out var nameProblem))
        {
            problems.Add($"{prefix}: '{name}' is not a repository name ({nameProblem}).");
            return;
        }

        foreach (var child in section.GetChildren().Where(c => !KnownSettings.Contains(c.Key, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add($"{prefix}:{child.Key} is not a repository setting (known: {string.Join(", ", KnownSettings)}).");
        }

        var environments = new List<string>();
        var commands = new Dictionary<string, string>(StringComparer.OrdinalIgnoreCase);
        var concurrency = new Dictionary<string, Heaven.Repositories.ConcurrencyPolicy>(StringComparer.OrdinalIgnoreCase);
        var environmentsSection = section.GetSection("Environments");
        environments.AddRange(List(environmentsSection));
        foreach (var environment in environmentsSection.GetChildren().Where(c => !IsIndex(c.Key)))
        {
            var settings = environment.GetChildren().ToList();
            if (!settings.All(c => string.Equals(c.Key, "Concurrency", StringComparison.OrdinalIgnoreCase)) || settings.Count == 0)
            {
                environments.Add(environment.Key);
            }

            foreach (var setting in settings)
            {
                if (string.Equals(setting.Key, "Concurrency", StringComparison.OrdinalIgnoreCase))
                {
                    if (Policy(setting.Value, $"{prefix}:Environments:{environment.Key}:Concurrency") is { } policy)
                    {
                        concurrency[environment.Key] = policy;
                    }
                }
                else if (string.Equals(setting.Key, "Command", StringComparison.OrdinalIgnoreCase))
                {
                    // Empty: the environment is allowed and uses the repository's Command.
                    if (!string.IsNullOrWhiteSpace(setting.Value))
                    {
                        commands[environment.Key] = setting.Value;
                    }
                }
                else
                {
                    problems.Add($"{prefix}:Environments:{environment.Key}:{setting.Key} is not an environment setting (known: Command, Concurrency).");
                }
            }
        }

        byName[name] = new RepositorySettings
        {
            Repository = name,
            Provider = NullIfEmpty(section["Provider"]),
            Providers = List(section.GetSection("Providers")),
            Environments = environments.Distinct(StringComparer.OrdinalIgnoreCase).ToList(),
            Command = section["Command"],
            EnvironmentCommands = commands,
            Concurrency = Policy(section["Concurrency"], $"{prefix}:Concurrency"),
            EnvironmentConcurrency = concurrency,
            AutoDeploy = AutoDeploy(section.GetSection("AutoDeploy"), $"{prefix}:AutoDeploy"),
            DeployKey = NullIfEmpty(section["DeployKey"]),
            Targets = Targets(section, prefix),
            // As given: a secret is not trimmed or otherwise changed.
            WebhookSecret = string.IsNullOrEmpty(section["WebhookSecret"]) ? null : section["WebhookSecret"],
        };
    }

    /// <summary>
    /// The target lists and credential switches. A list is there once its key is (even empty, which
    /// allows nothing); a missing list leaves the choice to the payload unless the server requires lists.
    /// </summary>
    private RepositoryTargets Targets(IConfigurationSection section, string prefix)
    {
        var beanstalk = section.GetSection("ElasticBeanstalk");
        Unknown(beanstalk, $"{prefix}:ElasticBeanstalk", KnownBeanstalkSettings, "an Elastic Beanstalk setting");
        var dpl = section.GetSection("Dpl");
        Unknown(dpl, $"{prefix}:Dpl", KnownDplSettings, "a dpl setting");
        var targets = new Dictionary<string, IReadOnlyList<string>>(StringComparer.OrdinalIgnoreCase);
        foreach (var provider in dpl.GetSection("Targets").GetChildren())
        {
            targets[provider.Key] = List(provider);
        }

        return new RepositoryTargets
        {
            HerokuApps = OptionalList(section.GetSection("HerokuApps")),
            BeanstalkApplications = OptionalList(beanstalk.GetSection("Applications")),
            BeanstalkEnvironments = OptionalList(beanstalk.GetSection("Environments")),
            DplProviders = OptionalList(dpl.GetSection("Providers")),
            DplTargets = targets,
            DplAllowScript = Switch(dpl["AllowScript"], $"{prefix}:Dpl:AllowScript") ?? false,
            DplAllowGemInstall = Switch(dpl["AllowGemInstall"], $"{prefix}:Dpl:AllowGemInstall") ?? false,
            BundlerPrivateSource = Switch(section["BundlerPrivateSource"], $"{prefix}:BundlerPrivateSource"),
        };
    }

    private void Unknown(IConfigurationSection section, string key, string[] known, string what)
    {
        foreach (var child in section.GetChildren().Where(c => !known.Contains(c.Key, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add($"{key}:{child.Key} is not {what} (known: {string.Join(", ", known)}).");
        }
    }

    /// <summary>true or false (any case); a wrong word is a load problem.</summary>
    private bool? Switch(string? value, string key)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (bool.TryParse(value.Trim(), out var on))
        {
            return on;
        }

        problems.Add($"{key} must be true or false; got '{value}'.");
        return null;
    }

    /// <summary>A list when its key is present (an empty one allows nothing), else null.</summary>
    private static List<string>? OptionalList(IConfigurationSection section) =>
        section.Value is not null || section.GetChildren().Any() ? List(section).Distinct(StringComparer.Ordinal).ToList() : null;

    /// <summary>
    /// <c>AutoDeploy:Environments</c> (required once the section exists) and <c>AutoDeploy:Contexts</c>
    /// (the commit status contexts and check run names that must be green; "all", the default, means
    /// every one reported for the commit).
    /// </summary>
    private Heaven.Repositories.AutoDeploySettings? AutoDeploy(IConfigurationSection section, string key)
    {
        if (!section.Exists())
        {
            return null;
        }

        foreach (var child in section.GetChildren().Where(c => !KnownAutoDeploySettings.Contains(c.Key, StringComparer.OrdinalIgnoreCase)))
        {
            problems.Add($"{key}:{child.Key} is not an auto-deploy setting (known: {string.Join(", ", KnownAutoDeploySettings)}).");
        }

        var environments = List(section.GetSection("Environments")).Distinct(StringComparer.OrdinalIgnoreCase).ToList();
        if (environments.Count == 0)
        {
            problems.Add($"{key}:Environments is empty: name the environments a green commit deploys to (for example {key}:Environments=staging), or remove {key} to leave auto-deploy off.");
            return null;
        }

        var contexts = List(section.GetSection("Contexts")).Distinct(StringComparer.Ordinal).ToList();
        var all = contexts.Count == 0 || contexts.Any(c => string.Equals(c, Heaven.Repositories.AutoDeploySettings.AllContexts, StringComparison.OrdinalIgnoreCase));
        if (all && contexts.Count > 1)
        {
            problems.Add($"{key}:Contexts mixes \"all\" with named contexts; use either \"all\" or the names.");
        }

        return new Heaven.Repositories.AutoDeploySettings(environments, all ? [] : contexts);
    }

    /// <summary>A concurrency policy by name (any case); a wrong name is a load problem.</summary>
    private Heaven.Repositories.ConcurrencyPolicy? Policy(string? value, string key)
    {
        if (string.IsNullOrWhiteSpace(value))
        {
            return null;
        }

        if (Enum.TryParse<Heaven.Repositories.ConcurrencyPolicy>(value.Trim(), ignoreCase: true, out var policy) && Enum.IsDefined(policy) && !value.Trim().All(char.IsAsciiDigit))
        {
            return policy;
        }

        problems.Add($"{key} is '{value}'; use reject, queue or supersede.");
        return null;
    }

    /// <summary>A list setting in any of its three spellings.</summary>
    private static List<string> List(IConfigurationSection section)
    {
        var items = new List<string>();
        if (!string.IsNullOrWhiteSpace(section.Value))
        {
            items.AddRange(section.Value.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries));
        }

        foreach (var child in section.GetChildren().Where(c => IsIndex(c.Key)))
        {
            if (!string.IsNullOrWhiteSpace(child.Value))
            {
                items.Add(child.Value.Trim());
            }
        }

        return items;
    }

    private static bool IsIndex(string key) => key.Length > 0 && key.All(char.IsAsciiDigit);

    private static string? NullIfEmpty(string? value) => string.IsNullOrWhiteSpace(value) ? null : value.Trim();
}
