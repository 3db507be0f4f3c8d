using System.Security.Cryptography;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;

namespace Heaven.Bench;

/// <summary>One delivery as sent: a new GitHub deployment id, its delivery GUID and its signature header.</summary>
internal readonly record struct SignedDelivery(long DeploymentId, string DeliveryId, string Signature);

/// <summary>
/// The benchmark's <c>deployment</c> webhook: the original Heaven's fixture, compact as GitHub sends it,
/// with the fields today's GitHub adds (node ids, visibility, licence, installation, ...) so it weighs
/// about 8 KB. Only the deployment id differs between deliveries; it has a fixed width, so a body is the
/// template with ten digits written at three places (<c>deployment.id</c>, <c>url</c>, <c>statuses_url</c>).
/// </summary>
internal sealed class PayloadTemplate
{
    private const long Placeholder = 9_999_999_999;
    private const int IdDigits = 10;

    /// <summary>Deployment ids are <c>FirstId + n</c>: always ten digits, far from the fixture's own id.</summary>
    public const long FirstId = 1_000_000_000;

    private readonly byte[] template;
    private readonly int[] idOffsets;

    private PayloadTemplate(byte[] template, int[] idOffsets)
    {
        this.template = template;
        this.idOffsets = idOffsets;
    }

    public int Length => template.Length;

    public static PayloadTemplate Load()
    {
        var path = Path.Combine(AppContext.BaseDirectory, "Fixtures", "deployment.json");
        var root = JsonNode.Parse(File.ReadAllText(path))!.AsObject();
        var deployment = root["deployment"]!.AsObject();
        var repository = root["repository"]!.AsObject();
        var repoApi = repository["url"]!.GetValue<string>();

        deployment["id"] = Placeholder;
        deployment["url"] = $"{repoApi}/deployments/{Placeholder}";
        deployment["statuses_url"] = $"{repoApi}/deployments/{Placeholder}/statuses";
        deployment["node_id"] = "DE_kwDOAog5ks4HQ3lS";
        deployment["original_environment"] = "production";
        deployment["transient_environment"] = false;
        deployment["production_environment"] = true;
        deployment["performed_via_github_app"] = null;

        foreach (var user in new[] { deployment["creator"]!.AsObject(), repository["owner"]!.AsObject(), root["sender"]!.AsObject() })
        {
            user["node_id"] = "MDQ6VXNlcjY2MjYyOTc=";
            user["user_view_type"] = "public";
        }

        repository["node_id"] = "MDEwOlJlcG9zaXRvcnk0MjUyNDgxOA==";
        repository["deployments_url"] = $"{repoApi}/deployments";
        repository["visibility"] = "public";
        repository["topics"] = new JsonArray("chatops", "hubot", "deployment", "heroku");
        repository["license"] = new JsonObject
        {
            ["key"] = "mit",
            ["name"] = "MIT License",
            ["spdx_id"] = "MIT",
            ["url"] = "https://api.github.com/licenses/mit",
            ["node_id"] = "MDc6TGljZW5zZTEz",
        };
        repository["allow_forking"] = true;
        repository["is_template"] = false;
        repository["web_commit_signoff_required"] = false;
        repository["archived"] = false;
        repository["disabled"] = false;
        repository["has_projects"] = true;
        repository["has_discussions"] = false;
        repository["custom_properties"] = new JsonObject();
        repository["allow_squash_merge"] = true;
        repository["allow_merge_commit"] = true;
        repository["allow_rebase_merge"] = true;
        repository["allow_auto_merge"] = false;
        repository["delete_branch_on_merge"] = false;
        repository["allow_update_branch"] = false;
        repository["use_squash_pr_title_as_default"] = false;
        repository["squash_merge_commit_message"] = "COMMIT_MESSAGES";
        repository["squash_merge_commit_title"] = "COMMIT_OR_PR_TITLE";
        repository["merge_commit_message"] = "PR_TITLE";
        repository["merge_commit_title"] = "MERGE_MESSAGE";
        root["installation"] = new JsonObject
        {
            ["id"] = 41234567,
            ["node_id"] = "MDIzOkludGVncmF0aW9uSW5zdGFsbGF0aW9uNDEyMzQ1Njc=",
        };

        var bytes = Encoding.UTF8.GetBytes(root.ToJsonString(new JsonSerializerOptions { WriteIndented = false }));
        var marker = Encoding.ASCII.GetBytes(Placeholder.ToString(System.Globalization.CultureInfo.InvariantCulture));
        var offsets = new List<int>();
        for (var at = bytes.AsSpan().IndexOf(marker); at >= 0;)
        {
            offsets.Add(at);
            var next = bytes.AsSpan(at + marker.Length).IndexOf(marker);
            at = next < 0 ? -1 : at + marker.Length + next;
        }

        if (offsets.Count != 3)
        {
            throw new InvalidOperationException($"The payload template should name the deployment id three times, not {offsets.Count}.");
        }

        return new PayloadTemplate(bytes, [.. offsets]);
    }

