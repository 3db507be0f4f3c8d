using System.Globalization;
using Heaven.Operations;

namespace Heaven.Cli;

/// <summary><c>heaven locks</c>: every environment lock, who holds it, why, and until when.</summary>
internal static class LocksCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var output = terminal.Output;
        var app = await terminal.PrepareAsync(args, cancellationToken);
        var locks = await app.Services.GetRequiredService<ActivityQueries>().LocksAsync(cancellationToken);
        if (locks.Count == 0)
        {
            output.WriteLine("No environment is locked.");
            return 0;
        }

        foreach (var held in locks)
        {
            var until = held.ExpiresAt switch
            {
                null => "until unlocked",
                { } expires when !held.Active => string.Create(CultureInfo.InvariantCulture, $"expired {expires:yyyy-MM-dd HH:mm}Z (blocks nothing)"),
                { } expires => string.Create(CultureInfo.InvariantCulture, $"until {expires:yyyy-MM-dd HH:mm}Z"),
            };
            var reason = string.IsNullOrWhiteSpace(held.Reason) ? "" : $": {held.Reason}";
            output.WriteLine(string.Create(CultureInfo.InvariantCulture, $"{held.Repository} {held.Environment}  locked by {held.LockedBy} at {held.LockedAt:yyyy-MM-dd HH:mm}Z, {until}{reason}"));
        }

        return 0;
    }
}

/// <summary><c>heaven unlock &lt;owner/repo&gt; &lt;environment&gt;</c>: removes a lock without a deployment.</summary>
internal static class UnlockCommand
{
    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var (output, error) = (terminal.Output, terminal.Error);
        if (args.Length < 2 || args[0].StartsWith('-') || args[1].StartsWith('-') || !args[0].Contains('/', StringComparison.Ordinal))
        {
            error.WriteLine("Usage: heaven unlock <owner/repo> <environment>");
            return 2;
        }

        var app = await terminal.PrepareAsync(args[2..], cancellationToken);
        var result = await app.Services.GetRequiredService<DeploymentActions>().UnlockAsync(args[0], args[1], Environment.UserName, cancellationToken);
        if (!result.Succeeded)
        {
            error.WriteLine(result.Message);
            return 1;
        }

        output.WriteLine(result.Message);
        return 0;
    }
}
