using System.Collections.Concurrent;
using System.Text.Json;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// A real HTTP server on 127.0.0.1 standing in for GitHub's <c>GET /meta</c>, under the <c>/api/v3</c>
/// prefix every non-github.com host gets. It records each request and answers what the test set last.
/// </summary>
public sealed class FakeGitHubMeta : IAsyncDisposable
{
    public const string MetaPath = "/api/v3/meta";

    private readonly ConcurrentQueue<MetaRequest> requests = new();
    private volatile Answer answer = new(500, "{\"message\":\"no answer set\"}");
    private WebApplication app = null!;

    private FakeGitHubMeta()
    {
    }

    public Uri BaseAddress { get; private set; } = null!;

    /// <summary>What Heaven's <c>GitHub:ApiUrl</c> is set to: the bare host, as for GitHub Enterprise.</summary>
    public string ApiUrl => BaseAddress.ToString();

    public IReadOnlyList<MetaRequest> Requests => [.. requests];

    /// <summary>How long each answer is held back, to make requests overlap.</summary>
    public TimeSpan Delay { get; set; }

    public static async Task<FakeGitHubMeta> StartAsync()
    {
        var fake = new FakeGitHubMeta();
        var builder = WebApplication.CreateSlimBuilder();
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Logging.ClearProviders();
        fake.app = builder.Build();
        fake.app.Run(fake.HandleAsync);
        await fake.app.StartAsync();
        var address = fake.app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        fake.BaseAddress = new Uri(address.TrimEnd('/') + "/");
        return fake;
    }

    /// <summary>Answers <c>/meta</c> with these <c>hooks</c> ranges (and an unrelated <c>git</c> list, as GitHub does).</summary>
    public FakeGitHubMeta ServeHooks(params string[] hooks)
    {
        answer = new Answer(200, JsonSerializer.Serialize(new { verifiable_password_authentication = true, hooks, git = new[] { "192.30.252.0/22" } }));
        return this;
    }

    public FakeGitHubMeta ServeBody(string json)
    {
        answer = new Answer(200, json);
        return this;
    }

    public FakeGitHubMeta Fail(int status = 500)
    {
        answer = new Answer(status, "{\"message\":\"Server Error\"}");
        return this;
    }

    public async ValueTask DisposeAsync()
    {
        await app.StopAsync();
        await app.DisposeAsync();
    }

    private async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        requests.Enqueue(new MetaRequest(
            request.Method,
            request.Path.Value ?? "",
            request.Headers.Authorization.ToString() is { Length: > 0 } authorization ? authorization : null,
            request.Headers.Accept.ToString(),
            request.Headers.UserAgent.ToString()));

        if (Delay > TimeSpan.Zero)
        {
            await Task.Delay(Delay, context.RequestAborted);
        }

        var current = request.Path.Equals(MetaPath, StringComparison.Ordinal) && HttpMethods.IsGet(request.Method)
            ? answer
            : new Answer(404, "{\"message\":\"Not Found\"}");
        context.Response.StatusCode = current.Status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(current.Body, context.RequestAborted);
    }

    private sealed record Answer(int Status, string Body);
}

public sealed record MetaRequest(string Method, string Path, string? Authorization, string Accept, string UserAgent);
