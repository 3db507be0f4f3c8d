using System.Collections.Concurrent;
using System.Diagnostics;
using System.Globalization;
using System.Text.RegularExpressions;
using Heaven.Tests.Infrastructure;

namespace Heaven.Bench.Deploy;

/// <summary>
/// Several nodes on one PostgreSQL: no-op deploys per second with 1, 2 and 3 real <c>heaven</c>
/// processes (webhooks sent to the nodes in turn), what each deploy costs in PostgreSQL statements and
/// in CPU time, beside the same work done by plain shell jobs; then how soon a deployment sent to a
/// node at its parallel limit is started by another node.
/// </summary>
internal static partial class ClusterBenchmark
{
    private static readonly string[] FinalStates = ["success", "failure", "error"];

    private static readonly string[] Kinds =
    [
        "intake", "claim (with admission checks)", "start (state, gist, status text)", "renew", "cancel check", "finish", "outbox", "log", "deployment reads",
        "nodes (heartbeat, drains)", "locks", Begin, "COMMIT / ROLLBACK", "SAVEPOINT / RELEASE (EF Core)", Discard, "other",
    ];

    /// <summary>Kinds the report lists even when none were counted: the ones a reader looks for.</summary>
    private static readonly string[] Always = ["claim (with admission checks)", "renew", "finish", "outbox"];

    // Npgsql sends these in the same write as the statement after them: no round-trip of their own.
    private const string Begin = "BEGIN (sent with the next statement)";

    private const string Discard = "DISCARD ALL (pool reset, sent with the next statement)";

    /// <summary>Deploys each node runs before the measured ones (<c>--cluster-warmup</c>).</summary>
    private static int warmUp = 30;

    public static async Task<Section> RunAsync(BenchSettings settings)
    {
        var deploys = Option("--cluster-deploys", 120);
        warmUp = Option("--cluster-warmup", 30);
        var clients = Option("--cluster-clients", 6);
        var maxNodes = Option("--nodes", 3);
        var rounds = Option("--rounds", 2);
        var samples = Option("--cross-samples", 20);

        await using var postgres = await CountingPostgres.StartAsync();
        Console.Error.WriteLine($"  PostgreSQL {postgres.Version} on 127.0.0.1:{postgres.Port}");
        var baselineBefore = await BaselineAsync(settings, deploys, clients);
        // 1, 2, 3 nodes, then 3, 2, 1, ...: a machine getting busier or quieter shifts every node count alike.
        var runs = new List<NodesRun>();
        for (var round = 0; round < rounds; round++)
        {
            for (var k = 1; k <= maxNodes; k++)
            {
                var nodes = round % 2 == 0 ? k : maxNodes + 1 - k;
                runs.Add(await ThroughputAsync(settings, postgres, nodes, round, deploys, clients));
            }
        }

        runs = runs.GroupBy(r => r.Nodes).OrderBy(g => g.Key).Select(g => g.Aggregate(NodesRun.Merge)).ToList();

        var baselineAfter = await BaselineAsync(settings, deploys, clients);
        var cross = maxNodes >= 2 ? await CrossNodeAsync(settings, postgres, samples) : null;
        var liveLog = maxNodes >= 2 ? await CrossNodeLiveLogAsync(settings, postgres) : null;
        return Report(settings, postgres, deploys, clients, rounds, (baselineBefore, baselineAfter), runs, cross, liveLog);
    }

    private sealed record Cpu(long Postgres, long Heaven, long HeavenChildren, long Bench, long MachineBusy, long MachineTotal)
    {
        public static Cpu Read(CountingPostgres postgres, IEnumerable<HeavenServer> servers)
        {
            var list = servers.ToList();
            var (busy, total, _) = Machine.Snapshot();
            return new Cpu(
                (long)(postgres.CpuTime().TotalSeconds * 100),
                list.Sum(s => ProcessCpu.Ticks(s.ProcessId, children: false)),
                list.Sum(s => ProcessCpu.ChildTicks(s.ProcessId)),
                ProcessCpu.Ticks(Environment.ProcessId, children: false),
                busy,
                total);
        }

        public static Cpu operator -(Cpu a, Cpu b) =>
            new(a.Postgres - b.Postgres, a.Heaven - b.Heaven, a.HeavenChildren - b.HeavenChildren, a.Bench - b.Bench, a.MachineBusy - b.MachineBusy, a.MachineTotal - b.MachineTotal);

        public static Cpu operator +(Cpu a, Cpu b) =>
            new(a.Postgres + b.Postgres, a.Heaven + b.Heaven, a.HeavenChildren + b.HeavenChildren, a.Bench + b.Bench, a.MachineBusy + b.MachineBusy, a.MachineTotal + b.MachineTotal);

