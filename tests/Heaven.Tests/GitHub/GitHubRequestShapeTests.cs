using System.Text.Json;
using System.Text.RegularExpressions;
using Heaven.GitHub;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace Heaven.Tests.GitHub;

/// <summary>
/// Every kind of request Heaven sends to GitHub, made by the real code against the fake GitHub and
/// checked against GitHub's published REST description (github/rest-api-description,
/// <c>descriptions/api.github.com/api.github.com.2022-11-28.json</c>: GitHub's default API version, which
/// Heaven's own requests name in X-GitHub-Api-Version and Octokit's get by leaving it out):
/// method and path, the query parameters the operation has, <c>application/json</c> for a body and no
/// body on a GET, the body's properties, their types and enums, and nothing the description does not
/// have; the REST media type in Accept, and the token in the Authorization header only.
/// </summary>
public sealed class GitHubRequestShapeTests : IAsyncLifetime
{
    private const string Token = "ghp_shapetoken0123456789abcdefABCDEF0123";
    private const string Repository = "atmos/my-robot";
    private const string Sha = "3c9f42c76ce057eaabc3762e3ec46dd830976963";

    /// <summary>What a deploy log can hold: quotes, backslashes, ANSI colours (control characters), tabs, non-ASCII.</summary>
    private const string LogText = "deploying \"my-robot\" to C:\\apps\n\u001b[32m✓ done\u001b[0m\tin 3 s — ok\r\n\u0007";

    // The operations, as the description has them. Path parameters marked * take several segments
    // (x-multi-segment in the description); every other one is a single segment.

    /// <summary>POST /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/create-deployment-status).</summary>
    private static readonly Operation CreateDeploymentStatus = new(
        "repos/create-deployment-status", "POST", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        Query: [],
        Body: Shape.Object(
            required: ["state"],
            ("state", Shape.Enum("error", "failure", "inactive", "in_progress", "queued", "pending", "success")),
            ("target_url", Shape.String),
            ("log_url", Shape.String),
            ("description", Shape.String),
            ("environment", Shape.String),
            ("environment_url", Shape.String),
            ("auto_inactive", Shape.Boolean)));

    /// <summary>POST /gists (gists/create).</summary>
    private static readonly Operation CreateGist = new(
        "gists/create", "POST", "/gists",
        Query: [],
        Body: Shape.Object(
            required: ["files"],
            ("description", Shape.String),
            ("files", Shape.Map(Shape.Object(required: ["content"], ("content", Shape.String)))),
            ("public", Shape.OneOf(Shape.Boolean, Shape.Enum("true", "false")))));

    /// <summary>PATCH /gists/{gist_id} (gists/update): "At least one of description or files is required"; a file set to null is deleted.</summary>
    private static readonly Operation UpdateGist = new(
        "gists/update", "PATCH", "/gists/{gist_id}",
        Query: [],
        Body: Shape.Object(
            required: [],
            ("description", Shape.String),
            ("files", Shape.Map(Shape.Nullable(Shape.Object(required: [], ("content", Shape.String), ("filename", Shape.Nullable(Shape.String))))))) with
        {
            AtLeastOneOf = ["description", "files"],
        });

    /// <summary>POST /repos/{owner}/{repo}/deployments (repos/create-deployment).</summary>
    private static readonly Operation CreateDeployment = new(
        "repos/create-deployment", "POST", "/repos/{owner}/{repo}/deployments",
        Query: [],
        Body: Shape.Object(
            required: ["ref"],
            ("ref", Shape.String),
            ("task", Shape.String),
            ("auto_merge", Shape.Boolean),
            ("required_contexts", Shape.Array(Shape.String)),
            ("payload", Shape.OneOf(Shape.AnyObject, Shape.String)),
            ("environment", Shape.String),
            ("description", Shape.Nullable(Shape.String)),
            ("transient_environment", Shape.Boolean),
            ("production_environment", Shape.Boolean)));

