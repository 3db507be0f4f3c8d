using System.Globalization;
using System.Runtime.CompilerServices;
using Heaven.Checkout;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.GitHub;
using Heaven.Intake;
using Heaven.Notifications;
using Heaven.Output;
using Heaven.Providers;
using Heaven.Repositories;
using Heaven.Storage;
using Microsoft.Data.Sqlite;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;

namespace Heaven.Diagnostics;

/// <summary>
/// Checks an installation the way the server will use it, with its settings, and changes nothing:
/// the data directory, the database, disk space, GitHub (token, scopes, clock), the webhook, the
/// tools deploys need, deploy isolation and the chat services. Each check yields its lines as soon as
/// it has them; a check that cannot run says why instead of stopping the others.
/// </summary>
public sealed class Doctor(IServiceProvider services)
{
    /// <summary>Further apart than this, GitHub's and Heaven's times disagree enough to matter (timestamps, token expiry).</summary>
    public static readonly TimeSpan ClockTolerance = TimeSpan.FromSeconds(30);

    /// <summary>Less free space than this for mirrors, logs and the database is a problem.</summary>
    public const long MinimumFreeBytes = 1L << 30;

    /// <summary>A repository whose newest delivery is older than this is mentioned (it may simply be quiet).</summary>
    public static readonly TimeSpan QuietRepository = TimeSpan.FromDays(14);

    /// <summary>The tools each provider runs from the PATH; providers not listed need none of their own.</summary>
    private static readonly (string Provider, Func<IServiceProvider, string> Tool, string Package)[] ProviderTools =
    [
        ("capistrano", _ => "cap", "capistrano (Debian: apt-get install capistrano)"),
        ("fabric", _ => "fab", "Fabric (Debian: apt-get install fabric)"),
        ("ansible", _ => "ansible-playbook", "Ansible (Debian: apt-get install ansible)"),
        ("elastic_beanstalk", sp => sp.GetRequiredService<IOptions<ElasticBeanstalkOptions>>().Value.AwsCli, "the AWS CLI (Debian: apt-get install awscli), or set ElasticBeanstalk:AwsCli"),
        ("dpl", sp => sp.GetRequiredService<IOptions<DplOptions>>().Value.Command, "dpl (gem install dpl), or set Dpl:Command"),
    ];

    /// <param name="settingsProblem">What the start-up check of the settings found, or null when they are valid.</param>
    public async IAsyncEnumerable<CheckLine> RunAsync(string? settingsProblem, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var data = services.GetRequiredService<DataDirectory>();
        yield return DataDirectoryModesCheck(data);
        yield return DiskSpace(data);

        if (settingsProblem?.ReplaceLineEndings(" ") is { } settings)
        {
            yield return CheckLine.Fail("settings", settings);
            yield return CheckLine.Note("other checks", "skipped: they read the settings; fix them first (heaven serve says the same at start).");
            yield break;
        }

        yield return CheckLine.Ok("settings", "every setting is valid.");
        var databaseReady = false;
        await foreach (var line in DatabaseAsync(data, cancellationToken))
        {
            databaseReady |= line.Subject == "database" && line.Result == CheckResult.Ok;
            yield return line;
        }

        await foreach (var line in GitHubAsync(cancellationToken))
        {
            yield return line;
        }

        if (databaseReady)
        {
            await foreach (var line in WebhookAsync(cancellationToken))
            {
                yield return line;
            }
        }
        else
        {
            yield return CheckLine.Note("webhook", "not checked: the deliveries are in the database, which is not ready.");
        }

        await foreach (var line in ToolsAsync(cancellationToken))
        {
            yield return line;
        }

        yield return await IsolationAsync(cancellationToken);
        await foreach (var line in ChatAsync(cancellationToken))
        {
            yield return line;
        }
    }

