using Heaven.Configuration;

namespace Heaven.Providers;

/// <summary>The <c>heroku</c> provider's settings. Section <c>Providers:Heroku</c>.</summary>
public sealed class HerokuOptions : ISelfValidatingOptions
{
    public const string Section = "Providers:Heroku";

    /// <summary>
    /// The Heroku Platform API key (the original's HEROKU_API_KEY). Not required to start: only a
    /// deployment that uses the heroku provider needs it, and it says so when it is missing.
    /// </summary>
    public string? ApiKey { get; set; }

    /// <summary>The Platform API's address; a test or a proxy may stand in for it.</summary>
    public string ApiUrl { get; set; } = "https://api.heroku.com";

    /// <summary>How often the build's status is asked for while its output streams.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(5);

    /// <summary>The longest one API request (not the build, not the output stream) may take.</summary>
    public TimeSpan RequestTimeout { get; set; } = TimeSpan.FromSeconds(30);

    /// <summary>The wait before the first retry of a request Heroku answered 5xx or 429; it doubles with each further one.</summary>
    public TimeSpan RetryBase { get; set; } = TimeSpan.FromSeconds(1);

    public IEnumerable<string> Validate()
    {
        if (!Setting.IsAbsoluteHttpUrl(ApiUrl))
        {
            yield return $"{Section}:ApiUrl must be an absolute http(s) URL such as https://api.heroku.com; got '{ApiUrl}'.";
        }

        if (PollInterval < TimeSpan.FromMilliseconds(50) || PollInterval > TimeSpan.FromMinutes(5))
        {
            yield return $"{Section}:PollInterval must be a duration from 00:00:00.050 to 00:05:00; got '{PollInterval}'.";
        }

        if (RequestTimeout <= TimeSpan.Zero || RequestTimeout > TimeSpan.FromMinutes(10))
        {
            yield return $"{Section}:RequestTimeout must be a positive duration of at most 00:10:00; got '{RequestTimeout}'.";
        }

        if (RetryBase <= TimeSpan.Zero || RetryBase > TimeSpan.FromMinutes(1))
        {
            yield return $"{Section}:RetryBase must be a positive duration of at most 00:01:00; got '{RetryBase}'.";
        }
    }
}
