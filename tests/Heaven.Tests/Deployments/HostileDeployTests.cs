using System.Net;
using System.Text;
using Heaven.Execution;
using Heaven.Tests.Infrastructure;
using Xunit.Abstractions;

namespace Heaven.Tests.Deployments;

/// <summary>
/// A collaborator of one repository with a hostile <c>script/deploy</c>, against the real <c>heaven</c>
/// executable running as root (as CI runs it): it tries to read Heaven's environment (the GitHub
/// token), the generated webhook secret, the database, another repository's running checkout, and to
/// plant a program in another repository's mirror, and prints what it found reversed and in hex. With
/// the user switch, the sandbox, or both, none of it works; without isolation all of it does, which
/// shows the script is a real attack.
/// </summary>
[Collection(HeavyHostsCollection.Name)]
public sealed class HostileDeployTests(ITestOutputHelper output)
{
    private const string Token = "ghp_hostiletesttoken0123456789abcdefXYZ";

    /// <summary>The attacks every isolation must stop.</summary>
    private const string UnprivilegedUser = "heaven-test-owner";

    private static readonly string[] Attacks =
        ["environ", "any-environ", "webhook-secret", "database", "data-listing", "work-listing", "other-checkout", "mirror-write", "mirror-read"];

    [IsolationTheory]
    [InlineData("user")]
    [InlineData("sandbox")]
    [InlineData("both")]
    public async Task AHostileDeployScript_ReachesNothingOfHeavensOrAnotherRepositorys(string isolation)
    {
        await using var run = await HostileRun.StartAsync(isolation);

        var log = await run.AttackAsync();
        output.WriteLine(log);

        log.ShouldContain(isolation switch
        {
            "user" => "Deploys run as user heaven-deploy",
            "sandbox" => "Deploys run in a bubblewrap sandbox as Heaven's own user",
            _ => "in a bubblewrap sandbox.",
        });
        foreach (var attack in Attacks)
        {
            log.ShouldContain($"attack-failed {attack}", customMessage: $"the '{attack}' attack succeeded:\n{log}");
        }

        if (isolation != "user")
        {
            // One user for all deploys cannot keep deploys running at the same time apart; the sandbox can.
            log.ShouldContain("attack-failed other-checkout-proc", customMessage: log);
        }

        log.ShouldNotContain("ATTACK-OK environ");
        foreach (var secret in new[] { Token, run.WebhookSecret })
        {
            foreach (var form in Forms(secret))
            {
                log.ShouldNotContain(form, Case.Insensitive);
            }
        }

        File.ReadAllText(run.VictimMirrorConfig).ShouldBe(run.VictimMirrorConfigBefore, "the victim's mirror config was changed");
    }

    [IsolationFact]
    public async Task UnderAnUnprivilegedHeaven_TheSandboxAloneHolds()
    {
        var owner = await DeployUser.FindAsync(UnprivilegedUser, CancellationToken.None);
        if (owner is null)
        {
            (await DeployUser.CreateAsync(UnprivilegedUser, CancellationToken.None)).ShouldBeNull();
            owner = (await DeployUser.FindAsync(UnprivilegedUser, CancellationToken.None))!;
        }

        await using var run = await HostileRun.StartAsync("sandbox", owner);

        var log = await run.AttackAsync();
        output.WriteLine(log);

        log.ShouldContain("Deploys run in a bubblewrap sandbox as Heaven's own user");
        foreach (var attack in Attacks.Append("other-checkout-proc"))
        {
            log.ShouldContain($"attack-failed {attack}", customMessage: $"the '{attack}' attack succeeded:\n{log}");
        }

        // Outside any sandbox, a process of Heaven's own user cannot read Heaven's environment either:
        // Heaven made itself undumpable.
        (await run.ReadEnvironmentAsAsync(owner)).ShouldBeFalse("a process of Heaven's own user read /proc/<heaven>/environ");
    }

    [IsolationFact]
    public async Task WithoutIsolation_TheSameScriptReachesEverything()
    {
        await using var run = await HostileRun.StartAsync("none");

        var log = await run.AttackAsync();
        output.WriteLine(log);

        log.ShouldContain("Deploys are not isolated (Deployments:Isolation=none)");
        foreach (var attack in Attacks.Append("other-checkout-proc"))
        {
            log.ShouldContain($"ATTACK-OK {attack}", customMessage: $"the '{attack}' attack did not work even without isolation:\n{log}");
        }
    }

