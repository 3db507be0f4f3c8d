using Heaven.Execution;
using Heaven.Model;

namespace Heaven.Checkout;

/// <summary>What to check out: the signed payload's clone URL and the exact commit.</summary>
/// <param name="SshEnvironment">
/// Set for the fetch when the clone URL is reached over ssh: the deployment's <c>SSH_AUTH_SOCK</c> and
/// <c>GIT_SSH_COMMAND</c> (known hosts, batch mode). Holds no secret itself.
/// </param>
/// <param name="Workspace">The deployment's folder to check out in; without one, the checkout makes its own and removes it with the worktree.</param>
public sealed record CheckoutRequest(string Repository, string CloneUrl, string Ref, string Sha, long DeploymentId, IReadOnlyDictionary<string, string>? SshEnvironment = null, Workspace? Workspace = null);

/// <summary>
/// A repository of its own at the deployment's sha, in the deployment's folder and owned by the deploy
/// user: nothing in it points back into the mirror. Removed on dispose.
/// </summary>
public interface IWorktree : IAsyncDisposable
{
    string Path { get; }
}

/// <summary>A checkout that could not be made; the message is safe to show (no token, no credentials).</summary>
public sealed class CheckoutException(string message) : Exception(message);

/// <summary>
/// One bare mirror per repository (fetched under a per-repository lock), one copy of it per deployment.
/// Credentials reach git through its environment, never a URL, an argument or a config file.
/// </summary>
public interface ICheckout
{
    /// <exception cref="CheckoutException">invalid ref or sha, fetch failure, missing commit.</exception>
    Task<IWorktree> PrepareAsync(CheckoutRequest request, IOutputSink log, CancellationToken cancellationToken);
}
