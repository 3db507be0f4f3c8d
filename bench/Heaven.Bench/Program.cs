using Heaven.Bench;

// heaven-bench intake [options]   run the intake benchmark (starts its own server child process)
// heaven-bench slow-bodies [options] connections that announce 24 MB bodies and trickle them, signed deployments meanwhile
// heaven-bench server [options]   the server child: Heaven as in production, plus POST /bench/bare
// heaven-bench recorder [options] diagnostic: IDeliveryRecorder alone, in-process, no HTTP
// heaven-bench dashboard          the dashboard and list queries over 100,000 deployments on SQLite, in-process
try
{
    var command = args.Length == 0 || args[0].StartsWith('-') ? "intake" : args[0];
    var options = BenchOptions.Parse(args.Length > 0 && !args[0].StartsWith('-') ? args[1..] : args);
    return command switch
    {
        "intake" => await IntakeBenchmark.RunAsync(options),
        "server" => await BenchServer.RunAsync(options),
        "slow-bodies" => await SlowBodiesBenchmark.RunAsync(options),
        "recorder" => await RecorderBenchmark.RunAsync(options),
        "dashboard" => await DashboardBenchmark.RunAsync(options),
        _ => Usage($"'{command}' is not a mode."),
    };
}
catch (BenchUsageException e)
{
    return Usage(e.Message);
}

static int Usage(string problem)
{
    Console.Error.WriteLine(problem);
    Console.Error.WriteLine(BenchOptions.Help);
    return 2;
}
