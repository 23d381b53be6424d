using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Svids;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// An X.509-SVID chain as a peer sends it: PEM or concatenated DER, parsed with
/// <see cref="CertificateChain.Parse"/>, then verified with <see cref="X509SvidVerifier"/> against the
/// fixed bundle of <c>fuzz.example</c> at a fixed instant; a PEM that carries a key also goes
/// through <see cref="X509Svid.ParseCombined"/>. Documented failures: FormatException (parse),
/// SvidValidationException and BundleNotFoundException (SpiffeException, verify).
/// </summary>
internal sealed class X509SvidTarget : FuzzTarget
{
    private readonly X509SvidVerifier _verifier = new(new FakeTimeProvider(Fixtures.Now));

    public override string Name => "x509-svid";

    public override string Expected => "CertificateChain.Parse, X509Svid.ParseCombined: FormatException; X509SvidVerifier.Verify: SvidValidationException, BundleNotFoundException";

    public override void Run(byte[] input)
    {
        List<X509Certificate2> chain;
        try
        {
            chain = CertificateChain.Parse(input);
        }
        catch (FormatException)
        {
            return;
        }

        try
        {
            if (chain.Count > 0)
            {
                try
                {
                    var result = _verifier.Verify(chain, Fixtures.X509Bundle, Fixtures.Now);
                    FuzzPropertyException.Check(X509Svid.TryGetSpiffeId(chain[0], out var id) && id == result.Id, "the verified ID is not the leaf's");
                }
                catch (SpiffeException)
                {
                }

                _ = X509Svid.TryGetSpiffeId(chain[0], out _);
            }

            if (input.AsSpan().IndexOf("PRIVATE KEY-----"u8) >= 0)
            {
                try
                {
                    _ = X509Svid.ParseCombined(input);
                }
                catch (FormatException)
                {
                }
                catch (SvidValidationException)
                {
                }
            }
        }
        finally
        {
            foreach (var certificate in chain)
            {
                certificate.Dispose();
            }
        }
    }
}
