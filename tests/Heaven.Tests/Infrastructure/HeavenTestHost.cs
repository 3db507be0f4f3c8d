using System.Net.Http.Headers;
using System.Security.Cryptography;
using System.Text;
using Heaven.Hosting;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A real Heaven server on 127.0.0.1 with its own temporary data directory and SQLite file, reached
/// over real HTTP. Settings are given as configuration keys, exactly as an operator would set them.
/// </summary>
public sealed class HeavenTestHost : IAsyncDisposable
{
    public const string Secret = "test-webhook-secret-0123456789abcdef";

    private readonly bool ownsDirectory;

    private HeavenTestHost(WebApplication app, TemporaryDirectory directory, bool ownsDirectory, Uri baseAddress)
    {
        this.ownsDirectory = ownsDirectory;
        App = app;
        Directory = directory;
        BaseAddress = baseAddress;
        Client = new HttpClient { BaseAddress = baseAddress, Timeout = TimeSpan.FromSeconds(30) };
    }

    public WebApplication App { get; }

    public TemporaryDirectory Directory { get; }

    public Uri BaseAddress { get; }

    public HttpClient Client { get; }

    public IServiceProvider Services => App.Services;

    public string DataDirectory => Path.Combine(Directory.Path, "data");

    /// <summary>Starts Heaven. The webhook secret is <see cref="Secret"/> unless the settings say otherwise (null removes it).</summary>
    /// <param name="overrideServices">
    /// Runs after Heaven has registered its components, so a test can replace one (a fake clock, say).
    /// </param>
    /// <param name="configure">Runs just before the app is built: extra services, test doubles.</param>
    /// <param name="beforeStart">Runs after Heaven mapped its endpoints, before it starts: endpoints of the test's own.</param>
    public static async Task<HeavenTestHost> StartAsync(
        IDictionary<string, string?>? settings = null,
        IReadOnlyDictionary<string, string?>? legacyEnvironment = null,
        TemporaryDirectory? directory = null,
        Action<IServiceCollection>? overrideServices = null,
        Action<WebApplicationBuilder>? configure = null,
        Action<WebApplication>? beforeStart = null)
    {
        var ownsDirectory = directory is null;
        directory ??= new TemporaryDirectory();
        var all = new Dictionary<string, string?>
        {
            ["DataDirectory"] = Path.Combine(directory.Path, "data"),
            ["Webhooks:Secret"] = Secret,
            // Intake tests look at deployments as received; DeployHarness turns the deploy engine on.
            ["Deployments:MaxParallel"] = "0",
            // Test scripts report to the test through its own folders, which an isolated deploy cannot
            // reach; the isolation tests (Execution/IsolationTests, Deployments/HostileDeployTests) turn it on.
            ["Deployments:Isolation"] = "none",
            // Test repositories are local (TestRepository); a test of the refusal sets it to null.
            ["Checkout:AllowLocalRepositories"] = "true",
            // Deployments a test seeds on the fake GitHub are history, not missed webhooks; the
            // reconciliation tests start their passes themselves.
            ["Reconciliation:Interval"] = "0",
        };
        foreach (var (key, value) in settings ?? new Dictionary<string, string?>())
        {
            all[key] = value;
        }

        var builder = HeavenApp.CreateBuilder(["--urls", "http://127.0.0.1:0"], legacyEnvironment ?? new Dictionary<string, string?>());
        builder.Configuration.AddInMemoryCollection(all.Where(kv => kv.Value is not null));
        if (overrideServices is not null)
        {
            builder.Host.UseServiceProviderFactory(new OverridingServiceProviderFactory(overrideServices));
        }

        configure?.Invoke(builder);
        var app = HeavenApp.Build(builder);
        beforeStart?.Invoke(app);
        await HeavenApp.StartAsync(app, CancellationToken.None);
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new HeavenTestHost(app, directory, ownsDirectory, new Uri(address));
    }