        /// <summary>Machine ticks are summed over all CPUs (100 a second each), like the processes' ticks.</summary>
        public long Others => Math.Max(0, MachineBusy - Postgres - Heaven - HeavenChildren - Bench);
    }

    private sealed record NodesRun(int Nodes, List<DeployTimes> Deploys, double WallSeconds, Cpu Cpu, Dictionary<string, long> Statements, long Commits, List<double> Loads, int Failed, List<WarmUp> WarmUps)
    {
        public double PerSecond => Deploys.Count / WallSeconds;

        /// <summary>Several rounds of one node count as one: all their deploys over all their wall time.</summary>
        public static NodesRun Merge(NodesRun a, NodesRun b) =>
            new(a.Nodes, [.. a.Deploys, .. b.Deploys], a.WallSeconds + b.WallSeconds, a.Cpu + b.Cpu,
                a.Statements.ToDictionary(kv => kv.Key, kv => kv.Value + b.Statements[kv.Key]), a.Commits + b.Commits, [.. a.Loads, .. b.Loads], a.Failed + b.Failed, [.. a.WarmUps, .. b.WarmUps]);
    }

    /// <summary>How many warm-up deploys each node ran, and how many methods the busiest compiler of them compiled in the last batch.</summary>
    private sealed record WarmUp(int DeploysPerNode, long LastBatchCompiled, bool Settled);

    /// <summary>
    /// Methods a node compiled per warm-up deploy below which its JIT counts as settled: the wave of
    /// recompiling thousands of methods optimised is over; a warmed-up node still compiles one or a few
    /// a deploy now and then (reflection's call stubs after a collection, generic code on first use).
    /// </summary>
    private const long SettledPerDeploy = 5;

    private static long SettledBelow => SettledPerDeploy * warmUp;

    /// <summary>Warm-up batches at most (of <see cref="warmUp"/> deploys per node each).</summary>
    private const int MaxWarmUpBatches = 12;

    private static async Task<WarmUp> WarmUpAsync(BenchSettings settings, List<HeavenServer> servers)
    {
        var compiled = await Task.WhenAll(servers.Select(CompiledMethodsAsync));
        for (var batch = 1; ; batch++)
        {
            await Task.WhenAll(servers.Select(async (server, k) =>
            {
                for (var i = 0; i < warmUp; i++)
                {
                    Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", $"warm-{k}")]);
                }
            }));
            var now = await Task.WhenAll(servers.Select(CompiledMethodsAsync));
            var most = now.Zip(compiled, (after, before) => after - before).Max();
            compiled = now;
            Console.Error.WriteLine($"    warm-up batch {batch}: at most {most} methods compiled by a node");
            if (most < SettledBelow || batch == MaxWarmUpBatches)
            {
                return new WarmUp(batch * warmUp, most, most < SettledBelow);
            }
        }
    }

    /// <summary>The methods a node's JIT compiled so far, from its <c>/metrics</c> (the runtime's own meter).</summary>
    private static async Task<long> CompiledMethodsAsync(HeavenServer server)
    {
        var text = await server.Client.GetStringAsync("/metrics");
        return (long)text.Split('\n')
            .Where(line => line.StartsWith("dotnet_jit_compiled_methods_total", StringComparison.Ordinal))
            // name value [timestamp], or name{labels} value [timestamp]
            .Select(line => line.Contains('{', StringComparison.Ordinal) ? line[(line.LastIndexOf('}') + 1)..] : line[line.IndexOf(' ', StringComparison.Ordinal)..])
            .Sum(rest => double.Parse(rest.Split(' ', StringSplitOptions.RemoveEmptyEntries)[0], CultureInfo.InvariantCulture));
    }

    private sealed record Baseline(int Deploys, double WallSeconds, List<double> JobMs, double Load)
    {
        public double PerSecond => Deploys / WallSeconds;
    }

    private sealed record CrossRun(List<double> CrossMs, List<double> DirectMs, bool HeldThroughout);

    private sealed record LiveLogRun(LatencyRun One, LatencyRun Many);

    private const int LiveLogViewers = 200;

    private const int LiveLogReconnecting = 20;

