using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Ssh;
using Heaven.Tests.Execution;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Providers;

/// <summary>
/// Repositories:&lt;owner/name&gt;:DeployKey — a repository's own deploy key replaces the server's in its
/// deployments' agent (so another repository's servers, which trust only the server's key, stay out of
/// reach), is checked at start without being shown, and is masked like the server's key.
/// </summary>
[Collection(SshDeploysCollection.Name)]
public sealed class RepositoryDeployKeyTests : IDisposable
{
    private const string Setting = "Repositories:octo/app:DeployKey";

    private readonly TemporaryDirectory directory = new();
    private readonly SshTarget server;
    private readonly TestRepository repository = new("octo/app");
    private readonly TestRepository other = new("octo/other");

    public RepositoryDeployKeyTests(SshServerFixture ssh)
    {
        server = ssh.NewTarget();
        ServerWideKey = Generate("heaven-test-server-wide");
    }

    /// <summary>A key sshd does not accept, as the server's Deployments:PrivateKey: private half, public line.</summary>
    private (string Private, string Public) ServerWideKey { get; }

    public void Dispose()
    {
        server.Dispose();
        repository.Dispose();
        other.Dispose();
        directory.Dispose();
    }

    [Fact]
    public async Task ARepositorysOwnKey_IsTheOnlyKeyInItsDeploysAgent_AndReachesItsServer_WhileOthersGetTheServersKey()
    {
        await using var harness = await DeployHarness.StartAsync(new Dictionary<string, string?>
        {
            ["Deployments:PrivateKey"] = ServerWideKey.Private,
            [Setting] = server.DeployKeyOneLine,
        });
        var keyLine = server.DeployKey.Split('\n')[2];
        var script = $"""
            echo "agent holds:"
            ssh-add -L
            echo "key line: {keyLine}"
            ssh -p {server.Port.ToString(CultureInfo.InvariantCulture)} {server.User}@127.0.0.1 echo reached-with-own-key
            """;
        var config = new JsonObject { ["provider"] = "shell", ["deploy_script"] = "script/deploy" };

        var (ownId, ownHeavenId) = await harness.DeployAsync(repository, repository.CommitDeployScript(script), config: config.DeepClone().AsObject());
        var own = await harness.WaitForFinalStatusAsync(repository, ownId);

        var log = await harness.LogAsync(ownHeavenId);
        own.State.ShouldBe("success", log + server.Log);
        log.ShouldContain("reached-with-own-key");
        log.ShouldContain(server.DeployPublicKey.Split(' ')[1]);
        log.ShouldNotContain(PublicBlob(ServerWideKey.Public), customMessage: "the server's key is not offered to a repository with its own");
        log.ShouldContain($"({Setting}) is in this deployment's ssh-agent");
        log.ShouldContain("key line: ***");
        log.ShouldNotContain(keyLine);
        server.Log.ShouldContain("Accepted publickey for " + server.User);

        // A repository without a key of its own gets the server's, as before.
        var (otherId, otherHeavenId) = await harness.DeployAsync(other, other.CommitDeployScript("ssh-add -L"), config: config.DeepClone().AsObject());
        (await harness.WaitForFinalStatusAsync(other, otherId)).State.ShouldBe("success");
        var otherLog = await harness.LogAsync(otherHeavenId);
        otherLog.ShouldContain(PublicBlob(ServerWideKey.Public));
        otherLog.ShouldNotContain(server.DeployPublicKey.Split(' ')[1]);
    }

    [Fact]
    public async Task TheCredentialsFactory_LoadsTheRepositorysKeyInsteadOfTheServers_AndRegistersItWithTheMasker()
    {
        var factory = new DeployCredentialsFactory(
            new DataDirectory(Path.Combine(directory.Path, "data")),
            Options.Create(new DeployKeyOptions { PrivateKey = ServerWideKey.Private }),
            new ProcessRunner(new ProcessRunnerOptions(), TimeProvider.System, NullLogger<ProcessRunner>.Instance),
            TimeProvider.System,
            NullLogger<DeployCredentialsFactory>.Instance);
        var masker = new SecretMasker();
        var sink = new RecordingSink();

        await using (var credentials = await factory.CreateAsync(11, new RepositoryDeployKey(server.DeployKeyOneLine, Setting), sink, masker, TimeSpan.FromMinutes(1), CancellationToken.None))
        {
            var listed = await ListAgentAsync(credentials.ToolEnvironment);
            listed.ShouldContain("heaven-test-deploy (ED25519)");
            listed.ShouldNotContain("heaven-test-server-wide");
        }

        sink.Of(OutputStream.Heaven).ShouldHaveSingleItem().ShouldEndWith($"({Setting}) is in this deployment's ssh-agent (SSH_AUTH_SOCK) until it ends");
        masker.Mask(server.DeployKeyOneLine).ShouldBe("***");
        masker.Mask("line " + server.DeployKey.Split('\n')[1]).ShouldBe("line ***");
        new RepositoryDeployKey(server.DeployKeyOneLine, Setting).ToString().ShouldBe($"RepositoryDeployKey({Setting})");
    }

    [Fact]
    public async Task ABadRepositoryKey_StopsTheStart_NamingTheSettingButNotTheValue()
    {
        var publicLine = server.DeployPublicKey;

        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { [Setting] = publicLine }));

        error.Message.ShouldContain($"{Setting} is not a usable private key: it is a public key");
        error.Message.ShouldContain("(Its value is not shown.)");
        error.Message.ShouldNotContain(publicLine.Split(' ')[1][..20]);
    }

    [Fact]
    public void TheServersMasker_HidesEveryRepositorysKey_WrittenFlatOrNested()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            [Setting] = server.DeployKeyOneLine,
            ["Repositories:octo:other:DeployKey"] = ServerWideKey.Private,
        }).Build();

        var masker = SecretMasker.ForServer(configuration);

        masker.Mask("a " + server.DeployKey.Split('\n')[1]).ShouldBe("a ***");
        masker.Mask("b " + ServerWideKey.Private.Split("\\n")[1]).ShouldBe("b ***");
    }

    private static string PublicBlob(string publicLine) => publicLine.Split(' ')[1];

    private static async Task<string> ListAgentAsync(IReadOnlyDictionary<string, string> extra)
    {
        var environment = ChildEnvironment.FromCurrentProcess();
        foreach (var (name, value) in extra)
        {
            environment[name] = value;
        }

        var sink = new RecordingSink();
        var runner = new ProcessRunner(new ProcessRunnerOptions(), TimeProvider.System, NullLogger<ProcessRunner>.Instance);
        var result = await runner.RunAsync(new ProcessSpec("ssh-add", ["-l"], Path.GetTempPath(), environment, TimeSpan.FromSeconds(30)), sink, CancellationToken.None);
        var output = string.Join('\n', sink.Lines.Select(l => l.Line));
        result.ExitCode.ShouldBe(0, output);
        return output;
    }

    /// <summary>A fresh ed25519 key in the original's one-line form, and its public line.</summary>
    private (string Private, string Public) Generate(string comment)
    {
        var file = Path.Combine(directory.Path, comment);
        var info = new ProcessStartInfo("ssh-keygen") { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true };
        foreach (var argument in new[] { "-q", "-t", "ed25519", "-N", "", "-C", comment, "-f", file })
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        process.WaitForExit();
        process.ExitCode.ShouldBe(0, process.StandardError.ReadToEnd());
        return (File.ReadAllText(file).TrimEnd('\n').Replace("\n", "\\n", StringComparison.Ordinal), File.ReadAllText(file + ".pub").Trim());
    }
}
