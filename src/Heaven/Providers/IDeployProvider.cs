using Heaven.Execution;
using System.Text.Json.Nodes;
using Heaven.Model;

namespace Heaven.Providers;

/// <summary>Everything a provider needs to deploy one deployment.</summary>
public sealed record DeployContext(
    DeploymentRecord Deployment,
    DeploymentPayload Payload,
    string WorkingDirectory,
    IOutputSink Output,
    ISecretMasker Masker,
    string? LogUrl,
    TimeSpan Timeout)
{
    /// <summary><c>payload.config</c>, or an empty object; read once for the deploy.</summary>
    public JsonObject Config { get; } = Payload.Config;

    /// <summary>
    /// Variables every tool of this deployment gets on top of the allow-listed base: the deployment's
    /// ssh-agent socket, known-hosts settings and the ssh wrapper on the PATH (see <see cref="Ssh.DeployCredentials"/>).
    /// </summary>
    public IReadOnlyDictionary<string, string> ExtraEnvironment { get; init; } = new Dictionary<string, string>();

    /// <summary>The deployment's own folder (<see cref="WorkingDirectory"/> is its checkout); null only in tests of a single provider.</summary>
    public Workspace? Workspace { get; init; }

    /// <summary>Whether the deploy's processes run isolated from Heaven (another user and/or the sandbox).</summary>
    public bool Isolated { get; init; }

    /// <summary>
    /// A new private folder for files a provider prepares for the deploy's tools (an Ansible config, a
    /// source bundle): in the deployment's folder, where an isolated deploy can reach it, else in the
    /// system's temporary folder. Give it to the deploy user with <see cref="HandOver"/> once written.
    /// </summary>
    public string CreateScratchFolder(string name)
    {
        var path = Path.Combine(Workspace?.Temp ?? Path.GetTempPath(), $"heaven-{name}-{Guid.NewGuid():N}");
        if (OperatingSystem.IsWindows())
        {
            Directory.CreateDirectory(path);
        }
        else
        {
            Directory.CreateDirectory(path, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }

        return path;
    }

    /// <summary>Gives what Heaven wrote for the deploy to the deploy user (nothing to do without a user switch).</summary>
    public void HandOver(string path) => Workspace?.HandOver(path);
}

public enum DeployResult
{
    /// <summary>The deploy ran and worked: <c>success</c>.</summary>
    Success,

    /// <summary>The deploy ran and failed, or timed out: <c>failure</c>.</summary>
    Failure,

    /// <summary>Heaven could not run it (bad configuration, missing script): <c>error</c>.</summary>
    Error,

    /// <summary>Stopped on request: <c>error</c> "Cancelled by ...".</summary>
    Cancelled,
}

/// <summary>How a provider's deploy ended, with words for a person (GitHub shows 140 characters).</summary>
public sealed record ProviderOutcome(DeployResult Result, string Description)
{
    public static ProviderOutcome Success(string description) => new(DeployResult.Success, description);

    public static ProviderOutcome Failure(string description) => new(DeployResult.Failure, description);

    public static ProviderOutcome Error(string description) => new(DeployResult.Error, description);
}

/// <summary>One way of deploying (shell script, Capistrano, ...), chosen by <c>payload.config.provider</c>.</summary>
public interface IDeployProvider
{
    /// <summary>The name used in <c>payload.config.provider</c>.</summary>
    string Name { get; }

    Task<ProviderOutcome> DeployAsync(DeployContext context, CancellationToken cancellationToken);
}
