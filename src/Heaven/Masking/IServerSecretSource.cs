namespace Heaven.Masking;

/// <summary>
/// Secrets a component holds outside the configuration (a generated webhook secret, for example),
/// which the server's masker must know too.
/// </summary>
internal interface IServerSecretSource
{
    IEnumerable<string> Secrets { get; }
}
