using System.Globalization;
using Heaven.Bench.Deploy;
using Heaven.Tests.Infrastructure;

// Deploy engine benchmarks. Everything runs on 127.0.0.1: a fake GitHub in this process, the real
// heaven executable in a child process (a fresh one per benchmark), a local git repository as the
// clone source. Usage:
//   dotnet run -c Release --project bench/Heaven.Bench.Deploy [-- --only overhead|parallel|output|probe|livelog|cluster]
//       [--deploys 100] [--parallel 50] [--floods 3] [--quiet-wait MINUTES] [--set Key=Value] [--markdown FILE] [--server-logs DIR] [--verbose]
if (args is [FloodViewers.ChildFlag, var viewersOf, var viewerCount])
{
    return await FloodViewers.ChildAsync(new Uri(viewersOf), int.Parse(viewerCount, CultureInfo.InvariantCulture));
}

var only = Option("--only");
var deploys = int.Parse(Option("--deploys") ?? "100", CultureInfo.InvariantCulture);
var parallel = int.Parse(Option("--parallel") ?? "50", CultureInfo.InvariantCulture);
var floods = int.Parse(Option("--floods") ?? "3", CultureInfo.InvariantCulture);
var markdown = Option("--markdown");
var serverLogs = Option("--server-logs");
var verbose = args.Contains("--verbose");
// --set Key=Value (repeatable): a setting for every server started, e.g. --set Output:MirrorToGist=false.
var extra = args.Select((a, i) => (a, i)).Where(p => p.a == "--set" && p.i + 1 < args.Length).Select(p => args[p.i + 1].Split('=', 2)).ToDictionary(kv => kv[0], kv => kv.Length > 1 ? kv[1] : "");
var patience = double.Parse(Option("--quiet-wait") ?? "3", CultureInfo.InvariantCulture);

var work = Path.Combine(Path.GetTempPath(), $"heaven-bench-deploy-{Environment.UserName}", Guid.NewGuid().ToString("N")[..12]);
Directory.CreateDirectory(work);
var started = DateTimeOffset.Now;
var sections = new List<Section>();
try
{
    await using var gitHub = await FakeGitHub.StartAsync();
    var repository = new BenchRepository(work);
    var settings = new BenchSettings(work, gitHub, repository, deploys, parallel, floods, verbose, serverLogs, extra);
    foreach (var (name, benchmark) in new (string, Func<BenchSettings, Task<Section>>)[]
             {
                 ("overhead", Benchmarks.OverheadAsync),
                 ("parallel", Benchmarks.ParallelAsync),
                 ("output", Benchmarks.OutputAsync),
                 ("probe", OutputProbe.RunAsync),
                 ("livelog", LiveLogBenchmark.RunAsync),
                 ("cluster", ClusterBenchmark.RunAsync),
             })
    {
        // The probe only explains the output benchmark; the live log and the cluster have their own sections: they run when asked for.
        if ((only is not null && only != name) || (only is null && name is "probe" or "livelog" or "cluster"))
        {
            continue;
        }

        var busy = await Machine.WaitForQuietAsync(TimeSpan.FromMinutes(patience));
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {name}...");
        var loadBefore = Machine.LoadAverage();
        var before = Machine.Snapshot();
        var section = await benchmark(settings);
        var others = Machine.OthersShare(before, Machine.Snapshot());
        section.Lines.Insert(0, $"_Machine load: CPUs {busy:P0} busy in the second before it started; other processes used {others:P0} of the CPUs while it ran; load average (1, 5, 15 min) {loadBefore} before, {Machine.LoadAverage()} after._");
        section.Lines.Insert(1, "");
        sections.Add(section);
        Console.Error.WriteLine($"[{DateTime.Now:HH:mm:ss}] {name} done");
    }
}
finally
{
    try
    {
        Directory.Delete(work, recursive: true);
    }
    catch (IOException)
    {
    }
}

var report = new List<string>
{
    "## Deploy engine",
    "",
    "Command: `dotnet run -c Release --project bench/Heaven.Bench.Deploy`",
    "",
    $"Run: {started:yyyy-MM-dd HH:mm zzz}, {(DateTimeOffset.Now - started).TotalSeconds:0} s in all.",
    "",
    "Machine:",
    "",
};
report.AddRange(Machine.Describe());
foreach (var section in sections)
{
    report.Add("");
    report.Add($"### {section.Title}");
    report.Add("");
    report.AddRange(section.Lines);
}

Console.WriteLine(string.Join('\n', report));
if (markdown is not null)
{
    File.WriteAllText(markdown, string.Join('\n', report) + "\n");
}

return 0;

string? Option(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}
