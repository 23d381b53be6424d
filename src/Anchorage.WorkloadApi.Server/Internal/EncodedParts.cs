using System.Runtime.CompilerServices;
using System.Security.Cryptography;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Svids;
using Google.Protobuf;

namespace Anchorage.WorkloadApi.Server.Internal;

/// <summary>
/// The encoded bytes of the X.509 answers (Workload API §5.2), made once per SVID and per bundle
/// and reused by every call that sends them: an SVID's chain and key and a bundle's authorities
/// are the same bytes for every caller until the host replaces the object (rotation, a new
/// bundle). Exporting the key and concatenating the DER was a measured share of every
/// FetchX509SVID call's CPU.
/// </summary>
/// <remarks>
/// Bounded by what the host holds: entries are keyed weakly on the <see cref="X509Svid"/> and
/// <see cref="X509Bundle"/> objects, so a rotated SVID's bytes (its key included) become garbage
/// with the SVID object, as the per-call copies did before. <see cref="ByteString"/> is immutable,
/// so one instance may sit in any number of messages.
/// </remarks>
internal sealed class EncodedParts
{
    private readonly ConditionalWeakTable<X509Svid, EncodedSvid> _svids = [];
    private readonly ConditionalWeakTable<X509Bundle, ByteString> _bundles = [];

    /// <summary>The chain (leaf first) and the PKCS#8 key of <paramref name="svid"/>.</summary>
    public EncodedSvid Svid(X509Svid svid) => _svids.GetValue(svid, static s =>
    {
        var key = s.KeyToPkcs8();
        try
        {
            return new EncodedSvid(UnsafeByteOperations.UnsafeWrap(s.ChainToDer()), ByteString.CopyFrom(key));
        }
        finally
        {
            CryptographicOperations.ZeroMemory(key);
        }
    });

    /// <summary>The authorities of <paramref name="bundle"/>, concatenated DER.</summary>
    public ByteString Bundle(X509Bundle bundle) =>
        _bundles.GetValue(bundle, static b => UnsafeByteOperations.UnsafeWrap(b.ToDer()));
}

/// <summary>An X.509-SVID as the Workload API sends it: chain DER and PKCS#8 key.</summary>
internal sealed record EncodedSvid(ByteString Chain, ByteString Key);
