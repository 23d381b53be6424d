using Anchorage.Spiffe.Bundles;

namespace Anchorage.Fuzz.Targets;

/// <summary>
/// A SPIFFE bundle as a federation peer serves it: <see cref="SpiffeBundle.Parse(Anchorage.Spiffe.Ids.TrustDomain, ReadOnlySpan{byte}, out IReadOnlyList{string})"/>
/// and <see cref="SpiffeBundle.Load(Anchorage.Spiffe.Ids.TrustDomain, ReadOnlySpan{byte})"/> (JSON, PEM or DER).
/// Documented failure: FormatException. Property: an accepted bundle is emitted again
/// (<see cref="SpiffeBundle.ToUtf8Json"/>) and parses back to the same authorities, sequence and hint.
/// </summary>
internal sealed class BundleJsonTarget : FuzzTarget
{
    public override string Name => "bundle-json";

    public override string Expected => "SpiffeBundle.Parse, SpiffeBundle.Load: FormatException";

    public override void Run(byte[] input)
    {
        SpiffeBundle? bundle = null;
        try
        {
            bundle = SpiffeBundle.Parse(Fixtures.TrustDomain, input, out _);
        }
        catch (FormatException)
        {
        }

        if (bundle is not null)
        {
            var again = SpiffeBundle.Parse(Fixtures.TrustDomain, bundle.ToUtf8Json());
            FuzzPropertyException.Check(Same(bundle, again), "an accepted bundle does not survive emit and parse");
        }

        try
        {
            _ = SpiffeBundle.Load(Fixtures.TrustDomain, input);
        }
        catch (FormatException)
        {
        }
    }

    private static bool Same(SpiffeBundle a, SpiffeBundle b) =>
        a.SequenceNumber == b.SequenceNumber
        && a.RefreshHint == b.RefreshHint
        && a.X509Authorities.Length == b.X509Authorities.Length
        && a.X509Authorities.Zip(b.X509Authorities).All(p => p.First.RawDataMemory.Span.SequenceEqual(p.Second.RawDataMemory.Span))
        && a.JwtAuthorities.Length == b.JwtAuthorities.Length
        && a.JwtAuthorities.Zip(b.JwtAuthorities).All(p => p.First.SameAs(p.Second));
}