    private static IEnumerable<string> Forms(string secret) =>
    [
        secret,
        new string(secret.Reverse().ToArray()),
        Convert.ToHexStringLower(Encoding.UTF8.GetBytes(secret)),
    ];

    /// <summary>A heaven process, a victim repository whose deploy is running, and an attacker's repository.</summary>
    private sealed class HostileRun : IAsyncDisposable
    {
        private readonly TemporaryDirectory directory;
        private readonly FakeGitHub gitHub;
        private readonly HeavenProcess heaven;
        private readonly TestRepository victim;
        private readonly TestRepository attacker;
        private readonly string gate;
        private readonly string data;
        private readonly DeployUser? owner;

        private HostileRun(TemporaryDirectory directory, FakeGitHub gitHub, HeavenProcess heaven, TestRepository victim, TestRepository attacker, string gate, string data, DeployUser? owner)
        {
            this.owner = owner;
            this.directory = directory;
            this.gitHub = gitHub;
            this.heaven = heaven;
            this.victim = victim;
            this.attacker = attacker;
            this.gate = gate;
            this.data = data;
            WebhookSecret = File.ReadAllText(Path.Combine(data, "webhook-secret")).Trim();
        }

        public string WebhookSecret { get; }

        public string VictimMirrorConfig => Path.Combine(data, "repositories", "octo", "victim.git", "config");

        public string VictimMirrorConfigBefore { get; private set; } = "";

        /// <param name="owner">Runs heaven as this user instead of root.</param>
        public static async Task<HostileRun> StartAsync(string isolation, DeployUser? owner = null)
        {
            var directory = new TemporaryDirectory();
            var data = Path.Combine(directory.Path, "data");
            var gate = Path.Combine(directory.Path, "gate");
            Directory.CreateDirectory(gate);
            // The victim's deploy reports here; the deploy user must be able to write it.
            File.SetUnixFileMode(gate, (UnixFileMode)0x1FF);
            var gitHub = await FakeGitHub.StartAsync();
            var environment = new Dictionary<string, string>
            {
                ["HEAVEN_DATA_DIR"] = data,
                // In Heaven's environment, where /proc/<pid>/environ would show it.
                ["GITHUB_TOKEN"] = Token,
                ["GitHub__ApiUrl"] = gitHub.ApiUrl,
                ["GitHub__WebUrl"] = gitHub.ApiUrl,
                ["Heaven__PublicUrl"] = "http://127.0.0.1/",
                ["Output__MirrorToGist"] = "false",
                ["Checkout__AllowLocalRepositories"] = "true",
                ["Deployments__Isolation"] = isolation == "none" ? "none" : "required",
                ["Deployments__RunAs"] = isolation is "user" or "both" ? IsolationOptions.DefaultUser : "",
                ["Deployments__Sandbox"] = isolation is "sandbox" or "both" ? "true" : "false",
                ["Deployments__SandboxWritablePaths__0"] = gate,
            };
            if (owner is not null)
            {
                Own(directory.Path, owner);
            }

            var heaven = await HeavenProcess.StartAsync(environment, owner);
            var victim = new TestRepository("octo/victim");
            var attacker = new TestRepository("octo/attacker");
            return new HostileRun(directory, gitHub, heaven, victim, attacker, gate, data, owner);
        }

        /// <summary>Whether a process of <paramref name="user"/>, outside any sandbox, can read heaven's environment.</summary>
        public async Task<bool> ReadEnvironmentAsAsync(DeployUser user)
        {
            string[] command = [.. DeployIsolation.UserSwitch(user), "cat", $"/proc/{heaven.Id}/environ"];
            var (exitCode, _) = await Tool.RunAsync(command[0], command[1..], CancellationToken.None);
            return exitCode == 0;
        }

        private static void Own(string path, DeployUser user)
        {
            foreach (var entry in Directory.EnumerateFileSystemEntries(path, "*", SearchOption.AllDirectories).Prepend(path))
            {
                Posix.ChangeOwner(entry, user.UserId, user.GroupId, out _).ShouldBeTrue(entry);
            }
        }