    /// <summary>GET /repos/{owner}/{repo}/deployments (repos/list-deployments).</summary>
    private static readonly Operation ListDeployments = new(
        "repos/list-deployments", "GET", "/repos/{owner}/{repo}/deployments",
        Query: [("sha", QueryValue.Text), ("ref", QueryValue.Text), ("task", QueryValue.Text), ("environment", QueryValue.Text), ("per_page", QueryValue.PerPage), ("page", QueryValue.Page)],
        Body: null);

    /// <summary>GET /repos/{owner}/{repo}/deployments/{deployment_id}/statuses (repos/list-deployment-statuses).</summary>
    private static readonly Operation ListDeploymentStatuses = new(
        "repos/list-deployment-statuses", "GET", "/repos/{owner}/{repo}/deployments/{deployment_id}/statuses",
        Query: [("per_page", QueryValue.PerPage), ("page", QueryValue.Page)],
        Body: null);

    /// <summary>GET /repos/{owner}/{repo}/compare/{basehead} (repos/compare-commits).</summary>
    private static readonly Operation CompareCommits = new(
        "repos/compare-commits", "GET", "/repos/{owner}/{repo}/compare/{basehead*}",
        Query: [("page", QueryValue.Page), ("per_page", QueryValue.PerPage)],
        Body: null);

    /// <summary>GET /repos/{owner}/{repo}/commits/{ref}/status (repos/get-combined-status-for-ref).</summary>
    private static readonly Operation CombinedStatus = new(
        "repos/get-combined-status-for-ref", "GET", "/repos/{owner}/{repo}/commits/{ref*}/status",
        Query: [("per_page", QueryValue.PerPage), ("page", QueryValue.Page)],
        Body: null);

    /// <summary>GET /repos/{owner}/{repo}/commits/{ref}/check-runs (checks/list-for-ref).</summary>
    private static readonly Operation CheckRuns = new(
        "checks/list-for-ref", "GET", "/repos/{owner}/{repo}/commits/{ref*}/check-runs",
        Query: [("check_name", QueryValue.Text), ("status", QueryValue.OneOf("queued", "in_progress", "completed")), ("filter", QueryValue.OneOf("latest", "all")), ("per_page", QueryValue.PerPage), ("page", QueryValue.Page), ("app_id", QueryValue.Integer)],
        Body: null);

    /// <summary>GET /repos/{owner}/{repo}/tarball/{ref} (repos/download-tarball-archive): answered with a 302.</summary>
    private static readonly Operation DownloadTarball = new(
        "repos/download-tarball-archive", "GET", "/repos/{owner}/{repo}/tarball/{ref*}",
        Query: [],
        Body: null);

    /// <summary>GET /meta (meta/get): the webhook source ranges.</summary>
    private static readonly Operation Meta = new(
        "meta/get", "GET", "/meta",
        Query: [],
        Body: null);

    private static readonly Operation[] Operations =
    [
        CreateDeploymentStatus, CreateGist, UpdateGist, CreateDeployment, ListDeployments, ListDeploymentStatuses,
        CompareCommits, CombinedStatus, CheckRuns, DownloadTarball, Meta,
    ];

    private readonly FakeTimeProvider time = new(DateTimeOffset.FromUnixTimeSeconds(1_900_000_000));
    private FakeGitHub fake = null!;

    public static TheoryData<string> Kinds => new(Operations.Select(o => o.Id));

    public async Task InitializeAsync() => fake = await FakeGitHub.StartAsync();

    public async Task DisposeAsync() => await fake.DisposeAsync();

    [Theory]
    [MemberData(nameof(Kinds))]
    public async Task EachKindOfRequest_IsWhatGitHubsDescriptionSays(string kind)
    {
        var operation = Operations.Single(o => o.Id == kind);

        await SendAsync(operation);

        var sent = fake.Requests;
        sent.ShouldContain(r => operation.Matches(r), $"no {operation} request was sent");
        var problems = sent.SelectMany(Problems).ToList();
        problems.ShouldBeEmpty(string.Join("\n", problems));
    }

