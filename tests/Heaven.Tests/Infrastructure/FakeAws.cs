using System.Globalization;
using System.Security.Cryptography;
using System.Text.RegularExpressions;
using System.Xml.Linq;

namespace Heaven.Tests.Infrastructure;

/// <summary>One request to a fake AWS service: what the AWS CLI sent, and the region and key id its signature names.</summary>
public sealed record AwsRequest(string Method, string Path, IReadOnlyDictionary<string, string> Headers, IReadOnlyDictionary<string, string> Form, byte[] Body, int Status)
{
    public string? Action => Form.GetValueOrDefault("Action");

    /// <summary>The access key id from <c>Authorization: AWS4-HMAC-SHA256 Credential=&lt;id&gt;/&lt;date&gt;/&lt;region&gt;/&lt;service&gt;/aws4_request</c>.</summary>
    public string? AccessKeyId => Scope()?[0];

    public string? Region => Scope()?[2];

    public string? Service => Scope()?[3];

    /// <summary>A request as the fake recorded it, with its form fields when it was form-encoded (the Query API).</summary>
    public static AwsRequest From(RecordedRequest request) =>
        new(request.Method, request.Path, request.Headers, FormOf(request.Header("Content-Type"), request.Bytes), request.Bytes, request.Status);

    internal static IReadOnlyDictionary<string, string> FormOf(string? contentType, byte[] body)
    {
        if (contentType?.StartsWith("application/x-www-form-urlencoded", StringComparison.Ordinal) != true)
        {
            return new Dictionary<string, string>(StringComparer.Ordinal);
        }

        var parsed = System.Web.HttpUtility.ParseQueryString(System.Text.Encoding.UTF8.GetString(body));
        return parsed.AllKeys.Where(k => k is not null).ToDictionary(k => k!, k => parsed[k]!, StringComparer.Ordinal);
    }

    private string[]? Scope()
    {
        var match = Regex.Match(Headers.GetValueOrDefault("Authorization") ?? "", "Credential=([^,]+)");
        return match.Success ? match.Groups[1].Value.Split('/') : null;
    }
}

/// <summary>A real HTTP server on 127.0.0.1 (see <see cref="FakeHttpServer"/>); the base of the fake S3 and the fake Elastic Beanstalk.</summary>
public abstract class FakeAwsService : FakeHttpServer
{
    /// <summary>The value for the CLI's <c>--endpoint-url</c>: an IP address, so S3 requests are path-style.</summary>
    public string Endpoint => Root;

    /// <summary>Every call so far, as the AWS CLI made it; with <paramref name="action"/>, only the Query API calls of that action.</summary>
    public IReadOnlyList<AwsRequest> Calls(string? action = null) =>
        Requests.Select(AwsRequest.From).Where(r => action is null || r.Action == action).ToList();

    /// <summary>Answers one request: status, content type and body.</summary>
    protected abstract (int Status, string ContentType, string Body, IReadOnlyDictionary<string, string> Headers) Answer(AwsRequest request);

    protected override Task<FakeReply> AnswerAsync(FakeRequest request, CancellationToken cancellationToken)
    {
        var aws = new AwsRequest(request.Method, request.Path, request.Headers, AwsRequest.FormOf(request.ContentType, request.Bytes), request.Bytes, 0);
        var (status, contentType, text, headers) = Answer(aws);
        return Task.FromResult(new FakeReply(status, text, headers, contentType));
    }
}

/// <summary>S3, as far as <c>aws s3api put-object</c> to a path-style endpoint needs it: PUT /bucket/key.</summary>
public sealed class FakeS3 : FakeAwsService
{
    private readonly Dictionary<string, byte[]> objects = new(StringComparer.Ordinal);

    private FakeS3()
    {
    }

    public HashSet<string> Buckets { get; } = new(StringComparer.Ordinal) { "heaven-builds" };

    public static async Task<FakeS3> StartAsync()
    {
        var fake = new FakeS3();
        await fake.ListenAsync();
        return fake;
    }

    /// <summary>The object stored at <c>bucket/key</c>, or null.</summary>
    public byte[]? Object(string bucket, string key)
    {
        lock (Gate)
        {
            return objects.GetValueOrDefault($"{bucket}/{key}");
        }
    }

    public IReadOnlyList<string> Keys
    {
        get
        {
            lock (Gate)
            {
                return [.. objects.Keys];
            }
        }
    }

