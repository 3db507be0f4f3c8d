using System.Globalization;
using System.Net;
using System.Text.Json.Nodes;
using Heaven.Tests.Notifications;
using Npgsql;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// Several real <c>heaven</c> processes on one PostgreSQL database, as an operator runs them behind a
/// load balancer: a webhook for a node that is down goes to the next one that answers. The fake GitHub
/// sends every status Heaven posts back to the nodes as a <c>deployment_status</c> webhook, as GitHub
/// does, so the chat messages (a generic webhook notifier on <see cref="Chat"/>) come out of the same
/// path as in production. Each deployment names its own chat room (<see cref="Room"/>), so every
/// message can be traced back to one status.
/// </summary>
public sealed class HeavenCluster : IAsyncDisposable
{
    public const string Secret = "several-nodes-secret-0123456789";

    private readonly HeavenProcess?[] nodes;
    private readonly Dictionary<string, string>[] settings;
    private readonly Dictionary<long, JsonObject> deployments = [];
    private readonly CancellationTokenSource stopForwarding = new();
    private readonly string connectionString;
    private Task forwarding = Task.CompletedTask;
    private int forwarded;
    private int nextForward;

    private HeavenCluster(int count, string connectionString, FakeGitHub gitHub, FakeChat chat, TemporaryDirectory directory, IReadOnlyDictionary<string, string> extra)
    {
        this.connectionString = connectionString;
        GitHub = gitHub;
        Chat = chat;
        nodes = new HeavenProcess?[count];
        settings = Enumerable.Range(0, count).Select(i =>
        {
            var node = new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = Path.Combine(directory.Path, $"node-{i}"),
                ["GITHUB_WEBHOOK_SECRET"] = Secret,
                ["GitHub__ApiUrl"] = gitHub.ApiUrl,
                ["GitHub__Token"] = "several-nodes-token",
                ["GitHub__StatusDelivery__PollInterval"] = "00:00:00.250",
                ["Output__MirrorToGist"] = "false",
                ["Database__Provider"] = "Postgres",
                ["Database__ConnectionString"] = connectionString,
                ["Notifications__Webhook__Url"] = chat.Url("/hook"),
                ["Notifications__Delivery__PollInterval"] = "00:00:00.250",
            };
            foreach (var (key, value) in extra)
            {
                node[key] = value;
            }

            return node;
        }).ToArray();
    }

    public FakeGitHub GitHub { get; }

    public FakeChat Chat { get; }

    public int Count => nodes.Length;

    /// <summary>The process of node <paramref name="index"/> (it must be running).</summary>
    public HeavenProcess this[int index] => nodes[index] ?? throw new InvalidOperationException($"node {index} is not running");

    /// <summary>How many statuses GitHub has sent back as deployment_status webhooks so far.</summary>
    public int Forwarded => Volatile.Read(ref forwarded);

    /// <summary>
    /// Starts <paramref name="count"/> nodes. The first starts alone (it creates the tables), the others
    /// together; each has its own data directory, so its own node id.
    /// </summary>
    public static async Task<HeavenCluster> StartAsync(int count, string connectionString, FakeGitHub gitHub, FakeChat chat, TemporaryDirectory directory, IReadOnlyDictionary<string, string> extra)
    {
        var cluster = new HeavenCluster(count, connectionString, gitHub, chat, directory, extra);
        try
        {
            await cluster.StartNodeAsync(0);
            await Task.WhenAll(Enumerable.Range(1, count - 1).Select(cluster.StartNodeAsync));
        }
        catch
        {
            await cluster.DisposeAsync();
            throw;
        }

        cluster.forwarding = Task.Run(cluster.ForwardStatusesAsync);
        return cluster;
    }

    /// <summary>Starts node <paramref name="index"/> (again, after a kill or a stop: same data directory, same node id).</summary>
    public async Task StartNodeAsync(int index) => nodes[index] = await HeavenProcess.StartAsync(settings[index], TimeSpan.FromMinutes(3));

    /// <summary>The node id kept in node <paramref name="index"/>'s data directory.</summary>
    public string NodeId(int index) => File.ReadAllText(Path.Combine(settings[index]["HEAVEN_DATA_DIR"], "node-id")).Trim();

    /// <summary>SIGKILL: the node is gone without a word, as in a crash.</summary>
    public async Task KillAsync(int index)
    {
        await this[index].KillHardAsync();
        await ForgetAsync(index);
    }

    /// <summary>After the node exited by itself: webhooks go to the others from now on.</summary>
    public async Task ForgetAsync(int index)
    {
        var node = nodes[index];
        nodes[index] = null;
        if (node is not null)
        {
            await node.DisposeAsync();
        }
    }

    /// <summary>The chat room of a deployment: each message says which deployment it is about.</summary>
    public static string Room(long gitHubDeploymentId) => "deployment-" + gitHubDeploymentId.ToString(CultureInfo.InvariantCulture);

    /// <summary>
    /// Sends a signed <c>deployment</c> webhook to node <paramref name="index"/> (to the next running
    /// one when it is down) and expects 202; returns the GitHub deployment id.
    /// </summary>
    public async Task<long> DeployAsync(int index, TestRepository repository, string sha, string environment)
    {
        var (body, id) = DeploymentWebhook.For(repository, sha, environment);
        var json = JsonNode.Parse(body)!.AsObject();
        json["deployment"]!["payload"]!["notify"]!["room"] = Room(id);
        lock (deployments)
        {
            deployments[id] = json;
        }

        var status = await DeliverAsync(index, "deployment", json.ToJsonString(), Guid.NewGuid().ToString(), retryWhileUnavailable: false);
        status.ShouldBe(HttpStatusCode.Accepted);
        return id;
    }

    /// <summary>Sends a signed webhook to node <paramref name="index"/> alone, and returns its answer.</summary>
    public Task<HttpResponseMessage> SendToAsync(int index, string eventName, string body, string deliveryId) =>
        this[index].Client.SendAsync(Webhook.Request(eventName, body, deliveryId, Secret));

    /// <summary>A <c>deployment</c> webhook body (not sent) with its GitHub id, remembered for the statuses GitHub sends back.</summary>
    public (string Body, long GitHubId) DeploymentBody(TestRepository repository, string sha, string environment)
    {
        var (body, id) = DeploymentWebhook.For(repository, sha, environment);
        var json = JsonNode.Parse(body)!.AsObject();
        json["deployment"]!["payload"]!["notify"]!["room"] = Room(id);
        lock (deployments)
        {
            deployments[id] = json;
        }

        return (json.ToJsonString(), id);
    }

    /// <summary>Every chat message delivered, as (room, state).</summary>
    public List<(string Room, string State)> ChatMessages() =>
        Chat.Delivered("/hook").Select(r => r.Json()).Select(m => (m.GetProperty("room").GetString()!, m.GetProperty("state").GetString()!)).ToList();

    /// <summary>Outbox items not yet done (statuses to post, events to fan out, messages to send), on any node.</summary>
    public async Task<long> PendingWorkAsync()
    {
        // Not pooled: a connection from before a PostgreSQL restart would be a dead one.
        await using var connection = new NpgsqlConnection(new NpgsqlConnectionStringBuilder(connectionString) { Pooling = false, Timeout = 60, CommandTimeout = 60 }.ConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("SELECT count(*) FROM work_items WHERE state = 'Pending'", connection);
        return (long)(await command.ExecuteScalarAsync())!;
    }

    /// <summary>
    /// Waits until nothing is on its way: every status GitHub holds was sent back, each gave its chat
    /// message, and no node owes any outbox work. Only then can a node die without leaving anything
    /// half-sent (an item a node sent but had not yet marked done is sent again by another: at least once).
    /// </summary>
    public Task WaitUntilQuietAsync(TimeSpan timeout) =>
        Poll.UntilAsync(
            async () =>
            {
                if (forwarding.IsFaulted)
                {
                    throw new InvalidOperationException("GitHub's side stopped sending statuses back", forwarding.Exception);
                }

                var statuses = GitHub.Statuses.Count;
                return Forwarded == statuses
                    && Chat.Delivered("/hook").Count >= statuses
                    && await PendingWorkAsync() == 0
                    && GitHub.Statuses.Count == statuses
                    && Forwarded == statuses;
            },
            "every status to be posted, sent back and announced in chat",
            timeout,
            async () => $"{GitHub.Statuses.Count} statuses, {Forwarded} sent back, {Chat.Delivered("/hook").Count} chat messages, {await PendingWorkAsync()} outbox items pending");

    public async ValueTask DisposeAsync()
    {
        await stopForwarding.CancelAsync();
        try
        {
            await forwarding;
        }
        catch (OperationCanceledException)
        {
        }

        foreach (var node in nodes)
        {
            if (node is not null)
            {
                await node.DisposeAsync();
            }
        }

        stopForwarding.Dispose();
    }

    /// <summary>What every node printed, for a failure message.</summary>
    public string Output() =>
        string.Join("\n", nodes.Select((n, i) => n is null ? $"--- node {i}: not running" : $"--- node {i}:\n{n.Output}"));

    /// <summary>
    /// GitHub's side: each status Heaven posted comes back once as a <c>deployment_status</c> webhook
    /// (same delivery id on every try), to the nodes in turn; a node that is down or answers 503 is
    /// skipped, and the delivery tried again, as an operator's redelivery would.
    /// </summary>
    private async Task ForwardStatusesAsync()
    {
        var token = stopForwarding.Token;
        while (!token.IsCancellationRequested)
        {
            var statuses = GitHub.Statuses;
            for (var i = Forwarded; i < statuses.Count; i++)
            {
                var status = statuses[i];
                JsonObject deployment;
                lock (deployments)
                {
                    deployment = deployments[status.DeploymentId];
                }

                var body = new JsonObject
                {
                    ["action"] = "created",
                    ["deployment_status"] = GitHub.StatusJsonOf(status.Id),
                    ["deployment"] = deployment["deployment"]!.DeepClone(),
                    ["repository"] = deployment["repository"]!.DeepClone(),
                    ["sender"] = new JsonObject { ["login"] = "heaven-bot" },
                };
                var answer = await DeliverAsync(nextForward++, "deployment_status", body.ToJsonString(), $"status-{status.Id}", retryWhileUnavailable: true, token);
                // 200: an earlier try was recorded though its answer never came back; the node took it once.
                answer.ShouldBeOneOf([HttpStatusCode.Accepted, HttpStatusCode.OK], $"the deployment_status webhook of status {status.Id}");
                Volatile.Write(ref forwarded, i + 1);
            }

            // GitHub's own delay between a status and its webhook.
            await Task.Delay(TimeSpan.FromMilliseconds(50), token);
        }
    }

    private async Task<HttpStatusCode> DeliverAsync(int first, string eventName, string body, string deliveryId, bool retryWhileUnavailable, CancellationToken cancellationToken = default)
    {
        while (true)
        {
            for (var k = 0; k < nodes.Length; k++)
            {
                var node = nodes[(first + k) % nodes.Length];
                if (node is null)
                {
                    continue;
                }

                try
                {
                    using var response = await node.Client.SendAsync(Webhook.Request(eventName, body, deliveryId, Secret), cancellationToken);
                    if (response.StatusCode != HttpStatusCode.ServiceUnavailable || !retryWhileUnavailable)
                    {
                        return response.StatusCode;
                    }
                }
                catch (Exception e) when (e is HttpRequestException || (e is TaskCanceledException && !cancellationToken.IsCancellationRequested))
                {
                    // Stopped or killed a moment ago, or too slow to answer: the load balancer tries the next node.
                }
            }

            if (!retryWhileUnavailable)
            {
                throw new InvalidOperationException($"no node took the {eventName} webhook {deliveryId}");
            }

            await Task.Delay(TimeSpan.FromMilliseconds(200), cancellationToken);
        }
    }
}

