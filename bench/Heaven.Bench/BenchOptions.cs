using System.Globalization;

namespace Heaven.Bench;

internal sealed class BenchUsageException(string message) : Exception(message);

/// <summary>Command-line options of both modes; every one has a default, so no argument is needed.</summary>
internal sealed class BenchOptions
{
    public const string Help = """
        Usage:
          dotnet run -c Release --project bench/Heaven.Bench -- intake [options]

        Options (intake):
          --connections N      concurrent connections / workers (default 32)
          --warmup S           warm-up seconds per phase, not measured (default 10)
          --duration S         measured seconds per phase (default 15)
          --phases LIST        comma-separated, in order: bare,events (default bare,events)
          --max-rate N         requests/s the pre-signed pool of the first phase is sized for (default 40000)
          --server-log-level L Heaven's Logging:LogLevel:Default in the server (default Warning)
          --output FILE        also write the Markdown report to FILE
          --keep-data          keep the server's temporary data directory
          --server-arg ARG     extra argument for the server (e.g. --server-arg --Key=Value); repeatable

        Slow bodies (intake under connections that announce large bodies and send them slowly):
          dotnet run -c Release --project bench/Heaven.Bench -- slow-bodies [--connections N] [--duration S] [--output FILE]
          N connections (default 40) each announce Content-Length: 24 MB and trickle; signed deployments
          are sent meanwhile; the server's memory is sampled. --duration is each phase's length (default 15).

        Diagnostic:
          DOTNET_gcServer=1 dotnet run -c Release --project bench/Heaven.Bench -- recorder [--connections N] [--warmup S] [--duration S]
          records deliveries through IDeliveryRecorder in-process (no HTTP), to show the write path's ceiling.

        Options (server, used by intake to start its child process):
          --data DIR           data directory (required)
          --port N             port on 127.0.0.1 (default 0: any free port)
        The webhook secret is read from the environment variable HEAVEN_BENCH_SECRET.
        """;

    public int Connections { get; private set; } = 32;

    /// <summary>Whether --connections was given (modes have different defaults).</summary>
    public bool ConnectionsGiven { get; private set; }

    public double WarmupSeconds { get; private set; } = 10;

    public double DurationSeconds { get; private set; } = 15;

    public IReadOnlyList<string> Phases { get; private set; } = ["bare", "events"];

    public int MaxRate { get; private set; } = 40_000;

    public string ServerLogLevel { get; private set; } = "Warning";

    public string? Output { get; private set; }

    public bool KeepData { get; private set; }

    public List<string> ServerArgs { get; } = [];

    public string? DataDirectory { get; private set; }

    public int Port { get; private set; }

    /// <summary>The options as given, to repeat in the report.</summary>
    public string Given { get; private set; } = "";

    public static BenchOptions Parse(string[] args)
    {
        var options = new BenchOptions { Given = string.Join(' ', args) };
        for (var i = 0; i < args.Length; i++)
        {
            var name = args[i];
            string Value() => i + 1 < args.Length ? args[++i] : throw new BenchUsageException($"{name} needs a value.");
            switch (name)
            {
                case "--connections": options.Connections = PositiveInt(name, Value()); options.ConnectionsGiven = true; break;
                case "--warmup": options.WarmupSeconds = Seconds(name, Value(), allowZero: true); break;
                case "--duration": options.DurationSeconds = Seconds(name, Value(), allowZero: false); break;
                case "--phases": options.Phases = ParsePhases(Value()); break;
                case "--max-rate": options.MaxRate = PositiveInt(name, Value()); break;
                case "--server-log-level": options.ServerLogLevel = Value(); break;
                case "--output": options.Output = Value(); break;
                case "--keep-data": options.KeepData = true; break;
                case "--server-arg": options.ServerArgs.Add(Value()); break;
                case "--data": options.DataDirectory = Value(); break;
                case "--port": options.Port = int.Parse(Value(), CultureInfo.InvariantCulture); break;
                case "--help" or "-h": throw new BenchUsageException("Heaven intake benchmark.");
                default:
                    // Anything of the form --Section:Key=Value goes to the server's configuration.
                    if (name.StartsWith("--", StringComparison.Ordinal) && name.Contains('=', StringComparison.Ordinal))
                    {
                        options.ServerArgs.Add(name);
                        break;
                    }

                    throw new BenchUsageException($"Unknown option '{name}'.");
            }
        }

        return options;
    }

    private static IReadOnlyList<string> ParsePhases(string value)
    {
        var phases = value.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
        if (phases.Length == 0 || phases.Any(p => p is not ("bare" or "events")))
        {
            throw new BenchUsageException("--phases takes bare, events or both (comma-separated).");
        }

        return phases;
    }

    private static int PositiveInt(string name, string value) =>
        int.TryParse(value, NumberStyles.Integer, CultureInfo.InvariantCulture, out var n) && n > 0
            ? n
            : throw new BenchUsageException($"{name} must be a positive whole number; got '{value}'.");

    private static double Seconds(string name, string value, bool allowZero) =>
        double.TryParse(value, NumberStyles.Float, CultureInfo.InvariantCulture, out var s) && (s > 0 || (allowZero && s == 0))
            ? s
            : throw new BenchUsageException($"{name} must be a number of seconds; got '{value}'.");
}