    [Fact]
    public void TheShapes_CatchWhatTheyAreThereToCatch()
    {
        // The checks themselves, on bodies the description does not allow.
        Shape.Check(CreateDeploymentStatus.Body!, """{"state":"done"}""").ShouldHaveSingleItem().ShouldContain("not one of");
        Shape.Check(CreateDeploymentStatus.Body!, """{"description":"x"}""").ShouldHaveSingleItem().ShouldContain("state is required");
        Shape.Check(CreateDeploymentStatus.Body!, """{"state":"success","log":"x"}""").ShouldHaveSingleItem().ShouldContain("log is not in the description");
        Shape.Check(CreateDeploymentStatus.Body!, """{"state":"success","auto_inactive":"true"}""").ShouldHaveSingleItem().ShouldContain("boolean");
        Shape.Check(UpdateGist.Body!, """{}""").ShouldHaveSingleItem().ShouldContain("at least one of");
        Shape.Check(UpdateGist.Body!, """{"files":{"a.log":{"content":1}}}""").ShouldHaveSingleItem().ShouldContain("files.a.log.content");
        Shape.Check(CreateGist.Body!, """{"files":{"a.log":null}}""").ShouldHaveSingleItem().ShouldContain("files.a.log");
        Shape.Check(CreateDeployment.Body!, """{"ref":"main","payload":[1]}""").ShouldHaveSingleItem().ShouldContain("payload");
        Shape.Check(CreateGist.Body!, "files=%7B%7D").ShouldHaveSingleItem().ShouldContain("not JSON");
    }

    /// <summary>Makes Heaven send at least one request of the kind (and whatever it needs first).</summary>
    private async Task SendAsync(Operation operation)
    {
        var gitHub = Adapter();
        var none = CancellationToken.None;
        switch (operation.Id)
        {
            case "repos/create-deployment-status":
                var states = Enum.GetValues<GitHubDeploymentState>();
                for (var i = 0; i < states.Length; i++)
                {
                    // Every state, with every optional field and without.
                    var full = i % 2 == 0;
                    await gitHub.CreateDeploymentStatusAsync(Repository, 1875476, new DeploymentStatusRequest(
                        states[i],
                        "Deploying my-robot " + new string('x', full ? 200 : 1),
                        full ? "http://heaven.test/deployments/7" : null,
                        full ? "https://my-robot.example.com" : null,
                        full ? "production" : null), none);
                }

                break;

            case "gists/create":
                await gitHub.CreateGistAsync("Heaven deployment 7 of atmos/my-robot", new Dictionary<string, string> { ["deploy.log"] = LogText, ["Summary.md"] = "# ok" }, none);
                break;

            case "gists/update":
                var gist = await gitHub.CreateGistAsync("Heaven deployment 7 of atmos/my-robot", new Dictionary<string, string> { ["deploy.log"] = "line 1\n", ["old.log"] = "x" }, none);
                // A log cut inside a surrogate pair still makes JSON: the half character arrives as U+FFFD.
                await gitHub.UpdateGistAsync(gist.Id, new Dictionary<string, string?> { ["deploy.log"] = LogText, ["old.log"] = null, ["cut.log"] = "rocket \ud83d" }, none);
                fake.Gist(gist.Id).Files.ShouldBe(new Dictionary<string, string> { ["deploy.log"] = LogText, ["cut.log"] = "rocket \ufffd" }, ignoreOrder: true);
                break;

            case "repos/create-deployment":
                await gitHub.CreateDeploymentAsync(Repository, new NewDeploymentRequest("main", "deploy", "production", """{"name":"my-robot","notify":{"room":"ops"}}""", "Heaven auto deploy", false, ["ci/test"]), none);
                await gitHub.CreateDeploymentAsync(Repository, new NewDeploymentRequest(Sha, "deploy:migrations", "staging", "{}", "Heaven auto deploy", true, null), none);
                break;

            case "repos/list-deployments":
                fake.AddDeployment(Repository, Sha, "production", null, "main", "success");
                await gitHub.ListDeploymentsAsync(Repository, "production", Sha, 5, none);
                await gitHub.ListDeploymentsAsync(Repository, null, null, 500, none);
                break;

            case "repos/list-deployment-statuses":
                var id = fake.AddDeployment(Repository, Sha, "production", null, "main", "pending", "success");
                await gitHub.ListDeploymentStatusesAsync(Repository, id, none);
                break;

            case "repos/compare-commits":
                await gitHub.CompareAsync(Repository, "aaa1111", "feature/new-arm", none);
                break;

            case "repos/get-combined-status-for-ref":
                await gitHub.GetCombinedStatusAsync(Repository, "release/1.0", none);
                break;

            case "checks/list-for-ref":
                fake.SetCheckRuns(Repository, Sha, Enumerable.Range(0, 150).Select(i => new FakeCheckRun($"check {i}")).ToArray());
                await gitHub.ListCheckRunsAsync(Repository, Sha, none);
                break;

            case "repos/download-tarball-archive":
                fake.SetTarball(Repository, Sha, [1, 2, 3]);
                await gitHub.GetTarballLinkAsync(Repository, Sha, none);
                break;

            case "meta/get":
                // Read by the webhook intake when it checks where a delivery comes from.
                fake.ServeMetaHooks("127.0.0.0/8");
                await using (var host = await HeavenTestHost.StartAsync(new Dictionary<string, string?>
                {
                    ["GitHub:ApiUrl"] = fake.ApiUrl,
                    ["GitHub:Token"] = Token,
                    ["Webhooks:VerifySourceAddress"] = "true",
                }))
                {
                    (await host.SendWebhookAsync("ping", Fixtures.Read("ping.json"))).IsSuccessStatusCode.ShouldBeTrue();
                }

                break;

            default:
                throw new InvalidOperationException($"Nothing sends {operation}.");
        }
    }