    protected override (int, string, string, IReadOnlyDictionary<string, string>) Answer(AwsRequest request)
    {
        var path = request.Path.TrimStart('/');
        var slash = path.IndexOf('/', StringComparison.Ordinal);
        if (request.Method != "PUT" || slash <= 0)
        {
            return Error(405, "MethodNotAllowed", "The specified method is not allowed against this resource.");
        }

        var bucket = path[..slash];
        var key = path[(slash + 1)..];
        lock (Gate)
        {
            if (!Buckets.Contains(bucket))
            {
                return Error(404, "NoSuchBucket", "The specified bucket does not exist");
            }

            objects[$"{bucket}/{key}"] = request.Body;
        }

        var etag = "\"" + Convert.ToHexString(MD5.HashData(request.Body)).ToLowerInvariant() + "\"";
        return (200, "application/xml", "", new Dictionary<string, string> { ["ETag"] = etag });
    }

    private static (int, string, string, IReadOnlyDictionary<string, string>) Error(int status, string code, string message) =>
        (status, "application/xml", new XDocument(new XElement("Error",
            new XElement("Code", code),
            new XElement("Message", message),
            new XElement("RequestId", Guid.NewGuid().ToString("N")))).ToString(), new Dictionary<string, string>());
}

/// <summary>How one environment update goes on the fake Elastic Beanstalk.</summary>
public sealed class BeanstalkUpdatePlan
{
    /// <summary>How many DescribeEnvironments answers say Updating before the update ends.</summary>
    public int UpdatingPolls { get; init; } = 3;

    /// <summary>Never ends: the environment says Updating for ever.</summary>
    public bool Forever { get; init; }

    public string FinalHealth { get; init; } = "Green";

    /// <summary>The update fails and the environment goes back to the version it had.</summary>
    public bool RollBack { get; init; }

    /// <summary>The ERROR event of a failed update.</summary>
    public string FailureEvent { get; init; } = "Failed to deploy application.";
}

/// <summary>
/// Elastic Beanstalk's Query API (form-encoded POSTs, XML answers) for the calls the provider makes:
/// CreateApplicationVersion (which checks the bundle is in the fake S3, as the real one fetches it),
/// UpdateEnvironment, DescribeEnvironments and DescribeEvents. Updates follow a <see cref="BeanstalkUpdatePlan"/>.
/// </summary>
public sealed class FakeElasticBeanstalk : FakeAwsService
{
    private const string Namespace = "http://elasticbeanstalk.amazonaws.com/docs/2010-12-01/";
    private static readonly XNamespace Ns = Namespace;

    private readonly FakeS3 s3;
    private readonly Dictionary<string, Dictionary<string, (string Bucket, string Key)>> applications = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Environment> environments = new(StringComparer.Ordinal);
    private readonly List<(DateTimeOffset At, string Environment, string Severity, string Message)> events = [];

    private FakeElasticBeanstalk(FakeS3 s3) => this.s3 = s3;

    /// <summary>The plan for the next updates (the default plan otherwise).</summary>
    public BeanstalkUpdatePlan Plan { get; set; } = new();

    public static async Task<FakeElasticBeanstalk> StartAsync(FakeS3 s3)
    {
        var fake = new FakeElasticBeanstalk(s3);
        await fake.ListenAsync();
        return fake;
    }

    /// <summary>An application with one environment running version <c>v0</c>, Ready and Green.</summary>
    public void AddEnvironment(string application, string environment)
    {
        lock (Gate)
        {
            if (!applications.TryGetValue(application, out var versions))
            {
                applications[application] = versions = new Dictionary<string, (string, string)>(StringComparer.Ordinal);
            }

            versions["v0"] = ("old", "v0.zip");
            environments[environment] = new Environment(application, environment, $"e-{Guid.NewGuid():N}"[..12]) { Version = "v0" };
        }
    }

    public (string Bucket, string Key)? Version(string application, string label)
    {
        lock (Gate)
        {
            return applications.TryGetValue(application, out var versions) && versions.TryGetValue(label, out var version) ? version : null;
        }
    }

