using Heaven.Tests.Infrastructure;

namespace Heaven.Tests.Providers;

/// <summary>docs/providers.md's Capistrano and Ansible example repositories, pointed at a test sshd.</summary>
internal static class DeployToolApps
{
    public const string Capfile = """
        require "capistrano/setup"
        require "capistrano/deploy"
        require "capistrano/scm/git"
        install_plugin Capistrano::SCM::Git
        """;

    /// <summary>config/deploy.rb: the bare repository is on the "server" (this machine), so its path is a repo_url the server can fetch.</summary>
    public static string DeployRb(TestRepository repository, SshTarget server) => $$"""
        lock "~> 3.17"
        set :application, "app"
        set :repo_url, "{{repository.BarePath}}"
        # The exact commit of the deployment (BRANCH, the ref, may have moved on since).
        set :branch, ENV["HEAVEN_SHA"] || ENV["BRANCH"]
        set :deploy_to, "{{server.TargetDirectory}}"
        set :keep_releases, 3
        # net-ssh uses the deployment's ssh-agent (SSH_AUTH_SOCK) by itself; host keys are checked
        # against Heaven's known_hosts, never ~/.ssh, with Heaven's policy.
        set :ssh_options, {
          config: false,
          auth_methods: %w[publickey],
          user_known_hosts_file: ENV.fetch("HEAVEN_SSH_KNOWN_HOSTS"),
          verify_host_key: ENV["HEAVEN_SSH_STRICT_HOST_KEY_CHECKING"] == "yes" ? :always : :accept_new,
          non_interactive: true,
        }
        """;

    public static string Stage(SshTarget server) => $"""
        server "{server.Host}", user: "{server.User}", port: {server.Port}, roles: %w[app]
        """;

    public static Dictionary<string, string> CapistranoFiles(TestRepository repository, SshTarget server, string page) => new()
    {
        ["Capfile"] = Capfile,
        ["config/deploy.rb"] = DeployRb(repository, server),
        ["config/deploy/production.rb"] = Stage(server),
        ["public/index.html"] = page,
    };

    public static string CommitCapistranoApp(TestRepository repository, SshTarget server, string page) =>
        repository.Commit("capistrano app", CapistranoFiles(repository, server, page));

    public const string Gemfile = """
        source "https://rubygems.org"

        gem "capistrano", "~> 3.17"
        # net-ssh needs these for ed25519 keys; under Bundler only the bundle's gems can load.
        gem "ed25519"
        gem "bcrypt_pbkdf"
        """;

    /// <summary>The same app with a Gemfile (and lockfile, when Bundler made one) for bundler_capistrano.</summary>
    public static string CommitBundledCapistranoApp(TestRepository repository, SshTarget server, string page)
    {
        var files = CapistranoFiles(repository, server, page);
        files["Gemfile"] = Gemfile;
        return repository.Commit("bundled capistrano app", files);
    }

    /// <summary>
    /// The inventory, with pipelining on: Heaven's ssh arguments turn Ansible's connection reuse
    /// (ControlMaster) off, so without it every task costs several ssh connections (copy the module,
    /// run it, clean up) instead of one.
    /// </summary>
    public static string Inventory(SshTarget server) => $"""
        [production]
        {server.Host} ansible_port={server.Port} ansible_user={server.User} ansible_python_interpreter=/usr/bin/python3 ansible_pipelining=true
        """;

    public static string Playbook(SshTarget server) => $$$"""
        - hosts: localhost
          gather_facts: false
          tasks:
            - name: An environment without servers fails the deploy
              ansible.builtin.fail:
                msg: "no servers for environment {{ deploy_env }} in ansible/hosts"
              when: deploy_env not in groups

        - hosts: "{{ deploy_env }}"
          gather_facts: false
          vars:
            app_dir: "{{{server.TargetDirectory}}}"
            release: "{{ app_dir }}/releases/{{ sha }}"
          tasks:
            - name: Release folder
              ansible.builtin.file:
                path: "{{ release }}"
                state: directory
            - name: The application
              ansible.builtin.copy:
                src: ../public/
                dest: "{{ release }}/public/"
            - name: REVISION
              ansible.builtin.copy:
                content: "{{ sha }}\n"
                dest: "{{ release }}/REVISION"
            - name: Current release
              ansible.builtin.file:
                src: "{{ release }}"
                dest: "{{ app_dir }}/current"
                state: link
        """;

    public static string CommitAnsibleApp(TestRepository repository, SshTarget server, string page) =>
        repository.Commit("ansible app", new Dictionary<string, string>
        {
            ["ansible/hosts"] = Inventory(server),
            ["ansible/site.yml"] = Playbook(server),
            ["public/index.html"] = page,
        });
}
