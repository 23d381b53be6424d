using System.Globalization;
using System.Security.Cryptography;
using System.Text;
using Anchorage.Foundation.Files;
using Anchorage.Spiffe;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Spiffe.Svids;

namespace Anchorage.Agent.Node;

/// <summary>
/// Persists <see cref="AgentState"/> in the agent's data directory: <c>agent_svid.pem</c> (the
/// chain), <c>agent_svid.key</c> (PKCS#8, mode 0600) and <c>bundle.json</c> (SPIFFE bundle JSON),
/// each written to a temporary file and renamed so a crash never leaves half a file. The
/// directory is created with mode 0700.
/// </summary>
public sealed class AgentStateStore
{
    /// <summary>The agent's certificate chain, PEM.</summary>
    public const string SvidFileName = "agent_svid.pem";

    /// <summary>The agent's private key, PKCS#8 PEM, mode 0600.</summary>
    public const string KeyFileName = "agent_svid.key";

    /// <summary>The last own-trust-domain bundle received from the server.</summary>
    public const string BundleFileName = "bundle.json";

    private readonly TrustDomain _trustDomain;

    /// <summary>Creates a store over <paramref name="dataDir"/> for agents of <paramref name="trustDomain"/>.</summary>
    public AgentStateStore(string dataDir, TrustDomain trustDomain)
    {
        ArgumentException.ThrowIfNullOrEmpty(dataDir);
        DataDir = dataDir;
        _trustDomain = trustDomain;
    }

    /// <summary>The data directory.</summary>
    public string DataDir { get; }

    private string SvidPath => Path.Combine(DataDir, SvidFileName);

    private string KeyPath => Path.Combine(DataDir, KeyFileName);

    private string BundlePath => Path.Combine(DataDir, BundleFileName);

    /// <summary>Loads the saved state.</summary>
    /// <returns>null when the agent has never saved one (none of the files exists).</returns>
    /// <exception cref="AgentStateException">A file is missing, unreadable or malformed; the message names it.</exception>
    public AgentState? Load()
    {
        var present = new[] { SvidPath, KeyPath, BundlePath }.Count(File.Exists);
        if (present == 0)
        {
            return null;
        }

        X509Svid svid;
        try
        {
            svid = X509Svid.Parse(ReadFile(SvidPath), ReadFile(KeyPath));
        }
        catch (Exception e) when (e is SpiffeException or FormatException or CryptographicException)
        {
            throw new AgentStateException($"{SvidPath}: the saved agent SVID cannot be used: {e.Message}", e);
        }

        if (svid.Id.TrustDomain != _trustDomain)
        {
            throw new AgentStateException($"{SvidPath}: the saved agent SVID belongs to {svid.Id.TrustDomain.Name}, not {_trustDomain.Name}");
        }

        try
        {
            var bundle = SpiffeBundle.Parse(_trustDomain, ReadFile(BundlePath));
            return new AgentState(svid, bundle);
        }
        catch (Exception e) when (e is SpiffeException or FormatException or CryptographicException)
        {
            throw new AgentStateException($"{BundlePath}: the saved bundle cannot be used: {e.Message}", e);
        }
    }

    /// <summary>Saves <paramref name="state"/>, replacing what was saved before.</summary>
    /// <exception cref="IOException">The directory or a file cannot be written.</exception>
    public void Save(AgentState state)
    {
        ArgumentNullException.ThrowIfNull(state);
        EnsureDirectory();

        // Key first: a crash between the two renames leaves a key without its certificate, which
        // Load reports as a mismatch rather than silently pairing an old chain with a new key.
        WriteAtomically(KeyPath, Encoding.ASCII.GetBytes(state.Svid.KeyToPem()), secret: true);
        WriteAtomically(SvidPath, Encoding.ASCII.GetBytes(state.Svid.ToPem()), secret: false);
        WriteAtomically(BundlePath, state.Bundle.ToUtf8Json(), secret: false);
    }

    /// <summary>Saves only the bundle (after the server sent a newer one).</summary>
    public void SaveBundle(SpiffeBundle bundle)
    {
        ArgumentNullException.ThrowIfNull(bundle);
        EnsureDirectory();
        WriteAtomically(BundlePath, bundle.ToUtf8Json(), secret: false);
    }

    /// <summary>
    /// Moves unusable state files aside (<c>&lt;name&gt;.corrupt-&lt;unix time&gt;</c>) so a fresh
    /// attestation can proceed without destroying what an operator may want to inspect.
    /// </summary>
    /// <returns>The new paths of the files moved.</returns>
    public IReadOnlyList<string> QuarantineCorrupt(DateTimeOffset now)
    {
        var moved = new List<string>();
        var suffix = ".corrupt-" + now.ToUnixTimeSeconds().ToString(CultureInfo.InvariantCulture);
        foreach (var path in new[] { SvidPath, KeyPath, BundlePath })
        {
            if (File.Exists(path))
            {
                File.Move(path, path + suffix, overwrite: true);
                moved.Add(path + suffix);
            }
        }

        return moved;
    }

    private static byte[] ReadFile(string path)
    {
        try
        {
            return File.ReadAllBytes(path);
        }
        catch (Exception e) when (e is FileNotFoundException or DirectoryNotFoundException)
        {
            throw new AgentStateException($"{path}: missing (the other agent state files exist)", e);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            throw new AgentStateException($"{path}: cannot be read: {e.Message}", e);
        }
    }

    private void EnsureDirectory()
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the agent's state needs unix file modes");
        }

        if (!Directory.Exists(DataDir))
        {
            Directory.CreateDirectory(DataDir, UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute);
        }
    }

    private static void WriteAtomically(string path, byte[] content, bool secret)
    {
        if (OperatingSystem.IsWindows())
        {
            throw new PlatformNotSupportedException("the agent's state needs unix file modes");
        }

        SafeFile.Write(path, content, secret ? SafeFile.PrivateMode : SafeFile.PublicMode);
    }
}
