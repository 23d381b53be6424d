using System.Globalization;
using Anchorage.Agent.Attestation;
using Anchorage.Testing;

namespace Anchorage.Agent.Tests.Attestation;

/// <summary>
/// A workload that exits and whose pid is really reused by another process (forced through
/// /proc/sys/kernel/ns_last_pid, so root only) never makes the attestor hand out the newcomer's
/// facts: the pidfd and start time taken when the peer was opened pin the original process.
/// </summary>
public sealed class PidReuseTests
{
    private const string NsLastPid = "/proc/sys/kernel/ns_last_pid";

    // Whole scenarios tried before giving up on getting a pid reused.
    private const int Rounds = 5;

    private static readonly string Sleep = Processes.Run("realpath", "/bin/sleep").Trim();

    [RootFact(setpriv: true)]
    public async Task AttestAsync_PidReusedByOtherUserDuringAttestation_ThrowsExitedNeverReturnsNewcomer()
    {
        for (var round = 1; ; round++)
        {
            using var original = ChildProcess.Start("/bin/sleep", "30");
            using var peer = PeerCredentialsReader.FromProcessId(original.Pid);
            ChildProcess? newcomer = null;
            var attestor = new UnixWorkloadAttestor
            {
                AfterGathering = async _ =>
                {
                    await original.KillAsync();
                    newcomer = await TryStartAsNobodyWithPidAsync(original.Pid);
                },
            };

            try
            {
                var e = await Assert.ThrowsAsync<WorkloadAttestationException>(async () => await attestor.AttestAsync(peer, CancellationToken.None));
                if (newcomer is null && round < Rounds)
                {
                    continue; // another process of the system took the pid for good: start over with a new one
                }

                Assert.Equal($"process {original.Pid} exited during attestation", e.Message);
                Assert.NotNull(newcomer);
                Assert.Equal(original.Pid, newcomer.Pid);
                return;
            }
            finally
            {
                newcomer?.Dispose();
            }
        }
    }

    [RootFact(setpriv: true)]
    public async Task AttestAsync_PidReusedBeforeAttestationStarts_ThrowsExitedNeverReturnsNewcomer()
    {
        ChildProcess original;
        PeerProcess peer;
        ChildProcess? reused;
        var round = 0;
        do
        {
            // Another process of the system may take the pid for good: start over with a new one.
            original = ChildProcess.Start("/bin/sleep", "30");
            peer = PeerCredentialsReader.FromProcessId(original.Pid);
            await original.KillAsync();
            reused = await TryStartAsNobodyWithPidAsync(original.Pid);
            if (reused is null)
            {
                peer.Dispose();
                original.Dispose();
            }
        }
        while (reused is null && ++round < Rounds);

        using var _ = original;
        using var __ = peer;
        using var newcomer = reused ?? throw new Xunit.Sdk.XunitException($"could not make a new process reuse a pid in {Rounds} rounds");

        // The pid now names a live process of uid 65534: what /proc/<pid> shows is the newcomer's.
        Assert.Equal("65534", File.ReadLines($"/proc/{newcomer.Pid}/status").First(l => l.StartsWith("Uid:", StringComparison.Ordinal)).Split('\t')[1]);
        var e = await Assert.ThrowsAsync<WorkloadAttestationException>(async () => await new UnixWorkloadAttestor().AttestAsync(peer, CancellationToken.None));

        Assert.Equal($"process {original.Pid} exited during attestation", e.Message);

        // Positive control: the newcomer, opened as itself, attests as nobody.
        using var newcomerPeer = PeerCredentialsReader.FromProcessId(newcomer.Pid);
        var selectors = (await new UnixWorkloadAttestor().AttestAsync(newcomerPeer, CancellationToken.None)).Selectors.Select(s => s.ToString());
        Assert.Contains("unix:uid:65534", selectors);
    }

    // Makes the kernel hand out `pid` next (ns_last_pid = pid - 1) and starts `sleep` as nobody
    // with it; retries when another process of the system takes the pid first; null when the pid
    // stays taken (tests run in parallel with other assemblies that start processes).
    private static async Task<ChildProcess?> TryStartAsNobodyWithPidAsync(int pid)
    {
        for (var attempt = 0; attempt < 50; attempt++)
        {
            await File.WriteAllTextAsync(NsLastPid, (pid - 1).ToString(CultureInfo.InvariantCulture));
            var child = ChildProcess.Start("/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", Sleep, "30");
            if (child.Pid == pid)
            {
                await child.WaitForExecAsync(Sleep);
                return child;
            }

            child.Dispose();
        }

        return null;
    }
}