    /// <summary>Everything wrong with one request, each naming the request.</summary>
    private static IEnumerable<string> Problems(RecordedRequest request)
    {
        var name = $"{request.Method} {request.RawPath}{request.Query}";
        var matching = Operations.Where(o => o.Matches(request)).ToList();
        if (matching.Count != 1)
        {
            yield return $"{name}: matches {matching.Count} operations of the description's that Heaven uses";
            yield break;
        }

        var operation = matching[0];

        // Octokit sends anything that is not github.com to <host>/api/v3/ (GitHub Enterprise's layout).
        if (request.RawPath != "/api/v3" + request.Path)
        {
            yield return $"{name}: not under /api/v3";
        }

        foreach (var problem in operation.QueryProblems(request.Query))
        {
            yield return $"{name}: {problem}";
        }

        if (request.Header("Accept") != "application/vnd.github+json")
        {
            yield return $"{name}: Accept is '{request.Header("Accept")}', not GitHub's REST media type application/vnd.github+json";
        }

        if (string.IsNullOrWhiteSpace(request.Header("User-Agent")))
        {
            yield return $"{name}: no User-Agent (GitHub refuses requests without one)";
        }

        if (request.Header("X-GitHub-Api-Version") is { } version && version != "2022-11-28")
        {
            yield return $"{name}: X-GitHub-Api-Version {version}, not the 2022-11-28 the description is of";
        }

        var authorization = request.Header("Authorization");
        if (authorization is null || !Regex.IsMatch(authorization, $"^(?i:token|bearer) {Regex.Escape(Token)}$"))
        {
            yield return $"{name}: Authorization is not the token ('{authorization}')";
        }

        if (request.RawPath.Contains(Token, StringComparison.Ordinal) || request.Query.Contains(Token, StringComparison.Ordinal) || request.Body.Contains(Token, StringComparison.Ordinal))
        {
            yield return $"{name}: the token is in the URL or the body";
        }

        foreach (var (header, value) in request.Headers)
        {
            if (!header.Equals("Authorization", StringComparison.OrdinalIgnoreCase) && value.Contains(Token, StringComparison.Ordinal))
            {
                yield return $"{name}: the token is in the {header} header";
            }
        }

        var contentType = request.Header("Content-Type");
        if (operation.Body is null)
        {
            if (request.Body.Length > 0 || contentType is not null || request.Header("Content-Length") is not (null or "0") || request.Header("Transfer-Encoding") is not null)
            {
                yield return $"{name}: a {operation.Method} has no body, but this one has ({contentType}, {request.Body.Length} characters)";
            }

            yield break;
        }

        if (contentType is null || !Regex.IsMatch(contentType, "^application/json(; *charset=utf-8)?$", RegexOptions.IgnoreCase))
        {
            yield return $"{name}: Content-Type is '{contentType}', not application/json";
        }

        foreach (var problem in Shape.Check(operation.Body, request.Body))
        {
            yield return $"{name}: {problem}";
        }
    }

