using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.WebConsole.Internal;

/// <summary>
/// Everything the console listener answers, and nothing else reaches it: <c>GET /login?token=</c>
/// (the one request without a session), then, with a session cookie, the page, its script and
/// stylesheet, and <c>/api/*</c>. Read-only: GET and HEAD only. Every answer carries a strict CSP.
/// </summary>
internal sealed class ConsoleHandler(ConsoleSessions sessions, ConsoleApi api, bool secure, ILogger logger)
{
    /// <summary>The session cookie's name.</summary>
    public const string CookieName = "anchorage_console";

    /// <summary>
    /// Only this origin's own script, style, images and fetches; no inline code, no framing, no
    /// plugins, no forms, no base rewriting.
    /// </summary>
    public const string ContentSecurityPolicy =
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; " +
        "object-src 'none'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'";

    /// <summary>The answer to a request without a live session.</summary>
    public const string NoSession = "no console session: run `anchorage console login` on the server and open the URL it prints\n";

    /// <summary>The answer to a login with a bad token.</summary>
    public const string LoginRefused = "login token refused: it is unknown, already used or expired; run `anchorage console login` for a new one\n";

    public async Task HandleAsync(HttpContext context)
    {
        var request = context.Request;
        var response = context.Response;
        var headers = response.Headers;
        headers.ContentSecurityPolicy = ContentSecurityPolicy;
        headers.XContentTypeOptions = "nosniff";
        headers.XFrameOptions = "DENY";
        headers["Referrer-Policy"] = "no-referrer";
        headers["Cross-Origin-Opener-Policy"] = "same-origin";
        headers["Cross-Origin-Resource-Policy"] = "same-origin";
        headers.CacheControl = "no-store";

        if (!HttpMethods.IsGet(request.Method) && !HttpMethods.IsHead(request.Method))
        {
            headers.Allow = "GET, HEAD";
            await TextAsync(response, StatusCodes.Status405MethodNotAllowed, "the console is read-only: GET and HEAD only\n").ConfigureAwait(false);
            return;
        }

        var path = request.Path.Value ?? "/";
        var remote = context.Connection.RemoteIpAddress?.ToString() ?? "unknown";
        if (path == "/login")
        {
            if (sessions.Exchange(request.Query["token"].ToString()) is not { } session)
            {
                ConsoleLog.LoginRefused(logger, remote);
                await TextAsync(response, StatusCodes.Status401Unauthorized, LoginRefused).ConfigureAwait(false);
                return;
            }

            ConsoleLog.SessionStarted(logger, remote, session.ExpiresAt);
            response.Cookies.Append(CookieName, session.Session, new CookieOptions
            {
                HttpOnly = true,
                SameSite = SameSiteMode.Strict,
                Path = "/",
                Secure = secure,
                MaxAge = sessions.SessionTtl,
            });

            // Away from the URL with the (now used) token.
            response.StatusCode = StatusCodes.Status303SeeOther;
            headers.Location = "/";
            return;
        }

        if (!sessions.IsValid(request.Cookies[CookieName]))
        {
            await TextAsync(response, StatusCodes.Status401Unauthorized, NoSession).ConfigureAwait(false);
            return;
        }

        if (ConsoleAssets.TryGet(path, out var body, out var contentType))
        {
            response.ContentType = contentType;
            response.ContentLength = body.Length;
            if (HttpMethods.IsGet(request.Method))
            {
                await response.Body.WriteAsync(body, context.RequestAborted).ConfigureAwait(false);
            }

            return;
        }

        if (!path.StartsWith("/api/", StringComparison.Ordinal))
        {
            await TextAsync(response, StatusCodes.Status404NotFound, "not found\n").ConfigureAwait(false);
            return;
        }

        try
        {
            var (status, json) = await ApiAsync(path, request.Query, context.RequestAborted).ConfigureAwait(false);
            response.StatusCode = status;
            response.ContentType = "application/json; charset=utf-8";
            await response.WriteAsync(json, context.RequestAborted).ConfigureAwait(false);
        }
        catch (Exception ex) when (ConsoleApi.ToHttp(ex) is { } refusal)
        {
            await JsonErrorAsync(response, refusal.Status, refusal.Message).ConfigureAwait(false);
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            ConsoleLog.RequestFailed(logger, ex, path);
            await JsonErrorAsync(response, StatusCodes.Status500InternalServerError, "internal error; see the server log").ConfigureAwait(false);
        }
    }

    private async Task<(int Status, string Json)> ApiAsync(string path, IQueryCollection query, CancellationToken ct)
    {
        const string federationPrefix = "/api/federations/";
        switch (path)
        {
            case "/api/graph":
                return (StatusCodes.Status200OK, await api.GraphAsync(ct).ConfigureAwait(false));
            case "/api/authorities":
                return (StatusCodes.Status200OK, await api.AuthoritiesAsync(ct).ConfigureAwait(false));
            case "/api/entries":
            case "/api/agents":
                if (ConsoleApi.ReadListQuery(query, out var text, out var limit) is { } problem)
                {
                    return (StatusCodes.Status400BadRequest, ErrorJson(problem));
                }

                return (StatusCodes.Status200OK, path == "/api/entries"
                    ? await api.EntriesAsync(text, limit, ct).ConfigureAwait(false)
                    : await api.AgentsAsync(text, limit, ct).ConfigureAwait(false));
            default:
                return path.StartsWith(federationPrefix, StringComparison.Ordinal) && path.Length > federationPrefix.Length
                    ? (StatusCodes.Status200OK, await api.FederationAsync(Uri.UnescapeDataString(path[federationPrefix.Length..]), ct).ConfigureAwait(false))
                    : (StatusCodes.Status404NotFound, ErrorJson($"no console api at {path}"));
        }
    }

    private static Task TextAsync(HttpResponse response, int status, string text)
    {
        response.StatusCode = status;
        response.ContentType = "text/plain; charset=utf-8";
        return response.WriteAsync(text);
    }

    private static Task JsonErrorAsync(HttpResponse response, int status, string message)
    {
        response.StatusCode = status;
        response.ContentType = "application/json; charset=utf-8";
        return response.WriteAsync(ErrorJson(message));
    }

    private static string ErrorJson(string message) => ConsoleApi.Error(message);
}
