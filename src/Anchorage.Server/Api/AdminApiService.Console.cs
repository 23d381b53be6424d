using Anchorage.Protos.Admin.V1;
using Anchorage.Server.Api.Internal;
using Anchorage.Server.WebConsole.Internal;
using Grpc.Core;

namespace Anchorage.Server.Api;

/// <summary>The read-only web console's login (issue 16).</summary>
public sealed partial class AdminApiService
{
    /// <summary>
    /// A one-time URL for the console: its token is good once, for
    /// <see cref="WebConsole.ConsoleSessions.LoginTokenTtl"/>. FailedPrecondition when no console is
    /// configured; Unavailable before its listener is bound.
    /// </summary>
    public override Task<ConsoleLogin> CreateConsoleLogin(CreateConsoleLoginRequest request, ServerCallContext context)
    {
        if (_console is null)
        {
            throw ApiException.FailedPrecondition("the web console is not enabled: set console.listen in server.yaml");
        }

        var baseUrl = _bound?.ConsoleBaseUrl ?? throw ApiException.Unavailable("the web console is not listening yet");
        var (token, expiresAt) = _console.CreateLoginToken();
        ConsoleLog.LoginTokenIssued(_logger, expiresAt);
        return Task.FromResult(new ConsoleLogin
        {
            Url = baseUrl + "/login?token=" + token,
            ExpiresAt = expiresAt.ToUnixTimeSeconds(),
        });
    }
}