    private OctokitGitHub Adapter() => new(
        Options.Create(new GitHubOptions { Token = Token, ApiUrl = fake.ApiUrl, RequestTimeout = TimeSpan.FromSeconds(10) }),
        time);

    /// <summary>One operation of the description: method, path template, its query parameters and its JSON body (null: none).</summary>
    private sealed record Operation(string Id, string Method, string Path, (string Name, QueryValue Value)[] Query, Shape? Body)
    {
        private Regex Pattern { get; } = new("^" + string.Concat(Regex.Split(Path, @"(\{[a-z_]+\*?\})").Select(part =>
            !part.StartsWith('{') ? Regex.Escape(part) : part.EndsWith("*}", StringComparison.Ordinal) ? ".+" : "[^/]+")) + "$");

        public bool Matches(RecordedRequest request) =>
            string.Equals(request.Method, Method, StringComparison.OrdinalIgnoreCase) && Pattern.IsMatch(request.Path);

        public IEnumerable<string> QueryProblems(string query)
        {
            foreach (var pair in query.TrimStart('?').Split('&', StringSplitOptions.RemoveEmptyEntries))
            {
                var (key, value) = pair.IndexOf('=', StringComparison.Ordinal) is var at and >= 0
                    ? (Uri.UnescapeDataString(pair[..at]), Uri.UnescapeDataString(pair[(at + 1)..]))
                    : (Uri.UnescapeDataString(pair), "");
                var known = Query.Where(q => q.Name == key).Select(q => q.Value).FirstOrDefault();
                if (known is null)
                {
                    yield return $"query parameter {key} is not in the description";
                }
                else if (!known.Allows(value))
                {
                    yield return $"query parameter {key}={value} is not {known}";
                }
            }
        }

        public override string ToString() => $"{Method} {Path} ({Id})";
    }

    private sealed record QueryValue(string Description, Func<string, bool> Allows)
    {
        public static readonly QueryValue Text = new("a string", _ => true);

        public static readonly QueryValue Integer = new("an integer", v => long.TryParse(v, out _));

        public static readonly QueryValue PerPage = new("an integer from 1 to 100", v => int.TryParse(v, out var n) && n is >= 1 and <= 100);

        public static readonly QueryValue Page = new("an integer of at least 1", v => int.TryParse(v, out var n) && n >= 1);

        public static QueryValue OneOf(params string[] values) => new($"one of {string.Join(", ", values)}", values.Contains);

        public override string ToString() => Description;
    }

    /// <summary>The little of JSON Schema the request bodies need; objects allow only the properties they list.</summary>
    private abstract record Shape
    {
        public static readonly Shape String = new Simple("a string", JsonValueKind.String);

        public static readonly Shape Boolean = new Simple("a boolean", JsonValueKind.True, JsonValueKind.False);

        /// <summary>An object with any properties (additionalProperties: true).</summary>
        public static readonly Shape AnyObject = new Simple("an object", JsonValueKind.Object);

        public static Shape Enum(params string[] values) => new EnumOf(values);

        public static Shape Nullable(Shape shape) => new NullOr(shape);

        public static Shape Array(Shape items) => new ArrayOf(items);

        /// <summary>An object whose every property is a <paramref name="value"/> (additionalProperties).</summary>
        public static Shape Map(Shape value) => new MapOf(value);

        public static Shape OneOf(params Shape[] shapes) => new ExactlyOne(shapes);

        public static ObjectOf Object(string[] required, params (string Name, Shape Shape)[] properties) => new(required, properties);