        /// <summary>Runs the victim's deploy, then the attacker's while the victim's still runs; returns the attacker's log.</summary>
        public async Task<string> AttackAsync()
        {
            var victimSha = victim.Commit(
                "victim",
                new Dictionary<string, string>
                {
                    ["secret.txt"] = "victim-checkout-secret",
                    ["script/deploy"] = $"#!/usr/bin/env bash\ntouch {gate}/victim-started\nwhile [ ! -e {gate}/release ]; do sleep 0.05; done\n",
                },
                "script/deploy");
            var (victimBody, victimId) = DeploymentWebhook.For(victim, victimSha);
            if (owner is not null)
            {
                // git refuses to fetch from a repository another user owns.
                Own(Path.GetDirectoryName(victim.BarePath)!, owner);
            }

            (await heaven.Client.SendAsync(Webhook.Request("deployment", victimBody, Guid.NewGuid().ToString(), WebhookSecret))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            await Poll.UntilAsync(() => File.Exists(Path.Combine(gate, "victim-started")), "the victim's deploy to start", state: () => heaven.Output);
            VictimMirrorConfigBefore = File.ReadAllText(VictimMirrorConfig);

            var work = data + "-work";
            var script = $$"""
                found=""
                report() { if [ -n "$2" ]; then echo "ATTACK-OK $1"; found="$found $2"; else echo "attack-failed $1"; fi; }
                report environ "$(tr '\0' '\n' < /proc/{{heaven.Id}}/environ 2>/dev/null | grep -a '^GITHUB_TOKEN=' || true)"
                report any-environ "$(for f in /proc/[0-9]*/environ; do tr '\0' '\n' < "$f" 2>/dev/null; done | grep -a '^GITHUB_TOKEN=' || true)"
                report webhook-secret "$(cat {{data}}/webhook-secret 2>/dev/null || true)"
                report database "$(head -c 64 {{data}}/heaven.db 2>/dev/null | tr -d '\0' || true)"
                report data-listing "$(ls -A {{data}} 2>/dev/null || true)"
                own="$(basename "$(dirname "$PWD")")"
                report work-listing "$(ls -A {{work}} 2>/dev/null | grep -v "^$own\$" || true)"
                report other-checkout "$(cat {{work}}/*/checkout/secret.txt 2>/dev/null || true)"
                report other-checkout-proc "$(cat /proc/[0-9]*/cwd/secret.txt 2>/dev/null || true)"
                report mirror-write "$(git config --file {{VictimMirrorConfig}} core.fsmonitor /tmp/evil 2>/dev/null && echo written || true)"
                report mirror-read "$(cat {{VictimMirrorConfig}} 2>/dev/null || true)"
                echo "$found" | rev
                echo "$found" | od -An -tx1 | tr -d ' \n'
                echo
                """;
            var attackerSha = attacker.CommitDeployScript(script);
            var (attackerBody, attackerId) = DeploymentWebhook.For(attacker, attackerSha);
            if (owner is not null)
            {
                Own(Path.GetDirectoryName(attacker.BarePath)!, owner);
            }

            (await heaven.Client.SendAsync(Webhook.Request("deployment", attackerBody, Guid.NewGuid().ToString(), WebhookSecret))).StatusCode.ShouldBe(HttpStatusCode.Accepted);
            var final = await gitHub.WaitForStatusAsync(s => s.DeploymentId == attackerId && s.State is "success" or "failure" or "error", TimeSpan.FromSeconds(120));
            File.WriteAllText(Path.Combine(gate, "release"), "");
            await gitHub.WaitForStatusAsync(s => s.DeploymentId == victimId && s.State is "success" or "failure" or "error", TimeSpan.FromSeconds(120));

            final.LogUrl.ShouldNotBeNull();
            var log = await heaven.Client.GetStringAsync(new Uri(final.LogUrl).PathAndQuery);
            final.State.ShouldBe("success", log);
            return log;
        }

        public async ValueTask DisposeAsync()
        {
            File.WriteAllText(Path.Combine(gate, "release"), "");
            await heaven.DisposeAsync();
            await gitHub.DisposeAsync();
            victim.Dispose();
            attacker.Dispose();
            directory.Dispose();
        }
    }
}
