namespace Heaven.Configuration;

/// <summary>
/// The environment variables of the original Rails Heaven, and the configuration key each one feeds.
/// Keeping them in one table lets a drop-in replacement read an existing deployment's environment as
/// it is, and lets error messages name both spellings of a setting.
/// </summary>
internal static class LegacyEnvironmentVariables
{
    public static IReadOnlyList<(string Variable, string Key)> Map { get; } =
    [
        ("HEAVEN_DATA_DIR", "DataDirectory"),
        ("GITHUB_TOKEN", "GitHub:Token"),
        ("GITHUB_CLIENT_ID", "GitHub:ClientId"),
        ("GITHUB_CLIENT_SECRET", "GitHub:ClientSecret"),
        ("GITHUB_TEAM_ID", "GitHub:TeamId"),
        ("GITHUB_ORG", "GitHub:Organization"),
        ("OCTOKIT_API_ENDPOINT", "GitHub:ApiUrl"),
        ("OCTOKIT_WEB_ENDPOINT", "GitHub:WebUrl"),
        ("GITHUB_WEBHOOK_SECRET", "Webhooks:Secret"),
        ("GITHUB_WEBHOOK_SECONDARY_SECRET", "Webhooks:SecondarySecret"),
        ("DEPLOYMENT_TIMEOUT", "Deployments:Timeout"),
        ("DEPLOYMENT_PRIVATE_KEY", "Deployments:PrivateKey"),
        ("HUBOT_DEPLOY_PREFIX", "Deployments:TaskPrefix"),
        ("DEPLOY_COMMAND_FORMAT", "Providers:Fabric:CommandFormat"),
        ("BUNDLER_PRIVATE_SOURCE", "Providers:Bundler:PrivateSource"),
        ("BUNDLER_PRIVATE_CREDENTIALS", "Providers:Bundler:PrivateCredentials"),
        ("HEROKU_API_KEY", "Providers:Heroku:ApiKey"),
        ("BEANSTALK_S3_BUCKET", "Providers:ElasticBeanstalk:S3Bucket"),
        ("BEANSTALK_ACCESS_KEY_ID", "Providers:ElasticBeanstalk:AccessKeyId"),
        ("BEANSTALK_SECRET_ACCESS_KEY", "Providers:ElasticBeanstalk:SecretAccessKey"),
        ("SLACK_WEBHOOK_URL", "Notifications:Slack:WebhookUrl"),
        ("SLACK_BOT_NAME", "Notifications:Slack:BotName"),
        ("SLACK_BOT_ICON", "Notifications:Slack:BotIcon"),
        // Both names seen for a bot token; the later one wins when both are set.
        ("SLACK_TOKEN", "Notifications:Slack:BotToken"),
        ("SLACK_BOT_TOKEN", "Notifications:Slack:BotToken"),
        ("HIPCHAT_TOKEN", "Notifications:HipChat:Token"),
        ("HIPCHAT_ROOM", "Notifications:HipChat:Room"),
        ("HIPCHAT_SERVER", "Notifications:HipChat:Server"),
        ("CAMPFIRE_TOKEN", "Notifications:Campfire:Token"),
        ("CAMPFIRE_SUBDOMAIN", "Notifications:Campfire:Subdomain"),
        ("CAMPFIRE_ROOM", "Notifications:Campfire:Room"),
        ("CAMPFIRE_BOT_URL", "Notifications:Campfire:BotUrl"),
        ("FLOWDOCK_USER_API_TOKEN", "Notifications:Flowdock:UserApiToken"),
        ("FLOWDOCK_FLOW_TOKENS", "Notifications:Flowdock:FlowTokens"),
        ("HEAVEN_NOTIFIER_DISPLAY_COMMITS", "Notifications:DisplayCommits"),
        ("HEAVEN_NOTIFIER_DISPLAY_COMMITS_LIMIT", "Notifications:DisplayCommitsLimit"),
        ("DATABASE_URL", "Database:Url"),
    ];

    /// <summary>
    /// The original's variable of a secret, with <c>_FILE</c> added, names a file holding it
    /// (<c>GITHUB_TOKEN_FILE</c> → <c>GitHub:TokenFile</c>), as container platforms hand secrets over.
    /// </summary>
    public const string FileSuffix = "_FILE";

    /// <summary>The variables that name a secret's file, and the configuration key each one feeds.</summary>
    public static IReadOnlyList<(string Variable, string Key)> FileMap { get; } =
        [.. Map.Where(m => SecretSettings.FileKeys.Contains(m.Key, StringComparer.OrdinalIgnoreCase)).Select(m => (m.Variable + FileSuffix, m.Key + SecretFiles.Suffix))];

    /// <summary>"Deployments:Timeout (or DEPLOYMENT_TIMEOUT)", for messages that must name what to fix.</summary>
    public static string Describe(string key)
    {
        foreach (var (variable, mapped) in Map.Concat(FileMap))
        {
            if (string.Equals(mapped, key, StringComparison.OrdinalIgnoreCase))
            {
                return $"{key} (or {variable})";
            }
        }

        return key;
    }
}

/// <summary>Feeds the legacy variables into configuration under their .NET keys.</summary>
/// <remarks>
/// Added just before the standard environment-variable source, so appsettings.json is overridden by
/// either spelling, and the .NET spelling (<c>GitHub__Token</c>) wins when both are set.
/// </remarks>
internal sealed class LegacyEnvironmentConfigurationSource(IReadOnlyDictionary<string, string?> environment) : IConfigurationSource
{
    public IConfigurationProvider Build(IConfigurationBuilder builder) => new Provider(environment);

    public static LegacyEnvironmentConfigurationSource FromProcess()
    {
        var variables = new Dictionary<string, string?>(StringComparer.Ordinal);
        foreach (System.Collections.DictionaryEntry entry in Environment.GetEnvironmentVariables())
        {
            variables[(string)entry.Key] = entry.Value as string;
        }

        return new LegacyEnvironmentConfigurationSource(variables);
    }

    private sealed class Provider(IReadOnlyDictionary<string, string?> environment) : ConfigurationProvider
    {
        public override void Load()
        {
            var data = new Dictionary<string, string?>(StringComparer.OrdinalIgnoreCase);
            foreach (var (variable, key) in LegacyEnvironmentVariables.Map.Concat(LegacyEnvironmentVariables.FileMap))
            {
                if (environment.TryGetValue(variable, out var value) && !string.IsNullOrEmpty(value))
                {
                    data[key] = value;
                }
            }

            Data = data;
        }
    }
}
