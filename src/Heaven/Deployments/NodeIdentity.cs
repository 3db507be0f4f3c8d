using Heaven.Configuration;

namespace Heaven.Deployments;

/// <summary>
/// This node's name in leases: the host name plus an id kept in the data directory, so a restarted
/// node recognises the deployments its previous run left Running (and reports them lost at once).
/// </summary>
public sealed class NodeIdentity
{
    public const string FileName = "node-id";

    public NodeIdentity(string id) => Id = id;

    public string Id { get; }

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
