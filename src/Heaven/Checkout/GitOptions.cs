using Heaven.Configuration;

namespace Heaven.Checkout;

/// <summary>Where Heaven finds git (<c>Git:Executable</c>, default <c>git</c> on the PATH).</summary>
public sealed class GitOptions : ISelfValidatingOptions
{
    public const string Section = "Git";

    public string Executable { get; set; } = "git";

    public IEnumerable<string> Validate()
    {
        if (string.IsNullOrWhiteSpace(Executable))
        {
            yield return "Git:Executable must name the git program (default: git, found on the PATH).";
        }
    }
}
