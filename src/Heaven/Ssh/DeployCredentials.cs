using System.Globalization;
using System.Runtime.Versioning;
using System.Security.Cryptography;
using Heaven.Configuration;
using Heaven.Execution;
using Heaven.Model;
using Microsoft.Extensions.Options;

namespace Heaven.Ssh;

/// <summary>Credentials could not be prepared; the message is safe to show (it never quotes the key).</summary>
public sealed class CredentialsException(string message) : Exception(message);

/// <summary>
/// A repository's own deploy key (<c>Repositories:&lt;owner/name&gt;:DeployKey</c>), used instead of the
/// server's for that repository's deployments, and the setting it came from, which messages name.
/// </summary>
public sealed class RepositoryDeployKey(string privateKey, string setting)
{
    /// <summary>The key as configured. A secret: never logged, never in a message.</summary>
    public string PrivateKey { get; } = privateKey;

    /// <summary>The setting, such as <c>Repositories:octo/app:DeployKey</c>.</summary>
    public string Setting { get; } = setting;

    /// <summary>Names the setting only: a record's generated text would print the key.</summary>
    public override string ToString() => $"RepositoryDeployKey({Setting})";
}

/// <summary>
/// What one deployment's tools need to reach servers over ssh, for as long as the deployment runs:
/// its own ssh-agent holding the deploy key (when one is configured), and the data directory's
/// known-hosts file with the configured checking. Created before the checkout, disposed after the
/// provider; disposing stops the agent and deletes the private folder, also after cancel or timeout.
/// </summary>
public sealed class DeployCredentials : IAsyncDisposable
{
    private readonly SshAgent? agent;
    private readonly Action<string> deleteFolder;
    private int disposed;

    internal DeployCredentials(string folder, SshAgent? agent, IReadOnlyDictionary<string, string> toolEnvironment, IReadOnlyDictionary<string, string> gitEnvironment, Action<string> deleteFolder)
    {
        Folder = folder;
        this.agent = agent;
        ToolEnvironment = toolEnvironment;
        GitEnvironment = gitEnvironment;
        this.deleteFolder = deleteFolder;
    }

    /// <summary>The deployment's private folder (mode 0700): the agent's socket, the ssh wrapper, the Python hook.</summary>
    public string Folder { get; }

    /// <summary>The agent's socket, when a deploy key is configured.</summary>
    public string? AgentSocket => agent?.SocketPath;

    /// <summary>The agent's process id, when a deploy key is configured.</summary>
    public int? AgentProcessId => agent?.ProcessId;

    /// <summary>
    /// Added to every tool's environment: <c>SSH_AUTH_SOCK</c>, <c>GIT_SSH_COMMAND</c>, <c>PATH</c> (the
    /// ssh wrapper first), <c>PYTHONPATH</c> (the Paramiko hook), <c>HEAVEN_SSH_KNOWN_HOSTS</c>,
    /// <c>HEAVEN_SSH_STRICT_HOST_KEY_CHECKING</c>, <c>HEAVEN_SSH_CONFIG</c>.
    /// </summary>
    public IReadOnlyDictionary<string, string> ToolEnvironment { get; }

    /// <summary>What git needs to fetch over ssh: <c>SSH_AUTH_SOCK</c> and <c>GIT_SSH_COMMAND</c>.</summary>
    public IReadOnlyDictionary<string, string> GitEnvironment { get; }

    public async ValueTask DisposeAsync()
    {
        if (Interlocked.Exchange(ref disposed, 1) != 0)
        {
            return;
        }

        if (agent is not null)
        {
            await agent.DisposeAsync();
        }

        deleteFolder(Folder);
    }
}

/// <summary>
/// Makes a <see cref="DeployCredentials"/> per deployment. Layout in the data directory:
/// <c>known_hosts</c> — the host keys Heaven trusts (shared by all deployments);
/// <c>ssh/&lt;random&gt;/</c> — one private folder per running deployment.
/// </summary>
public sealed partial class DeployCredentialsFactory
{
    /// <summary>The key outlives the deploy's timeout in the agent by this much, then the agent forgets it even if Heaven died.</summary>
    private static readonly TimeSpan KeyLifetimeMargin = TimeSpan.FromMinutes(10);

    private static readonly TimeSpan ToolTimeout = TimeSpan.FromSeconds(30);