/// <summary>
/// The shared file each deploy script of the several-node tests appends to, under flock, so its lines
/// (of a lock file beside it: .NET's own lock on the file it reads would clash with the scripts') are in the order things happened: <c>start|hold|end repository/environment github-id node-id heaven-pid time</c>
/// (setsid starts the script in place, so its parent is the heaven process).
/// </summary>
public sealed class DeployRecord
{
    public DeployRecord(string folder)
    {
        Path = System.IO.Path.Combine(folder, "record");
        HoldPath = System.IO.Path.Combine(folder, "hold");
    }

    public string Path { get; }

    /// <summary>While this file exists, a deploy that starts waits (and says so with a <c>hold</c> line) until it is removed.</summary>
    public string HoldPath { get; }

    /// <summary>The deploy script: notes its start, runs for a fraction of a second (or holds), notes its end.</summary>
    public string Script => $$"""
        record='{{Path}}'
        hold='{{HoldPath}}'
        note() { ( flock 9; printf '%s %s/%s %s %s %s %s\n' "$1" "$HEAVEN_REPOSITORY" "$HEAVEN_ENVIRONMENT" "$HEAVEN_GITHUB_DEPLOYMENT_ID" "${HEAVEN_RUN_OWNER%%/*}" "$PPID" "$(date +%s.%N)" >>"$record" ) 9>>"$record.lock"; }
        note start
        if [ -e "$hold" ]; then
          note hold
          for _ in $(seq 2400); do [ -e "$hold" ] || break; sleep 0.05; done
        else
          sleep 0.$(( RANDOM % 4 + 2 ))
        fi
        note end
        """;

    public void Hold() => File.WriteAllText(HoldPath, "");

    public void Release() => File.Delete(HoldPath);

    public IReadOnlyList<Line> Lines()
    {
        if (!File.Exists(Path))
        {
            return [];
        }

        return File.ReadAllLines(Path).Where(l => l.Length > 0).Select(l =>
        {
            var f = l.Split(' ');
            return new Line(f[0], f[1], long.Parse(f[2], CultureInfo.InvariantCulture), f[3], f[4]);
        }).ToList();
    }

    /// <summary>The deploys holding right now (a hold line, no end yet), with the node running each.</summary>
    public List<Line> Holding()
    {
        var lines = Lines();
        var ended = lines.Where(l => l.Event == "end").Select(l => l.GitHubId).ToHashSet();
        return lines.Where(l => l.Event == "hold" && !ended.Contains(l.GitHubId)).ToList();
    }

    public override string ToString() => File.Exists(Path) ? File.ReadAllText(Path) : "(nothing recorded)";

    public sealed record Line(string Event, string Target, long GitHubId, string Node, string Pid);
}
