using Anchorage.Server.Ca;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// A PKCS#10 request as an agent or a workload sends it to the server:
/// <see cref="CsrParser.VerifyAndGetPublicKey(ReadOnlySpan{byte})"/>. Documented failure: FormatException.
/// </summary>
internal sealed class CsrTarget : FuzzTarget
{
    public override string Name => "csr";

    public override string Expected => "CsrParser.VerifyAndGetPublicKey: FormatException";

    public override void Run(byte[] input)
    {
        try
        {
            _ = CsrParser.VerifyAndGetPublicKey(input);
        }
        catch (FormatException)
        {
        }
    }
}
