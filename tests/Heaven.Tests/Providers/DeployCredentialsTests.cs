using System.Buffers.Binary;
using System.Text;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Masking;
using Heaven.Model;
using Heaven.Ssh;
using Heaven.Tests.Execution;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Providers;

/// <summary>One deployment's ssh: its own agent with the key, private files, and nothing left afterwards.</summary>
[Collection(SshDeploysCollection.Name)]
public sealed class DeployCredentialsTests : IDisposable
{
    private readonly TemporaryDirectory directory = new();
    private readonly SshTarget server;

    public DeployCredentialsTests(SshServerFixture ssh)
    {
        server = ssh.NewTarget();
        Directory.CreateDirectory(Data);
    }

    private string Data => Path.Combine(directory.Path, "data");

    public void Dispose()
    {
        server.Dispose();
        directory.Dispose();
    }

    [Fact]
    public async Task AScope_HoldsTheKeyInItsOwnAgent_RegistersItWithTheMasker_AndLeavesNothingBehind()
    {
        var masker = new SecretMasker();
        var sink = new RecordingSink();
        DeployCredentials credentials;
        await using (credentials = await Factory(server.DeployKeyOneLine).CreateAsync(7, sink, masker, TimeSpan.FromMinutes(1), CancellationToken.None))
        {
            File.GetUnixFileMode(credentials.Folder).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.GetUnixFileMode(Path.Combine(Data, "ssh")).ShouldBe(UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            File.Exists(Path.Combine(credentials.Folder, "key")).ShouldBeFalse("the key file is deleted once the agent holds the key");
            File.Exists(Path.Combine(Data, "known_hosts")).ShouldBeTrue();
            credentials.ToolEnvironment["SSH_AUTH_SOCK"].ShouldBe(credentials.AgentSocket);
            credentials.GitEnvironment.Keys.Order().ShouldBe(["GIT_SSH_COMMAND", "SSH_AUTH_SOCK"]);
            credentials.ToolEnvironment["PATH"].ShouldStartWith(Path.Combine(credentials.Folder, "bin") + ":");
            credentials.ToolEnvironment["HEAVEN_SSH_STRICT_HOST_KEY_CHECKING"].ShouldBe("accept-new");

            // The agent has the deploy key: ssh-add lists its comment.
            var listed = await RunAsync(credentials.ToolEnvironment, "ssh-add", "-l");
            listed.ShouldContain("heaven-test-deploy (ED25519)");
            sink.Of(OutputStream.Heaven).ShouldHaveSingleItem().ShouldStartWith("Deploy key ssh-ed25519 SHA256:");

            // And plain ssh, through the wrapper, reaches the server with it and records its key in Heaven's file only.
            (await RunAsync(credentials.ToolEnvironment, "ssh", "-p", server.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), $"{server.User}@127.0.0.1", "echo", "reached")).ShouldContain("reached");
            (await File.ReadAllTextAsync(Path.Combine(Data, "known_hosts"))).ShouldNotBeEmpty();
        }

        foreach (var line in server.DeployKey.Split('\n').Where(l => l.Length >= 8 && !l.StartsWith("-----", StringComparison.Ordinal)))
        {
            masker.Mask("key line: " + line).ShouldBe("key line: ***");
        }

        masker.Mask(server.DeployKeyOneLine).ShouldBe("***");
        Directory.Exists(credentials.Folder).ShouldBeFalse();
        (await Infrastructure.ProcessTable.LeftoverAsync(credentials.Folder)).ShouldBeEmpty();
    }

    [Fact]
    public async Task WithoutAKey_ThereIsNoAgent_ButHostKeysAreStillHeavens()
    {
        await using var credentials = await Factory(null, strict: true).CreateAsync(8, new RecordingSink(), new SecretMasker(), TimeSpan.FromMinutes(1), CancellationToken.None);

        credentials.AgentSocket.ShouldBeNull();
        credentials.ToolEnvironment.ShouldNotContainKey("SSH_AUTH_SOCK");
        credentials.GitEnvironment["GIT_SSH_COMMAND"].ShouldBe($"/usr/bin/ssh -o UserKnownHostsFile={Data}/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes");
        File.ReadAllText(Path.Combine(credentials.Folder, "bin", "ssh")).ShouldContain($"exec /usr/bin/ssh -o UserKnownHostsFile={Data}/known_hosts -o StrictHostKeyChecking=yes -o BatchMode=yes \"$@\"");
        File.ReadAllText(credentials.ToolEnvironment["HEAVEN_SSH_CONFIG"]).ShouldContain("StrictHostKeyChecking yes");
    }

    [Fact]
    public async Task AKeyThatLooksRightButSshKeygenCannotRead_IsAnErrorThatShowsNoKey()
    {
        // The OpenSSH armour, magic and "none" cipher are all there; the rest is not a key.
        var blob = new List<byte>(Encoding.ASCII.GetBytes("openssh-key-v1\0"));
        foreach (var part in new[] { "none", "none", "" })
        {
            var length = new byte[4];
            BinaryPrimitives.WriteUInt32BigEndian(length, (uint)part.Length);
            blob.AddRange(length);
            blob.AddRange(Encoding.ASCII.GetBytes(part));
        }

        blob.AddRange(Encoding.ASCII.GetBytes("garbage that is not a key at all, garbage that is not a key at all"));
        var body = Convert.ToBase64String([.. blob]);
        var key = $"-----BEGIN OPENSSH PRIVATE KEY-----\\n{body}\\n-----END OPENSSH PRIVATE KEY-----";

        var error = await Should.ThrowAsync<CredentialsException>(() => Factory(key).CreateAsync(9, new RecordingSink(), new SecretMasker(), TimeSpan.FromMinutes(1), CancellationToken.None));

        error.Message.ShouldStartWith("Deployments:PrivateKey (or DEPLOYMENT_PRIVATE_KEY) is not a usable private key: ssh-keygen could not read it (");
        error.Message.ShouldNotContain(body[20..40]);
        Directory.GetDirectories(Path.Combine(Data, "ssh")).ShouldBeEmpty();
    }

    private DeployCredentialsFactory Factory(string? key, bool strict = false) => new(
        new DataDirectory(Data),
        Options.Create(new DeployKeyOptions { PrivateKey = key, StrictHostKeyChecking = strict }),
        new ProcessRunner(new ProcessRunnerOptions(), TimeProvider.System, NullLogger<ProcessRunner>.Instance),
        TimeProvider.System,
        NullLogger<DeployCredentialsFactory>.Instance);

    private static async Task<string> RunAsync(IReadOnlyDictionary<string, string> extra, string program, params string[] arguments)
    {
        var environment = ChildEnvironment.FromCurrentProcess();
        foreach (var (name, value) in extra)
        {
            environment[name] = value;
        }

        var sink = new RecordingSink();
        var runner = new ProcessRunner(new ProcessRunnerOptions(), TimeProvider.System, NullLogger<ProcessRunner>.Instance);
        var result = await runner.RunAsync(new ProcessSpec(program, arguments, Path.GetTempPath(), environment, TimeSpan.FromSeconds(30)), sink, CancellationToken.None);
        var output = string.Join('\n', sink.Lines.Select(l => l.Line));
        result.ExitCode.ShouldBe(0, output);
        return output;
    }
}
