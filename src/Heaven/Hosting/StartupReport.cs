using System.Net;
using Heaven.Access;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Execution;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Providers;
using Heaven.Ssh;
using Heaven.Storage;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Options;

namespace Heaven.Hosting;

/// <summary>What an operator needs to read once Heaven is up: where to point GitHub, and what is still missing.</summary>
internal static partial class StartupReport
{
    /// <summary>
    /// Prints the report on <paramref name="output"/>, or, when the console log is JSON, logs it as one
    /// JSON line like every other (masked as the terminal would have masked it).
    /// </summary>
    /// <param name="drained">The <c>heaven drain</c> that holds this node, if one does.</param>
    public static void Publish(IServiceProvider services, TextWriter output, NodeDrain? drained = null)
    {
        if (!ConsoleLogFormat.IsJson(services.GetRequiredService<IConfiguration>()))
        {
            Write(services, output, drained);
            return;
        }

        using var text = new StringWriter(System.Globalization.CultureInfo.InvariantCulture);
        Write(services, text, drained);
        var masker = services.GetRequiredService<Heaven.Model.ISecretMasker>();
        Log.Report(services.GetRequiredService<ILoggerFactory>().CreateLogger(typeof(StartupReport).FullName!), masker.Mask(text.ToString().TrimEnd()));
    }

    /// <param name="drained">The <c>heaven drain</c> that holds this node, if one does.</param>
    public static void Write(IServiceProvider services, TextWriter output, NodeDrain? drained = null)
    {
        var heaven = services.GetRequiredService<IOptions<HeavenOptions>>().Value;
        var github = services.GetRequiredService<IOptions<GitHubOptions>>().Value;
        var secrets = services.GetRequiredService<WebhookSecrets>();
        var dataDirectory = services.GetRequiredService<DataDirectory>();
        var database = services.GetRequiredService<IHeavenDatabase>();
        var isolation = services.GetService<DeployIsolation>()?.Current;
        var addresses = services.GetService<IServer>()?.Features.Get<IServerAddressesFeature>()?.Addresses ?? [];

        output.WriteLine("Heaven is running.");
        foreach (var address in addresses)
        {
            output.WriteLine($"  Listening on     {address}");
        }

        output.WriteLine($"  Data directory   {dataDirectory.FullPath}");
        output.WriteLine(database.Provider == DatabaseProvider.Sqlite
            ? $"  Database         SQLite, {dataDirectory.PathOf(DatabaseOptions.SqliteFileName)}"
            : "  Database         PostgreSQL (Database:ConnectionString / DATABASE_URL)");
        if (drained is not null)
        {
            output.WriteLine(string.Create(
                System.Globalization.CultureInfo.InvariantCulture,
                $"  Draining         {(drained.IsForAllNodes ? "every node" : "this node")}, by {drained.RequestedBy} at {drained.RequestedAt:yyyy-MM-dd HH:mm}Z: no deployment starts here until 'heaven resume{(drained.IsForAllNodes ? " --all" : "")}'"));
        }

        if (isolation is not null)
        {
            output.WriteLine($"  Deploys          {isolation.Summary}");
            if (isolation.CreatedUser is { } created)
            {
                output.WriteLine($"                   (created the system user {created} for them just now, without a login shell)");
            }

            if (!isolation.IsIsolated)
            {
                output.WriteLine(isolation.Refusal is null
                    ? "  WARNING          a deploy script could read Heaven's GitHub token and other secrets. Run Heaven as root (deploys then run as Deployments:RunAs) and/or install bubblewrap; see docs/security.md."
                    : "  WARNING          no deploy will run until this host can isolate them: run Heaven as root and/or install bubblewrap, or set Deployments:Isolation=auto; see docs/security.md.");
            }
        }

        output.WriteLine();

        var webhookUrl = WebhookUrl(heaven.PublicUrl, addresses);
        output.WriteLine("To connect a repository, add a webhook in GitHub (Settings > Webhooks > Add webhook):");
        output.WriteLine($"  Payload URL      {webhookUrl}");
        if (string.IsNullOrWhiteSpace(heaven.PublicUrl))
        {
            output.WriteLine("                   (guessed from the listening address: set Heaven:PublicUrl to the address GitHub can reach)");
        }

        output.WriteLine("  Content type     application/json");
        if (secrets.GeneratedSecretFile is { } file)
        {
            output.WriteLine($"  Secret           the contents of {file}");
            output.WriteLine($"                   ({(secrets.GeneratedNow ? "generated just now" : "generated on an earlier start")}, readable only by its owner; show it with: cat {file})");
        }
        else
        {
            output.WriteLine("  Secret           the value of Webhooks:Secret (or GITHUB_WEBHOOK_SECRET)");
        }

        output.WriteLine("  Events           Deployments, Deployment statuses, Statuses, Check suites");
        output.WriteLine("  Unsigned or wrongly signed deliveries are refused with 401; there is no way to turn that off.");

        output.WriteLine();
        foreach (var line in AccessRegistration.Report(services, WebhookUrl(heaven.PublicUrl, addresses)[..^WebhookEndpoint.Path.Length]))
        {
            output.WriteLine(line);
        }

        var missing = MissingSettings(github).ToList();
        output.WriteLine();
        if (missing.Count == 0)
        {
            output.WriteLine("All required settings are present.");
        }
        else
        {
            output.WriteLine("Settings still missing:");
            foreach (var line in missing)
            {
                output.WriteLine($"  - {line}");
            }
        }

        var shared = SharedCredentials(services).ToList();
        if (shared.Count > 0)
        {
            output.WriteLine();
            output.WriteLine($"Warning: server-wide credentials are shared by every repository: {string.Join(", ", shared)}.");
            output.WriteLine("  Any repository's deployment can use them on whatever target its payload names (another repository's Heroku app,");
            output.WriteLine("  Beanstalk environment, dpl target or servers). List each repository's targets under Repositories:<owner/name>");
            output.WriteLine("  (HerokuApps, ElasticBeanstalk, Dpl, BundlerPrivateSource, DeployKey) and set Providers:RequireTargetLists=true");
            output.WriteLine("  (docs/providers.md, \"Which repository may use which credentials\").");
        }
        else if (!string.IsNullOrWhiteSpace(services.GetRequiredService<IOptions<DeployKeyOptions>>().Value.PrivateKey))
        {
            // Target lists say nothing about servers reached over ssh: the server's key still goes to every repository without its own.
            output.WriteLine();
            output.WriteLine("Note: Deployments:PrivateKey goes to every repository without a Repositories:<owner/name>:DeployKey of its own.");
        }

        output.Flush();
    }