    protected override (int, string, string, IReadOnlyDictionary<string, string>) Answer(AwsRequest request)
    {
        var form = request.Form;
        lock (Gate)
        {
            return request.Action switch
            {
                "CreateApplicationVersion" => CreateApplicationVersion(form),
                "UpdateEnvironment" => UpdateEnvironment(form),
                "DescribeEnvironments" => DescribeEnvironments(form),
                "DescribeEvents" => DescribeEvents(form),
                _ => Error("InvalidAction", $"Could not find operation {request.Action}"),
            };
        }
    }

    private (int, string, string, IReadOnlyDictionary<string, string>) CreateApplicationVersion(IReadOnlyDictionary<string, string> form)
    {
        var application = form.GetValueOrDefault("ApplicationName") ?? "";
        var label = form.GetValueOrDefault("VersionLabel") ?? "";
        var bucket = form.GetValueOrDefault("SourceBundle.S3Bucket") ?? "";
        var key = form.GetValueOrDefault("SourceBundle.S3Key") ?? "";
        if (!applications.TryGetValue(application, out var versions))
        {
            return Error("InvalidParameterValue", $"No Application named '{application}' found.");
        }

        if (versions.ContainsKey(label))
        {
            return Error("InvalidParameterValue", $"Application Version {label} already exists.");
        }

        if (s3.Object(bucket, key) is null)
        {
            return Error("InsufficientPrivilegesException", $"Unable to download from S3 location (Bucket: {bucket}  Key: {key}). Reason: Not Found");
        }

        versions[label] = (bucket, key);
        return Ok("CreateApplicationVersion", new XElement(Ns + "ApplicationVersion",
            new XElement(Ns + "ApplicationName", application),
            new XElement(Ns + "VersionLabel", label),
            new XElement(Ns + "Description", form.GetValueOrDefault("Description") ?? ""),
            new XElement(Ns + "SourceBundle", new XElement(Ns + "S3Bucket", bucket), new XElement(Ns + "S3Key", key)),
            new XElement(Ns + "DateCreated", Timestamp(DateTimeOffset.UtcNow)),
            new XElement(Ns + "DateUpdated", Timestamp(DateTimeOffset.UtcNow)),
            new XElement(Ns + "Status", "UNPROCESSED")));
    }

    private (int, string, string, IReadOnlyDictionary<string, string>) UpdateEnvironment(IReadOnlyDictionary<string, string> form)
    {
        var name = form.GetValueOrDefault("EnvironmentName") ?? "";
        var label = form.GetValueOrDefault("VersionLabel") ?? "";
        if (!environments.TryGetValue(name, out var environment))
        {
            return Error("InvalidParameterValue", $"No Environment found for EnvironmentName = '{name}'.");
        }

        if (!applications[environment.Application].ContainsKey(label))
        {
            return Error("InvalidParameterValue", $"No Application Version named '{label}' found.");
        }

        var now = DateTimeOffset.UtcNow;
        environment.Previous = environment.Version;
        environment.Version = label;
        environment.Status = "Updating";
        environment.Health = "Grey";
        environment.Updated = now;
        environment.Plan = Plan;
        environment.Polls = 0;
        events.Add((now, name, "INFO", "Environment update is starting."));
        return Ok("UpdateEnvironment", EnvironmentXml(environment).Elements());
    }

    private (int, string, string, IReadOnlyDictionary<string, string>) DescribeEnvironments(IReadOnlyDictionary<string, string> form)
    {
        var names = form.Where(f => f.Key.StartsWith("EnvironmentNames.member.", StringComparison.Ordinal)).Select(f => f.Value).ToHashSet(StringComparer.Ordinal);
        var application = form.GetValueOrDefault("ApplicationName");
        var members = new List<XElement>();
        foreach (var environment in environments.Values.Where(e => (names.Count == 0 || names.Contains(e.Name)) && (application is null || e.Application == application)))
        {
            Advance(environment);
            members.Add(EnvironmentXml(environment));
        }

        return Ok("DescribeEnvironments", new XElement(Ns + "Environments", members));
    }

