using Heaven.Access;
using Heaven.Api;
using Heaven.AutoDeploy;
using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.Deployments;
using Heaven.Execution;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Notifications;
using Heaven.Operations;
using Heaven.Output;
using Heaven.Providers;
using Heaven.Reconciliation;
using Heaven.Retention;
using Heaven.Ssh;
using Heaven.Statuses;
using Heaven.Storage;
using Heaven.Web;
using Microsoft.Extensions.Configuration.EnvironmentVariables;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Hosting;

/// <summary>Composition of the Heaven server: configuration, components, endpoints. Nothing else lives here.</summary>
public static class HeavenApp
{
    public const int DefaultPort = 8080;

    /// <summary>Lowest-priority settings: anything in appsettings.json, the environment or the command line wins.</summary>
    private static readonly Dictionary<string, string?> Defaults = new()
    {
        ["urls"] = $"http://*:{DefaultPort}",
        ["Logging:LogLevel:Default"] = "Information",
        ["Logging:LogLevel:Microsoft.AspNetCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.EntityFrameworkCore"] = "Warning",
        ["Logging:LogLevel:Microsoft.Hosting.Lifetime"] = "Warning",
        // When, in UTC, on every console line: a log read the next morning or next to GitHub's times needs it.
        ["Logging:Console:FormatterName"] = "simple",
        ["Logging:Console:FormatterOptions:TimestampFormat"] = "yyyy-MM-ddTHH:mm:ss.fffZ ",
        ["Logging:Console:FormatterOptions:UseUtcTimestamp"] = "true",
    };

    /// <param name="args">Command-line arguments (<c>--urls</c>, <c>--GitHub:Token=...</c>, ...).</param>
    /// <param name="environment">Where the original Heaven's variables are read from; the process environment by default.</param>
    public static WebApplicationBuilder CreateBuilder(string[] args, IReadOnlyDictionary<string, string?>? environment = null)
    {
        var builder = WebApplication.CreateBuilder(new WebApplicationOptions
        {
            Args = args,
            // appsettings.json ships beside the executable, wherever Heaven is started from.
            ContentRootPath = AppContext.BaseDirectory,
        });

        var sources = builder.Configuration.Sources;
        sources.Insert(0, new Microsoft.Extensions.Configuration.Memory.MemoryConfigurationSource { InitialData = Defaults });
        var legacy = environment is null ? LegacyEnvironmentConfigurationSource.FromProcess() : new LegacyEnvironmentConfigurationSource(environment);
        var standardEnvironment = sources.Select((source, index) => (source, index))
            .LastOrDefault(s => s.source is EnvironmentVariablesConfigurationSource { Prefix: null or "" });
        sources.Insert(standardEnvironment.source is null ? sources.Count : standardEnvironment.index, legacy);
        return builder;
    }

    /// <summary>Registers every component. Call after all configuration sources are in place.</summary>
    /// <param name="inspectOnly">
    /// For <c>heaven doctor</c>: the data directory must exist and is left as it is (no modes repaired),
    /// so what is wrong with it can still be seen.
    /// </param>
    public static WebApplication Build(WebApplicationBuilder builder, bool inspectOnly = false)
    {
        // Before anything is created: what Heaven creates is private to its user (ProcessUmask says why).
        ProcessUmask.Restrict();
        // Secrets given as files (GitHub:TokenFile, GITHUB_TOKEN_FILE) become settings like any other.
        SecretFiles.Apply(builder.Configuration);
        var services = builder.Services;
        var dataDirectory = inspectOnly ? new DataDirectory(DataDirectory.FullPathOf(builder.Configuration)) : DataDirectory.Prepare(builder.Configuration);
        services.AddSingleton(dataDirectory);
        // First of the hosted services: nothing else starts while another server owns the directory.
        services.AddHostedService<DataDirectoryLock>();
        // TryAdd: a test (or an embedding host) may bring its own clock.
        services.TryAddSingleton(TimeProvider.System);

        services.AddValidatedOptions<HeavenOptions>(HeavenOptions.Section);
        services.AddValidatedOptions<GitHubOptions>(GitHubOptions.Section);
        services.AddValidatedOptions<WebhookOptions>(WebhookOptions.Section);
        services.AddValidatedOptions<DeploymentOptions>(DeploymentOptions.Section);
        services.AddValidatedOptions<DeployKeyOptions>(DeployKeyOptions.Section);
        services.AddValidatedOptions<GitOptions>(GitOptions.Section);
        services.AddValidatedOptions<CheckoutOptions>(CheckoutOptions.Section);
        services.AddValidatedOptions<HerokuOptions>(HerokuOptions.Section);
        services.AddValidatedOptions<ElasticBeanstalkOptions>(ElasticBeanstalkOptions.Section);
        services.AddValidatedOptions<DplOptions>(DplOptions.Section);
        services.AddValidatedOptions<TargetPolicyOptions>(TargetPolicyOptions.Section);
        services.AddHeavenStorage(builder.Configuration, dataDirectory);
        services.AddRetention();

        // Hosted services stop in the reverse order: the intake first, then the deploys (which
        // record their outcome), then the status sender, then the database.
        services.AddStatuses();
        services.AddNotifications();
        services.AddExecution();
        services.AddCheckout();
        services.AddOutput();
        services.AddDeployments();
        services.AddAutoDeploy();
        services.AddIntake();
        services.AddReconciliation();
        services.AddOperations();
        services.AddWeb();
        services.AddHeavenAccess(builder.Configuration);
        services.AddHeavenApi();
        builder.AddHeavenTelemetry();
        ConsoleLogFormat.Configure(builder);

        // A failed start is reported once, as one line (HeavenApp.StartAsync); the host's own account
        // of it, with the stack trace, is left out. Later errors of the host are logged as usual.
        var phase = new StartPhase();
        services.AddSingleton(phase);
        builder.Logging.AddFilter(StartPhase.HostCategory, level => level >= LogLevel.Information && !(phase.Starting && level == LogLevel.Error));

        var app = builder.Build();
        app.UseTrustedProxies();
        app.UseHeavenAccess();
        WebhookEndpoint.Map(app);
        HealthEndpoints.Map(app);
        DeploymentLogPage.Map(app);
        Heaven.Web.Pages.AdminPages.Map(app);
        StaticAssets.Map(app);
        var api = app.MapGroup(ApiEndpoints.Prefix);
        api.MapApi();
        TelemetrySetup.MapMetrics(app);
        Heaven.Web.Pages.DeploymentPages.Map(app);
        return app;
    }

