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
    public WebApplication Build(string[] args)
    {
        var builder = HeavenApp.CreateBuilder(args);
        // Secrets read from files are masked from the first line on, like those set directly.
        SecretFiles.Apply(builder.Configuration);
        MaskWith(SecretMasker.ForServer(builder.Configuration));
        return HeavenApp.Build(builder);
    }

    /// <summary>Heaven built for an operator command (quiet logging) and prepared: settings checked, schema migrated.</summary>
    public async Task<WebApplication> PrepareAsync(IEnumerable<string> settings, CancellationToken cancellationToken)
    {
        var app = Build([.. HeavenCli.QuietLogging, .. settings]);
        await HeavenApp.PrepareAsync(app, cancellationToken);
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

    private void MaskWith(ISecretMasker masker)
    {
        Output.MaskWith(masker);
        Error.MaskWith(masker);
    }
}
