using Heaven.Model;

namespace Heaven.Notifications;

/// <summary>
/// The one way a chat message leaves Heaven: every notifier is registered behind this, so the message
/// a service renders has every text masked with the server's masker, whichever service it is.
/// </summary>
internal sealed class MaskingNotifier(INotifier inner, ISecretMasker masker) : INotifier
{
    public string Name => inner.Name;

    public bool IsConfigured => inner.IsConfigured;

    public Task SendAsync(DeploymentNotification message, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(message);
        return inner.SendAsync(message.Masked(masker), cancellationToken);
    }
}
