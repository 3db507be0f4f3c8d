using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>Small applications to deploy, with the deploy files their tools read.</summary>
internal static class SampleApps
{
    /// <summary>
    /// docs/providers.md's example fabfile, pointed at <paramref name="server"/>: ships the checkout to
    /// <c>releases/&lt;sha&gt;</c> on every server of the environment, writes REVISION, moves <c>current</c>.
    /// </summary>
    public static string Fabfile(SshTarget server) => $$""""
        """Deploys this repository with Fabric 2. Heaven runs: fab deploy --environment=<env> --ref=<ref> --sha=<sha>"""
        import io
        import os
        import tarfile
        import time

        from fabric import Connection, task
        from invoke.exceptions import Exit

        # The servers of each environment, as user@host[:port].
        SERVERS = {
            "production": ["{{server.Address}}"],
        }
        APP_DIR = "{{server.TargetDirectory}}"


        def bundle():
            """The checkout Heaven made at the deployment's sha, as a gzipped tarball (without .git)."""
            data = io.BytesIO()
            with tarfile.open(fileobj=data, mode="w:gz") as tar:
                for name in sorted(os.listdir(".")):
                    if name != ".git":
                        tar.add(name, arcname=name)
            data.seek(0)
            return data


        def ship(environment, ref, sha, pause=0):
            if environment not in SERVERS:
                raise Exit(f"no servers for environment {environment!r} in fabfile.py")
            release = f"{APP_DIR}/releases/{sha}"
            for host in SERVERS[environment]:
                with Connection(host) as server:
                    print(f"Deploying {ref} ({sha[:8]}) to {host}")
                    server.run(f"mkdir -p {release}")
                    server.put(bundle(), f"{release}.tar.gz")
                    server.run(f"tar -xzf {release}.tar.gz -C {release} && rm {release}.tar.gz")
                    if pause:
                        server.run(f"sleep {pause}")
                    server.run(f"echo {sha} > {release}/REVISION")
                    server.run(f"ln -sfn {release} {APP_DIR}/current")


        @task
        def deploy(c, environment, ref, sha):
            ship(environment, ref, sha)


        @task
        def deploy_slow(c, environment, ref, sha):
            ship(environment, ref, sha, pause=3)


        @task
        def deploy_hang(c, environment, ref, sha):
            ship(environment, ref, sha, pause=47)

        """";

    /// <summary>Commits the fabfile and an index page; returns the sha.</summary>
    public static string CommitFabricApp(TestRepository repository, SshTarget server, string page) =>
        repository.Commit("fabric app", new Dictionary<string, string>
        {
            ["fabfile.py"] = Fabfile(server),
            ["public/index.html"] = page,
        });
}
