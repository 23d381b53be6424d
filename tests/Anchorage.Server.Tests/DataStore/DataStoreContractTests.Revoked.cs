using Anchorage.Server.Ca;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// Revoked authorities remembered for the console's timeline (schema version 8, issue 16): a revocation
/// moves the authority's record to the revoked list in the same transaction, a refused revocation
/// records nothing, and the list keeps the newest <see cref="RevokedAuthority.HistoryLimit"/> per kind.
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private static AuthorityRecord Journaled(string id, AuthorityKind kind, AuthorityState state, bool tainted = false) => new()
    {
        Id = id,
        Kind = kind,
        ServerId = "server-1",
        State = state,
        Tainted = tainted,
        PublicKey = kind == AuthorityKind.Jwt ? [1, 2, 3] : null,
        CertificateDer = kind == AuthorityKind.X509 ? [4, 5, 6] : null,
        NotBefore = Start,
        NotAfter = Start.AddDays(1),
    };

    [ContractFact]
    public async Task RevokeAuthority_Revoked_RecordKept_RefusedOne_NotRecorded()
    {
        await Store.CreateAuthorityAsync(Journaled("old-tainted", AuthorityKind.X509, AuthorityState.Old, tainted: true), None);
        await Store.CreateAuthorityAsync(Journaled("active", AuthorityKind.X509, AuthorityState.Active), None);
        await Store.CreateAuthorityAsync(Journaled("kid-1", AuthorityKind.Jwt, AuthorityState.Prepared), None);
        Clock.Advance(TimeSpan.FromMinutes(5));

        Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "old-tainted", None));
        Assert.False(await Store.RevokeAuthorityAsync(AuthorityKind.X509, "active", None));
        Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.Jwt, "kid-1", None));

        Assert.Equal(
            [
                new RevokedAuthority(AuthorityKind.Jwt, "kid-1", "server-1", false, Start, Start.AddDays(1), Start.AddMinutes(5)),
                new RevokedAuthority(AuthorityKind.X509, "old-tainted", "server-1", true, Start, Start.AddDays(1), Start.AddMinutes(5)),
            ],
            await Store.ListRevokedAuthoritiesAsync(None));
        Assert.Equal(["active"], (await Store.ListAuthoritiesAsync(None)).Select(a => a.Id));
    }

    [ContractFact]
    public async Task RevokeAuthority_MoreThanTheLimit_NewestKeptPerKind()
    {
        await Store.CreateAuthorityAsync(Journaled("kid-keep", AuthorityKind.Jwt, AuthorityState.Prepared), None);
        await Store.RevokeAuthorityAsync(AuthorityKind.Jwt, "kid-keep", None);
        for (var i = 0; i < RevokedAuthority.HistoryLimit + 2; i++)
        {
            Clock.Advance(TimeSpan.FromSeconds(1));
            await Store.CreateAuthorityAsync(Journaled($"x{i:D3}", AuthorityKind.X509, AuthorityState.Prepared), None);
            Assert.True(await Store.RevokeAuthorityAsync(AuthorityKind.X509, $"x{i:D3}", None));
        }

        var revoked = await Store.ListRevokedAuthoritiesAsync(None);
        var x509 = revoked.Where(r => r.Kind == AuthorityKind.X509).Select(r => r.Id).ToList();
        Assert.Equal(RevokedAuthority.HistoryLimit, x509.Count);
        Assert.Equal($"x{RevokedAuthority.HistoryLimit + 1:D3}", x509[0]);
        Assert.DoesNotContain("x000", x509);
        Assert.DoesNotContain("x001", x509);
        // The other kind's list is its own.
        Assert.Contains(revoked, r => r.Id == "kid-keep");
    }
}
