using Microsoft.Extensions.Options;

namespace Heaven.Configuration;

/// <summary>An options class that knows what a valid value of each of its settings looks like.</summary>
/// <remarks>Each message names the setting (both spellings) and says what is expected.</remarks>
public interface ISelfValidatingOptions
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

public static class OptionsRegistration
{
    /// <summary>Binds a section, validates it with its own rules, and fails the start when it is wrong.</summary>
    public static IServiceCollection AddValidatedOptions<T>(this IServiceCollection services, string section)
        where T : class, ISelfValidatingOptions
    {
        services.AddOptions<T>().BindConfiguration(section).ValidateOnStart();
        services.AddSingleton<IValidateOptions<T>, SelfValidatingOptionsValidator<T>>();
        return services;
    }
}

internal static class Setting
{
    public static string Name(string key) => LegacyEnvironmentVariables.Describe(key);

    public static bool IsAbsoluteHttpUrl(string? value) =>
        Uri.TryCreate(value, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps);
}
