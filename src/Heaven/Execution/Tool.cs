using System.ComponentModel;
using System.Diagnostics;

namespace Heaven.Execution;

/// <summary>
/// Runs one of the system's small tools (getent, useradd, chown, bwrap for a probe) to completion with
/// a minimal environment and a bound, for Heaven's own set-up, never for a deploy.
/// </summary>
internal static class Tool
{
    private static readonly TimeSpan Bound = TimeSpan.FromSeconds(30);

    /// <summary>The exit code (-1 when the tool is missing or did not finish) and stdout followed by stderr.</summary>
    public static async Task<(int ExitCode, string Output)> RunAsync(string program, IReadOnlyList<string> arguments, CancellationToken cancellationToken)
    {
        var start = new ProcessStartInfo(program)
        {
            UseShellExecute = false,
            RedirectStandardInput = true,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in arguments)
        {
            start.ArgumentList.Add(argument);
        }

        start.Environment.Clear();
        start.Environment["PATH"] = Environment.GetEnvironmentVariable("PATH") is { Length: > 0 } path ? path : ChildEnvironment.DefaultPath;
        start.Environment["LC_ALL"] = "C";
        try
        {
            using var process = Process.Start(start)!;
            process.StandardInput.Close();
            var stdout = process.StandardOutput.ReadToEndAsync(cancellationToken);
            var stderr = process.StandardError.ReadToEndAsync(cancellationToken);
            using var bound = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            bound.CancelAfter(Bound);
            try
            {
                await process.WaitForExitAsync(bound.Token);
            }
            catch (OperationCanceledException)
            {
                process.Kill(entireProcessTree: true);
                cancellationToken.ThrowIfCancellationRequested();
                return (-1, $"{program} did not finish within {Bound.TotalSeconds:0} s");
            }

            return (process.ExitCode, await stdout + await stderr);
        }
        catch (Exception e) when (e is Win32Exception or InvalidOperationException)
        {
            return (-1, $"{program} could not be started: {e.Message}");
        }
    }
}
