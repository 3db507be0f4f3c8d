using System.Buffers;
using Heaven.Hosting;
using Heaven.Intake;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Bench;

/// <summary>
/// The server side of the benchmark, run as a child process: Heaven composed exactly as
/// <c>heaven serve</c> composes it (<see cref="HeavenApp.CreateBuilder"/>, <see cref="HeavenApp.Build"/>,
/// <see cref="HeavenApp.PrepareAsync"/>), plus one endpoint for the baseline.
/// </summary>
internal static class BenchServer
{
    /// <summary>The baseline: reads the body and checks its signature with Heaven's own verifier, stores nothing.</summary>
    public const string BarePath = "/bench/bare";

    public const string SecretVariable = "HEAVEN_BENCH_SECRET";

    /// <summary>The line the server writes to stdout once it accepts connections.</summary>
    public const string ReadyPrefix = "LISTENING ";

    public static async Task<int> RunAsync(BenchOptions options)
    {
        var secret = Environment.GetEnvironmentVariable(SecretVariable);
        if (string.IsNullOrEmpty(secret) || options.DataDirectory is null)
        {
            throw new BenchUsageException($"server mode needs --data DIR and the secret in {SecretVariable}.");
        }

        string[] args =
        [
            "--urls", $"http://127.0.0.1:{options.Port}",
            $"--DataDirectory={options.DataDirectory}",
            $"--Webhooks:Secret={secret}",
            $"--Logging:LogLevel:Default={options.ServerLogLevel}",
            // An intake-only node: what is measured is taking webhooks. Running the deploys they
            // ask for is measured by bench/Heaven.Bench.Deploy.
            "--Deployments:MaxParallel=0",
            .. options.ServerArgs,
        ];

        // The original Heaven's variables (GITHUB_WEBHOOK_SECRET, DATABASE_URL, ...) of whoever runs the
        // benchmark must not change what is measured: the legacy source gets an empty environment.
        var builder = HeavenApp.CreateBuilder(args, new Dictionary<string, string?>());
        var app = HeavenApp.Build(builder);
        app.MapPost(BarePath, async (HttpContext context, SignatureVerifier signatures) =>
        {
            var body = await ReadBodyAsync(context);
            return signatures.Check(context.Request.Headers[SignatureVerifier.HeaderName], body.Span) == SignatureCheck.Valid
                ? Results.StatusCode(StatusCodes.Status202Accepted)
                : Results.StatusCode(StatusCodes.Status401Unauthorized);
        });

        await HeavenApp.PrepareAsync(app, CancellationToken.None);
        await app.StartAsync();
        var address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        Console.Out.WriteLine(ReadyPrefix + address);
        Console.Out.Flush();

        // The parent ends the server by closing stdin (or by killing it, for the durability check).
        await Task.Run(() =>
        {
            while (Console.In.ReadLine() is { } line && line != "stop")
            {
            }
        });

        await app.StopAsync();
        await app.DisposeAsync();
        return 0;
    }

    /// <summary>The whole body, in a buffer that grows as bytes arrive (as <c>POST /events</c> does, never sized by <c>Content-Length</c>).</summary>
    private static async Task<ReadOnlyMemory<byte>> ReadBodyAsync(HttpContext context)
    {
        var buffer = new ArrayBufferWriter<byte>(16 * 1024);
        while (true)
        {
            var memory = buffer.GetMemory(16 * 1024);
            var read = await context.Request.Body.ReadAsync(memory, context.RequestAborted);
            if (read == 0)
            {
                return buffer.WrittenMemory;
            }

            buffer.Advance(read);
        }
    }
}
