using System.Text;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Internal;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// The PEM and DER readers under every certificate and key file: PEM blocks (<c>Pem.ReadBlocks</c>),
/// each certificate block (<c>Der.LoadCertificate</c>) and key block (<c>PrivateKeyReader.FromPemBlock</c>),
/// the input as a DER key (<c>PrivateKeyReader.FromDer</c>), as a certificate list
/// (<see cref="CertificateChain.Parse"/>) and as a DER bundle (<see cref="X509Bundle.FromDer"/>).
/// Documented failure: FormatException.
/// </summary>
internal sealed class PemDerTarget : FuzzTarget
{
    public override string Name => "pem-der";

    public override string Expected => "Pem.ReadBlocks, Der.LoadCertificate, PrivateKeyReader.*, CertificateChain.Parse, X509Bundle.FromDer: FormatException";

    public override void Run(byte[] input)
    {
        Swallow(() =>
        {
            foreach (var block in Pem.ReadBlocks(Encoding.UTF8.GetString(input)))
            {
                if (block.Label == "CERTIFICATE")
                {
                    Swallow(() => Der.LoadCertificate(block.Data, "certificate").Dispose());
                }
                else if (PrivateKeyReader.IsKeyLabel(block.Label))
                {
                    Swallow(() => PrivateKeyReader.FromPemBlock(block.Label, block.Data).Dispose());
                }
            }
        });
        Swallow(() => PrivateKeyReader.FromDer(input).Dispose());
        Swallow(() =>
        {
            foreach (var certificate in CertificateChain.Parse(input))
            {
                certificate.Dispose();
            }
        });
        Swallow(() => X509Bundle.FromDer(Fixtures.TrustDomain, input));
    }

    private static void Swallow(Action action)
    {
        try
        {
            action();
        }
        catch (FormatException)
        {
        }
    }
}
