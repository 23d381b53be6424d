namespace Anchorage.Spiffe.Internal;

/// <summary>
/// The public-key members of an EC or RSA JWK (RFC 7518 §6.2.1, §6.3.1), normalised so that two
/// encodings of the same key compare equal: EC coordinates at full field length, RSA integers
/// without leading zero octets.
/// </summary>
internal sealed class JwkKey
{
    private JwkKey(string kty, string? crv, byte[] first, byte[] second)
    {
        Kty = kty;
        Crv = crv;
        First = first;
        Second = second;
    }

    /// <summary><c>EC</c> or <c>RSA</c>.</summary>
    internal string Kty { get; }

    /// <summary><c>P-256</c>, <c>P-384</c> or <c>P-521</c> for EC; null for RSA.</summary>
    internal string? Crv { get; }

    /// <summary>EC <c>x</c> or RSA <c>n</c>.</summary>
    internal byte[] First { get; }

    /// <summary>EC <c>y</c> or RSA <c>e</c>.</summary>
    internal byte[] Second { get; }

    internal static JwkKey Ec(string crv, byte[] x, byte[] y) => new(Jwk.KtyEc, crv, x, y);

    internal static JwkKey Rsa(byte[] n, byte[] e) => new(Jwk.KtyRsa, null, n, e);

    internal bool SameKeyAs(JwkKey other) =>
        Kty == other.Kty && Crv == other.Crv && First.AsSpan().SequenceEqual(other.First) && Second.AsSpan().SequenceEqual(other.Second);
}
