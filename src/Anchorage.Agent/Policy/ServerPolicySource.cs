using System.Globalization;
using Anchorage.Policy;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Policy;

/// <summary>
/// The trust domain's communication policy as the server distributes it: the cache synchronizer
/// hands over each new version it receives (with every sync, and at once when the server's
/// <c>WatchBundles</c> stream reports a change). The version is the server's number in decimal.
/// A version that does not parse here is logged once and the last good policy stays in force.
/// </summary>
public sealed class ServerPolicySource : IPolicySource
{
    private readonly ILogger _logger;
    private readonly Lock _gate = new();
    private volatile CompiledPolicy _current = CompiledPolicy.DenyAll;
    private long _knownVersion;

    /// <summary>Creates a source holding <see cref="CompiledPolicy.DenyAll"/> until the first sync brings a policy.</summary>
    public ServerPolicySource(ILogger logger)
    {
        ArgumentNullException.ThrowIfNull(logger);
        _logger = logger;
    }

    /// <inheritdoc/>
    public CompiledPolicy Current => _current;

    /// <inheritdoc/>
    public event EventHandler? Changed;

    /// <summary>
    /// The server version last received (in force, or rejected here); 0 before any. The synchronizer
    /// sends it as <c>known_version</c>, so the server sends the text only when it is newer.
    /// </summary>
    public long KnownVersion => Interlocked.Read(ref _knownVersion);

    /// <summary>
    /// Takes <paramref name="yaml"/> as server version <paramref name="version"/>: compiled and put in
    /// force when it parses (then <see cref="Changed"/> is raised), logged and ignored when it does not.
    /// A version already known is ignored.
    /// </summary>
    /// <returns>True when <see cref="Current"/> changed.</returns>
    public bool Offer(long version, string yaml)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(version, 1);
        ArgumentNullException.ThrowIfNull(yaml);
        var versionText = version.ToString(CultureInfo.InvariantCulture);
        var source = "server-policy-v" + versionText;
        lock (_gate)
        {
            if (version == _knownVersion)
            {
                return false;
            }

            Interlocked.Exchange(ref _knownVersion, version);
            var parsed = PolicyDocument.Parse(yaml, source);
            if (!parsed.IsValid)
            {
                PolicyLog.Rejected(_logger, source, _current.Version, string.Join("; ", parsed.ErrorLines));
                return false;
            }

            _current = CompiledPolicy.Compile(parsed.Value, versionText);
            PolicyLog.Loaded(_logger, parsed.Value.Name, versionText, parsed.Value.Rules.Count, "the server");
        }

        Changed?.Invoke(this, EventArgs.Empty);
        return true;
    }
}
