namespace Anchorage.Agent.Tests.Policy;

/// <summary>Policy documents for the source tests: one valid shape, with a defect switched on by a flag.</summary>
internal static class PolicyTexts
{
    public static string Valid(string name = "acme", string action = "allow", int port = 8443) => $$"""
        apiVersion: anchorage.dev/v1alpha1
        kind: CommunicationPolicy
        metadata: { name: {{name}} }
        spec:
          rules:
            - name: web-to-api
              action: {{action}}
              from: { spiffeId: "spiffe://acme.corp/web/*" }
              to: { spiffeId: "spiffe://acme.corp/api", port: {{port}} }

        """;

    /// <summary><see cref="Valid"/> with two defects: line 7 action, line 9 port.</summary>
    public static string Invalid() => Valid(action: "maybe", port: 0);
}