        /// <summary>What is wrong with <paramref name="body"/>: not JSON at all, or not of the shape.</summary>
        public static IReadOnlyList<string> Check(Shape shape, string body)
        {
            JsonElement root;
            try
            {
                // Strict JSON (RFC 8259): raw control characters in strings, trailing commas, comments are refused.
                using var document = JsonDocument.Parse(body);
                root = document.RootElement.Clone();
            }
            catch (JsonException e)
            {
                return [$"the body is not JSON ({e.Message}): {(body.Length > 200 ? body[..200] + "…" : body)}"];
            }

            return shape.Problems(root, "body").ToList();
        }

        public abstract IEnumerable<string> Problems(JsonElement value, string at);

        protected static string Kind(JsonElement value) => value.ValueKind.ToString().ToLowerInvariant();

        private sealed record Simple(string Description, params JsonValueKind[] Kinds) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at)
            {
                if (!Kinds.Contains(value.ValueKind))
                {
                    yield return $"{at} is {Kind(value)}, not {Description}";
                }
            }

            public override string ToString() => Description;
        }

        private sealed record EnumOf(string[] Values) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at)
            {
                if (value.ValueKind != JsonValueKind.String || !Values.Contains(value.GetString()))
                {
                    yield return $"{at} is {value.GetRawText()}, not one of {string.Join(", ", Values)}";
                }
            }

            public override string ToString() => $"one of {string.Join(", ", Values)}";
        }

        private sealed record NullOr(Shape Shape) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at) =>
                value.ValueKind == JsonValueKind.Null ? [] : Shape.Problems(value, at);

            public override string ToString() => $"{Shape} or null";
        }

        private sealed record ArrayOf(Shape Items) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at) =>
                value.ValueKind != JsonValueKind.Array
                    ? [$"{at} is {Kind(value)}, not an array"]
                    : value.EnumerateArray().SelectMany((item, i) => Items.Problems(item, $"{at}[{i}]"));

            public override string ToString() => $"an array of {Items}";
        }

        private sealed record MapOf(Shape Value) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at) =>
                value.ValueKind != JsonValueKind.Object
                    ? [$"{at} is {Kind(value)}, not an object"]
                    : value.EnumerateObject().SelectMany(p => Value.Problems(p.Value, $"{at}.{p.Name}"));

            public override string ToString() => $"an object of {Value}";
        }

        private sealed record ExactlyOne(Shape[] Shapes) : Shape
        {
            public override IEnumerable<string> Problems(JsonElement value, string at)
            {
                if (Shapes.Count(s => !s.Problems(value, at).Any()) != 1)
                {
                    yield return $"{at} is {Kind(value)}, not exactly one of: {string.Join("; ", Shapes.Select(s => s.ToString()))}";
                }
            }

            public override string ToString() => string.Join(" or ", Shapes.Select(s => s.ToString()));
        }

        public sealed record ObjectOf(string[] Required, (string Name, Shape Shape)[] Properties) : Shape
        {
            /// <summary>Names of which the object must have at least one (a rule the description states in words).</summary>
            public string[] AtLeastOneOf { get; init; } = [];

            public override IEnumerable<string> Problems(JsonElement value, string at)
            {
                if (value.ValueKind != JsonValueKind.Object)
                {
                    yield return $"{at} is {Kind(value)}, not an object";
                    yield break;
                }

                foreach (var name in Required.Where(name => !value.TryGetProperty(name, out _)))
                {
                    yield return $"{at}.{name} is required";
                }

                if (AtLeastOneOf.Length > 0 && !AtLeastOneOf.Any(name => value.TryGetProperty(name, out _)))
                {
                    yield return $"{at} needs at least one of {string.Join(", ", AtLeastOneOf)}";
                }

                foreach (var property in value.EnumerateObject())
                {
                    var known = Properties.Where(p => p.Name == property.Name).Select(p => p.Shape).FirstOrDefault();
                    if (known is null)
                    {
                        yield return $"{at}.{property.Name} is not in the description";
                        continue;
                    }

                    foreach (var problem in known.Problems(property.Value, $"{at}.{property.Name}"))
                    {
                        yield return problem;
                    }
                }
            }

            public override string ToString() => $"an object with {string.Join(", ", Properties.Select(p => p.Name))}";
        }
    }
}
