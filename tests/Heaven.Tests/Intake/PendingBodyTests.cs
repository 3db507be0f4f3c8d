using System.Net;
using System.Net.Sockets;
using System.Text;
using System.Text.Json;
using Heaven.Intake;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Heaven.Tests.Intake;

/// <summary>
/// Bodies whose signature is not checked yet are what anyone can send: together they are held to
/// Webhooks:MaxPendingBodyBytes, they are buffered as they arrive (not as announced), and a body that
/// does not arrive in time is cut off.
/// </summary>
public sealed class PendingBodyTests
{
    private const int Limit = 16 * 1024;

    [Fact]
    public async Task WhenHeldBodiesFillTheBudget_TheNextDeliveryGets503WithRetryAfter_AndIsServedOnceTheyAreDone()
    {
        await using var host = await StartAsync();
        var budget = host.Services.GetRequiredService<PendingBodyBudget>();
        var body = PingOfLength(Limit);

        // All but the last byte: the server has taken room for the whole body and waits for the rest.
        await using var held = await RawRequest.StartAsync(host.BaseAddress, "ping", body, Webhook.Sign(body, HeavenTestHost.Secret), sendFirst: body.Length - 1);
        await Poll.UntilAsync(() => budget.Pending == budget.Capacity, "the held body to fill the budget", state: () => $"{budget.Pending} of {budget.Capacity} bytes pending");

        var refused = await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"));

        refused.StatusCode.ShouldBe(HttpStatusCode.ServiceUnavailable);
        refused.Headers.RetryAfter.ShouldNotBeNull().Delta.ShouldBe(TimeSpan.FromSeconds(5));
        var answer = JsonDocument.Parse(await refused.Content.ReadAsStringAsync()).RootElement;
        answer.GetProperty("result").GetString().ShouldBe("rejected");
        answer.GetProperty("message").GetString()!.ShouldContain("Webhooks:MaxPendingBodyBytes");
        await host.ShouldHaveStoredNothingAsync();

        await held.SendRestAsync();
        (await held.ReadResponseAsync()).Status.ShouldBe(200);
        budget.Pending.ShouldBe(0);
        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"))).StatusCode.ShouldBe(HttpStatusCode.OK);
    }

    [Fact]
    public async Task WhatARequestAnnounces_IsNotHeld_OnlyWhatArrives()
    {
        await using var host = await StartAsync(null, ("Webhooks:MaxPendingBodyBytes", (2 * Limit).ToString(System.Globalization.CultureInfo.InvariantCulture)));
        var budget = host.Services.GetRequiredService<PendingBodyBudget>();
        var body = PingOfLength(Limit - 16);

        // Two requests that together announce nearly the whole budget, and send a few bytes each.
        await using var first = await RawRequest.StartAsync(host.BaseAddress, "ping", body, Webhook.Sign(body, HeavenTestHost.Secret), sendFirst: 100);
        await using var second = await RawRequest.StartAsync(host.BaseAddress, "ping", body, Webhook.Sign(body, HeavenTestHost.Secret), sendFirst: 100);
        await Poll.UntilAsync(() => budget.Pending == 2 * WebhookBody.FirstSegmentBytes, "both bodies to be taken in", state: () => $"{budget.Pending} bytes pending");

        (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"))).StatusCode.ShouldBe(HttpStatusCode.OK);

        await first.SendRestAsync();
        (await first.ReadResponseAsync()).Status.ShouldBe(200);
        await second.SendRestAsync();
        (await second.ReadResponseAsync()).Status.ShouldBe(200);
        budget.Pending.ShouldBe(0);
    }

    [Fact]
    public async Task ABodyThatDoesNotArriveWithinBodyTimeout_Is408_AndItsBytesAreReleased()
    {
        var clock = new TestClock();
        await using var host = await StartAsync(
            services => services.Replace(ServiceDescriptor.Singleton(provider => ActivatorUtilities.CreateInstance<WebhookEndpoint>(provider, (TimeProvider)clock))),
            ("Webhooks:BodyTimeout", "00:00:20"));
        var budget = host.Services.GetRequiredService<PendingBodyBudget>();
        var body = PingOfLength(2000);
        await using var held = await RawRequest.StartAsync(host.BaseAddress, "ping", body, Webhook.Sign(body, HeavenTestHost.Secret), sendFirst: 100);
        await Poll.UntilAsync(() => budget.Pending > 0, "the body to be taken in");
        await clock.SleepingAsync("the body's deadline", left => left == TimeSpan.FromSeconds(20));

        clock.Advance(TimeSpan.FromSeconds(20));

        var (status, message) = await held.ReadResponseAsync();
        status.ShouldBe(408);
        message.ShouldContain("did not arrive within 00:00:20 (Webhooks:BodyTimeout)");
        budget.Pending.ShouldBe(0);
        await host.ShouldHaveStoredNothingAsync();
    }

    [Fact]
    public async Task ABudgetSmallerThanTheLargestBody_StopsTheStart()
    {
        var problem = await Should.ThrowAsync<Heaven.Configuration.StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?>
        {
            ["Webhooks:MaxPendingBodyBytes"] = "1048576",
        }));

