namespace Heaven.Providers;

/// <summary>
/// A file a payload names inside the checkout (a deploy script, an inventory, a playbook): the path
/// must be relative, must not climb out with <c>..</c>, must exist, and a symlink must not lead out
/// either. A deployment's payload is written by whoever may create deployments, not by the server's
/// operator, so it must not reach files elsewhere on the server.
/// </summary>
internal static class CheckoutFile
{
    /// <summary>The file's full path in the checkout, or why it cannot be used; <paramref name="what"/> names it in messages.</summary>
    public static (string? Path, string? Problem) Resolve(string checkout, string relative, string what)
    {
        if (Path.IsPathRooted(relative) || relative.Contains('\0'))
        {
            return (null, $"{what} '{relative}' must be a path inside the repository, not an absolute path");
        }

        var root = Path.GetFullPath(checkout).TrimEnd('/') + "/";
        var full = Path.GetFullPath(Path.Combine(root, relative));
        if (!full.StartsWith(root, StringComparison.Ordinal))
        {
            return (null, $"{what} '{relative}' points outside the repository");
        }

        var file = new FileInfo(full);
        if (!file.Exists)
        {
            return (null, $"{what} '{relative}' does not exist in the repository at this commit");
        }

        // A symlink in the repository must not lead out of it either; a folder on the way may be a link too.
        var target = file.LinkTarget is not null ? file.ResolveLinkTarget(returnFinalTarget: true)?.FullName : full;
        var real = target is null ? null : RealPath(target);
        if (real is null || !real.StartsWith(RealPath(root.TrimEnd('/')) + "/", StringComparison.Ordinal))
        {
            return (null, $"{what} '{relative}' is a link that points outside the repository");
        }

        return (full, null);
    }

    /// <summary>Whether what <paramref name="path"/> (or the link there) finally names may be run by someone.</summary>
    public static bool IsExecutable(string path)
    {
        if (OperatingSystem.IsWindows())
        {
            return true;
        }

        var file = new FileInfo(path);
        if (file.LinkTarget is not null && file.ResolveLinkTarget(returnFinalTarget: true) is FileInfo target)
        {
            file = target;
        }

        const UnixFileMode anyExecute = UnixFileMode.UserExecute | UnixFileMode.GroupExecute | UnixFileMode.OtherExecute;
        return (file.UnixFileMode & anyExecute) != 0;
    }

    /// <summary>The path with every symlinked folder on the way resolved.</summary>
    private static string RealPath(string path)
    {
        var full = Path.GetFullPath(path);
        var parent = Path.GetDirectoryName(full);
        if (parent is null)
        {
            return full;
        }

        var resolvedParent = RealPath(parent);
        var here = Path.Combine(resolvedParent, Path.GetFileName(full));
        var info = new FileInfo(here);
        if (info.Exists || Directory.Exists(here))
        {
            FileSystemInfo entry = info.Exists ? info : new DirectoryInfo(here);
            if (entry.LinkTarget is not null && entry.ResolveLinkTarget(returnFinalTarget: true) is { } final)
            {
                return RealPath(final.FullName);
            }
        }

        return here;
    }
}
