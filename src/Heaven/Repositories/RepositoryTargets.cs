namespace Heaven.Repositories;

/// <summary>
/// What one repository may deploy to with the server's credentials, and which of those credentials it
/// may have (<c>Repositories:&lt;owner/name&gt;:HerokuApps</c>, <c>ElasticBeanstalk</c>, <c>Dpl</c>,
/// <c>BundlerPrivateSource</c>). A null list is not configured: the payload chooses, unless the
/// server requires lists (<c>Providers:RequireTargetLists</c>). Names are compared exactly as written.
/// </summary>
public sealed record RepositoryTargets
{
    public static readonly RepositoryTargets None = new();

    /// <summary>The Heroku apps the <c>heroku</c> provider may build (<c>HerokuApps</c>).</summary>
    public IReadOnlyList<string>? HerokuApps { get; init; }

    /// <summary>The Elastic Beanstalk applications (<c>ElasticBeanstalk:Applications</c>).</summary>
    public IReadOnlyList<string>? BeanstalkApplications { get; init; }

    /// <summary>The Elastic Beanstalk environments (<c>ElasticBeanstalk:Environments</c>); null: any environment of an allowed application.</summary>
    public IReadOnlyList<string>? BeanstalkEnvironments { get; init; }

    /// <summary>The dpl providers (<c>Dpl:Providers</c>).</summary>
    public IReadOnlyList<string>? DplProviders { get; init; }

    /// <summary>Per dpl provider, the values its target option may take (<c>Dpl:Targets:&lt;provider&gt;</c>).</summary>
    public IReadOnlyDictionary<string, IReadOnlyList<string>> DplTargets { get; init; } = new Dictionary<string, IReadOnlyList<string>>();

    /// <summary>dpl's own <c>script</c> provider, which runs any command (<c>Dpl:AllowScript</c>); off unless set.</summary>
    public bool DplAllowScript { get; init; }

    /// <summary>Gems installed while dpl runs (<c>Dpl:AllowGemInstall</c>); off unless set.</summary>
    public bool DplAllowGemInstall { get; init; }

    /// <summary>May the <c>bundler_capistrano</c> provider hand this repository the private gem source's credentials (<c>BundlerPrivateSource</c>); null: not said.</summary>
    public bool? BundlerPrivateSource { get; init; }
}
