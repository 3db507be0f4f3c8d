using System.Net.Sockets;
using Heaven.Configuration;
using Heaven.Storage;
using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Hosting;

/// <summary>
/// The data directory holds the database, the webhook secret and every deployment's log: at every start
/// Heaven makes it private to its user (0700, files 0600), or refuses to start when it cannot.
/// </summary>
public sealed class DataDirectoryModeTests
{
    private const UnixFileMode Rwx = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute;
    private const UnixFileMode Rw = UnixFileMode.UserRead | UnixFileMode.UserWrite;
    private const UnixFileMode Wide = (UnixFileMode)0b111_101_101; // 0755
    private const UnixFileMode WideFile = (UnixFileMode)0b110_100_100; // 0644

    [Fact]
    public async Task AnExistingDataDirectoryWithWideModes_IsMadePrivateAtStart_WithoutFollowingLinksOut()
    {
        using var directory = new TemporaryDirectory();
        var data = Path.Combine(directory.Path, "data");
        var nested = Path.Combine(data, "repositories", "octo");
        Directory.CreateDirectory(nested);
        var notes = WriteFile(Path.Combine(data, "notes.txt"), WideFile);
        var mirrorFile = WriteFile(Path.Combine(nested, "HEAD"), WideFile);
        var program = WriteFile(Path.Combine(nested, "hook"), Wide);
        var outside = WriteFile(Path.Combine(directory.Path, "outside.txt"), WideFile);
        File.CreateSymbolicLink(Path.Combine(data, "link-out"), outside);
        var ssh = Path.Combine(data, "ssh");
        Directory.CreateDirectory(ssh);
        // An ssh-agent's socket left behind by a deploy.
        using var socket = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        socket.Bind(new UnixDomainSocketEndPoint(Path.Combine(ssh, "agent.sock")));
        foreach (var folder in new[] { data, Path.Combine(data, "repositories"), nested, ssh })
        {
            File.SetUnixFileMode(folder, Wide);
        }

        await using var host = await HeavenTestHost.StartAsync(directory: directory);

        foreach (var folder in new[] { data, Path.Combine(data, "repositories"), nested, ssh })
        {
            File.GetUnixFileMode(folder).ShouldBe(Rwx, folder);
        }

        File.GetUnixFileMode(notes).ShouldBe(Rw);
        File.GetUnixFileMode(mirrorFile).ShouldBe(Rw);
        // A program keeps its owner's execute permission; only group and other lose theirs.
        File.GetUnixFileMode(program).ShouldBe(Rwx);
        File.GetUnixFileMode(outside).ShouldBe(WideFile, "the file a link in the data directory points to is not Heaven's");
    }

    [Fact]
    public async Task WhatHeavenCreatesAfterwards_IsPrivateFromTheStart()
    {
        using var directory = new TemporaryDirectory();

        // No secret configured: Heaven generates one and keeps it in the data directory.
        await using var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["Webhooks:Secret"] = null }, directory: directory);

        var data = host.DataDirectory;
        File.GetUnixFileMode(data).ShouldBe(Rwx);
        File.GetUnixFileMode(Path.Combine(data, DatabaseOptions.SqliteFileName)).ShouldBe(Rw);
        File.GetUnixFileMode(Path.Combine(data, "webhook-secret")).ShouldBe(Rw);
        var created = Directory.EnumerateFileSystemEntries(data, "*", SearchOption.AllDirectories).ToList();
        created.ShouldNotBeEmpty();
        created.ShouldAllBe(path => (File.GetUnixFileMode(path) & (UnixFileMode)0b000_111_111) == 0);
    }

    [Fact]
    public async Task ADataDirectoryHeavenCannotMakePrivate_StopsTheStart_NamingIt()
    {
        if (Environment.UserName != "root")
        {
            // An unprivileged user cannot change a folder root owns: /usr stands in for a data directory of another user's.
            var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { ["DataDirectory"] = "/usr" }));
            error.Message.ShouldStartWith("The data directory /usr must be private to Heaven's user (directories 0700, files 0600), and Heaven cannot make it so:");
            return;
        }

        // Root may change any file, so the case is made real by running Heaven as an unprivileged user
        // on a directory that root owns.
        var folder = Directory.CreateTempSubdirectory("heaven-modes-");
        try
        {
            File.SetUnixFileMode(folder.FullName, Wide);
            var data = Path.Combine(folder.FullName, "data");
            Directory.CreateDirectory(data);
            File.SetUnixFileMode(data, Wide);
            var secret = WriteFile(Path.Combine(data, "webhook-secret"), WideFile);

            var (exitCode, output, error) = await HeavenProcess.RunAsUserAsync(
                "nobody",
                "nogroup",
                new Dictionary<string, string> { ["HEAVEN_DATA_DIR"] = data, ["GITHUB_WEBHOOK_SECRET"] = HeavenTestHost.Secret },
                "serve",
                "--urls",
                "http://127.0.0.1:0");

            exitCode.ShouldBe(2, output + error);
            var lines = error.TrimEnd().Split('\n');
            lines.ShouldBe(
            [
                $"The data directory {data} must be private to Heaven's user (directories 0700, files 0600), and Heaven cannot make it so:",
                $"  {data} has mode 0755 and cannot be made 0700: it belongs to user id 0, and Heaven runs as user id 65534.",
                "Give the directory and everything in it to the user Heaven runs as (chown -R), or point DataDirectory (or HEAVEN_DATA_DIR) at a directory of its own.",
            ]);
            File.GetUnixFileMode(data).ShouldBe(Wide);
            File.GetUnixFileMode(secret).ShouldBe(WideFile);
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string WriteFile(string path, UnixFileMode mode)
    {
        File.WriteAllText(path, "x");
        File.SetUnixFileMode(path, mode);
        return path;
    }
}
