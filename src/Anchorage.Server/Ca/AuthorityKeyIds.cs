namespace Anchorage.Server.Ca;

/// <summary>
/// Names an authority's private key in the <see cref="IKeyManager"/>: <c>x509-&lt;authority id&gt;</c>
/// or <c>jwt-&lt;authority id&gt;</c>, so the key of any journal record is found from the record alone.
/// </summary>
public static class AuthorityKeyIds
{
    /// <summary>The key manager id of the authority <paramref name="authorityId"/> of <paramref name="kind"/>.</summary>
    /// <exception cref="ArgumentException">The authority id is empty.</exception>
    public static string For(AuthorityKind kind, string authorityId)
    {
        ArgumentException.ThrowIfNullOrEmpty(authorityId);
        return kind switch
        {
            AuthorityKind.X509 => "x509-" + authorityId,
            AuthorityKind.Jwt => "jwt-" + authorityId,
            _ => throw new ArgumentOutOfRangeException(nameof(kind), kind, "unknown authority kind"),
        };
    }

    /// <summary>The key manager id of <paramref name="record"/>.</summary>
    public static string For(AuthorityRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        return For(record.Kind, record.Id);
    }
}