    /// <summary>
    /// The server-wide credentials configured, by setting, while repositories are not required to list
    /// their targets; nothing when lists are required.
    /// </summary>
    internal static IEnumerable<string> SharedCredentials(IServiceProvider services)
    {
        if (services.GetRequiredService<IOptions<TargetPolicyOptions>>().Value.RequireTargetLists)
        {
            yield break;
        }

        if (!string.IsNullOrWhiteSpace(services.GetRequiredService<IOptions<DeployKeyOptions>>().Value.PrivateKey))
        {
            yield return "Deployments:PrivateKey";
        }

        if (!string.IsNullOrWhiteSpace(services.GetRequiredService<IOptions<HerokuOptions>>().Value.ApiKey))
        {
            yield return "Providers:Heroku:ApiKey";
        }

        if (!string.IsNullOrWhiteSpace(services.GetRequiredService<IOptions<ElasticBeanstalkOptions>>().Value.SecretAccessKey))
        {
            yield return "Providers:ElasticBeanstalk";
        }

        if (services.GetRequiredService<IOptions<DplOptions>>().Value.Secrets.Any(p => p.Value is { Count: > 0 }))
        {
            yield return "Providers:Dpl:Secrets";
        }

        if (!string.IsNullOrEmpty(services.GetRequiredService<IOptions<BundlerOptions>>().Value.PrivateCredentials))
        {
            yield return "Providers:Bundler:PrivateCredentials";
        }
    }

    private static IEnumerable<string> MissingSettings(GitHubOptions github)
    {
        if (string.IsNullOrWhiteSpace(github.Token))
        {
            yield return "GitHub:Token (or GITHUB_TOKEN) is not set: Heaven records deployments it is sent, but cannot post deployment statuses, create gists or fetch private repositories until it is. Use a token that may write deployments and gists, from a file named by GitHub:TokenFile (or GITHUB_TOKEN_FILE) or in the environment, never on the command line.";
        }
    }

    internal static string WebhookUrl(string? publicUrl, ICollection<string> addresses)
    {
        if (!string.IsNullOrWhiteSpace(publicUrl))
        {
            return publicUrl.TrimEnd('/') + WebhookEndpoint.Path;
        }

        var first = addresses.FirstOrDefault() ?? $"http://*:{HeavenApp.DefaultPort}";
        var host = Dns.GetHostName();
        var normalized = first.Replace("://*", "://" + host, StringComparison.Ordinal)
            .Replace("://+", "://" + host, StringComparison.Ordinal)
            .Replace("://[::]", "://" + host, StringComparison.Ordinal)
            .Replace("://0.0.0.0", "://" + host, StringComparison.Ordinal);
        return normalized.TrimEnd('/') + WebhookEndpoint.Path;
    }

    private static partial class Log
    {
        [LoggerMessage(EventId = 1, EventName = "StartupReport", Level = LogLevel.Information, Message = "{Report}")]
        public static partial void Report(ILogger logger, string report);
    }
}
