using System.Collections.Concurrent;
using System.Runtime.CompilerServices;
using Anchorage.Protos.Admin.V1;
using Anchorage.Protos.Common.V1;
using Google.Protobuf;
using Grpc.Core;

namespace Anchorage.Cli.Tests.Admin;

/// <summary>One call the fake received: the RPC, its request and the deadline the client set.</summary>
public sealed record RecordedCall(string Method, IMessage Request, DateTime Deadline);

/// <summary>
/// A recording test double of the admin API, served over a real unix socket by
/// <see cref="AdminServer"/>. It stands in until the server's real admin service lands
/// (issue 3); then these tests keep checking the CLI's side of the contract (argument ->
/// request mapping, output, exit codes) while integration tests run against the real server.
/// Every call is recorded; a method answers what <see cref="On{TRequest,TResponse}"/> set up,
/// fails as <see cref="Fail"/> says, or is Unimplemented.
/// </summary>
public sealed class FakeAdminApi : AdminApi.AdminApiBase
{
    private readonly ConcurrentDictionary<string, Func<IMessage, IMessage>> _handlers = new(StringComparer.Ordinal);

    public ConcurrentQueue<RecordedCall> Calls { get; } = new();

    public void On<TRequest, TResponse>(string method, Func<TRequest, TResponse> handler)
        where TRequest : IMessage
        where TResponse : IMessage =>
        _handlers[method] = request => handler((TRequest)request);

    public void Fail(string method, StatusCode code, string detail) =>
        _handlers[method] = _ => throw new RpcException(new Status(code, detail));

    /// <summary>The requests <paramref name="method"/> received, in order.</summary>
    public List<T> Requests<T>(string method) => Calls.Where(c => c.Method == method).Select(c => (T)c.Request).ToList();

    public T Only<T>(string method) => Assert.Single(Requests<T>(method));

    public override Task<CreateEntriesResponse> CreateEntries(CreateEntriesRequest request, ServerCallContext context) => Handle<CreateEntriesResponse>(request, context);

    public override Task<Entry> GetEntry(GetEntryRequest request, ServerCallContext context) => Handle<Entry>(request, context);

    public override Task<Entry> UpdateEntry(UpdateEntryRequest request, ServerCallContext context) => Handle<Entry>(request, context);

    public override Task<DeleteEntryResponse> DeleteEntry(DeleteEntryRequest request, ServerCallContext context) => Handle<DeleteEntryResponse>(request, context);

    public override Task<ListEntriesResponse> ListEntries(ListEntriesRequest request, ServerCallContext context) => Handle<ListEntriesResponse>(request, context);

    public override Task<CountEntriesResponse> CountEntries(CountEntriesRequest request, ServerCallContext context) => Handle<CountEntriesResponse>(request, context);

    public override Task<GenerateJoinTokenResponse> GenerateJoinToken(GenerateJoinTokenRequest request, ServerCallContext context) => Handle<GenerateJoinTokenResponse>(request, context);

    public override Task<ListAgentsResponse> ListAgents(ListAgentsRequest request, ServerCallContext context) => Handle<ListAgentsResponse>(request, context);

    public override Task<AgentInfo> GetAgent(GetAgentRequest request, ServerCallContext context) => Handle<AgentInfo>(request, context);

    public override Task<EvictAgentResponse> EvictAgent(EvictAgentRequest request, ServerCallContext context) => Handle<EvictAgentResponse>(request, context);

    public override Task<AgentInfo> BanAgent(BanAgentRequest request, ServerCallContext context) => Handle<AgentInfo>(request, context);

    public override Task<Bundle> GetBundle(GetBundleRequest request, ServerCallContext context) => Handle<Bundle>(request, context);

    public override Task<ListBundlesResponse> ListBundles(ListBundlesRequest request, ServerCallContext context) => Handle<ListBundlesResponse>(request, context);

    public override Task<Bundle> SetBundle(SetBundleRequest request, ServerCallContext context) => Handle<Bundle>(request, context);

    public override Task<DeleteBundleResponse> DeleteBundle(DeleteBundleRequest request, ServerCallContext context) => Handle<DeleteBundleResponse>(request, context);

    public override Task<ListAuthoritiesResponse> ListAuthorities(ListAuthoritiesRequest request, ServerCallContext context) => Handle<ListAuthoritiesResponse>(request, context);

    public override Task<Authority> PrepareAuthority(AuthorityRequest request, ServerCallContext context) => Handle<Authority>(request, context);

    public override Task<Authority> ActivateAuthority(AuthorityRequest request, ServerCallContext context) => Handle<Authority>(request, context);

    public override Task<Authority> TaintAuthority(AuthorityRequest request, ServerCallContext context) => Handle<Authority>(request, context);

    public override Task<Authority> RevokeAuthority(AuthorityRequest request, ServerCallContext context) => Handle<Authority>(request, context);

    public override Task<MintX509SvidResponse> MintX509Svid(MintX509SvidRequest request, ServerCallContext context) => Handle<MintX509SvidResponse>(request, context);

    public override Task<FederationStatus> ApplyFederation(ApplyFederationRequest request, ServerCallContext context) => Handle<FederationStatus>(request, context);

    public override Task<ListFederationsResponse> ListFederations(ListFederationsRequest request, ServerCallContext context) => Handle<ListFederationsResponse>(request, context);

    public override Task<FederationStatus> GetFederation(GetFederationRequest request, ServerCallContext context) => Handle<FederationStatus>(request, context);

    public override Task<DeleteFederationResponse> DeleteFederation(DeleteFederationRequest request, ServerCallContext context) => Handle<DeleteFederationResponse>(request, context);

    public override Task<FederationStatus> RefreshFederation(RefreshFederationRequest request, ServerCallContext context) => Handle<FederationStatus>(request, context);

    public override Task<FederationStatus> ApproveFederation(ApproveFederationRequest request, ServerCallContext context) => Handle<FederationStatus>(request, context);

    public override Task<FederationStatus> RevokeFederationApproval(RevokeFederationApprovalRequest request, ServerCallContext context) => Handle<FederationStatus>(request, context);

    public override Task<ServerInfo> GetServerInfo(GetServerInfoRequest request, ServerCallContext context) => Handle<ServerInfo>(request, context);

    public override Task<MintJwtSvidResponse> MintJwtSvid(MintJwtSvidRequest request, ServerCallContext context) => Handle<MintJwtSvidResponse>(request, context);

    public override Task<ApplyPolicyResponse> ApplyPolicy(ApplyPolicyRequest request, ServerCallContext context) => Handle<ApplyPolicyResponse>(request, context);

    public override Task<Anchorage.Protos.Common.V1.Policy> GetPolicy(GetPolicyRequest request, ServerCallContext context) => Handle<Anchorage.Protos.Common.V1.Policy>(request, context);

    private Task<TResponse> Handle<TResponse>(IMessage request, ServerCallContext context, [CallerMemberName] string method = "")
        where TResponse : IMessage
    {
        Calls.Enqueue(new RecordedCall(method, request, context.Deadline));
        return _handlers.TryGetValue(method, out var handler)
            ? Task.FromResult((TResponse)handler(request))
            : throw new RpcException(new Status(StatusCode.Unimplemented, $"{method} is not set up in this test"));
    }
}