    private (int, string, string, IReadOnlyDictionary<string, string>) DescribeEvents(IReadOnlyDictionary<string, string> form)
    {
        var name = form.GetValueOrDefault("EnvironmentName");
        var since = form.TryGetValue("StartTime", out var start) ? DateTimeOffset.Parse(start, CultureInfo.InvariantCulture) : DateTimeOffset.MinValue;
        var members = events
            .Where(e => (name is null || e.Environment == name) && e.At >= since)
            .OrderByDescending(e => e.At)
            .Select(e => new XElement(Ns + "member",
                new XElement(Ns + "EventDate", Timestamp(e.At)),
                new XElement(Ns + "Message", e.Message),
                new XElement(Ns + "EnvironmentName", e.Environment),
                new XElement(Ns + "Severity", e.Severity)));
        return Ok("DescribeEvents", new XElement(Ns + "Events", members));
    }

    /// <summary>One DescribeEnvironments further along the update's plan.</summary>
    private void Advance(Environment environment)
    {
        if (environment.Status != "Updating" || environment.Plan is not { } plan)
        {
            return;
        }

        environment.Polls++;
        var now = DateTimeOffset.UtcNow;
        if (environment.Polls == 1)
        {
            events.Add((now, environment.Name, "INFO", "Deploying new version to instance(s)."));
        }

        if (plan.Forever || environment.Polls <= plan.UpdatingPolls)
        {
            return;
        }

        environment.Status = "Ready";
        environment.Updated = now;
        if (plan.RollBack)
        {
            environment.Version = environment.Previous;
            environment.Health = "Green";
            events.Add((now, environment.Name, "ERROR", plan.FailureEvent));
            events.Add((now.AddMilliseconds(1), environment.Name, "INFO", "The environment was reverted to the previous version."));
        }
        else if (plan.FinalHealth == "Red")
        {
            environment.Health = "Red";
            events.Add((now, environment.Name, "ERROR", plan.FailureEvent));
        }
        else
        {
            environment.Health = plan.FinalHealth;
            events.Add((now, environment.Name, "INFO", "Environment update completed successfully."));
        }
    }

    private static XElement EnvironmentXml(Environment e) => new(Ns + "member",
        new XElement(Ns + "EnvironmentName", e.Name),
        new XElement(Ns + "EnvironmentId", e.Id),
        new XElement(Ns + "ApplicationName", e.Application),
        new XElement(Ns + "VersionLabel", e.Version),
        new XElement(Ns + "SolutionStackName", "64bit Amazon Linux 2023 v4.3.0 running Ruby 3.3"),
        new XElement(Ns + "EndpointURL", "awseb-e-fake.us-east-1.elb.amazonaws.com"),
        new XElement(Ns + "CNAME", $"{e.Name}.us-east-1.elasticbeanstalk.com"),
        new XElement(Ns + "DateCreated", Timestamp(e.Updated.AddDays(-1))),
        new XElement(Ns + "DateUpdated", Timestamp(e.Updated)),
        new XElement(Ns + "Status", e.Status),
        new XElement(Ns + "AbortableOperationInProgress", e.Status == "Updating" ? "true" : "false"),
        new XElement(Ns + "Health", e.Health));

    private static (int, string, string, IReadOnlyDictionary<string, string>) Ok(string action, params object[] result) =>
        (200, "text/xml", new XDocument(new XElement(Ns + $"{action}Response",
            new XElement(Ns + $"{action}Result", result),
            new XElement(Ns + "ResponseMetadata", new XElement(Ns + "RequestId", Guid.NewGuid().ToString())))).ToString(), new Dictionary<string, string>());

    private static (int, string, string, IReadOnlyDictionary<string, string>) Error(string code, string message) =>
        (400, "text/xml", new XDocument(new XElement(Ns + "ErrorResponse",
            new XElement(Ns + "Error", new XElement(Ns + "Type", "Sender"), new XElement(Ns + "Code", code), new XElement(Ns + "Message", message)),
            new XElement(Ns + "RequestId", Guid.NewGuid().ToString()))).ToString(), new Dictionary<string, string>());

    private static string Timestamp(DateTimeOffset at) => at.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fff'Z'", CultureInfo.InvariantCulture);

    private sealed class Environment(string application, string name, string id)
    {
        public string Application { get; } = application;

        public string Name { get; } = name;

        public string Id { get; } = id;

        public string Version { get; set; } = "v0";

        public string Previous { get; set; } = "v0";

        public string Status { get; set; } = "Ready";

        public string Health { get; set; } = "Green";

        public DateTimeOffset Updated { get; set; } = DateTimeOffset.UtcNow;

        public BeanstalkUpdatePlan? Plan { get; set; }

        public int Polls { get; set; }
    }
}
