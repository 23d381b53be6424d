using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Spiffe.Bundles;

namespace Anchorage.Server.Federation;

/// <summary>
/// Who approved a federation relationship, when, why, and which of the peer's authorities its bundle
/// held then (<c>anchorage federation approve TD --note TEXT</c>). A change of the relationship's
/// endpoint URL, profile or endpoint SPIFFE ID drops it: the new endpoint needs a new approval.
/// </summary>
public sealed record FederationApproval
{
    /// <summary>When it was approved.</summary>
    public required DateTimeOffset ApprovedAt { get; init; }

    /// <summary>The approving admin's uid (the admin socket's peer); null when the call came in-process.</summary>
    public long? ApproverUid { get; init; }

    /// <summary>The approving admin's user name (from the uid); empty when unknown.</summary>
    public string Approver { get; init; } = string.Empty;

    /// <summary>Why, in the approver's words; empty for none.</summary>
    public string Note { get; init; } = string.Empty;

    /// <summary>The ids of the X.509 and JWT authorities of the stored bundle at approval (subject key ids, key ids).</summary>
    public IReadOnlyList<string> AuthorityIds { get; init; } = [];

    /// <summary>
    /// The ids recorded for <paramref name="bundle"/>'s authorities: the subject key id (lowercase hex)
    /// of each X.509 authority (<c>sha256:</c> and the certificate's hash when it has none), then the
    /// key id of each JWT authority.
    /// </summary>
    public static IReadOnlyList<string> AuthorityIdsOf(SpiffeBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        var ids = new List<string>();
        foreach (var certificate in bundle.X509Authorities)
        {
            var ski = certificate.Extensions.OfType<X509SubjectKeyIdentifierExtension>().FirstOrDefault();
            ids.Add(ski?.SubjectKeyIdentifier?.ToLowerInvariant()
                ?? "sha256:" + certificate.GetCertHashString(HashAlgorithmName.SHA256).ToLowerInvariant());
        }

        ids.AddRange(bundle.JwtAuthorities.Select(a => a.KeyId));
        return ids;
    }
}
