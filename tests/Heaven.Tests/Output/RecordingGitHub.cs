using Heaven.GitHub;

namespace Heaven.Tests.Output;

/// <summary>
/// An in-process GitHub for the gist mirror: records every call and keeps the gist's files as GitHub
/// would after each call. <see cref="Fail"/> decides, per call, whether GitHub misbehaves.
/// </summary>
public sealed class RecordingGitHub : IGitHub
{
    private readonly Lock gate = new();
    private readonly List<GistCall> calls = [];
    private readonly Dictionary<string, string> files = new(StringComparer.Ordinal);
    private int attempts;

    /// <summary>Given the call number (1-based) and kind ("create", "update"), an exception to throw instead of answering.</summary>
    public Func<int, string, Exception?> Fail { get; init; } = (_, _) => null;

    /// <summary>When set, every call waits for it (or for its cancellation token) before answering.</summary>
    public Task? Hold { get; init; }

    public IReadOnlyList<GistCall> Calls
    {
        get
        {
            lock (gate)
            {
                return [.. calls];
            }
        }
    }

    /// <summary>Calls that reached GitHub, including ones still waiting for <see cref="Hold"/>.</summary>
    public int Attempts => Volatile.Read(ref attempts);

    public int Creates => Calls.Count(c => c.Kind == "create" && c.Succeeded);

    public int Updates => Calls.Count(c => c.Kind == "update" && c.Succeeded);

    /// <summary>The gist's files now, in name order.</summary>
    public IReadOnlyList<KeyValuePair<string, string>> Files
    {
        get
        {
            lock (gate)
            {
                return [.. files.OrderBy(f => f.Key, StringComparer.Ordinal)];
            }
        }
    }

    public string Text => string.Concat(Files.Select(f => f.Value));

    public Task CreateDeploymentStatusAsync(string repository, long deploymentId, DeploymentStatusRequest status, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The gist mirror posts no statuses.");

    public Task<Uri> GetTarballLinkAsync(string repository, string reference, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The gist mirror asks for no tarballs.");

    public async Task<GistReference> CreateGistAsync(string description, IReadOnlyDictionary<string, string> contents, CancellationToken cancellationToken)
    {
        await WaitAsync(cancellationToken);
        var failure = Record("create", description, contents.ToDictionary(f => f.Key, f => (string?)f.Value));
        if (failure is not null)
        {
            throw failure;
        }

        return new GistReference("gist-1", "https://gist.example.com/gist-1");
    }

    public async Task UpdateGistAsync(string gistId, IReadOnlyDictionary<string, string?> contents, CancellationToken cancellationToken)
    {
        await WaitAsync(cancellationToken);
        gistId.ShouldBe("gist-1");
        var failure = Record("update", null, contents.ToDictionary(f => f.Key, f => f.Value));
        if (failure is not null)
        {
            throw failure;
        }
    }

    public Task DeleteGistAsync(string gistId, CancellationToken cancellationToken) =>
        throw new NotSupportedException("The gist mirror never deletes a gist.");

    private async Task WaitAsync(CancellationToken cancellationToken)
    {
        Interlocked.Increment(ref attempts);
        if (Hold is not null)
        {
            await Hold.WaitAsync(cancellationToken);
        }
    }

    private Exception? Record(string kind, string? description, Dictionary<string, string?> contents)
    {
        lock (gate)
        {
            var failure = Fail(calls.Count + 1, kind);
            calls.Add(new GistCall(kind, description, contents, failure is null));
            if (failure is null)
            {
                // Applied with the record, so a test that sees the call sees its effect.
                foreach (var (name, content) in contents)
                {
                    if (content is null)
                    {
                        files.Remove(name);
                    }
                    else
                    {
                        files[name] = content;
                    }
                }
            }

            return failure;
        }
    }
}

public sealed record GistCall(string Kind, string? Description, IReadOnlyDictionary<string, string?> Files, bool Succeeded);
