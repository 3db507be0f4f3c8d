namespace Heaven.Configuration;

/// <summary>
/// The settings that hold secrets, by name. Each of them may also be given as a file
/// (<see cref="SecretFiles"/>: <c>GitHub:TokenFile</c>, <c>GITHUB_TOKEN_FILE</c>), and the masker
/// masks every one of them whatever its name says (a Slack webhook URL is a credential).
/// </summary>
internal static class SecretSettings
{
    /// <summary>Settings whose whole value is a secret.</summary>
    public static IReadOnlyList<string> Keys { get; } =
    [
        "GitHub:Token",
        "GitHub:ClientSecret",
        "Webhooks:Secret",
        "Webhooks:SecondarySecret",
        "Deployments:PrivateKey",
        "Providers:Heroku:ApiKey",
        "Providers:ElasticBeanstalk:SecretAccessKey",
        "Providers:Bundler:PrivateCredentials",
        "Notifications:Slack:WebhookUrl",
        "Notifications:Slack:BotToken",
        "Notifications:Teams:WebhookUrl",
        "Notifications:Discord:WebhookUrl",
        "Notifications:HipChat:Token",
        "Notifications:Campfire:Token",
        "Notifications:Campfire:BotUrl",
        "Notifications:Webhook:Secret",
        "Notifications:Flowdock:UserApiToken",
        "Notifications:Flowdock:FlowTokens",
    ];

    /// <summary>
    /// Settings that may come from a file: the secrets above, and the database settings, which hold a
    /// password (the masker masks only the password of those).
    /// </summary>
    public static IReadOnlyList<string> FileKeys { get; } = [.. Keys, "Database:Url", "Database:ConnectionString"];
}
