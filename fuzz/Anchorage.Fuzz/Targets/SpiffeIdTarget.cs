using System.Text;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// <see cref="SpiffeId"/> and <see cref="TrustDomain"/> parsing. Documented failure: FormatException
/// from Parse/FromPath, false from TryParse. Properties: Parse and TryParse agree, and an accepted
/// ID formats back to the same text.
/// </summary>
internal sealed class SpiffeIdTarget : FuzzTarget
{
    public override string Name => "spiffe-id";

    public override string Expected => "SpiffeId.Parse/TrustDomain.Parse/SpiffeId.FromPath: FormatException; TryParse: false";

    public override void Run(byte[] input)
    {
        var text = Encoding.UTF8.GetString(input);
        var ok = SpiffeId.TryParse(text.AsSpan(), out var tried, out _);
        try
        {
            var id = SpiffeId.Parse(text);
            FuzzPropertyException.Check(ok && id == tried, "SpiffeId.Parse accepted what TryParse refused");
            FuzzPropertyException.Check(id.ToString() == text, "SpiffeId does not format back to its text");
            FuzzPropertyException.Check(SpiffeId.FromPath(id.TrustDomain, id.Path) == id, "SpiffeId.FromPath does not rebuild the ID");
        }
        catch (FormatException)
        {
            FuzzPropertyException.Check(!ok, "SpiffeId.TryParse accepted what Parse refused");
        }

        var tdOk = TrustDomain.TryParse(text, out var td);
        try
        {
            var parsed = TrustDomain.Parse(text);
            FuzzPropertyException.Check(tdOk && parsed == td, "TrustDomain.Parse accepted what TryParse refused");
        }
        catch (FormatException)
        {
            FuzzPropertyException.Check(!tdOk, "TrustDomain.TryParse accepted what Parse refused");
        }

        try
        {
            _ = SpiffeId.FromPath(Fixtures.TrustDomain, text);
        }
        catch (FormatException)
        {
        }
    }
}
