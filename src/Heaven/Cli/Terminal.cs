using Heaven.Configuration;
using Heaven.Hosting;
using Heaven.Masking;
using Heaven.Model;

namespace Heaven.Cli;

/// <summary>
/// Where an operator command prints: standard output and standard error, each through a
/// <see cref="MaskingWriter"/>. Masking starts with the configured secrets the moment the settings are
/// read, and uses the server's masker (the generated webhook secret too) once Heaven is prepared; usage
/// lines printed before that hold nothing configured.
/// </summary>
internal sealed class Terminal(TextWriter output, TextWriter error) : IDisposable
{
    public MaskingWriter Output { get; } = new(output);

    public MaskingWriter Error { get; } = new(error);

    /// <summary>Heaven built from <paramref name="args"/>; a problem found while building it is printed masked.</summary>
    public WebApplication Build(string[] args) => Build(args, requireDataDirectory: false);

    /// <summary>As <see cref="Build(string[])"/>, for the server: it stops gracefully on SIGTERM and Ctrl+C (<see cref="GracefulShutdown"/>).</summary>
    public WebApplication BuildServer(string[] args) => Build(args, requireDataDirectory: false, GracefulShutdown.Use);

    /// <summary>
    /// Heaven built for an operator command (quiet logging) and prepared: settings checked, schema
    /// migrated. The data directory must exist already: an operator command reads a server's data and
    /// never makes an empty one (where a typo in its path would otherwise lead).
    /// </summary>
    public Task<WebApplication> PrepareAsync(IEnumerable<string> settings, CancellationToken cancellationToken) =>
        PrepareAsync(settings, mayCreateDataDirectory: false, cancellationToken);

    /// <summary>As <see cref="PrepareAsync(IEnumerable{string}, CancellationToken)"/>; a command that works on its own (deploy-local) may start a data directory.</summary>
    public async Task<WebApplication> PrepareAsync(IEnumerable<string> settings, bool mayCreateDataDirectory, CancellationToken cancellationToken)
    {
        var app = Build([.. HeavenCli.QuietLogging, .. settings], requireDataDirectory: !mayCreateDataDirectory);
        await HeavenApp.PrepareAsync(app, cancellationToken);
        MaskWithServerMasker(app);
        return app;
    }

    /// <summary>
    /// Heaven built for <c>heaven doctor</c>: quiet logging, the data directory required and left as it
    /// is, nothing migrated; the server's masker in front of both writers.
    /// </summary>
    public WebApplication BuildForInspection(IEnumerable<string> settings)
    {
        var app = Build([.. HeavenCli.QuietLogging, .. settings], requireDataDirectory: true, inspectOnly: true);
        MaskWithServerMasker(app);
        return app;
    }

    /// <summary>From now on both writers mask with the server's masker of <paramref name="app"/>.</summary>
    public void MaskWithServerMasker(WebApplication app) => MaskWith(app.Services.GetRequiredService<ISecretMasker>());

    public void Dispose()
    {
        Output.Dispose();
        Error.Dispose();
    }

    private WebApplication Build(string[] args, bool requireDataDirectory, Action<WebApplicationBuilder>? configure = null, bool inspectOnly = false)
    {
        var builder = HeavenApp.CreateBuilder(args);
        // Secrets read from files are masked from the first line on, like those set directly.
        SecretFiles.Apply(builder.Configuration);
        MaskWith(SecretMasker.ForServer(builder.Configuration));
        if (requireDataDirectory && DataDirectory.FullPathOf(builder.Configuration) is var path && !Directory.Exists(path))
        {
            throw new MissingDataDirectoryException(path);
        }

        configure?.Invoke(builder);
        return HeavenApp.Build(builder, inspectOnly);
    }

    private void MaskWith(ISecretMasker masker)
    {
        Output.MaskWith(masker);
        Error.MaskWith(masker);
    }
}

/// <summary>An operator command pointed at a data directory that is not there (exit code 2).</summary>
internal sealed class MissingDataDirectoryException(string path) : Exception(
    $"heaven: there is no data directory at {path}. Operator commands read a Heaven server's data directory and never create one: " +
    $"point at the server's with --DataDirectory DIR or HEAVEN_DATA_DIR=DIR (the server prints it at start, as 'Data directory'), or run the command where the server was started.");
