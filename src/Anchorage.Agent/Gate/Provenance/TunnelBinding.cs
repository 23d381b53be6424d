using System.Buffers.Text;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;

namespace Anchorage.Agent.Gate.Provenance;

/// <summary>
/// What ties an origin statement to one tunnel (docs/gate-transport.md): the SHA-256 of the
/// client's and of the server's leaf certificate (base64url, no padding) and the nonce the
/// inbound gate chose for the tunnel (base64url of 32 random bytes).
/// </summary>
internal sealed record TunnelBinding(string ClientLeaf, string ServerLeaf, string Nonce)
{
    /// <summary>Bytes of the per-tunnel nonce.</summary>
    public const int NonceBytes = 32;

    /// <summary>The base64url SHA-256 of a certificate's DER.</summary>
    public static string LeafHash(X509Certificate2 leaf) => Base64Url.EncodeToString(SHA256.HashData(leaf.RawDataMemory.Span));

    /// <summary>A fresh nonce (base64url).</summary>
    public static string NewNonce() => Base64Url.EncodeToString(RandomNumberGenerator.GetBytes(NonceBytes));
}