    private static CheckLine DataDirectoryModesCheck(DataDirectory data)
    {
        var problems = DataDirectoryModes.Inspect(data.FullPath);
        if (problems.Count == 0)
        {
            return CheckLine.Ok("data directory", $"{data.FullPath} is private to Heaven's user (directories 0700, files 0600).");
        }

        var listed = string.Join(" ", problems.Take(3)) + (problems.Count > 3 ? $" ... and {problems.Count - 3} more." : "");
        return CheckLine.Fail(
            "data directory",
            $"{listed} It holds the database, the webhook secret and the mirrors: run 'chown -R' to Heaven's user and 'chmod -R go-rwx {data.FullPath}' (the server also repairs the modes at start, when it may).");
    }

    private static CheckLine DiskSpace(DataDirectory data)
    {
        try
        {
            var drive = new DriveInfo(data.FullPath);
            var free = drive.AvailableFreeSpace;
            var text = string.Create(CultureInfo.InvariantCulture, $"{free / (double)(1L << 30):0.0} GiB") + $" free on {drive.RootDirectory.FullName} for mirrors, logs and the database";
            return free < MinimumFreeBytes
                ? CheckLine.Fail("disk space", $"only {text}: free some space or move the data directory (DataDirectory) to a larger disk; a full disk fails fetches and deploy logs.")
                : CheckLine.Ok("disk space", text + ".");
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            return CheckLine.Fail("disk space", $"could not be read for {data.FullPath} ({e.GetType().Name}).");
        }
    }

    private async IAsyncEnumerable<CheckLine> DatabaseAsync(DataDirectory data, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var database = services.GetRequiredService<IHeavenDatabase>();
        if (database.Provider == DatabaseProvider.Sqlite)
        {
            var options = services.GetRequiredService<IOptions<DatabaseOptions>>().Value;
            var (_, connectionString) = options.Resolve(data);
            var file = new SqliteConnectionStringBuilder(connectionString).DataSource;
            if (!File.Exists(file))
            {
                // Opening it would create an empty one: what a check must not do.
                yield return CheckLine.Fail("database", $"there is no SQLite database at {file} yet: start 'heaven serve' once, which creates and migrates it.");
                yield break;
            }
        }

        string? problem = null;
        IReadOnlyList<string> pending = [];
        IReadOnlyList<string> unknown = [];
        try
        {
            await using var db = await database.OpenAsync(cancellationToken);
            if (!await db.Database.CanConnectAsync(cancellationToken))
            {
                problem = $"the {database.Provider} database cannot be reached: check Database:ConnectionString / DATABASE_URL and that the server runs.";
            }
            else
            {
                pending = [.. await db.Database.GetPendingMigrationsAsync(cancellationToken)];
                unknown = await StorageRegistration.UnknownMigrationsAsync(db, cancellationToken);
            }
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            // Connection errors may quote the connection string: the engine and the kind of error only.
            problem = $"the {database.Provider} database cannot be opened ({e.GetType().Name}): check Database:ConnectionString / DATABASE_URL, or the data directory for SQLite.";
        }

        if (problem is not null)
        {
            yield return CheckLine.Fail("database", problem);
        }
        else if (unknown.Count > 0)
        {
            yield return CheckLine.Fail("database", new NewerSchemaException(unknown).Message);
        }
        else if (pending.Count > 0)
        {
            yield return CheckLine.Fail("database", $"{database.Provider} is reachable, and {pending.Count} migration(s) are not applied yet (the newest: {pending[^1]}): start 'heaven serve' of this version, which applies them.");
        }
        else
        {
            yield return CheckLine.Ok("database", $"{database.Provider} is reachable and up to date.");
        }
    }

    private async IAsyncEnumerable<CheckLine> GitHubAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var options = services.GetRequiredService<IOptions<GitHubOptions>>().Value;
        if (string.IsNullOrEmpty(options.Token))
        {
            yield return CheckLine.Fail("GitHub token", "GitHub:Token (or GITHUB_TOKEN, or GitHub:TokenFile) is not set: Heaven cannot post statuses or mirror logs to gists. Create a token and set it.");
            yield break;
        }

        if (services.GetService<OctokitGitHub>() is not { } github)
        {
            yield return CheckLine.Note("GitHub token", "not checked: this Heaven talks to GitHub through another adapter.");
            yield break;
        }

