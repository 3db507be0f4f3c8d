using Heaven.Model;

namespace Heaven.Checkout;

/// <summary>What to check out: the signed payload's clone URL and the exact commit.</summary>
/// <param name="SshEnvironment">
/// Set for the fetch when the clone URL is reached over ssh: the deployment's <c>SSH_AUTH_SOCK</c> and
/// <c>GIT_SSH_COMMAND</c> (known hosts, batch mode). Holds no secret itself.
/// </param>
public sealed record CheckoutRequest(string Repository, string CloneUrl, string Ref, string Sha, long DeploymentId, IReadOnlyDictionary<string, string>? SshEnvironment = null);

/// <summary>A working tree at the deployment's sha, private to one deployment; removed on dispose.</summary>
public interface IWorktree : IAsyncDisposable
{
    string Path { get; }
}

/// <summary>A checkout that could not be made; the message is safe to show (no token, no credentials).</summary>
public sealed class CheckoutException(string message) : Exception(message);

/// <summary>
/// One bare mirror per repository (fetched under a per-repository lock), one worktree per deployment.
/// Credentials reach git through its environment, never a URL, an argument or a config file.
/// </summary>
public interface ICheckout
{
    /// <exception cref="CheckoutException">invalid ref or sha, fetch failure, missing commit.</exception>
    Task<IWorktree> PrepareAsync(CheckoutRequest request, IOutputSink log, CancellationToken cancellationToken);
}
