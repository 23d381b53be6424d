namespace Anchorage.Cli.Commands.Demo.Internal.Cluster;

/// <summary>
/// The configs and manifests the cluster writes, as an operator would: server.yaml, agent.yaml
/// (with its gate section), a <c>FederatedTrustDomain</c>. The policies are the demo's own (its policy step).
/// </summary>
internal static class ClusterYaml
{
    /// <summary>
    /// server.yaml: SQLite under <paramref name="dir"/>/data, CA TTL 720h, bundle refresh hint 2 s,
    /// federation refresh floor 1 s, an https_spiffe bundle endpoint on 127.0.0.1:<paramref name="bundlePort"/>.
    /// </summary>
    public static string Server(string trustDomain, string dir, string agentApi, int bundlePort, uint adminUid) => $"""
        trustDomain: {trustDomain}
        dataDir: {dir}/data
        listen:
          agentApi: {agentApi}
          health: {DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort())}
        ca:
          caTtl: 720h
        bundle:
          refreshHint: 2s
        federation:
          refreshFloor: 1s
          bundleEndpoint:
            listen: {DemoEndpoint.Loopback(bundlePort)}
            profile: https_spiffe
        adminUids: [{adminUid}]

        """;

    /// <summary>
    /// agent.yaml: join token, bootstrap bundle file, sync every second, the Workload API socket in
    /// <paramref name="dir"/>, optional top-level <paramref name="attestation"/> lines, and a gate
    /// auditing to <paramref name="auditFile"/> (closeOnRevoke) with the listener lines <paramref name="gateListeners"/>.
    /// </summary>
    public static string Agent(string trustDomain, string dir, string serverAddress, string joinToken, string bundleFile, uint adminUid, string auditFile, string gateListeners, string? attestation)
    {
        var gateSection = "gate:\n" + $"  audit: {{ file: {auditFile} }}\n  closeOnRevoke: true\n" + gateListeners;
        return $"""
            trustDomain: {trustDomain}
            dataDir: {dir}/data
            serverAddress: {serverAddress}
            joinToken: {joinToken}
            trustBundleFile: {bundleFile}
            syncInterval: 1s
            workloadApi:
              socket: {dir}/api.sock
            listen:
              health: {DemoEndpoint.Loopback(DemoEndpoint.FreeLoopbackPort())}
            adminUids: [{adminUid}]
            {attestation}
            {gateSection}
            """;
    }

    /// <summary>The gate's outbound listener lines: a unix socket at <paramref name="socket"/> to <paramref name="target"/>, expecting <paramref name="peer"/>.</summary>
    public static string Outbound(string socket, string target, string peer) => $"""
          outbound:
            - name: payments
              listen: unix://{socket}
              target: {target}
              peer: {peer}
        """;

    /// <summary>The gate's inbound listener lines: mTLS on <paramref name="listen"/>, plain to <paramref name="forward"/>.</summary>
    public static string Inbound(string listen, string forward) => $"""
          inbound:
            - name: api
              listen: tcp://{listen}
              forward: {forward}
        """;

    /// <summary>
    /// A <c>FederatedTrustDomain</c> for <paramref name="peer"/>: its https_spiffe bundle endpoint
    /// on 127.0.0.1:<paramref name="bundlePort"/>, bootstrapped from <paramref name="bundleJson"/>, max staleness 1 m.
    /// </summary>
    public static string Federation(string peer, string owner, int bundlePort, string bundleJson) => $"""
        apiVersion: anchorage.dev/v1alpha1
        kind: FederatedTrustDomain
        metadata:
          name: {peer}
        spec:
          trustDomain: {peer}
          owner: {owner}
          bundleEndpoint:
            url: https://{DemoEndpoint.Loopback(bundlePort)}/
            profile: https_spiffe
            endpointSPIFFEID: spiffe://{peer}/anchorage/server
            bootstrapBundle: '{bundleJson.Replace("'", "''", StringComparison.Ordinal)}'
          maxStaleness: 1m

        """;
}
