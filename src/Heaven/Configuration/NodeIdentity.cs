
namespace Heaven.Configuration;

/// <summary>
/// This node's name in leases: the host name plus an id kept in the data directory, so a restarted
/// node recognises the deployments its previous run left Running (and reports them lost at once).
/// </summary>
public sealed class NodeIdentity
{
    public const string FileName = "node-id";

    public NodeIdentity(string id) => Id = id;

    public string Id { get; }

    /// <summary>
    /// This run of the node (<c>node-id/run</c>): outbox leases are taken in its name, so the node's
    /// next run can tell the leases a killed run left behind from its own and hand them back at once.
    /// </summary>
    public string RunId { get; } = Guid.NewGuid().ToString("N");

    public string LeaseOwner => $"{Id}/{RunId}";

    public static NodeIdentity Load(DataDirectory dataDirectory)
    {
        var path = dataDirectory.PathOf(FileName);
        if (!File.Exists(path))
        {
            var name = new string(Environment.MachineName.Where(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '.').Take(48).ToArray());
            File.WriteAllText(path + ".tmp", $"{(name.Length == 0 ? "node" : name)}-{Guid.NewGuid():N}");
            File.Move(path + ".tmp", path, overwrite: false);
        }

        return new NodeIdentity(File.ReadAllText(path).Trim());
    }
}