    /// <summary>
    /// A live log followed on another node: node A runs <c>script/livelog</c>; node B takes webhooks only
    /// (<c>Deployments:MaxParallel=0</c>) and serves the viewers, 1 and then 200 (20 of them dropping and
    /// resuming with <c>Last-Event-ID</c>), so every line reaches them through the database and B's wake-up.
    /// </summary>
    private static async Task<LiveLogRun> CrossNodeLiveLogAsync(BenchSettings settings, CountingPostgres postgres)
    {
        const string database = "heaven_cross_node_log";
        await postgres.CreateDatabaseAsync(database);
        await Machine.WaitForQuietAsync(Patience);
        Console.Error.WriteLine("  cross-node live log: node A runs, node B (MaxParallel=0) serves the viewers");
        var servers = await StartNodesAsync(settings, postgres, database, [16, 0]);
        var (a, b) = (servers[0], servers[1]);
        try
        {
            for (var i = 0; i < 3; i++)
            {
                Deployments.EnsureSucceeded([await Deployments.DeployAsync(a, settings.GitHub, settings.Repository, "noop", "warm")]);
            }

            var viewers = await LogViewers.SignedInAsync(b, CancellationToken.None);
            var one = await LiveLogBenchmark.LatencyAsync(settings, a, viewers, 1, 0);
            var many = await LiveLogBenchmark.LatencyAsync(settings, a, viewers, LiveLogViewers, LiveLogReconnecting);
            Console.Error.WriteLine($"  cross-node live log: p99 {Stats.Percentile(one.Latencies, 99):0} ms (1 viewer), {Stats.Percentile(many.Latencies, 99):0} ms ({LiveLogViewers} viewers)");
            return new LiveLogRun(one, many);
        }
        finally
        {
            await StopNodesAsync(settings, servers, "cluster-cross-node-log");
        }
    }

    /// <summary>Deploys of <c>script/noop</c> by <paramref name="clients"/> senders, each sending its next webhook when its last deploy has its final status.</summary>
    private static async Task<NodesRun> ThroughputAsync(BenchSettings settings, CountingPostgres postgres, int nodes, int round, int deploys, int clients)
    {
        var database = $"heaven_nodes_{nodes}_round_{round + 1}";
        await postgres.CreateDatabaseAsync(database);
        var busy = await Machine.WaitForQuietAsync(Patience);
        Console.Error.WriteLine($"  {nodes} node(s): starting (machine {busy:P0} busy)");
        var servers = await StartNodesAsync(settings, postgres, database, Enumerable.Repeat(16, nodes).ToArray());
        try
        {
            // Warm: each node fetches its own mirror and warms its pools, and its JIT: a fresh process runs
            // its busy code unoptimised first and compiles it again, optimised, after some tens of calls (and
            // once more after profiling it), in the background. Measured before that has settled, more nodes
            // pay that once-per-process cost more often in the window (each runs fewer of the deploys), which
            // is a start-up cost, not what a node costs: batches of warm-up deploys go on until none of the
            // nodes compiled more than a few methods during the last one.
            var warmedUp = await WarmUpAsync(settings, servers);

            await postgres.ResetStatementsAsync();
            var commitsBefore = await postgres.CommitsAsync(database);
            var loadBefore = LoadAverage();
            var cpuBefore = Cpu.Read(postgres, servers);
            var next = -1;
            var results = new ConcurrentBag<DeployTimes>();
            await Task.WhenAll(Enumerable.Range(0, clients).Select(client => Task.Run(async () =>
            {
                for (var i = Interlocked.Increment(ref next); i < deploys; i = Interlocked.Increment(ref next))
                {
                    var (id, sent, accepted) = await Deployments.SendAsync(servers[i % nodes], settings.Repository, "noop", $"env-{client:00}");
                    results.Add(await FinalAsync(settings.GitHub, id, sent, accepted));
                }
            })));
            var cpu = Cpu.Read(postgres, servers) - cpuBefore;
            var loadAfter = LoadAverage();
            var statements = await postgres.StatementsAsync(database);
            var commits = await postgres.CommitsAsync(database) - commitsBefore;
            SaveStatements(settings, $"cluster-statements-{nodes}-nodes-round-{round + 1}.txt", statements, deploys);
            var list = results.ToList();
            var wall = (list.Max(r => r.Final) - list.Min(r => r.Sent)).TotalSeconds;
            var byKind = Kinds.ToDictionary(k => k, _ => 0L);
            foreach (var (query, calls) in statements)
            {
                byKind[Classify(query)] += calls;
            }

            Console.Error.WriteLine($"  {nodes} node(s): {list.Count / wall:0.0} deploys/s");
            return new NodesRun(nodes, list, wall, cpu, byKind, commits, [loadBefore, loadAfter], list.Count(r => r.FinalState != "success"), [warmedUp]);
        }
        finally
        {
            await StopNodesAsync(settings, servers, $"cluster-{nodes}-nodes-round-{round + 1}");
        }
    }

