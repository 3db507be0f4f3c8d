using Heaven.Configuration;
using Heaven.Masking;
using Heaven.Providers;
using Heaven.Tests.Infrastructure;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Heaven.Tests.Providers;

/// <summary>The HTTP-API providers' settings: the original's variables, defaults, and clear words when one is wrong.</summary>
public sealed class ProviderSettingsTests
{
    [Fact]
    public async Task TheOriginalsVariables_FeedTheProviderSettings()
    {
        await using var host = await HeavenTestHost.StartAsync(legacyEnvironment: new Dictionary<string, string?>
        {
            ["HEROKU_API_KEY"] = "HRKU-legacy-0123456789",
            ["BEANSTALK_S3_BUCKET"] = "legacy-builds",
            ["BEANSTALK_ACCESS_KEY_ID"] = "AKIALEGACY0000000001",
            ["BEANSTALK_SECRET_ACCESS_KEY"] = "legacySecretAccessKey0123456789",
        });

        host.Services.GetRequiredService<IOptions<HerokuOptions>>().Value.ApiKey.ShouldBe("HRKU-legacy-0123456789");
        var beanstalk = host.Services.GetRequiredService<IOptions<ElasticBeanstalkOptions>>().Value;
        (beanstalk.S3Bucket, beanstalk.AccessKeyId, beanstalk.SecretAccessKey).ShouldBe(("legacy-builds", "AKIALEGACY0000000001", "legacySecretAccessKey0123456789"));
        host.Services.GetServices<IDeployProvider>().Select(p => p.Name).Order().ShouldBe(["ansible", "bundler_capistrano", "capistrano", "command", "dpl", "elastic_beanstalk", "fabric", "heroku", "shell"], ignoreOrder: true);
    }

    [Fact]
    public void TheDefaults_AreTheDocumentedOnes()
    {
        new HerokuOptions().ApiUrl.ShouldBe("https://api.heroku.com");
        new HerokuOptions().PollInterval.ShouldBe(TimeSpan.FromSeconds(5));
        new ElasticBeanstalkOptions().Region.ShouldBe("us-east-1");
        new ElasticBeanstalkOptions().AwsCli.ShouldBe("aws");
        new ElasticBeanstalkOptions().PollInterval.ShouldBe(TimeSpan.FromSeconds(10));
        new DplOptions().Command.ShouldBe("dpl");
    }

    [Theory]
    [InlineData("Providers:Heroku:ApiUrl", "api.heroku.com", "Providers:Heroku:ApiUrl must be an absolute http(s) URL such as https://api.heroku.com; got 'api.heroku.com'.")]
    [InlineData("Providers:Heroku:PollInterval", "00:00:00", "Providers:Heroku:PollInterval must be a duration from 00:00:00.050 to 00:05:00")]
    [InlineData("Providers:ElasticBeanstalk:S3Bucket", "Not_A_Bucket", "Providers:ElasticBeanstalk:S3Bucket (or BEANSTALK_S3_BUCKET) must be an S3 bucket name")]
    [InlineData("Providers:ElasticBeanstalk:Region", "moon-1", "Providers:ElasticBeanstalk:Region must be an AWS region name such as us-east-1; got 'moon-1'.")]
    [InlineData("Providers:ElasticBeanstalk:EndpointUrl", "localhost:4566", "Providers:ElasticBeanstalk:EndpointUrl must be an absolute http(s) URL; got 'localhost:4566'.")]
    [InlineData("Providers:Dpl:Secrets:heroku:PATH", "/tmp/evil", "Providers:Dpl:Secrets:heroku:PATH: PATH is one of the deploy's own variables and cannot be set here.")]
    [InlineData("Providers:Dpl:Secrets:heroku:HEAVEN_SHA", "0000", "HEAVEN_SHA is one of the deploy's own variables")]
    [InlineData("Providers:Dpl:Secrets:heroku:API-KEY", "s3cr3t-value-never-shown", "Providers:Dpl:Secrets:heroku:API-KEY: 'API-KEY' is not an environment variable name")]
    [InlineData("Providers:Dpl:Secrets:Her oku:API_KEY", "s3cr3t-value-never-shown", "Providers:Dpl:Secrets:Her oku must be named after a dpl provider")]
    public async Task AWrongProviderSetting_StopsTheStart_NamingIt_WithoutEchoingSecrets(string key, string value, string message)
    {
        var error = await Should.ThrowAsync<StartupException>(() => HeavenTestHost.StartAsync(new Dictionary<string, string?> { [key] = value }));

        error.Message.ShouldContain(message);
        error.Message.ShouldNotContain("s3cr3t-value-never-shown");
    }

    [Fact]
    public void EverySecretForDpl_IsMaskedEverywhere_WhateverItsName()
    {
        var configuration = new ConfigurationBuilder().AddInMemoryCollection(new Dictionary<string, string?>
        {
            ["Providers:Dpl:Secrets:surge:SURGE_LOGIN"] = "robot-login-value",
            ["Providers:Dpl:Secrets:heroku:HEROKU_API_KEY"] = "HRKU-masked-0123456789",
        }).Build();

        var masker = SecretMasker.ForServer(configuration);

        masker.Mask("login robot-login-value key HRKU-masked-0123456789").ShouldBe("login *** key ***");
    }
}
