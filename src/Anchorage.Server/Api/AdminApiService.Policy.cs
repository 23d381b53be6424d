using Anchorage.Policy;
using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Grpc.Core;
using Common = Anchorage.Protos.Common.V1;

namespace Anchorage.Server.Api;

/// <summary>The trust domain's communication policy (<c>kind: CommunicationPolicy</c>), which agents receive with their sync.</summary>
public sealed partial class AdminApiService
{
    /// <summary>The source name in error lines when the caller gives none.</summary>
    public const string DefaultPolicySource = PolicyDocument.DefaultSourceName;

    /// <summary>The answer of <c>GetPolicy</c> before any policy was applied.</summary>
    public const string NoPolicyMessage = "no policy has been applied";

    /// <summary>
    /// Validates the document with <see cref="PolicyDocument.Parse"/> and stores it, replacing the
    /// stored one: the version goes up by one when the text differs, and stays when it is the same.
    /// An invalid document is refused with InvalidArgument, every error on its own line
    /// (<c>source:line: path: message</c>), and nothing is stored. Agents are told at once.
    /// </summary>
    public override async Task<ApplyPolicyResponse> ApplyPolicy(ApplyPolicyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(request);
        ArgumentNullException.ThrowIfNull(context);
        var ct = context.CancellationToken;
        if (string.IsNullOrWhiteSpace(request.Yaml))
        {
            throw ApiException.InvalidArgument("yaml is required");
        }

        var source = request.Source.Length == 0 ? DefaultPolicySource : request.Source;
        var parsed = PolicyDocument.Parse(request.Yaml, source);
        if (!parsed.IsValid)
        {
            throw ApiException.InvalidArgument(string.Join('\n', parsed.ErrorLines));
        }

        var (stored, changed) = await _store.PutPolicyAsync(parsed.Value.Name, request.Yaml, ct).ConfigureAwait(false);
        ApiLog.PolicyApplied(_logger, stored.Name, stored.Version, changed ? "changed" : "unchanged");
        if (changed && _changeFeed is not null)
        {
            // This server's agents hear of it now rather than at the feed's next read.
            await _changeFeed.RefreshNowAsync(ct).ConfigureAwait(false);
        }

        return new ApplyPolicyResponse { Policy = ProtoMapper.ToProto(stored), Changed = changed };
    }

    /// <summary>The stored policy; NotFound (<see cref="NoPolicyMessage"/>) when none was ever applied.</summary>
    public override async Task<Common.Policy> GetPolicy(GetPolicyRequest request, ServerCallContext context)
    {
        ArgumentNullException.ThrowIfNull(context);
        var stored = await _store.GetPolicyAsync(context.CancellationToken).ConfigureAwait(false)
            ?? throw ApiException.NotFound(NoPolicyMessage);
        return ProtoMapper.ToProto(stored);
    }
}
