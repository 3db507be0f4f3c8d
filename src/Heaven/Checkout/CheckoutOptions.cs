using Heaven.Configuration;

namespace Heaven.Checkout;

/// <summary>What the checkout fetches from. Section <c>Checkout</c>.</summary>
public sealed class CheckoutOptions : ISelfValidatingOptions
{
    public const string Section = "Checkout";

    /// <summary>
    /// Also fetch from <c>file://</c> clone URLs, repositories on this machine. Off by default: a signed
    /// payload naming a local path would make Heaven read (and deploy) any repository its user can read.
    /// For tests; <c>heaven deploy-local</c> allows its own path without it.
    /// </summary>
    public bool AllowLocalRepositories { get; set; }

    // A bool has no wrong value that binding lets through; "maybe" already fails the start as a conversion error.
    public IEnumerable<string> Validate() => [];
}
