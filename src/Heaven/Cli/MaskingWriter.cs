using System.Text;
using Heaven.Model;

namespace Heaven.Cli;

/// <summary>Placeholder: passes text on unchanged.</summary>
internal sealed class MaskingWriter(TextWriter inner) : TextWriter
{
    public override Encoding Encoding => inner.Encoding;

    public void MaskWith(ISecretMasker masker) => ArgumentNullException.ThrowIfNull(masker);

    public override void Write(char value) => inner.Write(value);
}
