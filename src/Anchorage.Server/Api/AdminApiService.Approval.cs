using System.Globalization;
using Anchorage.Foundation.Audit;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.DataStore;
using Anchorage.Server.Federation;
using Anchorage.Spiffe.Ids;
using Grpc.Core;

namespace Anchorage.Server.Api;

/// <summary>Approval of federation relationships (issue 15 item 1): approve, revoke, and the audit record of each step.</summary>
public sealed partial class AdminApiService
{
    /// <summary>
    /// Records who approved the relationship (the admin socket peer's uid and user name), when, the
    /// note, and the ids of the authorities its stored bundle holds now; from then on agents receive
    /// its bundle (and its review date, if any, starts). Approving again renews the approval (a review).
    /// Aborted when the relationship changed while it was approved (approve what you saw).
    /// </summary>
    public override async Task<Protos.Admin.V1.FederationStatus> ApproveFederation(ApproveFederationRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var trustDomain = ProtoMapper.ParseTrustDomain(request.TrustDomain, "trustDomain");
        if (request.Note.Length > MaxApprovalNoteLength)
        {
            throw ApiException.InvalidArgument($"note must be at most {MaxApprovalNoteLength} characters");
        }

        var found = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false) ?? throw FederationNotFound(trustDomain);
        var bundle = await _store.GetBundleAsync(trustDomain, ct).ConfigureAwait(false);
        var peer = AdminPeer(context);
        var approval = new FederationApproval
        {
            ApprovedAt = _time.GetUtcNow(),
            ApproverUid = peer?.UserId,
            Approver = peer is null ? string.Empty : UserNames.Of(peer.UserId),
            Note = request.Note.Trim(),
            AuthorityIds = bundle is null ? [] : FederationApproval.AuthorityIdsOf(bundle.Bundle),
        };
        await SetApprovalAsync(trustDomain, approval, found.Relationship.Revision, ct).ConfigureAwait(false);
        AuditApproval(
            "approved",
            trustDomain,
            bundle?.Bundle.SequenceNumber,
            $"{Approver(approval)}; authorities {(approval.AuthorityIds.Count == 0 ? "none" : string.Join(",", approval.AuthorityIds))}"
                + (approval.Note.Length == 0 ? string.Empty : "; note: " + approval.Note));
        ApiLog.FederationChanged(_logger, "approved", trustDomain.Name);
        await AnnounceAsync(ct).ConfigureAwait(false);
        return await StatusAsync(trustDomain, ct).ConfigureAwait(false);
    }

    /// <summary>Drops the relationship's approval: it is pending again and agents stop receiving its bundle.</summary>
    public override async Task<Protos.Admin.V1.FederationStatus> RevokeFederationApproval(RevokeFederationApprovalRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        var trustDomain = ProtoMapper.ParseTrustDomain(request.TrustDomain, "trustDomain");
        var found = await _store.GetRelationshipAsync(trustDomain, ct).ConfigureAwait(false) ?? throw FederationNotFound(trustDomain);
        if (found.Relationship.Approval is null)
        {
            throw ApiException.FailedPrecondition($"federation relationship \"{trustDomain}\" is not approved");
        }

        await SetApprovalAsync(trustDomain, null, found.Relationship.Revision, ct).ConfigureAwait(false);
        var peer = AdminPeer(context);
        AuditApproval("approval-revoked", trustDomain, null, Approver(peer?.UserId, peer is null ? string.Empty : UserNames.Of(peer.UserId)));
        ApiLog.FederationChanged(_logger, "approval revoked", trustDomain.Name);
        await AnnounceAsync(ct).ConfigureAwait(false);
        return await StatusAsync(trustDomain, ct).ConfigureAwait(false);
    }

    /// <summary>The longest approval note accepted.</summary>
    public const int MaxApprovalNoteLength = 1024;

    private async Task SetApprovalAsync(TrustDomain trustDomain, FederationApproval? approval, long revision, CancellationToken ct)
    {
        try
        {
            await _store.SetRelationshipApprovalAsync(trustDomain, approval, revision, ct).ConfigureAwait(false);
        }
        catch (DataStoreNotFoundException)
        {
            throw FederationNotFound(trustDomain);
        }
        catch (DataStoreStaleRevisionException)
        {
            throw ApiException.Aborted($"federation relationship \"{trustDomain}\" changed while it was being approved; look at it again");
        }
    }

    // The agents' bundle watch hears of the change now rather than at the feed's next read.
    private async Task AnnounceAsync(CancellationToken ct)
    {
        if (_changeFeed is not null)
        {
            await _changeFeed.RefreshNowAsync(ct).ConfigureAwait(false);
        }
    }

    private static string Approver(FederationApproval approval) => Approver(approval.ApproverUid is { } uid ? (uint)uid : null, approval.Approver);

    private static string Approver(uint? uid, string name) => uid is { } u
        ? string.Create(CultureInfo.InvariantCulture, $"by admin uid {u}{(name.Length == 0 ? string.Empty : " (" + name + ")")}")
        : "by the admin api";

    private void AuditApproval(string change, TrustDomain trustDomain, ulong? sequence, string detail) =>
        _audit.Write(new AuditRecord
        {
            Time = _time.GetUtcNow(),
            Kind = AuditKinds.FederationApproval,
            Decision = change,
            TrustDomain = trustDomain.Name,
            Sequence = FederationRefresher.AuditSequence(sequence),
            Detail = detail,
        });
}
