using System.CommandLine;
using Anchorage.Protos.Admin.V1;
using Grpc.Core;

namespace Anchorage.Cli.Internal;

/// <summary>How signing authorities look, and the shape the state-changing authority verbs share.</summary>
internal static class AuthorityOutput
{
    public static void Write(TextWriter writer, IEnumerable<Authority> authorities, OutputFormat format)
    {
        if (format == OutputFormat.Json)
        {
            var list = new ListAuthoritiesResponse();
            list.Authorities.AddRange(authorities);
            ProtoJson.Write(writer, list);
            return;
        }

        Tables.Write(
            writer,
            ["ID", "STATE", "TAINTED", "NOT BEFORE", "NOT AFTER", "SERVER ID"],
            authorities.Select(a => new[] { a.Id, a.State, a.Tainted ? "yes" : "no", Tables.Time(a.NotBefore), Tables.Time(a.NotAfter), a.ServerId }));
    }

    /// <summary>
    /// A verb that sends one <see cref="AuthorityRequest"/> for <paramref name="kind"/> and shows
    /// the authority it affected.
    /// </summary>
    public static Command Verb(
        CliContext context,
        string kind,
        string name,
        string description,
        bool takesId,
        Func<AdminApi.AdminApiClient, AuthorityRequest, CallOptions, AsyncUnaryCall<Authority>> call)
    {
        var id = new Option<string?>("--id") { Description = "the authority id (default: the obvious one for this step)" };
        var output = OutputOption.Create();
        var socket = AdminConnection.SocketOption();
        var command = new Command(name, description) { output, socket };
        if (takesId)
        {
            command.Add(id);
        }

        command.SetAction(async (parse, cancellationToken) =>
        {
            var request = new AuthorityRequest { Kind = kind, Id = parse.GetValue(id) ?? string.Empty };
            using var admin = AdminConnection.Open(parse, socket);
            var authority = await admin.CallAsync((c, o) => call(c, request, o), cancellationToken).ConfigureAwait(false);
            Write(context.Out, [authority], parse.GetValue(output));
            return ExitCodes.Success;
        });
        return command;
    }
}
