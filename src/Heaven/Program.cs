using Heaven.Cli;

// Composition only: the command line decides what to run; HeavenApp wires the components.
// Ctrl+C stops a command (a deploy-local run is stopped like a cancelled deployment).
using var interrupted = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    e.Cancel = true;
    interrupted.Cancel();
};
return await HeavenCli.RunAsync(args, Console.Out, Console.Error, interrupted.Token);
