using System.Security.Cryptography;
using Microsoft.Extensions.Logging;

namespace Anchorage.Server.Api.Internal;

/// <summary>
/// Bounds concurrent signing. A request that finds every slot taken is refused at once with a
/// retry hint: a burst of agents costs one cheap refusal each rather than a queue that grows
/// without bound while every agent's deadline runs out.
/// </summary>
internal sealed class SigningAdmission : IDisposable
{
    private readonly SemaphoreSlim _slots;
    private readonly int _limit;
    private readonly int _retryAfterMs;
    private readonly ILogger _logger;
    private long _admitted;

    public SigningAdmission(ApiOptions options, ILoggerFactory loggerFactory)
    {
        options.Validate();
        _limit = options.MaxConcurrentSigning;
        _slots = new SemaphoreSlim(_limit, _limit);
        _retryAfterMs = (int)Math.Ceiling(options.SigningRetryAfter.TotalMilliseconds);
        _logger = loggerFactory.CreateLogger(ApiLog.Category);
    }

    /// <summary>Takes a slot, to be returned by disposing the lease.</summary>
    /// <exception cref="ApiException">Every slot is in use (<c>Unavailable</c> with a retry hint).</exception>
    public Lease Enter()
    {
        if (!_slots.Wait(0))
        {
            var retryAfter = _retryAfterMs + RandomNumberGenerator.GetInt32(_retryAfterMs + 1);
            ApiLog.SigningBusy(_logger, _limit, retryAfter);
            throw ApiException.Busy(retryAfter);
        }

        Interlocked.Increment(ref _admitted);
        return new Lease(_slots);
    }

    /// <summary>How many slots were handed out since start (one per signature).</summary>
    public long Admitted => Interlocked.Read(ref _admitted);

    public void Dispose() => _slots.Dispose();

    /// <summary>A held slot.</summary>
    internal readonly struct Lease(SemaphoreSlim slots) : IDisposable
    {
        public void Dispose() => slots.Release();
    }
}