    // sun_path holds 108 bytes on Linux, with its terminating zero.
    private const int MaxSocketPathBytes = 107;

    private readonly string dataDirectory;
    private readonly DeployKeyOptions options;
    private readonly DeployKey? key;
    private readonly string? keyProblem;
    private readonly IProcessRunner runner;
    private readonly TimeProvider time;
    private readonly ILogger<DeployCredentialsFactory> logger;
    private int swept;

    public DeployCredentialsFactory(DataDirectory dataDirectory, IOptions<DeployKeyOptions> options, IProcessRunner runner, TimeProvider time, ILogger<DeployCredentialsFactory> logger)
    {
        this.dataDirectory = dataDirectory.FullPath;
        this.options = options.Value;
        this.runner = runner;
        this.time = time;
        this.logger = logger;
        if (!string.IsNullOrWhiteSpace(this.options.PrivateKey))
        {
            DeployKey.TryParse(this.options.PrivateKey, out key, out keyProblem);
        }
    }

    public string KnownHostsPath => Path.Combine(dataDirectory, "known_hosts");

    public string FoldersPath => Path.Combine(dataDirectory, "ssh");

    /// <summary>Credentials with the server's deploy key (<c>Deployments:PrivateKey</c>), if one is configured.</summary>
    /// <exception cref="CredentialsException">the key is unusable or the agent could not be started.</exception>
    public Task<DeployCredentials> CreateAsync(long deploymentId, IOutputSink output, ISecretMasker masker, TimeSpan timeout, CancellationToken cancellationToken) =>
        CreateAsync(deploymentId, null, output, masker, timeout, cancellationToken);

