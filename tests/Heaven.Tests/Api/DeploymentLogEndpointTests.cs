using System.Net;
using System.Text.Json;
using Heaven.Model;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Api;

/// <summary><c>GET /api/v1/deployments/{id}/log</c>: the masked log as text, or followed live as Server-Sent Events.</summary>
public sealed class DeploymentLogEndpointTests : IAsyncLifetime
{
    private readonly TestRepository repository = new("octo/app");
    private DeployHarness harness = null!;

    private ApiClient Api => ApiClient.For(harness.Host);

    public async Task InitializeAsync() => harness = await DeployHarness.StartAsync();

    public async Task DisposeAsync()
    {
        await harness.DisposeAsync();
        repository.Dispose();
    }

    [Fact]
    public async Task ARunningDeploysLines_ArriveWhileItRuns_AndAResumedStreamGetsExactlyTheRest()
    {
        using var gate = new ScriptGate();
        var token = DeployHarness.Token;
        var sha = repository.CommitDeployScript($"""
            echo "first line"
            {gate.Wait()}
            echo "second line"
            echo "to stderr" >&2
            echo "token {token}"
            """);
        var (_, heavenId) = await harness.DeployAsync(repository, sha);
        var path = $"/deployments/{heavenId}/log";
        using var timeout = new CancellationTokenSource(DeployHarness.FinalStatusTimeout);

        var before = new List<ServerSentEvent>();
        await foreach (var item in Api.EventsAsync(path, cancellationToken: timeout.Token))
        {
            before.Add(item);
            if (item.Event == "line" && Text(item) == "first line")
            {
                break;
            }
        }

        // The script waits at the gate: the line came while the deploy runs.
        (await harness.DeploymentAsync(heavenId)).State.ShouldBe(DeploymentState.Running);
        before.ShouldAllBe(e => e.Event == "line");
        gate.Open();

        var after = await Api.EventsAsync(path, lastEventId: before[^1].Id, cancellationToken: timeout.Token).ToListAsync(timeout.Token);

        after[^1].Event.ShouldBe("end");
        using (var end = JsonDocument.Parse(after[^1].Data))
        {
            end.RootElement.GetProperty("state").GetString().ShouldBe("success");
            end.RootElement.GetProperty("description").GetString()!.ShouldStartWith("Deployed ");
        }

        var lines = before.Concat(after.SkipLast(1)).ToList();
        lines.ShouldAllBe(e => e.Event == "line");
        lines.Select(e => long.Parse(e.Id!)).ShouldBe(Enumerable.Range(0, lines.Count).Select(i => (long)i));
        (string.Concat(lines.Select(e => Text(e) + "\n"))).ShouldBe(await harness.LogAsync(heavenId));
        lines.ShouldContain(e => Stream(e) == "stderr" && Text(e) == "to stderr");
        lines.ShouldContain(e => Stream(e) == "stdout" && Text(e) == "second line");
        lines.ShouldContain(e => Stream(e) == "heaven");
        lines.ShouldContain(e => Text(e) == "token ***");
        lines.ShouldNotContain(e => e.Data.Contains(token));
    }

    [Fact]
    public async Task AFinishedDeployment_StreamsEveryLineThenEnds_AndResumesAfterTheLastEventId()
    {
        var sha = repository.CommitDeployScript("""
            echo one
            echo two
            echo three
            exit 3
            """);
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        await harness.WaitForFinalStatusAsync(repository, gitHubId);
        await Poll.UntilAsync(async () => (await harness.DeploymentAsync(heavenId)).State == DeploymentState.Failed, "the deployment to be recorded failed");
        var path = $"/deployments/{heavenId}/log";
        using var timeout = new CancellationTokenSource(TimeSpan.FromSeconds(60));

        using (var response = await Api.OpenEventStreamAsync(path, cancellationToken: timeout.Token))
        {
            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            response.Content.Headers.ContentType!.MediaType.ShouldBe("text/event-stream");
            response.Headers.CacheControl!.NoStore.ShouldBeTrue();
            response.Headers.GetValues("X-Accel-Buffering").ShouldBe(["no"]);
        }

        var all = await Api.EventsAsync(path, cancellationToken: timeout.Token).ToListAsync(timeout.Token);
        var log = await harness.LogAsync(heavenId);
        all.SkipLast(1).Select(e => Text(e) + "\n").ShouldBe(log.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(l => l + "\n"));
        all[^1].Event.ShouldBe("end");
        all[^1].Id.ShouldBeNull();
        using (var end = JsonDocument.Parse(all[^1].Data))
        {
            end.RootElement.GetProperty("state").GetString().ShouldBe("failure");
            end.RootElement.GetProperty("description").GetString().ShouldBe("deploy script exited with status 3");
        }

        var two = all.Single(e => e.Event == "line" && Text(e) == "two");
        var rest = await Api.EventsAsync(path, lastEventId: two.Id, cancellationToken: timeout.Token).ToListAsync(timeout.Token);
        rest.Select(e => e.Id).ShouldBe(all.SkipWhile(e => e != two).Skip(1).Select(e => e.Id));
        rest.Select(e => e.Data).ShouldBe(all.SkipWhile(e => e != two).Skip(1).Select(e => e.Data));
    }

