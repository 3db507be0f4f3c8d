using System.Globalization;

namespace Heaven.Execution;

/// <summary>The user deploys run as when Heaven switches users.</summary>
public sealed record DeployUser(string Name, int UserId, int GroupId)
{
    /// <summary>The user from the system's user database (<c>getent passwd</c>), or null when there is none of that name.</summary>
    internal static async Task<DeployUser?> FindAsync(string name, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await Tool.RunAsync("getent", ["passwd", "--", name], cancellationToken);
        if (exitCode != 0)
        {
            return null;
        }

        // name:password:uid:gid:gecos:home:shell
        var fields = output.Split('\n')[0].Split(':');
        return fields.Length >= 4
            && int.TryParse(fields[2], NumberStyles.None, CultureInfo.InvariantCulture, out var uid)
            && int.TryParse(fields[3], NumberStyles.None, CultureInfo.InvariantCulture, out var gid)
            ? new DeployUser(fields[0], uid, gid)
            : null;
    }

    /// <summary>Creates a system user without a login shell or home (Debian's <c>useradd</c>, run as root).</summary>
    internal static async Task<string?> CreateAsync(string name, CancellationToken cancellationToken)
    {
        var (exitCode, output) = await Tool.RunAsync(
            "useradd",
            ["--system", "--user-group", "--no-create-home", "--home-dir", "/nonexistent", "--shell", "/usr/sbin/nologin", "--comment", "Heaven deploys", "--", name],
            cancellationToken);
        return exitCode == 0 ? null : $"useradd exited with {exitCode}: {output.Trim()}";
    }
}
