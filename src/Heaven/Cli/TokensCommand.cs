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
    public static readonly CliCommand Command = new(
        "tokens",
        "heaven tokens create NAME --scope read|deploy|admin [--expires-in-days N] | list | revoke NAME",
        "manage API tokens for scripts and chat bots",
        "A token is sent as 'Authorization: Bearer <token>'. 'create' prints it once, on its last line; Heaven keeps only its hash. Scope read reads; deploy also deploys, rolls back, cancels and locks; admin also manages tokens and redelivers.",
        RunAsync)
    {
        Arguments = [new CliArgument("create|list|revoke", "what to do"), new CliArgument("NAME", "the token's name (create, revoke)", Optional: true)],
        Options =
        [
            CliOption.Text("--scope", "SCOPE", "create: read, deploy or admin"),
            CliOption.Number("--expires-in-days", "N", "create: the token stops working after N days (1 to 3650)"),
        ],
    };

    private static Task<int> RunAsync(ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        var name = arguments.Positionals.Count > 1 ? arguments.Positionals[1] : null;
        var creating = arguments.Positionals[0] == "create";
        if (!creating && (arguments.Has("--scope") || arguments.Has("--expires-in-days")))
        {
            throw new UsageException("--scope and --expires-in-days belong to 'create'.");
        }

        return arguments.Positionals[0] switch
        {
            "create" => CreateAsync(name, arguments, terminal, cancellationToken),
            "list" when name is null => ListAsync(arguments.Settings, terminal, cancellationToken),
            "list" => throw new UsageException($"'{name}' is one argument too many: 'tokens list' takes no name."),
            "revoke" when name is not null => RevokeAsync(name, arguments.Settings, terminal, cancellationToken),
            "revoke" => throw new UsageException("Name the token to revoke."),
            var other => throw new UsageException($"'{other}' is not a tokens command: create, list or revoke."),
        };
    }

    private static async Task<int> CreateAsync(string? name, ParsedArguments arguments, Terminal terminal, CancellationToken cancellationToken)
    {
        TokenScope? scope = null;
        if (arguments.Text("--scope") is { } given)
        {
            if (!ApiTokens.TryParseScope(given, out var parsed))
            {
                throw new UsageException($"--scope is read, deploy or admin; got '{given}'.");
            }

            scope = parsed;
        }

        int? days = arguments.Has("--expires-in-days") ? arguments.Number("--expires-in-days", 0) : null;
        if (days is > 3650)
        {
            throw new UsageException($"--expires-in-days is a whole number of days from 1 to 3650; got '{days}'.");
        }

        var settings = arguments.Settings;
        if (name is null || scope is null)
        {
            throw new UsageException(name is null ? "Name the token." : "Say what the token may do: --scope read, deploy or admin.");
        }

        if (!ApiTokens.IsValidName(name))
        {
            throw new UsageException($"A token's name is 1 to 100 letters, digits, '-', '_' or '.'; got '{name}'.");
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

    private static async Task<int> ListAsync(IReadOnlyList<string> settings, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = await terminal.PrepareAsync(settings, cancellationToken);
        var tokens = await app.Services.GetRequiredService<ApiTokens>().ListAsync(cancellationToken);
        var output = terminal.Output;
        if (tokens.Count == 0)
        {
            output.WriteLine("No API tokens. Make one with: heaven tokens create NAME --scope read|deploy|admin");
            return 0;
        }

        var now = app.Services.GetRequiredService<TimeProvider>().GetUtcNow().UtcDateTime;
        var table = new TableWriter("NAME", "SCOPE", "CREATED", "EXPIRES", "LAST USED", "CREATED BY");
        foreach (var t in tokens)
        {
            table.Add(
                t.Name,
                ApiTokens.ScopeName(t.Scope),
                Time(t.CreatedAt),
                t.ExpiresAt is { } e ? Time(e) + (e <= now ? " (expired)" : "") : "never",
                t.LastUsedAt is { } u ? Time(u) : "never",
                t.CreatedBy);
        }

        table.WriteTo(output);
        return 0;
    }

    private static async Task<int> RevokeAsync(string name, IReadOnlyList<string> settings, Terminal terminal, CancellationToken cancellationToken)
    {
        var app = await terminal.PrepareAsync(settings, cancellationToken);
        if (!await app.Services.GetRequiredService<ApiTokens>().RevokeAsync(name, cancellationToken))
        {
            terminal.Error.WriteLine($"There is no API token named '{name}' (heaven tokens list shows them).");
            return 1;
        }

        terminal.Output.WriteLine($"Revoked the API token '{name}': requests with it are refused from now on, on every node.");
        return 0;
    }

    private static string Time(DateTime at) => at.ToString("yyyy-MM-dd HH:mm'Z'", CultureInfo.InvariantCulture);
}