        GitHubTokenCheck? answer = null;
        string? unreachable = null;
        var time = services.GetRequiredService<TimeProvider>();
        var asked = time.GetUtcNow();
        try
        {
            answer = await github.CheckTokenAsync(cancellationToken);
        }
        catch (GitHubTransientException e)
        {
            unreachable = e.Message;
        }

        var answered = time.GetUtcNow();
        if (answer is null)
        {
            yield return CheckLine.Fail("GitHub", $"{unreachable} Check GitHub:ApiUrl ({options.ApiUrl}), the network and any proxy.");
            yield break;
        }

        if (answer.Status is 401)
        {
            yield return CheckLine.Fail("GitHub token", $"GitHub at {options.ApiUrl} refused the token (401{(answer.Message is null ? "" : ": " + answer.Message)}): it is wrong, expired or revoked; make a new one and set GitHub:Token.");
        }
        else if (answer.Status is < 200 or >= 300)
        {
            yield return CheckLine.Fail("GitHub token", $"GitHub at {options.ApiUrl} answered {answer.Status}{(answer.Message is null ? "" : ": " + answer.Message)} to GET /user: check GitHub:ApiUrl and the token.");
        }
        else
        {
            yield return CheckLine.Ok("GitHub token", $"GitHub at {options.ApiUrl} takes the token{(answer.Login is null ? "" : $" of {answer.Login}")}.");
            yield return Scopes(answer.Scopes);
        }

