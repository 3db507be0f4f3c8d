using System.Net;

namespace Heaven.Intake;

/// <summary>
/// The CIDR ranges GitHub sends webhooks from (the <c>hooks</c> list of <c>/meta</c>), IPv4 and IPv6,
/// and the one question asked of them: is this sender inside?
/// </summary>
internal sealed class HookRanges
{
    private readonly IPNetwork[] networks;

    private HookRanges(IPNetwork[] networks) => this.networks = networks;

    public IReadOnlyList<IPNetwork> Networks => networks;

    public int Count => networks.Length;

    /// <summary>Parses the entries it can; the others are returned in <paramref name="unreadable"/>.</summary>
    public static HookRanges Parse(IEnumerable<string> ranges, out IReadOnlyList<string> unreadable)
    {
        var parsed = new List<IPNetwork>();
        var skipped = new List<string>();
        foreach (var range in ranges)
        {
            if (TryParseRange(range, out var network))
            {
                parsed.Add(network);
            }
            else
            {
                skipped.Add(range);
            }
        }

        unreadable = skipped;
        return new HookRanges([.. parsed.Distinct()]);
    }

    public bool Contains(IPAddress address)
    {
        // A dual-stack socket reports an IPv4 sender as ::ffff:a.b.c.d; GitHub lists it as a.b.c.d.
        if (address.IsIPv4MappedToIPv6)
        {
            address = address.MapToIPv4();
        }

        foreach (var network in networks)
        {
            // IPNetwork.Contains answers false across address families, so IPv4 and IPv6 can share a list.
            if (network.Contains(address))
            {
                return true;
            }
        }

        return false;
    }

    /// <summary>A CIDR range, or a bare address taken as a range of one.</summary>
    private static bool TryParseRange(string? text, out IPNetwork network)
    {
        text = text?.Trim();
        if (string.IsNullOrEmpty(text))
        {
            network = default;
            return false;
        }

        if (IPNetwork.TryParse(text, out network))
        {
            return true;
        }

        if (!text.Contains('/', StringComparison.Ordinal) && IPAddress.TryParse(text, out var address))
        {
            network = new IPNetwork(address, address.AddressFamily == System.Net.Sockets.AddressFamily.InterNetwork ? 32 : 128);
            return true;
        }

        return false;
    }
}
