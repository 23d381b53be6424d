using System.Collections.Immutable;

namespace Anchorage.Server.Ca.Internal;

/// <summary>The active X.509 authority with its issuer and the DER certificates presented after a leaf.</summary>
internal sealed record ActiveX509Slot(AuthorityRecord Record, X509Authority Authority, X509SvidIssuer Issuer, ImmutableArray<byte[]> Presented)
{
    public ActiveX509Slot(AuthorityRecord record, X509Authority authority, TimeProvider time)
        : this(
            record,
            authority,
            new X509SvidIssuer(authority, time),
            BundlePublisher.IsSelfSigned(authority.Certificate) ? [] : [.. authority.PresentedChain.Select(c => c.RawData)])
    {
    }
}

/// <summary>The active JWT authority.</summary>
internal sealed record ActiveJwtSlot(AuthorityRecord Record, JwtSigningAuthority Authority);
