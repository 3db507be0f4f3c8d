namespace Heaven.Storage;

/// <summary>
/// A server-wide secret kept in the database so every node shares it (for example the key that signs
/// log links). Created once by whichever node needs it first.
/// </summary>
public sealed class ServerKey
{
    public required string Name { get; set; }

    public required string Value { get; set; }

    public DateTime CreatedAt { get; set; }
}
