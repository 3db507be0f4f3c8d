using Heaven.Locks;
using Heaven.Model;

namespace Heaven.Deployments;

/// <summary>
/// What becomes of a queued deployment, decided by <see cref="DeploymentAdmission"/> and carried out by
/// <see cref="DeploymentQueue"/>. A value, so the decision can be read and tested on its own.
/// </summary>
public abstract record Admission
{
    private Admission()
    {
    }

    /// <summary>Take the environment now and deploy with <paramref name="Provider"/> (the payload's, or the one the repository's settings pin).</summary>
    public sealed record Run(string Provider) : Admission;

    /// <summary>Not Heaven's to run (no provider, or one Heaven does not have): Ignored, without a status.</summary>
    /// <param name="AskedProvider">What the payload asked for, kept on the record.</param>
    public sealed record Ignore(string Reason, string? AskedProvider) : Admission;

    /// <summary>Forbidden by the repository's settings: Errored, with an <c>error</c> status.</summary>
    public sealed record Refuse(string Reason, string? AskedProvider) : Admission;

    /// <summary>A <c>&lt;prefix&gt;:lock</c> / <c>&lt;prefix&gt;:unlock</c> task: changes the environment lock, runs nothing.</summary>
    public sealed record ChangeLock(LockTask Task) : Admission;

    /// <summary>Turned away (the environment is locked, already deploying, its queue is full, a newer one supersedes it): Rejected, with an <c>error</c> status.</summary>
    public sealed record Reject(string Reason) : Admission;

    /// <summary>Wait for the environment (a <c>queued</c> status), <paramref name="Ahead"/> in front of it.</summary>
    /// <param name="Superseded">Older waiting deployments this one replaces (the supersede policy): Rejected.</param>
    public sealed record Wait(int Ahead, IReadOnlyList<DeploymentRecord> Superseded) : Admission;

    /// <summary>Already waiting, and its environment is still busy: left as it is.</summary>
    public sealed record KeepWaiting : Admission;
}
