using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace Heaven.Tests.Infrastructure;

/// <summary>
/// The tests that deploy over ssh (Fabric, Capistrano, Bundler-Capistrano, Ansible, the deployment's
/// own ssh credentials). They share one sshd, and run alone: each deploy runs a tool that opens ssh
/// connections, and with the rest of the suite beside them on a busy 2-core machine an ssh command
/// took seconds and deploys ran past their budgets. xunit runs a collection with parallelization
/// disabled after the parallel ones, by itself.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class SshDeploysCollection : ICollectionFixture<SshServerFixture>
{
    public const string Name = "ssh deploys";
}

/// <summary>One sshd for every test of <see cref="SshDeploysCollection"/>; each test gets its own <see cref="SshTarget"/> on it.</summary>
public sealed class SshServerFixture : IAsyncLifetime
{
    public SshServer Server { get; private set; } = null!;

    public async Task InitializeAsync() => Server = await SshServer.StartAsync();

    public async Task DisposeAsync()
    {
        if (Server is not null)
        {
            await Server.DisposeAsync();
        }
    }

    /// <summary>A fresh deploy target folder on the shared server, with the server's log from now on.</summary>
    public SshTarget NewTarget() => new(Server);
}

/// <summary>
/// One test's view of the shared <see cref="SshServer"/>: the server to reach (host, port, user, keys)
/// and a deploy target folder of its own, so nothing a previous test deployed is read as this one's;
/// <see cref="Log"/> is what sshd logged since the target was made (the tests of a collection run one
/// at a time, so that is this test's ssh traffic).
/// </summary>
public sealed class SshTarget : IDisposable
{
    private readonly SshServer server;
    private readonly TemporaryDirectory directory = new();
    private readonly int logStart;

    internal SshTarget(SshServer server)
    {
        this.server = server;
        logStart = server.LogLength;
        Directory.CreateDirectory(TargetDirectory);
    }

    public string Host => server.Host;

    public int Port => server.Port;

    /// <summary>The account deploys log in as: whoever runs the tests (root in CI).</summary>
    public string User => server.User;

    /// <summary>The server's public host key, "ssh-ed25519 AAAA...".</summary>
    public string HostKey => server.HostKey;

    /// <summary>The host key as a known_hosts line for this server's address and port.</summary>
    public string KnownHostsLine => server.KnownHostsLine;

    /// <summary>The authorised deploy key, private half, as its file holds it (real newlines).</summary>
    public string DeployKey => server.DeployKey;

    /// <summary>The deploy key in the original Heaven's format: one line with literal <c>\n</c> separators.</summary>
    public string DeployKeyOneLine => server.DeployKeyOneLine;

    public string DeployPublicKey => server.DeployPublicKey;

    /// <summary>"user@127.0.0.1:port", as Fabric's Connection takes a host.</summary>
    public string Address => server.Address;

    /// <summary>The "server's" folder this test's deploys write into (the same machine: read it directly).</summary>
    public string TargetDirectory => Path.Combine(directory.Path, "target");

    /// <summary>sshd's log since this target was made, for a failing test's message and for what sshd accepted.</summary>
    public string Log => server.LogSince(logStart);

    /// <summary>An ssh:// clone URL for a repository at <paramref name="path"/> on this server.</summary>
    public string SshUrl(string path) => server.SshUrl(path);

    public string TargetPath(string relativePath) => Path.Combine(TargetDirectory, relativePath);

    public bool FileExists(string relativePath) => File.Exists(TargetPath(relativePath));

    public string ReadFile(string relativePath) => File.ReadAllText(TargetPath(relativePath));

    public void Dispose() => directory.Dispose();
}

/// <summary>
/// A real OpenSSH server on 127.0.0.1 playing the production server: Debian's <c>sshd</c> started in
/// the foreground with a configuration of its own, a throwaway host key, and one authorised
/// throwaway deploy key for the current user. It is this machine, so a deploy target is a folder the
/// test reads directly (<see cref="SshTarget"/>). One per <see cref="SshDeploysCollection"/>, shared by
/// the Fabric, Capistrano, Bundler-Capistrano and Ansible tests alike.
/// </summary>
public sealed class SshServer : IAsyncDisposable
{
    public const string SshdPath = "/usr/sbin/sshd";