    /// <summary>Sends a webhook the way GitHub does, signed with <paramref name="secret"/> (null: unsigned).</summary>
    public Task<HttpResponseMessage> SendWebhookAsync(
        string eventName,
        string body,
        string? deliveryId = null,
        string? secret = Secret,
        string contentType = "application/json") =>
        Client.SendAsync(Webhook.Request(eventName, body, deliveryId ?? Guid.NewGuid().ToString(), secret, contentType));

    public async ValueTask DisposeAsync()
    {
        Client.Dispose();
        await App.StopAsync();
        await App.DisposeAsync();
        if (ownsDirectory)
        {
            // A directory handed in belongs to the test: it may start another Heaven on it.
            Directory.Dispose();
        }
    }
}

/// <summary>
/// The host's own factory, except that the overrides are applied to the finished service collection:
/// HeavenApp.Build registers and builds in one call, so this is the one moment in between.
/// </summary>
internal sealed class OverridingServiceProviderFactory(Action<IServiceCollection> overrides) : IServiceProviderFactory<IServiceCollection>
{
    private readonly DefaultServiceProviderFactory inner = new();

    public IServiceCollection CreateBuilder(IServiceCollection services)
    {
        overrides(services);
        return inner.CreateBuilder(services);
    }

    public IServiceProvider CreateServiceProvider(IServiceCollection containerBuilder) => inner.CreateServiceProvider(containerBuilder);
}

/// <summary>Builds GitHub-shaped webhook requests. The signature is computed here, independently of Heaven's code.</summary>
public static class Webhook
{
    public static HttpRequestMessage Request(string? eventName, string body, string? deliveryId, string? secret, string contentType = "application/json")
    {
        var bytes = Encoding.UTF8.GetBytes(body);
        var request = new HttpRequestMessage(HttpMethod.Post, "/events") { Content = new ByteArrayContent(bytes) };
        request.Content.Headers.ContentType = MediaTypeHeaderValue.Parse(contentType);
        request.Headers.UserAgent.ParseAdd("GitHub-Hookshot/test");
        if (eventName is not null)
        {
            request.Headers.Add("X-GitHub-Event", eventName);
        }

        if (deliveryId is not null)
        {
            request.Headers.Add("X-GitHub-Delivery", deliveryId);
        }

        if (secret is not null)
        {
            request.Headers.Add("X-Hub-Signature-256", Sign(bytes, secret));
        }

        return request;
    }

    public static string Sign(byte[] body, string secret)
    {
        using var hmac = new HMACSHA256(Encoding.UTF8.GetBytes(secret));
        return "sha256=" + Convert.ToHexString(hmac.ComputeHash(body)).ToLowerInvariant();
    }
}

public sealed class TemporaryDirectory : IDisposable
{
    public TemporaryDirectory()
    {
        // Per user, so a run as root never leaves a folder an ordinary user cannot write into.
        Path = System.IO.Path.Combine(System.IO.Path.GetTempPath(), $"heaven-tests-{Environment.UserName}", Guid.NewGuid().ToString("N"));
        System.IO.Directory.CreateDirectory(Path);
        // Searchable by others whatever the umask (an in-process Heaven sets 077 for the whole test
        // process): a deploy running as another user must reach the work directory inside.
        const UnixFileMode searchable = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute
            | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute;
        File.SetUnixFileMode(System.IO.Path.GetDirectoryName(Path)!, searchable);
        File.SetUnixFileMode(Path, searchable);
    }

    public string Path { get; }

    public void Dispose()
    {
        try
        {
            System.IO.Directory.Delete(Path, recursive: true);
        }
        catch (IOException)
        {
        }
    }
}

/// <summary>The original Heaven's webhook payloads, shipped with the tests.</summary>
public static class Fixtures
{
    public static string Folder => Path.Combine(AppContext.BaseDirectory, "Fixtures", "heaven");

    public static string Read(string name) => File.ReadAllText(Path.Combine(Folder, name));
}
