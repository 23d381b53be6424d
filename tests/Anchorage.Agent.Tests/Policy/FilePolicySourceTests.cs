using System.Diagnostics;
using Anchorage.Agent.Node;
using Anchorage.Agent.Policy;
using Anchorage.Testing;
using Anchorage.Testing.Logging;
using Microsoft.Extensions.Time.Testing;

namespace Anchorage.Agent.Tests.Policy;

public sealed class FilePolicySourceTests : IDisposable
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(15);

    private readonly TempDir _dir = new();
    private readonly LogCapture _log = new();
    private readonly FakeTimeProvider _clock = new(new DateTimeOffset(2026, 11, 23, 1, 0, 0, TimeSpan.Zero));

    private string PolicyPath => Path.Combine(_dir.Path, "policy.yaml");

    public void Dispose() => _dir.Dispose();

    /// <summary>Replaces the file as an operator should: write another file, rename it over.</summary>
    private void Replace(string text)
    {
        var temp = PolicyPath + ".tmp";
        File.WriteAllText(temp, text);
        File.Move(temp, PolicyPath, overwrite: true);
    }

    /// <summary>The version computed by sha256sum, an independent producer of the digest.</summary>
    private static async Task<string> Sha256SumVersionAsync(string path)
    {
        var start = new ProcessStartInfo("sha256sum") { RedirectStandardOutput = true };
        start.ArgumentList.Add(path);
        using var process = Process.Start(start)!;
        var output = await process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync();
        Assert.Equal(0, process.ExitCode);
        return "file:" + output[..12];
    }

    private FilePolicySource Start(bool watch = false) =>
        new(PolicyPath, _clock, _log.Logger, TimeSpan.FromSeconds(5), watchFileSystem: watch);

    private static Task<bool> NextChange(FilePolicySource source)
    {
        var changed = new TaskCompletionSource<bool>(TaskCreationOptions.RunContinuationsAsynchronously);
        source.Changed += (_, _) => changed.TrySetResult(true);
        return changed.Task;
    }

    [Fact]
    public async Task Start_ValidFile_PolicyInForceUnderContentVersion()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());

        using var source = Start();

        Assert.Equal(await Sha256SumVersionAsync(PolicyPath), source.Current.Version);
        Assert.Matches("^file:[0-9a-f]{12}$", source.Current.Version);
        Assert.Equal("acme", source.Current.Name);
        Assert.Equal(["web-to-api"], source.Current.Rules.Select(r => r.Name));
        Assert.Equal([$"policy acme version {source.Current.Version} in force (1 rules, from {PolicyPath})"], _log.Messages(2301));
    }

    [Fact]
    public void Start_InvalidFile_StartErrorListingEveryErrorOnOneLine()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Invalid());

        var e = Assert.Throws<AgentStartException>(() => Start());

        Assert.Equal(
            $"invalid policy: {PolicyPath}:7: spec.rules[0].action: \"maybe\" is not allow or deny; " +
            $"{PolicyPath}:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)",
            e.Message);

        // Positive control: the same file with the defects switched off starts.
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start();
        Assert.Equal("acme", source.Current.Name);
    }

    [Fact]
    public void Start_MissingFile_StartErrorNamingTheFile()
    {
        var e = Assert.Throws<AgentStartException>(() => Start());

        Assert.Equal($"invalid policy: {PolicyPath}: file not found", e.Message);
    }

    [Fact]
    public async Task Reload_ValidChange_NewVersionAndChangedOnce()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start();
        var first = source.Current;
        var changes = 0;
        source.Changed += (_, _) => changes++;

        Replace(PolicyTexts.Valid(action: "deny"));
        Assert.True(await source.ReloadAsync(CancellationToken.None));
        Assert.False(await source.ReloadAsync(CancellationToken.None));

        Assert.Equal(1, changes);
        Assert.NotEqual(first.Version, source.Current.Version);
        Assert.Equal(await Sha256SumVersionAsync(PolicyPath), source.Current.Version);
        Assert.Equal(Anchorage.Policy.PolicyAction.Deny, source.Current.Rules[0].Action);
    }

    [Fact]
    public async Task Reload_SameBytesRewritten_NoChange()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start();
        var first = source.Current;
        var changes = 0;
        source.Changed += (_, _) => changes++;

        Replace(PolicyTexts.Valid());
        File.SetLastWriteTimeUtc(PolicyPath, DateTime.UtcNow.AddMinutes(1));

        Assert.False(await source.ReloadAsync(CancellationToken.None));
        Assert.Same(first, source.Current);
        Assert.Equal(0, changes);

        // Positive control: one changed byte is a new version.
        Replace(PolicyTexts.Valid() + "#");
        Assert.True(await source.ReloadAsync(CancellationToken.None));
        Assert.Equal(1, changes);
    }

    [Fact]
    public async Task Reload_InvalidChange_LastGoodKeptAndOneLineLoggedOnce()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start();
        var good = source.Current;
        var changes = 0;
        source.Changed += (_, _) => changes++;

        Replace(PolicyTexts.Invalid());
        Assert.False(await source.ReloadAsync(CancellationToken.None));
        Assert.False(await source.ReloadAsync(CancellationToken.None));

        Assert.Same(good, source.Current);
        Assert.Equal(0, changes);
        Assert.Equal(
            [
                $"policy from {PolicyPath} rejected, keeping version {good.Version}: " +
                $"{PolicyPath}:7: spec.rules[0].action: \"maybe\" is not allow or deny; " +
                $"{PolicyPath}:9: spec.rules[0].to.port: \"0\" is not a port (a number from 1 to 65535)",
            ],
            _log.Messages(2302));

        // A deleted file is rejected the same way, once.
        File.Delete(PolicyPath);
        Assert.False(await source.ReloadAsync(CancellationToken.None));
        Assert.False(await source.ReloadAsync(CancellationToken.None));
        Assert.Equal($"policy from {PolicyPath} rejected, keeping version {good.Version}: {PolicyPath}: file not found", _log.Messages(2302).Last());
        Assert.Equal(2, _log.Messages(2302).Count());

        // Positive control: the file fixed is taken.
        Replace(PolicyTexts.Valid(name: "fixed"));
        Assert.True(await source.ReloadAsync(CancellationToken.None));
        Assert.Equal("fixed", source.Current.Name);
        Assert.Equal(1, changes);
    }

    [Fact]
    public async Task PeriodicCheck_NoWatcher_ChangeTakenWhenTheIntervalPasses()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start(watch: false);
        var first = source.Current.Version;
        var changed = NextChange(source);

        Replace(PolicyTexts.Valid(name: "longer-name-so-the-size-moves"));

        // Without the clock moving nothing reads the file (there is no watcher).
        Assert.Equal(first, source.Current.Version);
        var deadline = Stopwatch.StartNew();
        while (!changed.IsCompleted && deadline.Elapsed < Wait)
        {
            _clock.Advance(TimeSpan.FromSeconds(5));
            await Task.WhenAny(changed, Task.Delay(20));
        }

        Assert.True(changed.IsCompleted, "the periodic check did not pick up the change");
        Assert.Equal("longer-name-so-the-size-moves", source.Current.Name);
    }

    [Fact]
    public async Task Watcher_FileReplacedByRename_TakenWithoutTheClockMoving()
    {
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start(watch: true);
        var changed = NextChange(source);
        var clock = Stopwatch.StartNew();

        Replace(PolicyTexts.Valid(action: "deny"));

        // The fake clock never moves here: only a change event can explain the reload.
        Assert.Same(changed, await Task.WhenAny(changed, Task.Delay(Wait)));
        Assert.Equal(Anchorage.Policy.PolicyAction.Deny, source.Current.Rules[0].Action);
        Assert.True(clock.Elapsed < Wait);
    }

    [Fact]
    public async Task Watcher_OtherFileInTheDirectoryWritten_PolicyNotReadAgain()
    {
        // The gate's audit log often sits next to the policy: a write per connection must not
        // make the agent read and parse the policy per connection.
        File.WriteAllText(PolicyPath, PolicyTexts.Valid());
        using var source = Start(watch: true);
        var audit = Path.Combine(_dir.Path, "audit.jsonl");
        for (var i = 0; i < 200; i++)
        {
            File.AppendAllText(audit, "{\"decision\":\"allow\"}\n");
        }

        // Positive control on the same watcher: the policy's own replacement is read, once.
        var changed = NextChange(source);
        Replace(PolicyTexts.Valid(action: "deny"));
        Assert.Same(changed, await Task.WhenAny(changed, Task.Delay(Wait)));

        Assert.Equal(Anchorage.Policy.PolicyAction.Deny, source.Current.Rules[0].Action);
        Assert.Equal(2, source.Reads);
    }

    [Theory]
    [InlineData("policy.yaml", true)]
    [InlineData("..data", true)]
    [InlineData("..2026_12_07_14_00_00.123", true)]
    [InlineData("audit.jsonl", false)]
    [InlineData("policy.yaml.tmp", false)]
    [InlineData("policy.yam", false)]
    [InlineData(null, false)]
    public void Concerns_EventName_OnlyThePolicyFileOrAConfigMapSwap(string? changed, bool expected) =>
        Assert.Equal(expected, FilePolicySource.Concerns("policy.yaml", changed));
}