    /// <summary>
    /// Credentials with <paramref name="repositoryKey"/> when the repository has a key of its own, else
    /// with the server's. The agent holds one key: a repository with its own never gets the server's.
    /// </summary>
    /// <exception cref="CredentialsException">the key is unusable or the agent could not be started.</exception>
    /// <param name="workspace">
    /// The deployment's folder: the ssh files go in its <c>ssh/</c>, given to the deploy user, who also runs
    /// the agent (ssh-agent answers only its own user). Without one, a private folder in the data directory.
    /// </param>
    /// <param name="isolated">
    /// The deploy runs isolated: it gets a copy of the trusted host keys, so it cannot plant a key that
    /// other deployments would trust. Host keys it accepts on first contact are not kept.
    /// </param>
    public async Task<DeployCredentials> CreateAsync(
        long deploymentId,
        RepositoryDeployKey? repositoryKey,
        IOutputSink output,
        ISecretMasker masker,
        TimeSpan timeout,
        CancellationToken cancellationToken,
        Workspace? workspace = null,
        bool isolated = false)
    {
        ArgumentNullException.ThrowIfNull(output);
        ArgumentNullException.ThrowIfNull(masker);
        if (OperatingSystem.IsWindows())
        {
            throw new CredentialsException("ssh credentials (ssh-agent, private files) need Linux or another Unix");
        }

        var (configured, chosen, problem, setting) = repositoryKey is null
            ? (options.PrivateKey, key, keyProblem, Setting.Name("Deployments:PrivateKey"))
            : Parse(repositoryKey);
        if (configured is { Length: > 0 })
        {
            // Registered before anything can print it, in every form it may take: as configured and as written to the agent.
            masker.Add(configured);
            if (chosen is not null)
            {
                masker.Add(chosen.Pem);
                masker.Add(chosen.Body);
            }
        }

        if (problem is not null)
        {
            throw new CredentialsException($"{setting} is not a usable private key: {problem}");
        }

        if (Interlocked.Exchange(ref swept, 1) == 0)
        {
            SweepLeftovers();
        }

        var strict = options.StrictHostKeyChecking;
        var folder = workspace is null ? CreatePrivateFolder() : CreateWorkspaceFolder(workspace);
        var knownHosts = isolated ? Path.Combine(folder, "known_hosts") : KnownHostsPath;
        SshAgent? agent = null;
        try
        {
            EnsureKnownHosts();
            if (isolated)
            {
                File.Copy(KnownHostsPath, knownHosts);
            }

            var baseEnvironment = ChildEnvironment.FromCurrentProcess();
            var realSsh = Find("ssh", baseEnvironment);
            var ssh = realSsh ?? "ssh";
            var bin = Path.Combine(folder, "bin");
            var python = Path.Combine(folder, "python");
            Directory.CreateDirectory(bin, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            Directory.CreateDirectory(python, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            if (realSsh is not null)
            {
                // Without a real ssh to hand over to, a wrapper named ssh would only find itself.
                WritePrivate(Path.Combine(bin, "ssh"), SshClientFiles.Wrapper(realSsh, knownHosts, strict), executable: true);
            }

            WritePrivate(Path.Combine(python, "sitecustomize.py"), SshClientFiles.PythonHook, executable: false);
            var config = Path.Combine(folder, "ssh_config");
            WritePrivate(config, SshClientFiles.Config(knownHosts, strict), executable: false);

            var git = new Dictionary<string, string>(StringComparer.Ordinal)
            {
                ["GIT_SSH_COMMAND"] = SshClientFiles.GitSshCommand(ssh, knownHosts, strict),
            };
            // The deploy user owns its ssh files, and creates the agent's socket among them.
            workspace?.HandOver(folder);
            if (chosen is not null)
            {
                agent = await StartAgentAsync(chosen, repositoryKey?.Setting, setting, folder, baseEnvironment, output, timeout, workspace, cancellationToken);
                git["SSH_AUTH_SOCK"] = agent.SocketPath;
            }

            var tools = new Dictionary<string, string>(git, StringComparer.Ordinal)
            {
                ["PATH"] = bin + ":" + baseEnvironment["PATH"],
                ["PYTHONPATH"] = python,
                ["HEAVEN_SSH_KNOWN_HOSTS"] = knownHosts,
                ["HEAVEN_SSH_STRICT_HOST_KEY_CHECKING"] = SshClientFiles.CheckingMode(strict),
                ["HEAVEN_SSH_CONFIG"] = config,
            };
            Log.Prepared(logger, deploymentId, agent?.ProcessId ?? 0, SshClientFiles.CheckingMode(strict));
            return new DeployCredentials(folder, agent, tools, git, DeleteFolder);
        }
        catch
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            DeleteFolder(folder);
            throw;
        }
    }

    private static (string? Configured, DeployKey? Key, string? Problem, string Setting) Parse(RepositoryDeployKey repositoryKey)
    {
        DeployKey.TryParse(repositoryKey.PrivateKey, out var parsed, out var problem);
        return (repositoryKey.PrivateKey, parsed, problem, repositoryKey.Setting);
    }

    /// <param name="ownSetting">The repository's own key's setting, shown in the log; null for the server's key.</param>
    /// <param name="setting">The key's setting as messages name it.</param>
    [UnsupportedOSPlatform("windows")]
    private async Task<SshAgent> StartAgentAsync(
        DeployKey deployKey, string? ownSetting, string setting, string folder, Dictionary<string, string> environment, IOutputSink output, TimeSpan timeout, Workspace? workspace, CancellationToken cancellationToken)
    {
        var agentProgram = Find("ssh-agent", environment) ?? throw new CredentialsException("a deploy key is configured, but ssh-agent was not found on the PATH (install openssh-client)");
        var keyFile = Path.Combine(folder, "key");
        SshAgent? agent = null;
        try
        {
            // 0600 from the first byte; deleted as soon as the agent holds the key. Never an argument.
            await using (var file = new FileStream(keyFile, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            {
                await file.WriteAsync(System.Text.Encoding.ASCII.GetBytes(deployKey.Pem), cancellationToken);
            }

            // Read by ssh-keygen and ssh-add, which run as the deploy user like everything in its folder.
            workspace?.HandOver(keyFile);

            // -P '': a key with a passphrase fails instead of prompting; -y prints the public half.
            var check = await RunAsync(environment, folder, cancellationToken, "ssh-keygen", "-y", "-P", "", "-f", keyFile);
            if (check.ExitCode != 0)
            {
                throw new CredentialsException($"{setting} is not a usable private key: ssh-keygen could not read it ({check.Summary})");
            }

            var publicKey = check.Stdout.FirstOrDefault(l => l.Contains(' ', StringComparison.Ordinal)) ?? "";
            var socket = Path.Combine(folder, "agent");
            if (System.Text.Encoding.UTF8.GetByteCount(socket) > MaxSocketPathBytes)
            {
                throw new CredentialsException($"the data directory's path is too long for the ssh-agent socket ({socket} has more than {MaxSocketPathBytes} bytes); use a shorter DataDirectory");
            }

            agent = await SshAgent.StartAsync(agentProgram, socket, environment, time, cancellationToken, workspace?.Owner);
            await File.WriteAllTextAsync(Path.Combine(folder, "agent.pid"), agent.ProcessId.ToString(CultureInfo.InvariantCulture), CancellationToken.None);
            var lifetime = (long)Math.Ceiling((timeout + KeyLifetimeMargin).TotalSeconds);
            var add = await RunAsync(
                new Dictionary<string, string>(environment) { ["SSH_AUTH_SOCK"] = socket, ["SSH_ASKPASS_REQUIRE"] = "never" },
                folder,
                cancellationToken,
                "ssh-add", "-q", "-t", lifetime.ToString(CultureInfo.InvariantCulture), keyFile);
            if (add.ExitCode != 0)
            {
                throw new CredentialsException($"ssh-add could not load the deploy key into the agent ({add.Summary})");
            }

            var whose = ownSetting is null ? "" : $" ({ownSetting})";
            await output.WriteLineAsync(OutputStream.Heaven, $"Deploy key {Describe(publicKey)}{whose} is in this deployment's ssh-agent (SSH_AUTH_SOCK) until it ends", cancellationToken);
            return agent;
        }
        catch
        {
            if (agent is not null)
            {
                await agent.DisposeAsync();
            }

            throw;
        }
        finally
        {
            TryDelete(keyFile);
        }
    }

    /// <summary>"ssh-ed25519 SHA256:..." — the public key's type and fingerprint, which are safe to show.</summary>
    internal static string Describe(string publicKey)
    {
        var parts = publicKey.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length < 2)
        {
            return "(unknown type)";
        }

        try
        {
            var blob = Convert.FromBase64String(parts[1]);
            return $"{parts[0]} SHA256:{Convert.ToBase64String(SHA256.HashData(blob)).TrimEnd('=')}";
        }
        catch (FormatException)
        {
            return parts[0];
        }
    }

    private async Task<ToolResult> RunAsync(IReadOnlyDictionary<string, string> environment, string folder, CancellationToken cancellationToken, string program, params string[] arguments)
    {
        var capture = new Capture();
        ProcessResult result;
        try
        {
            result = await runner.RunAsync(new ProcessSpec(program, arguments, folder, environment, ToolTimeout), capture, cancellationToken);
        }
        catch (ProcessStartException e)
        {
            throw new CredentialsException(e.Message);
        }

        if (result.Cancelled)
        {
            throw new OperationCanceledException(cancellationToken);
        }

        return new ToolResult(result.TimedOut ? null : result.ExitCode, capture.Stdout, capture.Summary(result.TimedOut ? $"{program} timed out" : $"{program} exited with status {result.ExitCode}"));
    }

    [UnsupportedOSPlatform("windows")]
    private static string CreateWorkspaceFolder(Workspace workspace)
    {
        try
        {
            Directory.CreateDirectory(workspace.Ssh, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
            return workspace.Ssh;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CredentialsException($"could not create a private folder for ssh in {workspace.Path}: {e.Message}");
        }
    }

    [UnsupportedOSPlatform("windows")]
    private string CreatePrivateFolder()
    {
        const UnixFileMode owner = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
        try
        {
            Directory.CreateDirectory(FoldersPath, owner);
            // CreateDirectory leaves an existing folder's mode alone: nobody else may list the sockets.
            File.SetUnixFileMode(FoldersPath, owner);
            var folder = Path.Combine(FoldersPath, Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(6)));
            Directory.CreateDirectory(folder, owner);
            File.WriteAllText(Path.Combine(folder, "owner"), Environment.ProcessId.ToString(CultureInfo.InvariantCulture));
            return folder;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CredentialsException($"could not create a private folder for ssh in {FoldersPath}: {e.Message}");
        }
    }

    [UnsupportedOSPlatform("windows")]
    private void EnsureKnownHosts()
    {
        try
        {
            using var _ = new FileStream(KnownHostsPath, new FileStreamOptions
            {
                Mode = FileMode.OpenOrCreate,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new CredentialsException($"could not create {KnownHostsPath}: {e.Message}");
        }
    }

    [UnsupportedOSPlatform("windows")]
    private static void WritePrivate(string path, string content, bool executable)
    {
        var mode = UnixFileMode.UserRead | UnixFileMode.UserWrite | (executable ? UnixFileMode.UserExecute : 0);
        using var file = new FileStream(path, new FileStreamOptions { Mode = FileMode.CreateNew, Access = FileAccess.Write, UnixCreateMode = mode });
        file.Write(System.Text.Encoding.UTF8.GetBytes(content));
    }

    /// <summary>
    /// Private folders a previous Heaven process left (it crashed): their agents are stopped and the
    /// folders removed. Folders of a live process (this one, or another Heaven on the same data
    /// directory) are left alone.
    /// </summary>
    private void SweepLeftovers()
    {
        if (!Directory.Exists(FoldersPath))
        {
            return;
        }

        foreach (var folder in Directory.EnumerateDirectories(FoldersPath))
        {
            if (ReadPid(Path.Combine(folder, "owner")) is { } owner && (owner == Environment.ProcessId || Directory.Exists($"/proc/{owner}")))
            {
                continue;
            }

            if (ReadPid(Path.Combine(folder, "agent.pid")) is { } agentPid && CommandLineMentions(agentPid, folder))
            {
                Posix.SignalProcess(agentPid, Posix.SigKill);
            }

            Log.SweptLeftover(logger, folder);
            DeleteFolder(folder);
        }
    }

    private static int? ReadPid(string file)
    {
        try
        {
            return int.TryParse(File.ReadAllText(file).Trim(), NumberStyles.None, CultureInfo.InvariantCulture, out var pid) ? pid : null;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private static bool CommandLineMentions(int pid, string text)
    {
        try
        {
            return File.ReadAllText($"/proc/{pid}/cmdline").Contains(text, StringComparison.Ordinal);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return false;
        }
    }

    private void DeleteFolder(string folder)
    {
        try
        {
            if (Directory.Exists(folder))
            {
                Directory.Delete(folder, recursive: true);
            }
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.DeleteFailed(logger, folder, e.Message);
        }
    }

    private void TryDelete(string file)
    {
        try
        {
            File.Delete(file);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Log.DeleteFailed(logger, file, e.Message);
        }
    }

    /// <summary>A program on the deploy's PATH, as the process runner would find it.</summary>
    private static string? Find(string program, IReadOnlyDictionary<string, string> environment) =>
        ProgramResolver.FindOnPath(program, environment.GetValueOrDefault("PATH"));

    private sealed record ToolResult(int? ExitCode, IReadOnlyList<string> Stdout, string Summary);

    /// <summary>Keeps a short tool's output for Heaven to read; nothing of it reaches the deploy log.</summary>
    private sealed class Capture : IOutputSink
    {
        private readonly List<string> stdout = [];
        private readonly List<string> stderr = [];

        public IReadOnlyList<string> Stdout
        {
            get
            {
                lock (stdout)
                {
                    return [.. stdout];
                }
            }
        }

        public ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken)
        {
            var list = stream == OutputStream.Stdout ? stdout : stderr;
            lock (list)
            {
                if (list.Count < 50)
                {
                    list.Add(line.Length > 300 ? line[..300] : line);
                }
            }

            return ValueTask.CompletedTask;
        }

        /// <summary>The tool's first error line (these tools name files, never key material), else <paramref name="fallback"/>.</summary>
        public string Summary(string fallback)
        {
            lock (stderr)
            {
                return stderr.Select(l => l.Trim()).FirstOrDefault(l => l.Length > 0) ?? fallback;
            }
        }
    }

    private static partial class Log
    {
        [LoggerMessage(Level = LogLevel.Debug, Message = "Deployment {DeploymentId}: ssh prepared (agent pid {AgentPid}, host keys {Checking})")]
        public static partial void Prepared(ILogger logger, long deploymentId, int agentPid, string checking);

        [LoggerMessage(Level = LogLevel.Information, Message = "Removed {Folder}, left by a Heaven process that is gone")]
        public static partial void SweptLeftover(ILogger logger, string folder);

        [LoggerMessage(Level = LogLevel.Warning, Message = "Could not delete {Path}: {Error}")]
        public static partial void DeleteFailed(ILogger logger, string path, string error);
    }
}