    private readonly TemporaryDirectory directory;
    private readonly Process process;
    private readonly StringBuilder log;

    private SshServer(TemporaryDirectory directory, Process process, StringBuilder log, int port, string hostKey, string deployKey, string deployPublicKey)
    {
        this.directory = directory;
        this.process = process;
        this.log = log;
        Port = port;
        HostKey = hostKey;
        DeployKey = deployKey;
        DeployPublicKey = deployPublicKey;
    }

    public string Host => "127.0.0.1";

    public int Port { get; }

    /// <summary>The account deploys log in as: whoever runs the tests (root in CI).</summary>
    public string User { get; } = Environment.UserName;

    /// <summary>The server's public host key, "ssh-ed25519 AAAA...".</summary>
    public string HostKey { get; }

    /// <summary>The host key as a known_hosts line for this server's address and port.</summary>
    public string KnownHostsLine => $"[{Host}]:{Port} {HostKey}";

    /// <summary>The authorised deploy key, private half, as its file holds it (real newlines).</summary>
    public string DeployKey { get; }

    /// <summary>The deploy key in the original Heaven's format: one line with literal <c>\n</c> separators.</summary>
    public string DeployKeyOneLine => DeployKey.TrimEnd('\n').Replace("\n", "\\n", StringComparison.Ordinal);

    public string DeployPublicKey { get; }

    /// <summary>"user@127.0.0.1:port", as Fabric's Connection takes a host.</summary>
    public string Address => $"{User}@{Host}:{Port}";

    /// <summary>sshd's own log so far (-e: to stderr), for a failing test's message.</summary>
    public string Log
    {
        get
        {
            lock (log)
            {
                return log.ToString();
            }
        }
    }

    /// <summary>How much sshd has logged so far: where a test's part of <see cref="Log"/> starts.</summary>
    public int LogLength
    {
        get
        {
            lock (log)
            {
                return log.Length;
            }
        }
    }

    /// <summary>An ssh:// clone URL for a repository at <paramref name="path"/> on this server.</summary>
    public string SshUrl(string path) => $"ssh://{User}@{Host}:{Port}{path}";

    /// <summary>What sshd logged from <paramref name="start"/> (a <see cref="LogLength"/>) on.</summary>
    public string LogSince(int start)
    {
        lock (log)
        {
            return log.ToString(start, log.Length - start);
        }
    }

    public static async Task<SshServer> StartAsync()
    {
        if (!File.Exists(SshdPath))
        {
            throw new InvalidOperationException($"{SshdPath} is missing: install Debian's openssh-server (./test.sh does).");
        }

        var directory = new TemporaryDirectory();
        try
        {
            var hostKeyFile = Path.Combine(directory.Path, "host_key");
            var deployKeyFile = Path.Combine(directory.Path, "deploy_key");
            await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "heaven-test-host", "-f", hostKeyFile);
            await RunAsync("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-C", "heaven-test-deploy", "-f", deployKeyFile);
            var authorizedKeys = Path.Combine(directory.Path, "authorized_keys");
            File.Copy(deployKeyFile + ".pub", authorizedKeys);
            File.SetUnixFileMode(authorizedKeys, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            if (Environment.UserName == "root" && !Directory.Exists("/run/sshd"))
            {
                // sshd running as root needs its privilege-separation folder (the service unit makes it).
                Directory.CreateDirectory("/run/sshd", UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute | UnixFileMode.OtherRead | UnixFileMode.OtherExecute);
            }

            for (var attempt = 1; ; attempt++)
            {
                var port = FreePort();
                var config = Path.Combine(directory.Path, "sshd_config");
                await File.WriteAllTextAsync(config, Config(directory.Path, port, hostKeyFile, authorizedKeys));
                var (process, log, listening) = await StartSshdAsync(config);
                if (listening)
                {
                    return new SshServer(
                        directory,
                        process,
                        log,
                        port,
                        string.Join(' ', (await File.ReadAllTextAsync(hostKeyFile + ".pub")).Split(' ').Take(2)),
                        await File.ReadAllTextAsync(deployKeyFile),
                        (await File.ReadAllTextAsync(deployKeyFile + ".pub")).Trim());
                }

                Stop(process);
                if (attempt == 5)
                {
                    throw new InvalidOperationException($"sshd did not start listening:\n{log}");
                }
            }
        }
        catch
        {
            directory.Dispose();
            throw;
        }
    }

