using System.Net;
using Heaven.Configuration;

namespace Heaven.Telemetry;

/// <summary>
/// Who may read <c>/metrics</c> without a token (section <c>Metrics</c>). Loopback callers always may,
/// and so may API tokens with the <c>read</c> scope; everyone else is answered 404.
/// </summary>
public sealed class MetricsOptions : ISelfValidatingOptions
{
    public const string Section = "Metrics";

    /// <summary>Addresses (<c>10.0.0.5</c>) and networks (<c>10.0.0.0/8</c>) of the scrapers, such as a Prometheus server.</summary>
    public List<string> AllowFrom { get; set; } = [];

    public IEnumerable<string> Validate()
    {
        for (var i = 0; i < AllowFrom.Count; i++)
        {
            if (Parse(AllowFrom[i]) is null)
            {
                yield return $"{Section}:AllowFrom:{i} must be an IP address or network such as 10.0.0.5 or 10.0.0.0/8; got '{AllowFrom[i]}'.";
            }
        }
    }

    /// <summary>Whether a caller at <paramref name="address"/> may read the metrics without a token.</summary>
    public bool Allows(IPAddress? address)
    {
        if (address is null)
        {
            return false;
        }

        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        return IPAddress.IsLoopback(address) || AllowFrom.Select(Parse).Any(network => network is { } n && n.Contains(address));
    }

    private static IPNetwork? Parse(string entry)
    {
        var text = entry.Trim();
        if (IPNetwork.TryParse(text, out var network))
        {
            return network;
        }

        return IPAddress.TryParse(text, out var single) ? new IPNetwork(single, single.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128) : null;
    }
}