        problem.Message.ShouldContain("Webhooks:MaxPendingBodyBytes (1048576) must be at least Webhooks:MaxBodyBytes (26214400)");
    }

    private static Task<HeavenTestHost> StartAsync(Action<IServiceCollection>? overrideServices = null, params (string Key, string Value)[] more)
    {
        var settings = new Dictionary<string, string?>
        {
            ["Webhooks:MaxBodyBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["Webhooks:MaxPendingBodyBytes"] = Limit.ToString(System.Globalization.CultureInfo.InvariantCulture),
            // A held body sends nothing for as long as the test needs: no data-rate rule here.
            ["Webhooks:MinBodyBytesPerSecond"] = "0",
        };
        foreach (var (key, value) in more)
        {
            settings[key] = value;
        }

        return HeavenTestHost.StartAsync(settings, overrideServices: overrideServices);
    }

    /// <summary>A ping body (no repository: the server-wide secret) of exactly <paramref name="length"/> bytes.</summary>
    private static byte[] PingOfLength(int length)
    {
        const string start = "{\"hook_id\":1834813,\"zen\":\"";
        const string end = "\"}";
        return Encoding.UTF8.GetBytes(start + new string('a', length - start.Length - end.Length) + end);
    }

    /// <summary>
    /// A webhook written to the socket by hand, so the test decides when each byte goes: the first
    /// part now, the rest when told.
    /// </summary>
    private sealed class RawRequest : IAsyncDisposable
    {
        private readonly TcpClient client;
        private readonly NetworkStream stream;
        private readonly byte[] body;
        private readonly int sent;

        private RawRequest(TcpClient client, byte[] body, int sent)
        {
            this.client = client;
            stream = client.GetStream();
            this.body = body;
            this.sent = sent;
        }

        public static async Task<RawRequest> StartAsync(Uri server, string eventName, byte[] body, string signature, int sendFirst)
        {
            var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, server.Port);
            var request = new RawRequest(client, body, sendFirst);
            var head = $"POST /events HTTP/1.1\r\nHost: 127.0.0.1:{server.Port}\r\nContent-Type: application/json\r\nContent-Length: {body.Length}\r\n"
                + $"X-GitHub-Event: {eventName}\r\nX-GitHub-Delivery: {Guid.NewGuid()}\r\nX-Hub-Signature-256: {signature}\r\nConnection: close\r\n\r\n";
            await request.stream.WriteAsync(Encoding.ASCII.GetBytes(head));
            await request.stream.WriteAsync(body.AsMemory(0, sendFirst));
            await request.stream.FlushAsync();
            return request;
        }

        public async Task SendRestAsync()
        {
            await stream.WriteAsync(body.AsMemory(sent));
            await stream.FlushAsync();
        }

        /// <summary>The status and the answer's message (the server closes the connection after it).</summary>
        public async Task<(int Status, string Message)> ReadResponseAsync()
        {
            using var read = new MemoryStream();
            await stream.CopyToAsync(read);
            var text = Encoding.UTF8.GetString(read.ToArray());
            var split = text.IndexOf("\r\n\r\n", StringComparison.Ordinal);
            var head = text[..split];
            var content = text[(split + 4)..];
            if (head.Contains("Transfer-Encoding: chunked", StringComparison.OrdinalIgnoreCase))
            {
                content = Unchunk(content);
            }

            var status = int.Parse(head.Split(' ')[1], System.Globalization.CultureInfo.InvariantCulture);
            return (status, JsonDocument.Parse(content).RootElement.GetProperty("message").GetString()!);
        }

        public ValueTask DisposeAsync()
        {
            client.Dispose();
            return ValueTask.CompletedTask;
        }

        private static string Unchunk(string chunked)
        {
            var result = new StringBuilder();
            var at = 0;
            while (true)
            {
                var lineEnd = chunked.IndexOf("\r\n", at, StringComparison.Ordinal);
                var size = Convert.ToInt32(chunked[at..lineEnd], 16);
                if (size == 0)
                {
                    return result.ToString();
                }

                // The answers are ASCII-only JSON here, so characters and bytes agree.
                result.Append(chunked, lineEnd + 2, size);
                at = lineEnd + 2 + size + 2;
            }
        }
    }
}
