using Microsoft.Extensions.Options;

namespace Heaven.Configuration;

/// <summary>An options class that knows what a valid value of each of its settings looks like.</summary>
/// <remarks>Each message names the setting (both spellings) and says what is expected.</remarks>
internal interface ISelfValidatingOptions
{
    IEnumerable<string> Validate();
}

internal sealed class SelfValidatingOptionsValidator<T> : IValidateOptions<T>
    where T : class, ISelfValidatingOptions
{
    public ValidateOptionsResult Validate(string? name, T options)
    {
        var failures = options.Validate().ToList();
        return failures.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(failures);
    }
}

/// <summary>
/// An options class registered through <see cref="OptionsRegistration"/>: the start-up check reads every
/// one of them, so registering settings is what puts them into the check.
/// </summary>
public sealed class RegisteredOptions
{
    private readonly Action<IServiceProvider> read;

    internal RegisteredOptions(Type optionsType, string section, Action<IServiceProvider> read)
    {
        OptionsType = optionsType;
        Section = section;
        this.read = read;
    }

    public Type OptionsType { get; }

    /// <summary>The configuration section the settings come from.</summary>
    public string Section { get; }

    /// <summary>Binds and validates the settings; throws what binding or validation throws.</summary>
    public void Read(IServiceProvider services) => read(services);
}

internal static class OptionsRegistration
{
    /// <summary>Binds a section, validates it with its own rules, and fails the start when it is wrong.</summary>
    public static IServiceCollection AddValidatedOptions<T>(this IServiceCollection services, string section)
        where T : class, ISelfValidatingOptions
    {
        services.AddCheckedOptions<T>(section).BindConfiguration(section);
        services.AddSingleton<IValidateOptions<T>, SelfValidatingOptionsValidator<T>>();
        return services;
    }

    /// <summary>
    /// Registers settings that are checked before Heaven starts (for those bound and validated in a way
    /// of their own; <see cref="AddValidatedOptions{T}"/> is the usual way in). Every options class
    /// Heaven reads from its configuration is registered here.
    /// </summary>
    public static OptionsBuilder<T> AddCheckedOptions<T>(this IServiceCollection services, string section)
        where T : class
    {
        if (!services.Any(d => d.ServiceType == typeof(RegisteredOptions) && d.ImplementationInstance is RegisteredOptions { } r && r.OptionsType == typeof(T)))
        {
            services.AddSingleton(new RegisteredOptions(typeof(T), section, sp => _ = sp.GetRequiredService<IOptions<T>>().Value));
        }

        return services.AddOptions<T>().ValidateOnStart();
    }
}

internal static class Setting
{
    public static string Name(string key) => LegacyEnvironmentVariables.Describe(key);

    public static bool IsAbsoluteHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