    /// <summary>
    /// Node A runs one deployment at a time and is busy with <c>script/hold</c>; deployments sent to A
    /// must be started by node B. 202 → <c>in_progress</c> at GitHub, beside the same for deployments
    /// sent to B itself.
    /// </summary>
    private static async Task<CrossRun> CrossNodeAsync(BenchSettings settings, CountingPostgres postgres, int samples)
    {
        const string database = "heaven_cross_node";
        await postgres.CreateDatabaseAsync(database);
        await Machine.WaitForQuietAsync(Patience);
        Console.Error.WriteLine("  cross-node start: starting node A (MaxParallel=1) and node B");
        var servers = await StartNodesAsync(settings, postgres, database, [1, 16]);
        var (a, b) = (servers[0], servers[1]);
        File.Delete(settings.Repository.HoldRelease);
        try
        {
            foreach (var server in servers)
            {
                for (var i = 0; i < 2; i++)
                {
                    Deployments.EnsureSucceeded([await Deployments.DeployAsync(server, settings.GitHub, settings.Repository, "noop", "warm")]);
                }
            }

            var hold = await Deployments.SendAsync(a, settings.Repository, "hold", "held");
            await Poll.UntilAsync(() => settings.GitHub.StatusesFor(BenchRepository.FullName, hold.GitHubId).Any(s => s.State == "in_progress"), "the held deploy started", TimeSpan.FromSeconds(60));

            var cross = new List<double>();
            for (var i = 0; i < samples; i++)
            {
                var (id, sent, accepted) = await Deployments.SendAsync(a, settings.Repository, "noop", $"cross-{i % 4}");
                var run = await FinalAsync(settings.GitHub, id, sent, accepted);
                Deployments.EnsureSucceeded([run]);
                cross.Add(run.AcceptedToInProgressMs);
            }

            var direct = new List<double>();
            for (var i = 0; i < Math.Max(5, samples / 2); i++)
            {
                var (id, sent, accepted) = await Deployments.SendAsync(b, settings.Repository, "noop", $"direct-{i % 4}");
                var run = await FinalAsync(settings.GitHub, id, sent, accepted);
                Deployments.EnsureSucceeded([run]);
                direct.Add(run.AcceptedToInProgressMs);
            }

            // Had the held deploy ended, A could have run the others itself.
            var held = !settings.GitHub.StatusesFor(BenchRepository.FullName, hold.GitHubId).Any(s => FinalStates.Contains(s.State));
            await File.WriteAllTextAsync(settings.Repository.HoldRelease, "");
            Deployments.EnsureSucceeded([await FinalAsync(settings.GitHub, hold.GitHubId, hold.Sent, hold.Accepted)]);
            Console.Error.WriteLine($"  cross-node start: p50 {Stats.Median(cross):0} ms");
            return new CrossRun(cross, direct, held);
        }
        finally
        {
            await File.WriteAllTextAsync(settings.Repository.HoldRelease, "");
            await StopNodesAsync(settings, servers, "cluster-cross-node");
            File.Delete(settings.Repository.HoldRelease);
        }
    }

