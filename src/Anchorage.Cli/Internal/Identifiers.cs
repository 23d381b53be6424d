using Anchorage.Protos.Common.V1;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Validates IDs, trust domains and selectors given on the command line with the core library,
/// so that a typo is a usage error (exit 2) before anything is sent. The server re-validates.
/// </summary>
internal static class Identifiers
{
    /// <exception cref="CliException">Not a SPIFFE ID; the message names <paramref name="what"/>.</exception>
    public static string SpiffeId(string what, string text) =>
        Anchorage.Spiffe.Ids.SpiffeId.TryParse(text, out var id, out var error)
            ? id.ToString()
            : throw CliException.Usage($"{what} \"{text}\": {error}");

    /// <exception cref="CliException">Not a trust domain; the message names <paramref name="what"/>.</exception>
    public static string TrustDomain(string what, string text) =>
        Anchorage.Spiffe.Ids.TrustDomain.TryParse(text, out var td, out var error)
            ? td.Name
            : throw CliException.Usage($"{what} \"{text}\": {error}");

    /// <exception cref="CliException">Not <c>type:value</c>; the message names <paramref name="what"/>.</exception>
    public static Selector Selector(string what, string text) =>
        Selectors.TryParse(text, out var selector, out var error)
            ? selector
            : throw CliException.Usage($"{what} \"{text}\": {error}");

    /// <exception cref="CliException">Empty; entry ids are otherwise opaque to the CLI.</exception>
    public static string EntryId(string text) =>
        string.IsNullOrWhiteSpace(text) ? throw CliException.Usage("entry id is empty") : text;

    /// <exception cref="CliException">Not a DNS name (a leading <c>*.</c> wildcard label is allowed).</exception>
    public static string DnsName(string what, string text)
    {
        var host = text.StartsWith("*.", StringComparison.Ordinal) ? text[2..] : text;
        return Uri.CheckHostName(host) == UriHostNameType.Dns
            ? text
            : throw CliException.Usage($"{what} \"{text}\": not a DNS name");
    }
}
