using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Ca.Internal;

/// <summary>
/// The rotation loop (SPIRE's rotator): every interval it runs one check, which plans from the
/// journal and calls the steps of an <see cref="IAuthorityRotation"/>. A slow check is never queued
/// behind: the beat that finds one running is skipped. Failures are logged and retried at the next beat.
/// </summary>
internal sealed class CaRotator(TimeProvider time, TimeSpan interval, Func<CancellationToken, Task> check, ILogger logger, CancellationToken stopping)
    : IAsyncDisposable
{
    private static readonly AuthorityKind[] Kinds = [AuthorityKind.X509, AuthorityKind.Jwt];

    private readonly Lock _tickLock = new();
    private ITimer? _timer;
    private Task _tick = Task.CompletedTask;

    /// <summary>The check the timer started last (tests await it after advancing a fake clock).</summary>
    public Task LastCheck
    {
        get
        {
            lock (_tickLock)
            {
                return _tick;
            }
        }
    }

    /// <summary>
    /// One rotation: retire what expired and prepare what is due (for both kinds), publish the
    /// bundle (so every prepared authority is in it), then activate what is due; repeat until the
    /// plan says nothing more is due now (a server that was down for a long time may need two rounds).
    /// </summary>
    public static async Task RotateAsync(IAuthorityRotation steps, CancellationToken cancellationToken)
    {
        await steps.ReconcileAsync(cancellationToken).ConfigureAwait(false);
        for (var round = 0; round < 4; round++)
        {
            var changed = false;
            foreach (var kind in Kinds)
            {
                for (var step = 0; step < 4; step++)
                {
                    var decision = steps.Plan(kind);
                    if (decision.Action == RotationAction.Retire)
                    {
                        await steps.RetireAsync(decision.Expired, cancellationToken).ConfigureAwait(false);
                    }
                    else if (decision.Action == RotationAction.Prepare)
                    {
                        await steps.PrepareAsync(kind, cancellationToken).ConfigureAwait(false);
                    }
                    else
                    {
                        break;
                    }

                    changed = true;
                    await steps.ReconcileAsync(cancellationToken).ConfigureAwait(false);
                }
            }

            await steps.PublishAsync(cancellationToken).ConfigureAwait(false);
            var activated = false;
            foreach (var kind in Kinds)
            {
                if (steps.Plan(kind) is { Action: RotationAction.Activate, Authority: { } prepared })
                {
                    // False: another server revoked it meanwhile; the next round plans from the journal as it is.
                    activated |= await steps.ActivateAsync(prepared, cancellationToken).ConfigureAwait(false);
                }
            }

            if (!changed && !activated)
            {
                break;
            }
        }
    }

    /// <summary>Starts the beat.</summary>
    public void Start() => _timer = time.CreateTimer(static state => ((CaRotator)state!).OnTimer(), this, interval, interval);

    /// <summary>Stops the beat and waits for a running check (the caller has cancelled <c>stopping</c>).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_timer is not null)
        {
            await _timer.DisposeAsync().ConfigureAwait(false);
        }

        await LastCheck.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private void OnTimer()
    {
        lock (_tickLock)
        {
            if (stopping.IsCancellationRequested || !_tick.IsCompleted)
            {
                return; // a slow check still runs: skip this beat rather than queue behind it
            }

            _tick = TickAsync();
        }
    }

    private async Task TickAsync()
    {
        await Task.Yield(); // never run the check on the timer's thread
        try
        {
            await check(stopping).ConfigureAwait(false);
        }
        catch (OperationCanceledException) when (stopping.IsCancellationRequested)
        {
            // stopping
        }
        catch (ObjectDisposedException) when (stopping.IsCancellationRequested)
        {
            // stopping
        }
#pragma warning disable CA1031 // the timer must survive any failure; it is logged and retried at the next interval
        catch (Exception ex)
#pragma warning restore CA1031
        {
            CaManagerLog.RotationCheckFailed(logger, ex);
        }
    }
}