        if (answer.ServerDate is { } date)
        {
            // GitHub's Date has whole seconds, taken somewhere between asking and the answer.
            var local = asked + ((answered - asked) / 2);
            var skew = local - date;
            var size = skew.Duration();
            yield return size <= ClockTolerance
                ? CheckLine.Ok("clock", $"within {ClockTolerance.TotalSeconds:0} s of GitHub's.")
                : CheckLine.Fail("clock", $"{Describe(size)} {(skew > TimeSpan.Zero ? "ahead of" : "behind")} GitHub's: keep the host's clock synchronised (timedatectl set-ntp true, chrony or systemd-timesyncd).");
        }
        else
        {
            yield return CheckLine.Note("clock", "GitHub's answer had no Date header to compare with.");
        }
    }

    /// <summary>What a classic token's scopes allow, against what Heaven does with GitHub.</summary>
    private CheckLine Scopes(string? header)
    {
        var mirrorsToGist = services.GetRequiredService<IOptions<OutputOptions>>().Value.MirrorToGist;
        if (header is null)
        {
            return CheckLine.Note(
                "GitHub scopes",
                "could not be determined: GitHub lists scopes only for classic tokens, not for fine-grained or app tokens. Make sure the token may write deployments and deployment statuses and read contents of the repositories" + (mirrorsToGist ? ", and create gists (a classic token's 'gist' scope)." : "."));
        }

        var scopes = header.Split(',', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).ToHashSet(StringComparer.Ordinal);
        var missing = new List<string>();
        if (!scopes.Contains("repo"))
        {
            if (!scopes.Contains("repo_deployment"))
            {
                missing.Add("deployments and statuses ('repo' or 'repo_deployment')");
            }

            missing.Add(scopes.Contains("public_repo") ? "contents of private repositories ('repo'; 'public_repo' reads public ones only)" : "contents ('repo', or 'public_repo' for public repositories only)");
        }

        if (mirrorsToGist && !scopes.Contains("gist"))
        {
            missing.Add("gists for the deploy logs ('gist', or set Output:MirrorToGist=false)");
        }

        var granted = scopes.Count == 0 ? "none" : string.Join(", ", scopes.Order(StringComparer.Ordinal));
        return missing.Count == 0
            ? CheckLine.Ok("GitHub scopes", $"{granted}: enough for deployments, statuses, contents{(mirrorsToGist ? " and gists" : "")}.")
            : CheckLine.Fail("GitHub scopes", $"the token has {granted}; it lacks {string.Join("; ", missing)}. Give the token these scopes or make a new one.");
    }

    private async IAsyncEnumerable<CheckLine> WebhookAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var database = services.GetRequiredService<IHeavenDatabase>();
        var now = services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        List<(string? Repository, string Event, DeliveryResult Result, DateTime ReceivedAt)> newest;
        List<(long HookId, string? Target, DateTime LastPingAt)> hooks;
        await using (var db = await database.OpenAsync(cancellationToken))
        {
            hooks = (await db.Hooks.AsNoTracking().OrderBy(h => h.HookId).Select(h => new { h.HookId, h.Target, h.LastPingAt }).ToListAsync(cancellationToken))
                .Select(h => (h.HookId, h.Target, h.LastPingAt))
                .ToList();
            var latest = await db.Deliveries.AsNoTracking()
                .GroupBy(d => d.Repository)
                .Select(g => g.Max(d => d.Id))
                .ToListAsync(cancellationToken);
            newest = (await db.Deliveries.AsNoTracking()
                .Where(d => latest.Contains(d.Id))
                .Select(d => new { d.Repository, d.Event, d.Result, d.ReceivedAt })
                .ToListAsync(cancellationToken))
                .Select(d => (d.Repository, d.Event, d.Result, d.ReceivedAt))
                .OrderBy(d => d.Repository ?? "", StringComparer.OrdinalIgnoreCase)
                .ToList();
        }

        foreach (var (hookId, target, lastPingAt) in hooks)
        {
            yield return CheckLine.Ok($"webhook {hookId.ToString(CultureInfo.InvariantCulture)}", $"{(target is null ? "" : target + ": ")}last ping {Describe(now - lastPingAt)} ago.");
        }

        if (newest.Count == 0)
        {
            yield return CheckLine.Fail("webhook", "no delivery from GitHub has arrived (or none within Retention:Deliveries): add a webhook to the repositories or the organisation with this server's /events as its URL, content type application/json and the webhook secret; GitHub sends a ping at once.");
            yield break;
        }

        foreach (var (repository, @event, result, receivedAt) in newest)
        {
            var subject = repository is null ? "webhook" : $"webhook {repository}";
            var when = $"{Describe(now - receivedAt)} ago";
            if (now - receivedAt > QuietRepository)
            {
                yield return CheckLine.Note(subject, $"the newest delivery ({@event}) is {when}: a quiet repository, or a webhook that no longer reaches Heaven (GitHub's webhook settings list recent deliveries).");
            }
            else
            {
                yield return CheckLine.Ok(subject, $"newest delivery {when} ({@event}, {result.ToString().ToLowerInvariant()}).");
            }
        }
    }

    private async IAsyncEnumerable<CheckLine> ToolsAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var path = Environment.GetEnvironmentVariable("PATH");
        var git = services.GetRequiredService<IOptions<GitOptions>>().Value.Executable;
        yield return await RequiredToolAsync("git", git, ["--version"], "install git (Debian: apt-get install git) or set Git:Executable", path, cancellationToken);
        yield return await RequiredToolAsync("ssh", "ssh", ["-V"], "install the OpenSSH client (Debian: apt-get install openssh-client); ssh clone URLs and deploy keys need it", path, cancellationToken);

        var isolation = services.GetRequiredService<IOptions<IsolationOptions>>().Value;
        if (isolation.Isolation != IsolationMode.None && isolation.Sandbox)
        {
            var bwrap = isolation.BwrapPath is { Length: > 0 } configured ? configured : "bwrap";
            var found = await ToolAsync(bwrap, ["--version"], path, cancellationToken);
            yield return found is { } version
                ? CheckLine.Ok("bwrap", version)
                : CheckLine.Note("bwrap", "not installed: deploys run without a sandbox. Install bubblewrap (Debian: apt-get install bubblewrap), or set Deployments:Sandbox=false to say so.");
        }

        var named = services.GetRequiredService<IOptions<RepositoryOptions>>().Value.Repositories
            .SelectMany(r => r.Providers.Append(r.Provider ?? ""))
            .Where(p => p.Length > 0)
            .ToHashSet(StringComparer.Ordinal);
        foreach (var (provider, toolOf, package) in ProviderTools)
        {
            var tool = toolOf(services);
            var version = await ToolAsync(tool, ["--version"], path, cancellationToken);
            if (version is not null)
            {
                yield return CheckLine.Ok($"provider {provider}", $"{tool}: {version}");
            }
            else if (named.Contains(provider))
            {
                yield return CheckLine.Fail($"provider {provider}", $"{tool} is not on the PATH, and Repositories: settings name this provider: install {package}.");
            }
            else
            {
                yield return CheckLine.Note($"provider {provider}", $"{tool} is not on the PATH: deployments asking for {provider} would fail; install {package} if you use it.");
            }
        }
    }

    private static async Task<CheckLine> RequiredToolAsync(string subject, string program, string[] arguments, string advice, string? path, CancellationToken cancellationToken) =>
        await ToolAsync(program, arguments, path, cancellationToken) is { } version
            ? CheckLine.Ok(subject, version)
            : CheckLine.Fail(subject, $"{program} is not found or does not run: {advice}.");

    /// <summary>The tool's first line of <c>--version</c> (or what it prints), or null when it is not there or fails.</summary>
    private static async Task<string?> ToolAsync(string program, string[] arguments, string? path, CancellationToken cancellationToken)
    {
        var resolved = program.Contains('/') ? (File.Exists(program) ? program : null) : ProgramResolver.FindOnPath(program, path);
        if (resolved is null)
        {
            return null;
        }

        var (exitCode, output) = await Tool.RunAsync(resolved, arguments, cancellationToken);
        var first = output.Split('\n', StringSplitOptions.TrimEntries | StringSplitOptions.RemoveEmptyEntries).FirstOrDefault() ?? "";
        return exitCode == 0 ? $"{first} ({resolved})" : null;
    }

    private async Task<CheckLine> IsolationAsync(CancellationToken cancellationToken)
    {
        var state = await services.GetRequiredService<DeployIsolation>().GetAsync(cancellationToken);
        if (state.Refusal is { } refusal)
        {
            return CheckLine.Fail("isolation", refusal + " Run Heaven as root with Deployments:RunAs, or install a working bubblewrap.");
        }

        if (state.Mode == IsolationMode.None || state.IsIsolated)
        {
            return CheckLine.Ok("isolation", state.Summary);
        }

        return CheckLine.Fail("isolation", state.Summary + " See docs/security.md: install bubblewrap, or run Heaven as root so it can switch deploys to Deployments:RunAs; set Deployments:Isolation=none to accept this.");
    }

    private async IAsyncEnumerable<CheckLine> ChatAsync([EnumeratorCancellation] CancellationToken cancellationToken)
    {
        var answers = await services.GetRequiredService<ChatServiceProbe>().ProbeAsync(cancellationToken);
        if (answers.Count == 0)
        {
            yield return CheckLine.Note("chat", "no chat service is configured (Notifications:...): deployments are announced nowhere.");
            yield break;
        }

        foreach (var answer in answers)
        {
            yield return answer.Problem is { } problem
                ? CheckLine.Fail($"chat {answer.Service}", problem)
                : CheckLine.Ok($"chat {answer.Service}", answer.Detail + ".");
        }
    }

    private static string Describe(TimeSpan span) => span switch
    {
        { TotalDays: >= 2 } => string.Create(CultureInfo.InvariantCulture, $"{Math.Round(span.TotalDays)} days"),
        { TotalHours: >= 2 } => string.Create(CultureInfo.InvariantCulture, $"{Math.Round(span.TotalHours)} hours"),
        { TotalMinutes: >= 2 } => string.Create(CultureInfo.InvariantCulture, $"{Math.Round(span.TotalMinutes)} minutes"),
        _ => string.Create(CultureInfo.InvariantCulture, $"{Math.Round(span.TotalSeconds)} seconds"),
    };
}
