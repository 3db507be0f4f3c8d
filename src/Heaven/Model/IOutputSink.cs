namespace Heaven.Model;

/// <summary>Which stream a line of deploy output came from.</summary>
public enum OutputStream
{
    /// <summary>The deploy's standard output.</summary>
    Stdout,

    /// <summary>The deploy's standard error.</summary>
    Stderr,

    /// <summary>Heaven's own lines in the log ("Checking out 1a2b3c4d...", "Timed out after 300s").</summary>
    Heaven,
}

/// <summary>Where lines of a deployment's output go. Implementations mask secrets before anything leaves.</summary>
public interface IOutputSink
{
    ValueTask WriteLineAsync(OutputStream stream, string line, CancellationToken cancellationToken);
}

/// <summary>Replaces every known secret, in every encoding it may appear in, with <c>***</c>.</summary>
public interface ISecretMasker
{
    /// <summary>Registers a secret (and its base64, URL-encoded, JSON-escaped, reversed and hex forms; each line of a multi-line secret).</summary>
    void Add(string secret);

    string Mask(string line);
}
