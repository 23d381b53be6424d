using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;

namespace Anchorage.Server.Tests.DataStore;

/// <summary>
/// A relationship's approval and review interval (schema version 6, issue 15 item 1): stored and read
/// back whole, set only from the revision the approver saw, kept or dropped by an update as the
/// caller says, and added in place to a database at schema version 5 (existing rows unapproved).
/// </summary>
public abstract partial class DataStoreContractTests<TBackend>
{
    private static readonly TrustDomain Payments6 = TrustDomain.Parse("payments.example.com");

    private static FederationApproval Approval(string note = "reviewed") => new()
    {
        ApprovedAt = Start.AddMinutes(5),
        ApproverUid = 1000,
        Approver = "alice",
        Note = note,
        AuthorityIds = ["0a1b2c", "jwt-key-1"],
    };

    private static void AssertSameApproval(FederationApproval? expected, FederationApproval? actual)
    {
        Assert.Equal(expected is null, actual is null);
        if (expected is not null)
        {
            Assert.Equal(
                (expected.ApprovedAt, expected.ApproverUid, expected.Approver, expected.Note, string.Join(",", expected.AuthorityIds)),
                (actual!.ApprovedAt, actual.ApproverUid, actual.Approver, actual.Note, string.Join(",", actual.AuthorityIds)));
        }
    }

    [ContractFact]
    public async Task SetRelationshipApproval_FromStoredRevision_StoredWholeRevisionUpUpdatedAtKept()
    {
        var created = await Store.CreateRelationshipAsync(Relationship() with { ReviewEvery = TimeSpan.FromDays(90) }, None);
        Assert.Null((await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);

        await Store.SetRelationshipApprovalAsync(Payments6, Approval(), created.Revision, None);

        var stored = (await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship;
        AssertSameApproval(Approval(), stored.Approval);
        Assert.Equal(TimeSpan.FromDays(90), stored.ReviewEvery);
        Assert.Equal(created.Revision + 1, stored.Revision);
        Assert.Equal(created.UpdatedAt, stored.UpdatedAt);

        // Dropped again (revoke-approval).
        await Store.SetRelationshipApprovalAsync(Payments6, null, stored.Revision, None);
        Assert.Null((await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);
    }

    [ContractFact]
    public async Task SetRelationshipApproval_FromOlderRevision_StaleAndNothingChanged_AbsentNotFound()
    {
        var created = await Store.CreateRelationshipAsync(Relationship(), None);
        var newer = await Store.UpdateRelationshipAsync(created with { Owner = "newer@example.com" }, None);

        var ex = await Assert.ThrowsAsync<DataStoreStaleRevisionException>(() => Store.SetRelationshipApprovalAsync(Payments6, Approval(), created.Revision, None));

        Assert.Equal(
            $"federation relationship \"payments.example.com\" changed since it was read: it is at revision {newer.Revision}, the approval was made from revision {created.Revision}; read it again",
            ex.Message);
        Assert.Null((await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);
        await Assert.ThrowsAsync<DataStoreNotFoundException>(() => Store.SetRelationshipApprovalAsync(TrustDomain.Parse("absent.example"), Approval(), 1, None));

        // Positive control: from the stored revision it is applied.
        await Store.SetRelationshipApprovalAsync(Payments6, Approval(), newer.Revision, None);
        AssertSameApproval(Approval(), (await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);
    }

    [ContractFact]
    public async Task UpdateRelationship_ApprovalAsTheCallerSays_KeptOrDropped()
    {
        var created = await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.SetRelationshipApprovalAsync(Payments6, Approval(), created.Revision, None);
        var approved = (await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship;

        var kept = await Store.UpdateRelationshipAsync(approved with { Owner = "o2@example.com" }, None);
        AssertSameApproval(Approval(), (await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);

        await Store.UpdateRelationshipAsync(kept with { Endpoint = kept.Endpoint with { Url = new Uri("https://elsewhere.example.com/") }, Approval = null }, None);
        Assert.Null((await Store.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);
    }

    [ContractFact]
    public async Task Open_DatabaseAtSchemaVersion5_ApprovalColumnsAdded_RowsKeptUnapproved()
    {
        await Store.CreateRelationshipAsync(Relationship(), None);
        await Store.DisposeAsync();
        await DropApprovalColumnsAsync();
        await Backend.ExecuteScalarAsync("DROP TABLE federation_usage");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_fetches");
        await Backend.ExecuteScalarAsync("DROP TABLE federation_held");
        await Backend.ExecuteScalarAsync("DROP TABLE revoked_authorities");
        await Backend.ExecuteScalarAsync("ALTER TABLE federation_relationships DROP COLUMN clock_skew_ms");
        await Backend.ExecuteScalarAsync("DELETE FROM schema_version WHERE version >= 6");

        var upgraded = await OpenAsync();

        Assert.Equal(8L, Convert.ToInt64(await Backend.ExecuteScalarAsync("SELECT MAX(version) FROM schema_version")));
        Assert.Equal("federation relationship approval, review and rotation observations", await Backend.ExecuteScalarAsync("SELECT description FROM schema_version WHERE version = 6"));
        var stored = (await upgraded.GetRelationshipAsync(Payments6, None))!.Value.Relationship;
        Assert.Equal(("payments-platform@example.com", 1L), (stored.Owner, stored.Revision));
        Assert.Null(stored.Approval);
        Assert.Null(stored.ReviewEvery);
        await upgraded.SetRelationshipApprovalAsync(Payments6, Approval(), stored.Revision, None);
        AssertSameApproval(Approval(), (await upgraded.GetRelationshipAsync(Payments6, None))!.Value.Relationship.Approval);
    }

    private async Task DropApprovalColumnsAsync()
    {
        foreach (var column in new[] { "review_every_ms", "approved_at", "approved_by_uid", "approved_by", "approval_note", "approved_authorities", "rotation_gap_at" })
        {
            await Backend.ExecuteScalarAsync($"ALTER TABLE federation_relationships DROP COLUMN {column}");
        }
    }
}
