using System.Text;

namespace Heaven.Ssh;

/// <summary>
/// The files one deployment's tools read to reach servers the way Heaven means: an <c>ssh</c> wrapper
/// put first on the PATH, an ssh_config for tools that take one, and a Python start-up hook that makes
/// Paramiko (Fabric 2) check host keys. All of them point at the data directory's known-hosts file,
/// never at <c>~/.ssh</c>.
/// </summary>
internal static class SshClientFiles
{
    /// <summary>OpenSSH's word for the host-key policy: accept-new (default) or yes (strict).</summary>
    public static string CheckingMode(bool strict) => strict ? "yes" : "accept-new";

    /// <summary>
    /// The ssh options every connection of the deployment gets. Given on the command line they come
    /// before anything in ~/.ssh/config or /etc/ssh/ssh_config (ssh takes the first value it reads).
    /// BatchMode: a password or passphrase prompt would wait for a person who is not there.
    /// </summary>
    public static IReadOnlyList<string> Options(string knownHosts, bool strict) =>
        ["-o", "UserKnownHostsFile=" + knownHosts, "-o", "StrictHostKeyChecking=" + CheckingMode(strict), "-o", "BatchMode=yes"];

    /// <summary>For <c>GIT_SSH_COMMAND</c>, which git runs through <c>sh -c</c>: every word quoted.</summary>
    public static string GitSshCommand(string ssh, string knownHosts, bool strict) =>
        string.Join(' ', new[] { ssh }.Concat(Options(knownHosts, strict)).Select(ShellQuote));

    /// <summary>bin/ssh: the real ssh with Heaven's options before the caller's.</summary>
    public static string Wrapper(string ssh, string knownHosts, bool strict) =>
        "#!/bin/sh\n"
        + "# Written by Heaven for one deployment: ssh with Heaven's known hosts and no prompts (docs/providers.md).\n"
        + $"exec {GitSshCommand(ssh, knownHosts, strict)} \"$@\"\n";

    /// <summary>An ssh_config for tools that take one (<c>ssh -F</c>, net-ssh's <c>config:</c>, Ansible's ssh arguments).</summary>
    public static string Config(string knownHosts, bool strict) =>
        new StringBuilder()
            .Append("# Written by Heaven for one deployment (docs/providers.md).\n")
            .Append("Host *\n")
            .Append("  UserKnownHostsFile \"").Append(knownHosts).Append("\"\n")
            .Append("  StrictHostKeyChecking ").Append(CheckingMode(strict)).Append('\n')
            .Append("  BatchMode yes\n")
            .ToString();

    /// <summary>Single-quoted for a POSIX shell: nothing inside is expanded.</summary>
    public static string ShellQuote(string word) =>
        word.Length > 0 && word.All(c => char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.' or '/' or '=' or ':' or ',' or '+' or '@')
            ? word
            : "'" + word.Replace("'", "'\\''", StringComparison.Ordinal) + "'";

    /// <summary>
    /// python/sitecustomize.py, found through PYTHONPATH. Paramiko never reads a known-hosts file by
    /// itself and Fabric 2 tells it to accept any host key, so without this a Fabric deploy would
    /// trust whatever answers. Paramiko is patched only when something imports it.
    /// </summary>
    public const string PythonHook = """
        # Written by Heaven for one deployment (docs/providers.md, "Host keys").
        #
        # Paramiko, and so Fabric 2, never reads a known-hosts file on its own, and Fabric accepts any host
        # key it is shown. This makes every Paramiko client of the deployment check host keys against
        # Heaven's known-hosts file (HEAVEN_SSH_KNOWN_HOSTS): a new host is added to it (accept-new) or
        # refused (HEAVEN_SSH_STRICT_HOST_KEY_CHECKING=yes); a changed key is always refused. Paramiko is
        # patched when something imports it, so Python programs that never use it pay nothing.
        import os
        import sys


        def _heaven_patch_paramiko(client):
            known_hosts = os.environ.get("HEAVEN_SSH_KNOWN_HOSTS")
            if not known_hosts:
                return
            strict = os.environ.get("HEAVEN_SSH_STRICT_HOST_KEY_CHECKING") == "yes"
            from paramiko.hostkeys import HostKeyEntry
            from paramiko.ssh_exception import SSHException

            class HeavenHostKeyPolicy(client.MissingHostKeyPolicy):
                def missing_host_key(self, ssh_client, hostname, key):
                    if strict:
                        raise SSHException(
                            "Host key verification failed: %s is not in %s and strict host key checking is on "
                            "(Deployments:StrictHostKeyChecking); add its key there" % (hostname, known_hosts))
                    ssh_client.get_host_keys().add(hostname, key.get_name(), key)
                    # Appended, never rewritten: other deployments may be adding to the same file.
                    with open(known_hosts, "a") as f:
                        f.write(HostKeyEntry([hostname], key).to_line())
                    sys.stderr.write("Warning: Permanently added '%s' (%s) to the list of known hosts.\n" % (hostname, key.get_name()))

            original_init = client.SSHClient.__init__

            def __init__(self, *args, **kwargs):
                original_init(self, *args, **kwargs)
                if os.path.exists(known_hosts):
                    self.get_host_keys().load(known_hosts)
                self._policy = HeavenHostKeyPolicy()

            def set_missing_host_key_policy(self, policy):
                # Fabric asks for AutoAddPolicy (accept anything); Heaven's policy stays.
                pass

            client.SSHClient.__init__ = __init__
            client.SSHClient.set_missing_host_key_policy = set_missing_host_key_policy


        class _HeavenParamikoFinder:
            def find_spec(self, name, path=None, target=None):
                if name != "paramiko.client":
                    return None
                import importlib.machinery
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
                    return spec
                original_exec = spec.loader.exec_module

                def exec_module(module):
                    original_exec(module)
                    _heaven_patch_paramiko(module)

                spec.loader.exec_module = exec_module
                return spec


        sys.meta_path.insert(0, _HeavenParamikoFinder())


        def _heaven_chain():
            # This file hides any other sitecustomize (Debian installs one): run the next one on the path.
            here = os.path.dirname(os.path.abspath(__file__))
            for folder in sys.path:
                folder = os.path.abspath(folder or ".")
                candidate = os.path.join(folder, "sitecustomize.py")
                if folder != here and os.path.isfile(candidate):
                    import importlib.util
                    spec = importlib.util.spec_from_file_location("_heaven_next_sitecustomize", candidate)
                    module = importlib.util.module_from_spec(spec)
                    try:
                        spec.loader.exec_module(module)
                    except Exception:
                        pass
                    return


        _heaven_chain()

        """;
}