    /// <summary>
    /// The same work without Heaven: what Heaven's checkout does for a commit its mirror already has
    /// (cat-file, clone of the mirror without checkout, set origin, checkout), the script, the folder
    /// removed; <paramref name="clients"/> shell jobs at a time.
    /// </summary>
    private static async Task<Baseline> BaselineAsync(BenchSettings settings, int deploys, int clients)
    {
        var root = Path.Combine(settings.WorkDirectory, "shell-baseline-" + Guid.NewGuid().ToString("N")[..6]);
        Directory.CreateDirectory(root);
        var mirror = Path.Combine(root, "mirror.git");
        var script = Path.Combine(root, "deploy.sh");
        await File.WriteAllTextAsync(script, """
            set -e
            mirror=$1 target=$2 sha=$3 url=$4
            git --git-dir="$mirror" cat-file -e "$sha^{commit}" 2>/dev/null || git --git-dir="$mirror" fetch --quiet --prune --no-tags origin
            git clone --quiet --no-hardlinks --no-checkout -- "$mirror" "$target"
            git --git-dir="$target/.git" config -- remote.origin.url "$url"
            git --git-dir="$target/.git" --work-tree="$target" checkout --quiet --detach "$sha"
            (cd "$target" && script/noop)
            rm -rf "$target"
            """);
        await ShellAsync("git", ["clone", "--quiet", "--mirror", settings.Repository.CloneUrl, mirror]);
        await Machine.WaitForQuietAsync(Patience);
        var load = LoadAverage();
        var next = -1;
        var jobs = new ConcurrentBag<double>();
        var watch = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            for (var i = Interlocked.Increment(ref next); i < deploys; i = Interlocked.Increment(ref next))
            {
                var job = Stopwatch.StartNew();
                await ShellAsync("bash", [script, mirror, Path.Combine(root, $"job-{i}"), settings.Repository.Sha, settings.Repository.CloneUrl]);
                jobs.Add(job.Elapsed.TotalMilliseconds);
            }
        })));
        var wall = watch.Elapsed.TotalSeconds;
        Directory.Delete(root, recursive: true);
        Console.Error.WriteLine($"  shell baseline: {deploys / wall:0.0} deploys/s");
        return new Baseline(deploys, wall, jobs.ToList(), load);
    }

    private static Section Report(BenchSettings settings, CountingPostgres postgres, int deploys, int clients, int rounds, (Baseline Before, Baseline After) baseline, List<NodesRun> runs, CrossRun? cross, LiveLogRun? liveLog)
    {
        var cores = Environment.ProcessorCount;
        var shell = (baseline.Before.PerSecond + baseline.After.PerSecond) / 2;
        var one = runs[0];
        var lines = new List<string>
        {
            $"{deploys} deploys of `script/noop` (`exit 0`) per node count and round ({rounds} rounds: 1, 2, 3 nodes, then 3, 2, 1, …; the figures are over all rounds), by {clients} senders that each send a signed webhook, wait for its final status at the fake GitHub and send the next; " +
            "the webhooks go to the nodes in turn; each sender deploys to its own environment of one repository. " +
            $"Each node count gets fresh `heaven serve` processes and a fresh database on one PostgreSQL {postgres.Version} server of the benchmark's own (127.0.0.1, fsync off, pg_stat_statements), " +
            $"Deployments:MaxParallel=16 and MaxParallelPerRepository=16 on every node, warm-up deploys on every node first (one after another, in batches of {warmUp}) until each node's JIT has settled: " +
            $"none of them compiled {SettledBelow} methods or more in the last batch (`dotnet_jit_compiled_methods_total` at its `/metrics`; at most {MaxWarmUpBatches} batches). " +
            "A fresh process runs its busy code unoptimised first and compiles it again, optimised, after some tens of calls and once more after profiling it; measured before that settles, " +
            "more nodes pay this once-per-process cost more often in the window, since each runs fewer of the deploys. " +
            $"Warm-up deploys per node: {string.Join("; ", runs.Select(r => $"{r.Nodes} node{(r.Nodes == 1 ? "" : "s")}: " + string.Join(" and ", r.WarmUps.Select(w => w.DeploysPerNode + (w.Settled ? "" : " (not settled: " + w.LastBatchCompiled + " in the last batch)")))))}. " +
            $"Deploys/s = deploys / (first send → last final status). Shell baseline: the same {deploys} deploys as {clients} shell jobs at a time, each doing what Heaven's checkout does " +
            "for a commit its mirror has (`git cat-file -e`, `git clone --no-hardlinks --no-checkout` of the mirror, set origin, `git checkout --detach`), the script, `rm -rf`; " +
            $"measured before and after the nodes: {baseline.Before.PerSecond:0.0} and {baseline.After.PerSecond:0.0} deploys/s (load average {baseline.Before.Load:0.0} and {baseline.After.Load:0.0}). " +
            $"The machine has **{cores} CPUs**: the nodes, PostgreSQL, git and the benchmark share them.",
            "",
            "| nodes | deploys/s | × shell baseline | × 1 node | 202 → final p50 | p99 | 202 → `in_progress` p50 | p99 | load average (1 min) before and after each round | target | |",
            "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
        };
        foreach (var run in runs)
        {
            var final = run.Deploys.Select(d => d.AcceptedToFinalMs).ToList();
            var start = run.Deploys.Select(d => d.AcceptedToInProgressMs).ToList();
            var ratio = run.PerSecond / one.PerSecond;
            var target = run.Nodes == 1 ? "" : "≥ 0.9 × 1 node";
            var met = run.Nodes == 1 ? "" : Stats.Met(ratio >= 0.9);
            lines.Add($"| {run.Nodes} | {run.PerSecond:0.00} | {run.PerSecond / shell:0.00} | {ratio:0.00} | {Stats.Ms(Stats.Percentile(final, 50))} | {Stats.Ms(Stats.Percentile(final, 99))} | " +
                      $"{Stats.Ms(Stats.Percentile(start, 50))} | {Stats.Ms(Stats.Percentile(start, 99))} | {string.Join(", ", run.Loads.Select(l => l.ToString("0.0", CultureInfo.InvariantCulture)))} | {target} | {met} |");
        }

        if (runs.Any(r => r.Failed > 0))
        {
            lines.Add("");
            lines.Add("Deploys that did not succeed: " + string.Join(", ", runs.Select(r => $"{r.Nodes} node(s): {r.Failed}")));
        }

        lines.Add("");
        lines.Add("CPU time per deploy during the measured deploys (from /proc: the `heaven` processes; their children, i.e. git, bash and the script; the PostgreSQL server with its backends; " +
                  "this process, i.e. the fake GitHub and the senders; everything else on the machine), and how busy the machine's CPUs were:");
        lines.Add("");
        lines.Add("| nodes | heaven | git + bash + script | PostgreSQL | fake GitHub + senders | other processes | CPUs busy | shell baseline job, wall p50 |");
        lines.Add("|---:|---:|---:|---:|---:|---:|---:|---:|");
        var shellJob = Stats.Median(baseline.Before.JobMs.Concat(baseline.After.JobMs).ToList());
        foreach (var run in runs)
        {
            string Per(long ticks) => Stats.Ms(ticks * 10.0 / run.Deploys.Count);
            var busyShare = run.Cpu.MachineTotal == 0 ? 0 : (double)run.Cpu.MachineBusy / run.Cpu.MachineTotal;
            lines.Add($"| {run.Nodes} | {Per(run.Cpu.Heaven)} | {Per(run.Cpu.HeavenChildren)} | {Per(run.Cpu.Postgres)} | {Per(run.Cpu.Bench)} | {Per(run.Cpu.Others)} | {busyShare:P0} | {(run == one ? Stats.Ms(shellJob) : "")} |");
        }

        lines.Add("");
        lines.Add("PostgreSQL statements per deploy (pg_stat_statements, counted in the node database from the first measured webhook to the last final status, polls of idle nodes included; " +
                  "round-trips = statements − the two kinds Npgsql sends in one write with the statement after them):");
        lines.Add("");
        lines.Add("| kind | " + string.Join(" | ", runs.Select(r => $"{r.Nodes} node{(r.Nodes == 1 ? "" : "s")}")) + " |");
        lines.Add("|---|" + string.Concat(runs.Select(_ => "---:|")));
        foreach (var kind in Kinds)
        {
            if (runs.All(r => r.Statements[kind] == 0) && !Always.Contains(kind))
            {
                continue;
            }

            lines.Add($"| {kind} | " + string.Join(" | ", runs.Select(r => (r.Statements[kind] / (double)r.Deploys.Count).ToString("0.0", CultureInfo.InvariantCulture))) + " |");
        }

        lines.Add("| **all statements** | " + string.Join(" | ", runs.Select(r => $"**{r.Statements.Values.Sum() / (double)r.Deploys.Count:0.0}**")) + " |");
        lines.Add("| **round-trips** | " + string.Join(" | ", runs.Select(r => $"**{(r.Statements.Values.Sum() - r.Statements[Begin] - r.Statements[Discard]) / (double)r.Deploys.Count:0.0}**")) + " |");
        lines.Add("| committed transactions | " + string.Join(" | ", runs.Select(r => $"{r.Commits / (double)r.Deploys.Count:0.0}")) + " |");

        var last = runs[^1];
        var pgPerDeploy = last.Cpu.Postgres * 10.0 / last.Deploys.Count;
        var heavenPerDeploy = (last.Cpu.Heaven + last.Cpu.HeavenChildren) * 10.0 / last.Deploys.Count;
        var lastBusy = last.Cpu.MachineTotal == 0 ? 0 : (double)last.Cpu.MachineBusy / last.Cpu.MachineTotal;
        lines.Add("");
        lines.Add($"Where the limit is: with {last.Nodes} nodes the CPUs were {lastBusy:P0} busy; a deploy cost {Stats.Ms(heavenPerDeploy)} of CPU in a node and its git/bash children " +
                  $"and {Stats.Ms(pgPerDeploy)} in PostgreSQL. PostgreSQL alone would saturate one core at about {(pgPerDeploy > 0 ? 1000 / pgPerDeploy : double.NaN):0} deploys/s; " +
                  $"one node with its children saturates one core at about {(heavenPerDeploy > 0 ? 1000 / heavenPerDeploy : double.NaN):0} deploys/s.");

        if (cross is not null)
        {
            var p95 = Stats.Percentile(cross.CrossMs, 95);
            lines.Add("");
            lines.Add($"Cross-node start: node A runs one deployment at a time (Deployments:MaxParallel=1) and is busy with `script/hold` (runs until the benchmark releases it); " +
                      $"{cross.CrossMs.Count} deployments of `script/noop` sent to A one after another must be started by node B (MaxParallel=16). " +
                      "202 → the `in_progress` status at the fake GitHub; beside it, deployments sent to B itself." +
                      (cross.HeldThroughout ? "" : " **The held deploy ended before the samples did: A may have run some of them itself.**"));
            lines.Add("");
            lines.Add("| measure | p50 | p95 | max | target | |");
            lines.Add("|---|---:|---:|---:|---:|---|");
            lines.Add($"| sent to A (at its limit), started by B: 202 → `in_progress` | {Stats.Ms(Stats.Median(cross.CrossMs))} | {Stats.Ms(p95)} | {Stats.Ms(cross.CrossMs.Max())} | p95 < 100 ms | {Stats.Met(p95 < 100)} |");
            lines.Add($"| sent to B (free), started by B: 202 → `in_progress` | {Stats.Ms(Stats.Median(cross.DirectMs))} | {Stats.Ms(Stats.Percentile(cross.DirectMs, 95))} | {Stats.Ms(cross.DirectMs.Max())} | | |");
        }

        if (liveLog is not null)
        {
            var (single, many) = (liveLog.One, liveLog.Many);
            lines.Add("");
            lines.Add($"Live log from another node: node A runs `script/livelog` (a line every 50 ms carrying the moment it was printed, {BenchRepository.LiveLogLines} lines); node B takes webhooks only " +
                      $"(Deployments:MaxParallel=0) and serves the viewers over Server-Sent Events, 1 and then {LiveLogViewers} ({LiveLogReconnecting} of them drop after line 150 and resume with `Last-Event-ID`): " +
                      "every line reaches them through the database and B's wake-up. Latency = arrival at the viewer − the time in the line, for the lines printed after the viewer's stream opened " +
                      "(lines printed while it was still connecting are history to it, counted apart).");
            lines.Add("");
            lines.Add("| measure | p50 | p99 | max | target | |");
            lines.Add("|---|---:|---:|---:|---:|---|");
            lines.Add($"| print on A → viewer on B, 1 viewer | {Stats.Ms(Stats.Median(single.Latencies))} | {Stats.Ms(Stats.Percentile(single.Latencies, 99))} | {Stats.Ms(single.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(single.Latencies, 99) < 250)} |");
            lines.Add($"| print on A → viewer on B, {LiveLogViewers} viewers | {Stats.Ms(Stats.Median(many.Latencies))} | {Stats.Ms(Stats.Percentile(many.Latencies, 99))} | {Stats.Ms(many.Latencies.Max())} | p99 < 250 ms | {Stats.Met(Stats.Percentile(many.Latencies, 99) < 250)} |");
            lines.Add($"| lines printed while a viewer was connecting (read as history, left out above), {LiveLogViewers} viewers: count {many.CatchUp.Count:N0} | {(many.CatchUp.Count == 0 ? "—" : Stats.Ms(Stats.Median(many.CatchUp)))} | {(many.CatchUp.Count == 0 ? "—" : Stats.Ms(Stats.Percentile(many.CatchUp, 99)))} | {(many.CatchUp.Count == 0 ? "—" : Stats.Ms(many.CatchUp.Max()))} | | |");
            lines.Add($"| viewers that got every line exactly once | {single.Exact + many.Exact} of {1 + LiveLogViewers}{many.Problem} | | | all | {Stats.Met(single.Exact + many.Exact == 1 + LiveLogViewers)} |");
        }

        if (settings.Extra.Count > 0)
        {
            lines.Add("");
            lines.Add("Settings changed for this run: " + string.Join(", ", settings.Extra.Select(kv => $"`{kv.Key}={kv.Value}`")));
        }

        return new Section("Several nodes on one PostgreSQL", lines);
    }

    /// <summary>
    /// Which part of Heaven a statement belongs to, from its normalized text (table names are those of
    /// the PostgreSQL migrations).
    /// </summary>
    internal static string Classify(string query)
    {
        var q = WhiteSpace().Replace(query.ToLowerInvariant(), " ").Trim();
        bool Has(string text) => q.Contains(text, StringComparison.Ordinal);
        bool Starts(string text) => q.StartsWith(text, StringComparison.Ordinal);

        if (Starts("discard"))
        {
            return Discard;
        }

        if (Starts("begin") || Starts("start transaction"))
        {
            return Begin;
        }

        if (Starts("commit") || Starts("rollback") || Starts("end"))
        {
            return "COMMIT / ROLLBACK";
        }

        if (Starts("savepoint") || Starts("release"))
        {
            return "SAVEPOINT / RELEASE (EF Core)";
        }

        if (Has("skip locked"))
        {
            return "claim (with admission checks)";
        }

        if (Has("work_items"))
        {
            return "outbox";
        }

        // The delivery row, the deployment row, and the duplicate check of a batch of GitHub deployment ids.
        if (Has("deliveries") || Starts("insert into deployments") || Starts("insert into \"deployments\"") || Has("git_hub_deployment_id = any"))
        {
            return "intake";
        }

        if (Has("deployment_log_chunks"))
        {
            return "log";
        }

        if (Has("node_drains") || NodesTable().IsMatch(q))
        {
            return "nodes (heartbeat, drains)";
        }

        if (Has("environment_locks"))
        {
            return "locks";
        }

        if (Starts("update") && Has("deployments"))
        {
            if (RenewOnly().IsMatch(q))
            {
                return "renew";
            }

            return Has("finished_at") ? "finish" : "start (state, gist, status text)";
        }

        if (Starts("select d.cancel_requested_by from deployments"))
        {
            return "cancel check";
        }

        // Admission: the per-repository count and whether the environment is busy.
        if (Has("from deployments") && (Starts("select count(") || Starts("select exists")))
        {
            return "claim (with admission checks)";
        }

        if (Has("from deployments"))
        {
            return "deployment reads";
        }

        return "other";
    }

    private static async Task<List<HeavenServer>> StartNodesAsync(BenchSettings settings, CountingPostgres postgres, string database, int[] maxParallel)
    {
        var starting = maxParallel.Select(limit => HeavenServer.StartAsync(settings.WorkDirectory, settings.GitHub.ApiUrl, settings.Settings(
            ("Database:Provider", "Postgres"),
            ("Database:ConnectionString", postgres.NodeConnectionString(database)),
            ("Deployments:MaxParallel", limit.ToString(CultureInfo.InvariantCulture)),
            ("Deployments:MaxParallelPerRepository", Math.Max(1, limit).ToString(CultureInfo.InvariantCulture))), settings.Verbose)).ToList();
        try
        {
            return (await Task.WhenAll(starting)).ToList();
        }
        catch
        {
            foreach (var task in starting.Where(t => t.IsCompletedSuccessfully))
            {
                await task.Result.DisposeAsync();
            }

            throw;
        }
    }

    private static async Task StopNodesAsync(BenchSettings settings, List<HeavenServer> servers, string name)
    {
        if (settings.ServerLogDirectory is { } folder)
        {
            Directory.CreateDirectory(folder);
            for (var i = 0; i < servers.Count; i++)
            {
                await File.WriteAllLinesAsync(Path.Combine(folder, $"heaven-{name}-{i + 1}.log"), servers[i].Output);
            }
        }

        await Task.WhenAll(servers.Select(s => s.DisposeAsync().AsTask()));
    }

    private static void SaveStatements(BenchSettings settings, string name, List<(string Query, long Calls)> statements, int deploys)
    {
        if (settings.ServerLogDirectory is { } folder)
        {
            Directory.CreateDirectory(folder);
            File.WriteAllLines(Path.Combine(folder, name), statements.OrderByDescending(s => s.Calls).Select(s =>
                $"{s.Calls / (double)deploys,8:0.00}  {Classify(s.Query),-28}  {WhiteSpace().Replace(s.Query, " ")}"));
        }
    }

    /// <summary>
    /// Waits for the final status as <see cref="Deployments.WaitAsync"/> does, looking every 10 ms: the
    /// times are GitHub's arrival times either way, and a tight loop per sender would take CPU from the nodes.
    /// </summary>
    private static Task<DeployTimes> FinalAsync(FakeGitHub gitHub, long id, DateTimeOffset sent, DateTimeOffset accepted) =>
        Deployments.WaitAsync(gitHub, id, sent, accepted, TimeSpan.FromMinutes(3), lookEvery: TimeSpan.FromMilliseconds(10));

    private static async Task ShellAsync(string program, string[] args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        info.Environment["GIT_CONFIG_NOSYSTEM"] = "1";
        info.Environment["GIT_CONFIG_GLOBAL"] = "/dev/null";
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"{program} did not start.");
        var output = process.StandardOutput.ReadToEndAsync();
        var error = process.StandardError.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', args)} exited with {process.ExitCode}: {await error}{await output}");
        }
    }

    private static double LoadAverage() =>
        double.Parse(File.ReadAllText("/proc/loadavg").Split(' ')[0], CultureInfo.InvariantCulture);

    /// <summary>How long to wait for a quiet machine before each part: a tenth of <c>--quiet-wait</c> (minutes, 3 by default) each.</summary>
    private static TimeSpan Patience
    {
        get
        {
            var args = Environment.GetCommandLineArgs();
            var index = Array.IndexOf(args, "--quiet-wait");
            var minutes = index >= 0 && index + 1 < args.Length ? double.Parse(args[index + 1], CultureInfo.InvariantCulture) : 3;
            return TimeSpan.FromMinutes(minutes / 10);
        }
    }

    private static int Option(string name, int fallback)
    {
        var args = Environment.GetCommandLineArgs();
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }

    [GeneratedRegex(@"\b""?nodes""?\b")]
    private static partial Regex NodesTable();

    [GeneratedRegex(@"set ""?lease_expires_at""? = \$\d+ (from|where|returning)")]
    private static partial Regex RenewOnly();

    [GeneratedRegex(@"\s+")]
    private static partial Regex WhiteSpace();
}
