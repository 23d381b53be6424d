using Anchorage.Protos.Admin.V1;

namespace Anchorage.Cli.Internal;

/// <summary>How attested agents look in tables and key/value blocks.</summary>
internal static class AgentOutput
{
    public static void WriteTable(TextWriter writer, IEnumerable<AgentInfo> agents) => Tables.Write(
        writer,
        ["SPIFFE ID", "ATTESTATION", "SERIAL", "EXPIRES", "BANNED"],
        agents.Select(a => new[] { a.SpiffeId, a.AttestationType, a.CertSerial, Tables.Time(a.CertExpiresAt), a.Banned ? "yes" : "no" }));

    public static void Write(TextWriter writer, AgentInfo agent, OutputFormat format)
    {
        if (format == OutputFormat.Json)
        {
            ProtoJson.Write(writer, agent);
            return;
        }

        Tables.WriteFields(writer,
        [
            ("spiffe id", agent.SpiffeId),
            ("attestation", agent.AttestationType),
            ("serial", agent.CertSerial),
            ("expires", Tables.Time(agent.CertExpiresAt)),
            ("banned", agent.Banned ? "yes" : "no"),
            ("selectors", Tables.List(agent.Selectors.Select(Selectors.Format))),
            ("attested", Tables.Time(agent.CreatedAt)),
        ]);
    }
}