    [Fact]
    public async Task ViewersThatNeverRead_DoNotHoldUpAFlood_AndGetItsNewestLinesAfterAGapWithExactIds()
    {
        using var gate = new ScriptGate();
        const int flood = 100_000;
        var sha = repository.CommitDeployScript($"""
            echo ready
            {gate.Wait()}
            seq 1 {flood}
            """);
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        var path = $"/deployments/{heavenId}/log";
        using var timeout = new CancellationTokenSource(DeployHarness.FinalStatusTimeout);

        // Streams that are open from before the flood on, whose bodies nobody reads while it runs.
        var idle = new List<HttpResponseMessage>();
        for (var i = 0; i < 5; i++)
        {
            idle.Add(await Api.OpenEventStreamAsync(path, cancellationToken: timeout.Token));
        }

        await using var watched = Api.EventsAsync(path, cancellationToken: timeout.Token).GetAsyncEnumerator(timeout.Token);
        var events = new List<ServerSentEvent>();
        while (await watched.MoveNextAsync())
        {
            events.Add(watched.Current);
            if (watched.Current.Event == "line" && Text(watched.Current) == "ready")
            {
                break;
            }
        }

        gate.Open();
        // The deploy finishes while six viewers read nothing at all.
        (await harness.WaitForFinalStatusAsync(repository, gitHubId)).State.ShouldBe("success");

        while (await watched.MoveNextAsync())
        {
            events.Add(watched.Current);
        }

        foreach (var response in idle)
        {
            response.Dispose();
        }

        events[^1].Event.ShouldBe("end");
        var gaps = events.Where(e => e.Event == "gap").ToList();
        gaps.ShouldNotBeEmpty();
        // Every line number is either sent or named by a gap, once and in order, and ids are exact.
        var covered = new List<long>();
        foreach (var item in events.SkipLast(1))
        {
            if (item.Event == "line")
            {
                covered.Add(long.Parse(item.Id!));
                continue;
            }

            item.Event.ShouldBe("gap");
            using var gap = JsonDocument.Parse(item.Data);
            var first = gap.RootElement.GetProperty("first").GetInt64();
            var last = gap.RootElement.GetProperty("last").GetInt64();
            long.Parse(item.Id!).ShouldBe(last);
            gap.RootElement.GetProperty("skipped").GetInt64().ShouldBe(last - first + 1);
            gap.RootElement.GetProperty("log").GetString().ShouldBe($"{ApiClient.Prefix}{path}");
            gap.RootElement.GetProperty("text").GetString()!.ShouldContain($"{last - first + 1} lines skipped");
            for (var n = first; n <= last; n++)
            {
                covered.Add(n);
            }
        }

        var log = (await harness.LogAsync(heavenId)).Split('\n', StringSplitOptions.RemoveEmptyEntries);
        covered.ShouldBe(Enumerable.Range(0, log.Length).Select(i => (long)i));
        // The newest lines came, and the stored log (and so the plain text) kept every line of the flood.
        events.Where(e => e.Event == "line").Select(Text).ShouldContain(flood.ToString(System.Globalization.CultureInfo.InvariantCulture));
        log.Where(l => int.TryParse(l, out _)).Count().ShouldBe(flood);

        // A viewer resuming after the gap goes on with the line after it.
        var lastGap = gaps[^1];
        var resumed = await Api.EventsAsync(path, lastEventId: lastGap.Id, cancellationToken: timeout.Token).ToListAsync(timeout.Token);
        resumed[0].Id.ShouldBe((long.Parse(lastGap.Id!) + 1).ToString(System.Globalization.CultureInfo.InvariantCulture));
    }

    [Fact]
    public async Task PlainText_IsTheMaskedLog()
    {
        var token = DeployHarness.Token;
        var sha = repository.CommitDeployScript($"""
            echo "hello"
            echo "token {token}" >&2
            """);
        var (gitHubId, heavenId) = await harness.DeployAsync(repository, sha);
        await harness.WaitForFinalStatusAsync(repository, gitHubId);

        foreach (var accept in new[] { null, "text/plain" })
        {
            using var response = await Api.GetAsync($"/deployments/{heavenId}/log", accept);

            response.StatusCode.ShouldBe(HttpStatusCode.OK);
            response.Content.Headers.ContentType!.ToString().ShouldBe("text/plain; charset=utf-8");
            var text = await response.Content.ReadAsStringAsync();
            text.ShouldBe(await harness.LogAsync(heavenId));
            // Two pipes: stdout's and stderr's lines keep their own order, not one against the other.
            text.ShouldContain("hello\n");
            text.ShouldContain("token ***\n");
            text.ShouldNotContain(token);
        }
    }

    [Theory]
    [InlineData(null)]
    [InlineData("text/event-stream")]
    public async Task AnUnknownDeployment_IsNotFound_AsProblemJson(string? accept)
    {
        using var response = await Api.GetAsync("/deployments/987654/log", accept);

        response.StatusCode.ShouldBe(HttpStatusCode.NotFound);
        response.Content.Headers.ContentType!.MediaType.ShouldBe("application/problem+json");
        using var problem = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
        problem.RootElement.GetProperty("status").GetInt32().ShouldBe(404);
    }

    private static string Text(ServerSentEvent item)
    {
        using var data = JsonDocument.Parse(item.Data);
        return data.RootElement.GetProperty("text").GetString()!;
    }

    private static string Stream(ServerSentEvent item)
    {
        using var data = JsonDocument.Parse(item.Data);
        return data.RootElement.GetProperty("stream").GetString()!;
    }
}