    /// <summary>
    /// Everything that must be true before the first request: valid settings, the webhook secret, the
    /// schema. A problem becomes a <see cref="StartupException"/> that names the setting to fix.
    /// </summary>
    public static async Task PrepareAsync(WebApplication app, CancellationToken cancellationToken)
    {
        ValidateSettings(app.Services);
        _ = app.Services.GetRequiredService<WebhookSecrets>();
        var database = app.Services.GetRequiredService<IHeavenDatabase>();
        try
        {
            await StorageRegistration.MigrateAsync(database, cancellationToken);
        }
        catch (NewerSchemaException newer)
        {
            throw new StartupException(newer.Message);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Connection errors may quote the connection string: name the engine and the error kind only.
            throw new StartupException($"Heaven could not open its {database.Provider} database ({e.GetType().Name}: {FirstLine(e.Message)}). Check Database:ConnectionString / DATABASE_URL, or the data directory for SQLite.");
        }
    }

    /// <summary>
    /// Prepares Heaven and starts it: every start-up failure Heaven can explain (a setting, the data
    /// directory, the address to listen on) becomes a <see cref="StartupException"/> of one line per problem.
    /// </summary>
    public static async Task StartAsync(WebApplication app, CancellationToken cancellationToken)
    {
        // Processes of Heaven's own user (a deploy without a user switch, anything else it runs) can
        // then neither read its environment (the tokens) nor attach a debugger to it.
        if (OperatingSystem.IsLinux() && !Posix.MakeUndumpable())
        {
            throw new StartupException("Heaven could not make its process undumpable (prctl PR_SET_DUMPABLE); it does not run with secrets other processes of its user could read.");
        }

        await PrepareAsync(app, cancellationToken);
        // Found before the first deploy and the start-up report, which says what a deploy can reach.
        await app.Services.GetRequiredService<DeployIsolation>().GetAsync(cancellationToken);
        if (StartupProblems.UrlsProblem(app.Configuration["urls"]) is { } urls)
        {
            throw new StartupException(urls);
        }

        var phase = app.Services.GetRequiredService<StartPhase>();
        phase.Starting = true;
        try
        {
            await app.StartAsync(cancellationToken);
        }
        catch (Exception e) when (StartupProblems.Explain(e, app.Configuration) is { } message)
        {
            // What did start (the deploy engine, the senders) stops as on any shutdown.
            using var stopping = new CancellationTokenSource(TimeSpan.FromSeconds(10));
            try
            {
                await app.StopAsync(stopping.Token);
            }
            catch (Exception stop) when (stop is not OutOfMemoryException)
            {
                // The start's failure is the one to report.
            }

            throw new StartupException(message);
        }
        finally
        {
            phase.Starting = false;
        }
    }

    /// <summary>Reads every registered options class (<see cref="OptionsRegistration"/>) and reports all that is wrong at once.</summary>
    internal static void ValidateSettings(IServiceProvider services)
    {
        var configuration = services.GetRequiredService<IConfiguration>();
        var problems = new List<string>();
        foreach (var registered in services.GetServices<RegisteredOptions>())
        {
            try
            {
                registered.Read(services);
            }
            catch (Exception e) when (StartupProblems.Explain(e, configuration) is { } problem)
            {
                problems.Add(problem);
            }
        }

        if (problems.Count > 0)
        {
            throw new StartupException(StartupProblems.Lines(problems));
        }
    }

    private static string FirstLine(string text) => text.Split('\n')[0].Trim();
}

/// <summary>Whether <see cref="HeavenApp.StartAsync"/> is starting the host, whose start failures it reports itself.</summary>
internal sealed class StartPhase
{
    public const string HostCategory = "Microsoft.Extensions.Hosting.Internal.Host";

    private bool starting;

    public bool Starting
    {
        get => Volatile.Read(ref starting);
        set => Volatile.Write(ref starting, value);
    }
}
