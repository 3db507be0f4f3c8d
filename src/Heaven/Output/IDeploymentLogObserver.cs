namespace Heaven.Output;

/// <summary>
/// Receives a deployment's masked output a chunk at a time, in order, as <see cref="DeploymentLog"/>
/// forms chunks (before they are stored, so a database hiccup does not hold them up). Called from one
/// task at a time; must return quickly and must not throw.
/// </summary>
public interface IDeploymentLogObserver
{
    /// <param name="content">Lines in <see cref="DeploymentLogChunk.Content"/>'s form: a stream character ('o', 'e', 'h'), the masked text, '\n'.</param>
    /// <param name="lineCount">How many lines <paramref name="content"/> holds.</param>
    void OnChunk(string content, int lineCount);
}