    public async ValueTask DisposeAsync()
    {
        Stop(process);
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(5)).ContinueWith(_ => { }, TaskScheduler.Default);
        process.Dispose();
        directory.Dispose();
    }

    private static string Config(string folder, int port, string hostKey, string authorizedKeys) => $"""
        # A throwaway sshd for tests: loopback only, one key, the current user.
        ListenAddress 127.0.0.1
        Port {port}
        HostKey {hostKey}
        PidFile none
        AuthorizedKeysFile {authorizedKeys}
        AllowUsers {Environment.UserName}
        PubkeyAuthentication yes
        PasswordAuthentication no
        KbdInteractiveAuthentication no
        # Root may log in with a key only (CI runs as root).
        PermitRootLogin prohibit-password
        # The key files live under /tmp, whose mode (1777) StrictModes refuses for any path through it.
        StrictModes no
        UsePAM no
        X11Forwarding no
        PrintMotd no
        # Cheap connections: no reverse lookup of 127.0.0.1, no Kerberos/GSSAPI or host-based exchange
        # to try and refuse, no lastlog to read, no compression of loopback traffic.
        UseDNS no
        GSSAPIAuthentication no
        KerberosAuthentication no
        HostbasedAuthentication no
        PrintLastLog no
        Compression no
        # Every command a deploy runs on the server is "<login shell> -c <command>", and bash run by sshd
        # as the top-level shell reads ~/.bashrc even so: the test account's rc files (pyenv init on a
        # developer machine, whatever a CI image puts there) then cost a second or more per command.
        # With SHLVL set, bash knows it is not the top level and skips them; the commands are the same.
        SetEnv SHLVL=1
        # Tools open several connections at once (Ansible forks, Fabric and Capistrano per host); the
        # default (10 unauthenticated, then random drops) is for the internet, not a test's loopback.
        MaxStartups 100
        MaxSessions 100
        # Fabric's put() uses SFTP.
        Subsystem sftp internal-sftp
        LogLevel VERBOSE
        """;

    private static async Task<(Process Process, StringBuilder Log, bool Listening)> StartSshdAsync(string config)
    {
        var info = new ProcessStartInfo(SshdPath)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardError = true,
            RedirectStandardOutput = true,
        };
        // -D: stay in the foreground as our child; -e: log to stderr.
        foreach (var argument in new[] { "-D", "-e", "-f", config })
        {
            info.ArgumentList.Add(argument);
        }

        var process = Process.Start(info)!;
        process.StandardInput.Close();
        var log = new StringBuilder();
        var listening = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        process.ErrorDataReceived += (_, e) =>
        {
            if (e.Data is null)
            {
                listening.TrySetResult(false);
                return;
            }

            lock (log)
            {
                log.AppendLine(e.Data);
            }

            if (e.Data.StartsWith("Server listening on", StringComparison.Ordinal))
            {
                listening.TrySetResult(true);
            }
        };
        process.OutputDataReceived += (_, _) => { };
        process.BeginErrorReadLine();
        process.BeginOutputReadLine();
        var started = await listening.Task.WaitAsync(TimeSpan.FromSeconds(10)).ContinueWith(t => t.IsCompletedSuccessfully && t.Result, TaskScheduler.Default);
        return (process, log, started);
    }

    private static void Stop(Process process)
    {
        try
        {
            // The listener and the sessions it forked.
            process.Kill(entireProcessTree: true);
        }
        catch (InvalidOperationException)
        {
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }

    private static async Task RunAsync(string program, params string[] arguments)
    {
        var info = new ProcessStartInfo(program) { UseShellExecute = false, RedirectStandardError = true, RedirectStandardOutput = true, RedirectStandardInput = true };
        foreach (var argument in arguments)
        {
            info.ArgumentList.Add(argument);
        }

        using var process = Process.Start(info)!;
        process.StandardInput.Close();
        var error = process.StandardError.ReadToEndAsync();
        await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        if (process.ExitCode != 0)
        {
            throw new InvalidOperationException($"{program} {string.Join(' ', arguments)} failed: {await error}");
        }
    }
}
