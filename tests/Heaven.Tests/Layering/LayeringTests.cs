using System.Reflection;
using Heaven.Storage;
using NetArchTest.Rules;
using Xunit.Abstractions;

namespace Heaven.Tests.Layering;

/// <summary>
/// The folders of src/Heaven (= namespaces) depend one way. <see cref="MayUse"/> is the layering,
/// read from the bottom up; docs/development.md's "Code layout" section draws the same picture.
/// </summary>
public sealed class LayeringTests(ITestOutputHelper output)
{
    /// <summary>Each folder and the folders it may use. A folder missing here fails the suite.</summary>
    internal static readonly IReadOnlyDictionary<string, string[]> MayUse = new Dictionary<string, string[]>
    {
        // The leaf: the deployment record and its states, the payload, the output-sink contracts.
        ["Model"] = [],
        ["Configuration"] = [],
        ["Telemetry"] = ["Model", "Configuration"],

        // Infrastructure: knows the leaf only.
        ["Storage"] = ["Model", "Configuration"],
        ["Execution"] = ["Model", "Configuration"],
        ["GitHub"] = ["Model", "Configuration", "Telemetry"],
        ["Masking"] = ["Model", "Configuration"],
        ["Checkout"] = ["Model", "Configuration", "Execution", "GitHub"],
        ["Ssh"] = ["Model", "Configuration", "Execution"],
        ["Repositories"] = ["Model", "Configuration"],

        // Components along the flow.
        ["WorkItems"] = ["Model", "Configuration", "Storage", "Telemetry"],
        ["Locks"] = ["Model", "Configuration", "Storage"],
        ["Statuses"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Masking", "Telemetry"],
        ["Output"] = ["Model", "Configuration", "Storage", "GitHub", "Masking"],
        ["Providers"] = ["Model", "Configuration", "Execution", "Ssh", "Checkout", "GitHub", "Masking", "Repositories"],
        ["Notifications"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Masking"],
        ["AutoDeploy"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Locks", "Repositories"],
        ["Deployments"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Masking", "Execution", "Checkout", "Ssh", "Repositories", "Locks", "Statuses", "Output", "Providers", "Telemetry"],
        ["Intake"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Masking", "Repositories", "Deployments", "Telemetry"],
        // Who may get in and what they may do: sign-in, API tokens, authorization.
        ["Access"] = ["Model", "Configuration", "Storage", "GitHub"],
        ["Retention"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Checkout", "Output", "Intake", "AutoDeploy"],
        // Missed webhooks found on GitHub and taken in through the intake.
        ["Reconciliation"] = ["Model", "Configuration", "Storage", "GitHub", "Repositories", "Deployments", "Intake"],
        ["Diagnostics"] = ["Model", "Configuration", "Storage", "Execution", "GitHub", "Checkout", "Repositories", "Output", "Providers", "Notifications", "Intake"],

        // What people read and do (pages, API, CLI share it): read models and actions.
        ["Operations"] = ["Model", "Configuration", "Storage", "WorkItems", "GitHub", "Locks", "Output", "Deployments", "Intake", "AutoDeploy", "Repositories", "Statuses"],

        // What people use, and the composition on top.
        ["Web"] = ["Model", "Configuration", "Storage", "Execution", "GitHub", "Checkout", "Output", "Deployments", "Operations", "Access"],
        ["Api"] = ["Model", "Configuration", "Storage", "Output", "Deployments", "Intake", "Operations", "Access"],
        ["Hosting"] = ["Model", "Configuration", "Storage", "Execution", "GitHub", "Masking", "Checkout", "Ssh", "Repositories", "WorkItems", "Locks", "Statuses", "Output", "Providers", "Notifications", "AutoDeploy", "Deployments", "Intake", "Retention", "Reconciliation", "Access", "Operations", "Web", "Api", "Telemetry"],
        ["Cli"] = ["Model", "Configuration", "Storage", "Execution", "GitHub", "Masking", "Checkout", "Ssh", "Repositories", "WorkItems", "Locks", "Statuses", "Output", "Providers", "Notifications", "AutoDeploy", "Deployments", "Intake", "Retention", "Reconciliation", "Access", "Operations", "Web", "Api", "Hosting", "Diagnostics", "Telemetry"],
    };

    private static readonly Assembly Heaven = typeof(HeavenDbContext).Assembly;

    private static IReadOnlyList<string> Folders() =>
        Heaven.GetTypes()
            .Select(t => t.Namespace)
            .OfType<string>()
            .Where(n => n.StartsWith("Heaven.", StringComparison.Ordinal))
            .Select(n => n.Split('.')[1])
            .Distinct()
            .Order(StringComparer.Ordinal)
            .ToList();

    [Fact]
    public void EveryFolder_HasAPlaceInTheLayering()
    {
        var folders = Folders();
        folders.Except(MayUse.Keys).ShouldBeEmpty("folders without a place in LayeringTests.MayUse (say which folders each may use)");
        MayUse.Keys.Except(folders).ShouldBeEmpty("folders in LayeringTests.MayUse that no longer exist");
        MayUse.Values.SelectMany(v => v).Except(MayUse.Keys).ShouldBeEmpty("LayeringTests.MayUse names folders that are not in it");

        // Dependencies are found by namespace prefix: no folder may be a prefix of another.
        var prefixes = from a in folders from b in folders where a != b && b.StartsWith(a, StringComparison.Ordinal) select $"{a} / {b}";
        prefixes.ShouldBeEmpty("folder names that are prefixes of each other");
    }

    [Fact]
    public void TheLayering_HasNoCycle()
    {
        FindCycle(MayUse.ToDictionary(e => e.Key, e => (IEnumerable<string>)e.Value)).ShouldBeNull("LayeringTests.MayUse itself has a cycle");
    }

    [Fact]
    public void Folders_DependOneWay_AndOnlyOnWhatTheLayeringAllows()
    {
        var graph = ActualDependencies();
        foreach (var (from, edges) in graph.OrderBy(e => e.Key, StringComparer.Ordinal))
        {
            output.WriteLine($"{from} -> {string.Join(", ", edges.Keys.Order(StringComparer.Ordinal))}");
        }

        var cycle = FindCycle(graph.ToDictionary(e => e.Key, e => (IEnumerable<string>)e.Value.Keys));
        cycle.ShouldBeNull(cycle is null ? null : "a dependency cycle between folders: " + Describe(graph, cycle));

        var forbidden = (
            from entry in graph
            from edge in entry.Value
            where !MayUse.TryGetValue(entry.Key, out var allowed) || !allowed.Contains(edge.Key)
            select $"{entry.Key} -> {edge.Key} (by {string.Join(", ", edge.Value.Take(5))})").ToList();
        forbidden.ShouldBeEmpty("dependencies the layering in LayeringTests.MayUse does not allow");
    }

    [Fact]
    public void EverySourceFile_DeclaresTheNamespaceOfItsFolder()
    {
        var source = Path.Combine(RepositoryRoot(), "src", "Heaven");
        var wrong = new List<string>();
        foreach (var file in Directory.EnumerateFiles(source, "*.cs", SearchOption.AllDirectories))
        {
            var relative = Path.GetRelativePath(source, file);
            if (relative.StartsWith("obj", StringComparison.Ordinal) || relative.StartsWith("bin", StringComparison.Ordinal) || !relative.Contains(Path.DirectorySeparatorChar, StringComparison.Ordinal))
            {
                continue;
            }

            var expected = "Heaven." + Path.GetDirectoryName(relative)!.Replace(Path.DirectorySeparatorChar, '.');
            var declared = File.ReadLines(file).FirstOrDefault(l => l.StartsWith("namespace ", StringComparison.Ordinal));
            if (declared is null || declared.TrimEnd(';').Trim()["namespace ".Length..] != expected)
            {
                wrong.Add($"{relative}: {declared ?? "no namespace"} (expected namespace {expected})");
            }
        }

        wrong.ShouldBeEmpty();
    }

    /// <summary>Folder → folder it uses → the types that use it.</summary>
    internal static Dictionary<string, Dictionary<string, List<string>>> ActualDependencies()
    {
        var folders = Folders();
        var graph = folders.ToDictionary(f => f, _ => new Dictionary<string, List<string>>());
        foreach (var from in folders)
        {
            foreach (var to in folders.Where(f => f != from))
            {
                var users = Types.InAssembly(Heaven)
                    .That().ResideInNamespace($"Heaven.{from}")
                    .And().HaveDependencyOn($"Heaven.{to}")
                    .GetTypes()
                    .Select(t => t.FullName!.Replace('+', '.'))
                    .Order(StringComparer.Ordinal)
                    .ToList();
                if (users.Count > 0)
                {
                    graph[from][to] = users;
                }
            }
        }

        return graph;
    }

    /// <summary>A cycle as a list of folders (first = last), or null.</summary>
    internal static List<string>? FindCycle(IReadOnlyDictionary<string, IEnumerable<string>> graph)
    {
        var state = new Dictionary<string, int>(); // 1 = on the path, 2 = done
        var path = new List<string>();

        List<string>? Visit(string node)
        {
            state[node] = 1;
            path.Add(node);
            foreach (var next in graph.TryGetValue(node, out var edges) ? edges : [])
            {
                if (state.GetValueOrDefault(next) == 1)
                {
                    return [.. path.Skip(path.IndexOf(next)), next];
                }

                if (state.GetValueOrDefault(next) == 0 && Visit(next) is { } cycle)
                {
                    return cycle;
                }
            }

            path.RemoveAt(path.Count - 1);
            state[node] = 2;
            return null;
        }

        foreach (var node in graph.Keys.Order(StringComparer.Ordinal))
        {
            if (state.GetValueOrDefault(node) == 0 && Visit(node) is { } cycle)
            {
                return cycle;
            }
        }

        return null;
    }

    private static string Describe(Dictionary<string, Dictionary<string, List<string>>> graph, List<string> cycle) =>
        string.Join(" -> ", cycle) + "; " + string.Join("; ", cycle.Zip(cycle.Skip(1), (a, b) => $"{a} -> {b} by {string.Join(", ", graph[a][b].Take(3))}"));

    private static string RepositoryRoot()
    {
        var directory = new DirectoryInfo(AppContext.BaseDirectory);
        while (directory is not null && !File.Exists(Path.Combine(directory.FullName, "Heaven.slnx")))
        {
            directory = directory.Parent;
        }

        return directory?.FullName ?? throw new InvalidOperationException("Heaven.slnx not found above " + AppContext.BaseDirectory);
    }
}
