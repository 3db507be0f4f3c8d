using System.Globalization;
using Heaven.Access;

namespace Heaven.Cli;

/// <summary>
/// <c>heaven tokens create NAME --scope read|deploy|admin [--expires-in-days N]</c>, <c>heaven tokens list</c>,
/// <c>heaven tokens revoke NAME</c>: API tokens for <c>Authorization: Bearer</c>. A token is shown once,
/// when it is made; Heaven keeps only its hash.
/// </summary>
internal static class TokensCommand
{
    public const string Usage = "heaven tokens create NAME --scope read|deploy|admin [--expires-in-days N] | list | revoke NAME";

    public static async Task<int> RunAsync(string[] args, Terminal terminal, CancellationToken cancellationToken) =>
        args.FirstOrDefault() switch
        {
            "create" => await CreateAsync(args[1..], terminal, cancellationToken),
            "list" => await ListAsync(args[1..], terminal, cancellationToken),
            "revoke" => await RevokeAsync(args[1..], terminal, cancellationToken),
            _ => UsageError(terminal, null),
        };

    private static async Task<int> CreateAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        string? name = null;
        TokenScope? scope = null;
        int? days = null;
        var settings = new List<string>();
        for (var i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--scope" when i + 1 < args.Length:
                    if (!ApiTokens.TryParseScope(args[++i], out var parsed))
                    {
                        return UsageError(terminal, $"--scope is read, deploy or admin; got '{args[i]}'.");
                    }

                    scope = parsed;
                    break;
                case "--expires-in-days" when i + 1 < args.Length:
                    if (!int.TryParse(args[++i], NumberStyles.None, CultureInfo.InvariantCulture, out var n) || n is < 1 or > 3650)
                    {
                        return UsageError(terminal, $"--expires-in-days is a whole number of days from 1 to 3650; got '{args[i]}'.");
                    }

                    days = n;
                    break;
                case var setting when setting.StartsWith("--", StringComparison.Ordinal) && setting.Contains('=', StringComparison.Ordinal):
                    settings.Add(setting);
                    break;
                case var word when name is null && !word.StartsWith('-'):
                    name = word;
                    break;
                default:
                    return UsageError(terminal, $"'{args[i]}' is not understood here.");
            }
        }

        if (name is null || scope is null)
        {
            return UsageError(terminal, name is null ? "Name the token." : "Say what the token may do: --scope read, deploy or admin.");
        }

        if (!ApiTokens.IsValidName(name))
        {
            return UsageError(terminal, $"A token's name is 1 to 100 letters, digits, '-', '_' or '.'; got '{name}'.");
        }

        var app = await terminal.PrepareAsync(settings, cancellationToken);
        CreatedApiToken created;
        try
        {
            created = await app.Services.GetRequiredService<ApiTokens>().CreateAsync(name, scope.Value, days is { } d ? TimeSpan.FromDays(d) : null, Environment.UserName, cancellationToken);
        }
        catch (ApiTokenException e)
        {
            terminal.Error.WriteLine(e.Message);
            return 1;
        }

        var output = terminal.Output;
        var token = created.Token;
        output.WriteLine($"Created the API token '{token.Name}' with scope {ApiTokens.ScopeName(token.Scope)}: it may {ApiTokens.Describe(token.Scope)}.");
        output.WriteLine(token.ExpiresAt is { } expires
            ? string.Create(CultureInfo.InvariantCulture, $"It expires at {expires:yyyy-MM-dd HH:mm}Z.")
            : "It does not expire; revoke it with: heaven tokens revoke " + token.Name);
        output.WriteLine("Send it as 'Authorization: Bearer <token>'. It is shown only now; Heaven keeps only its hash:");
        output.WriteLine(created.Text);
        return 0;
    }

    private static async Task<int> ListAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        if (args.Any(a => !(a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal))))
        {
            return UsageError(terminal, null);
        }

        var app = await terminal.PrepareAsync(args, cancellationToken);
        var tokens = await app.Services.GetRequiredService<ApiTokens>().ListAsync(cancellationToken);
        var output = terminal.Output;
        if (tokens.Count == 0)
        {
            output.WriteLine("No API tokens. Make one with: heaven tokens create NAME --scope read|deploy|admin");
            return 0;
        }

        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        string[] header = ["NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "CREATED BY"];
        var rows = tokens.Select(t => new[]
        {
            t.Name,
            ApiTokens.ScopeName(t.Scope),
            Time(t.CreatedAt),
            t.ExpiresAt is { } e ? Time(e) + (e <= now ? " (expired)" : "") : "never",
            t.LastUsedAt is { } u ? Time(u) : "never",
            t.CreatedBy,
        }).ToList();
        var widths = header.Select((h, i) => rows.Select(r => r[i].Length).Append(h.Length).Max()).ToArray();
        foreach (var row in rows.Prepend(header))
        {
            output.WriteLine(string.Join("  ", row.Select((cell, i) => i == row.Length - 1 ? cell : cell.PadRight(widths[i]))).TrimEnd());
        }

        return 0;
    }

    private static async Task<int> RevokeAsync(string[] args, Terminal terminal, CancellationToken cancellationToken)
    {
        var names = args.Where(a => !a.StartsWith('-')).ToList();
        var settings = args.Where(a => a.StartsWith("--", StringComparison.Ordinal) && a.Contains('=', StringComparison.Ordinal)).ToList();
        if (names.Count != 1 || names.Count + settings.Count != args.Length)
        {
            return UsageError(terminal, names.Count == 0 ? "Name the token to revoke." : null);
        }

        var app = await terminal.PrepareAsync(settings, cancellationToken);
        if (!await app.Services.GetRequiredService<ApiTokens>().RevokeAsync(names[0], cancellationToken))
        {
            terminal.Error.WriteLine($"There is no API token named '{names[0]}' (heaven tokens list shows them).");
            return 1;
        }

        terminal.Output.WriteLine($"Revoked the API token '{names[0]}': requests with it are refused from now on, on every node.");
        return 0;
    }

    private static int UsageError(Terminal terminal, string? problem)
    {
        if (problem is not null)
        {
            terminal.Error.WriteLine("heaven tokens: " + problem);
        }

        terminal.Error.WriteLine("Usage: " + Usage);
        return 2;
    }

    private static string Time(DateTime at) => at.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}
