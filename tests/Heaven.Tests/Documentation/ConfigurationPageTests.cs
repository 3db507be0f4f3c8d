using System.Collections;
using System.Reflection;
using Heaven.Configuration;
using Heaven.Hosting;
using Heaven.Repositories;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace Heaven.Tests.Documentation;

/// <summary>
/// docs/configuration.md is where an operator looks a setting up: every setting Heaven reads and checks
/// at start must be there under its full name, and every original variable Heaven honours beside it.
/// </summary>
public sealed class ConfigurationPageTests
{
    private static readonly string Page = File.ReadAllText(Path.Combine(RepositoryRoot.Path, "docs", "configuration.md"));

    [Fact]
    public void EverySettingTheCodeChecks_IsOnTheConfigurationPage()
    {
        var keys = SettingKeys();
        keys.Count.ShouldBeGreaterThan(60, "the registered options classes were read");

        var missing = keys.Where(key => !Page.Contains($"`{key}`", StringComparison.Ordinal)).ToList();

        missing.ShouldBeEmpty($"settings not on docs/configuration.md (write each as `Section:Key`):\n{string.Join("\n", missing)}");
    }

    [Fact]
    public void EveryOriginalVariable_IsOnTheConfigurationPage()
    {
        var names = LegacyEnvironmentVariables.Map.Select(m => m.Variable)
            .Concat(LegacyEnvironmentVariables.FileMap.Select(m => m.Variable))
            .Distinct(StringComparer.Ordinal);

        var missing = names
            .Where(name => !Page.Contains($"`{name}`", StringComparison.Ordinal))
            .ToList();

        missing.ShouldBeEmpty($"original variables not on docs/configuration.md:\n{string.Join("\n", missing)}");
    }

    [Fact]
    public void EveryRepositorySetting_IsOnTheConfigurationPage()
    {
        var missing = RepositoryOptions.SettingNames
            .Where(name => !Page.Contains($"`Repositories:<owner/name>:{name}`", StringComparison.Ordinal))
            .ToList();

        missing.ShouldBeEmpty($"repository settings not on docs/configuration.md:\n{string.Join("\n", missing)}");
    }

    /// <summary>
    /// The full key of every public settable property of every registered options class, nested option
    /// objects included; the per-repository section is read by hand and checked by its own test.
    /// </summary>
    private static List<string> SettingKeys()
    {
        using var directory = new TemporaryDirectory();
        var builder = HeavenApp.CreateBuilder([$"--DataDirectory={Path.Combine(directory.Path, "data")}"], new Dictionary<string, string?>());
        using var app = HeavenApp.Build(builder);
        var keys = new List<string>();
        foreach (var registered in app.Services.GetServices<RegisteredOptions>().Where(r => r.OptionsType != typeof(RepositoryOptions)))
        {
            Collect(registered.OptionsType, registered.Section, keys);
        }

        keys.AddRange(SecretSettings.FileKeys.Select(key => key + SecretFiles.Suffix));
        return keys.Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal).ToList();
    }

    private static void Collect(Type type, string prefix, List<string> keys)
    {
        foreach (var property in type.GetProperties(BindingFlags.Public | BindingFlags.Instance))
        {
            if (property.SetMethod is not { IsPublic: true } || property.GetIndexParameters().Length > 0)
            {
                continue;
            }

            var key = $"{prefix}:{property.Name}";
            var propertyType = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (IsNestedOptions(propertyType))
            {
                Collect(propertyType, key, keys);
            }
            else
            {
                keys.Add(key);
            }
        }
    }

    private static bool IsNestedOptions(Type type) =>
        type.IsClass
        && type != typeof(string)
        && !typeof(IEnumerable).IsAssignableFrom(type)
        && type.Namespace?.StartsWith("Heaven", StringComparison.Ordinal) == true;
}