    /// <summary>A buffer for <see cref="Write"/>; one per worker, reused for each of its requests.</summary>
    public byte[] NewBuffer() => (byte[])template.Clone();

    /// <summary>Writes the body of deployment <paramref name="deploymentId"/> into a buffer from <see cref="NewBuffer"/>.</summary>
    public void Write(byte[] buffer, long deploymentId)
    {
        Span<byte> digits = stackalloc byte[IdDigits];
        if (!deploymentId.TryFormat(digits, out var written, default, System.Globalization.CultureInfo.InvariantCulture) || written != IdDigits)
        {
            throw new ArgumentOutOfRangeException(nameof(deploymentId), "Deployment ids of the benchmark have ten digits.");
        }

        foreach (var offset in idOffsets)
        {
            digits.CopyTo(buffer.AsSpan(offset));
        }
    }

    public string Text(long deploymentId)
    {
        var buffer = NewBuffer();
        Write(buffer, deploymentId);
        return Encoding.UTF8.GetString(buffer);
    }

    /// <summary>Signs the body of deployment <paramref name="deploymentId"/> the way GitHub does (HMAC-SHA256 of the raw body).</summary>
    public void Sign(long deploymentId, byte[] key, byte[] scratch, Span<byte> signature)
    {
        Write(scratch, deploymentId);
        HMACSHA256.HashData(key, scratch, signature);
    }

    public static string SignatureHeader(ReadOnlySpan<byte> signature) => "sha256=" + Convert.ToHexStringLower(signature);
}

/// <summary>
/// Deliveries signed before a phase starts, so the load generator does no hashing while it measures:
/// delivery GUIDs and HMACs are kept compactly (48 bytes a delivery) and only turned into header text
/// when sent. Should a phase outrun the pool, further deliveries are signed as they are sent and counted.
/// </summary>
internal sealed class DeliveryPool
{
    private readonly PayloadTemplate template;
    private readonly byte[] key;
    private readonly Guid[] deliveryIds;
    private readonly byte[] signatures;
    private readonly long firstId;
    private long next = -1;
    private long signedInline;

    private DeliveryPool(PayloadTemplate template, byte[] key, Guid[] deliveryIds, byte[] signatures, long firstId)
    {
        this.template = template;
        this.key = key;
        this.deliveryIds = deliveryIds;
        this.signatures = signatures;
        this.firstId = firstId;
    }

    public long SignedInline => Interlocked.Read(ref signedInline);

    /// <summary>How many deliveries were handed out.</summary>
    public long Used => Interlocked.Read(ref next) + 1;

    /// <summary>The first deployment id after those this pool has handed out.</summary>
    public long NextFreeId => firstId + Used;

    public static DeliveryPool Create(PayloadTemplate template, byte[] key, long firstId, int count)
    {
        var deliveryIds = new Guid[count];
        var signatures = new byte[count * 32L];
        Parallel.For(
            0,
            count,
            () => template.NewBuffer(),
            (i, _, scratch) =>
            {
                deliveryIds[i] = Guid.NewGuid();
                template.Sign(firstId + i, key, scratch, signatures.AsSpan(i * 32, 32));
                return scratch;
            },
            _ => { });
        return new DeliveryPool(template, key, deliveryIds, signatures, firstId);
    }

    /// <summary>The next delivery; <paramref name="scratch"/> is a buffer from <see cref="PayloadTemplate.NewBuffer"/>.</summary>
    public SignedDelivery Next(byte[] scratch)
    {
        var i = Interlocked.Increment(ref next);
        if (i < deliveryIds.Length)
        {
            return new SignedDelivery(firstId + i, deliveryIds[i].ToString(), PayloadTemplate.SignatureHeader(signatures.AsSpan((int)i * 32, 32)));
        }

        Interlocked.Increment(ref signedInline);
        Span<byte> signature = stackalloc byte[32];
        template.Sign(firstId + i, key, scratch, signature);
        return new SignedDelivery(firstId + i, Guid.NewGuid().ToString(), PayloadTemplate.SignatureHeader(signature));
    }
}
