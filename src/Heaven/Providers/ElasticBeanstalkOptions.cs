using System.Text.RegularExpressions;
using Heaven.Configuration;

namespace Heaven.Providers;

/// <summary>The <c>elastic_beanstalk</c> provider's settings. Section <c>Providers:ElasticBeanstalk</c>.</summary>
/// <remarks>
/// None of them is required to start: only a deployment that uses the provider needs the bucket and
/// the credentials, and it names the missing setting in its status.
/// </remarks>
public sealed partial class ElasticBeanstalkOptions : ISelfValidatingOptions
{
    public const string Section = "Providers:ElasticBeanstalk";

    /// <summary>Where source bundles are uploaded (the original's BEANSTALK_S3_BUCKET).</summary>
    public string? S3Bucket { get; set; }

    /// <summary>The AWS access key id (BEANSTALK_ACCESS_KEY_ID); reaches the AWS CLI through its environment only.</summary>
    public string? AccessKeyId { get; set; }

    /// <summary>The AWS secret access key (BEANSTALK_SECRET_ACCESS_KEY); reaches the AWS CLI through its environment only, masked in the log.</summary>
    public string? SecretAccessKey { get; set; }

    /// <summary>The region when the payload names none (the original's default).</summary>
    public string Region { get; set; } = "us-east-1";

    /// <summary>The AWS CLI to run: a name looked up on the deploy's PATH, or a path.</summary>
    public string AwsCli { get; set; } = "aws";

    /// <summary>An S3 endpoint other than AWS's (an S3-compatible store, a test server): the CLI's <c>--endpoint-url</c> for the upload.</summary>
    public string? S3Endpoint { get; set; }

    /// <summary>An Elastic Beanstalk endpoint other than AWS's (a VPC endpoint, a test server): <c>--endpoint-url</c> for the Beanstalk calls.</summary>
    public string? EndpointUrl { get; set; }

    /// <summary>How often the environment's status (and its events) are asked for while it updates.</summary>
    public TimeSpan PollInterval { get; set; } = TimeSpan.FromSeconds(10);

    /// <summary>AWS region names: us-east-1, eu-central-1, us-gov-west-1, ...</summary>
    [GeneratedRegex("^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$")]
    internal static partial Regex RegionPattern();

    /// <summary>S3's rules for bucket names (lower case, digits, dots and dashes, 3 to 63 characters).</summary>
    [GeneratedRegex("^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")]
    private static partial Regex BucketPattern();

    public IEnumerable<string> Validate()
    {
        if (!string.IsNullOrEmpty(S3Bucket) && !BucketPattern().IsMatch(S3Bucket))
        {
            yield return $"{Setting.Name(Section + ":S3Bucket")} must be an S3 bucket name (3 to 63 lower-case letters, digits, dots and dashes); got '{S3Bucket}'.";
        }

        if (!RegionPattern().IsMatch(Region ?? ""))
        {
            yield return $"{Section}:Region must be an AWS region name such as us-east-1; got '{Region}'.";
        }

        if (string.IsNullOrWhiteSpace(AwsCli))
        {
            yield return $"{Section}:AwsCli must name the AWS CLI program (default 'aws').";
        }

        foreach (var (name, value) in new[] { ("S3Endpoint", S3Endpoint), ("EndpointUrl", EndpointUrl) })
        {
            if (!string.IsNullOrEmpty(value) && !Setting.IsAbsoluteHttpUrl(value))
            {
                yield return $"{Section}:{name} must be an absolute http(s) URL; got '{value}'.";
            }
        }

        if (PollInterval < TimeSpan.FromMilliseconds(50) || PollInterval > TimeSpan.FromMinutes(5))
        {
            yield return $"{Section}:PollInterval must be a duration from 00:00:00.050 to 00:05:00; got '{PollInterval}'.";
        }
    }
}
