using System.Globalization;
using System.Security.Cryptography.X509Certificates;
using Anchorage.Agent.Node;
using Anchorage.Spiffe.Bundles;
using Anchorage.Spiffe.Ids;
using Anchorage.Testing;

namespace Anchorage.IntegrationTests.Upgrade;

/// <summary>
/// Issue 17, upgrades: the state an agent of every earlier version saved in its data directory
/// (Upgrade/fixtures/vN/agent, written by that version's own <c>agent run</c>) loads under this build
/// with the same SVID, key and bundle, and this build saves it back in a form it loads the same.
/// </summary>
[System.Runtime.Versioning.SupportedOSPlatform("linux")]
public sealed class AgentStateUpgradeTests
{
    private static readonly TrustDomain Td = TrustDomain.Parse("acme.corp");

    public static TheoryData<int> Versions()
    {
        var data = new TheoryData<int>();
        foreach (var version in UpgradeFixture.VersionList())
        {
            if (Directory.Exists(AgentDir(version)))
            {
                data.Add(version);
            }
        }

        return data;
    }

    [Fact]
    public void Fixtures_AtLeastOneAgentDataDirectory()
    {
        Assert.NotEmpty(Versions());
    }

    [Theory]
    [MemberData(nameof(Versions))]
    public void Load_AgentStateSavedByThatVersion_SameSvidKeyAndBundle(int version)
    {
        using var dir = new TempDir();
        foreach (var file in Directory.EnumerateFiles(AgentDir(version)))
        {
            var to = Path.Combine(dir.Path, Path.GetFileName(file));
            File.Copy(file, to);
            File.SetUnixFileMode(to, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        var state = new AgentStateStore(dir.Path, Td).Load();

        Assert.NotNull(state);
        var saved = X509Certificate2.CreateFromPem(File.ReadAllText(Path.Combine(AgentDir(version), AgentStateStore.SvidFileName)));
        Assert.Equal(saved.RawData, state.Svid.Certificates[0].RawData);
        Assert.StartsWith("spiffe://acme.corp/anchorage/agent/", state.Svid.Id.ToString(), StringComparison.Ordinal);
        var bundle = SpiffeBundle.Parse(Td, File.ReadAllBytes(Path.Combine(AgentDir(version), AgentStateStore.BundleFileName)));
        Assert.Equal(bundle.X509Authorities.Select(c => c.Thumbprint), state.Bundle.X509Authorities.Select(c => c.Thumbprint));
        Assert.NotEmpty(state.Bundle.X509Authorities);

        // Saved again by this build and loaded again: the same state.
        using var again = new TempDir();
        var store = new AgentStateStore(again.Path, Td);
        store.Save(state);
        var reloaded = store.Load();
        Assert.NotNull(reloaded);
        Assert.Equal(state.Svid.Certificates[0].RawData, reloaded.Svid.Certificates[0].RawData);
        Assert.Equal(state.Bundle.X509Authorities.Select(c => c.Thumbprint), reloaded.Bundle.X509Authorities.Select(c => c.Thumbprint));
    }

    private static string AgentDir(int version) => Path.Combine(UpgradeFixture.Root, "v" + version.ToString(CultureInfo.InvariantCulture), "agent");
}
