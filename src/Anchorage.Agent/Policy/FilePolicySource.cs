using System.Text;
using Anchorage.Agent.Node;
using Anchorage.Foundation.Config;
using Anchorage.Policy;
using Microsoft.Extensions.Logging;

namespace Anchorage.Agent.Policy;

/// <summary>
/// A communication policy read from a local file (agent.yaml <c>gate.policyFile</c>), reloaded when
/// the file changes: a <see cref="FileSystemWatcher"/> on its directory (editors and Kubernetes
/// ConfigMaps replace files by rename, which a watch on the file alone would miss), plus a check of
/// its size and modification time every <see cref="CheckInterval"/> as a backstop where change
/// events are lost or unsupported (network file systems).
/// </summary>
/// <remarks>
/// <para>Version: <c>file:</c> and the first 12 hex digits of the SHA-256 of the file's bytes, so the
/// same content always has the same version, on every node.</para>
/// <para>A bad first load is a start error (<see cref="AgentStartException"/>). A bad reload keeps
/// the last good policy and logs one line (event 2302) naming every <c>file:line: path</c> error; the
/// same bad content is not logged again. <see cref="IPolicySource.Changed"/> is raised only when the
/// version changes (rewriting the same bytes, or touching the file, is no change).</para>
/// <para>Write the file atomically (write another file, then rename it over this one): a reader
/// that catches a half-written file rejects it and logs it, then loads the finished one.</para>
/// </remarks>
public sealed class FilePolicySource : IPolicySource, IDisposable, IAsyncDisposable
{
    /// <summary>The default interval of the backstop check.</summary>
    public static readonly TimeSpan DefaultCheckInterval = TimeSpan.FromSeconds(5);

    /// <summary>The prefix of every file policy's version.</summary>
    public const string VersionPrefix = PolicyDocument.FileVersionPrefix;

    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly FileSystemWatcher? _watcher;
    private readonly SemaphoreSlim _checking = new(1, 1);
    private readonly SemaphoreSlim _signal = new(0, 1);
    private readonly CancellationTokenSource _stop = new();
    private readonly Task _loop;
    private volatile CompiledPolicy _current;
    private string _lastContentVersion;
    private (long Length, DateTime Modified) _lastStat;
    private long _reads;

    /// <summary>Loads <paramref name="path"/> and starts watching it.</summary>
    /// <param name="path">The policy file.</param>
    /// <param name="time">The clock of the backstop check.</param>
    /// <param name="logger">Receives loads and rejected reloads.</param>
    /// <param name="checkInterval">The backstop check's interval; default <see cref="DefaultCheckInterval"/>.</param>
    /// <param name="watchFileSystem">False: no <see cref="FileSystemWatcher"/>, the periodic check alone.</param>
    /// <exception cref="AgentStartException">The file is missing, unreadable or not a valid policy; the message lists every error on one line.</exception>
    public FilePolicySource(string path, TimeProvider time, ILogger logger, TimeSpan? checkInterval = null, bool watchFileSystem = true)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        ArgumentNullException.ThrowIfNull(time);
        ArgumentNullException.ThrowIfNull(logger);
        CheckInterval = checkInterval ?? DefaultCheckInterval;
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(CheckInterval, TimeSpan.Zero, nameof(checkInterval));
        Path = path;
        _time = time;
        _logger = logger;

        _lastStat = Stat();
        var (result, version) = Read();
        if (!result.IsValid)
        {
            _checking.Dispose();
            _signal.Dispose();
            _stop.Dispose();
            throw new AgentStartException("invalid policy: " + string.Join("; ", result.ErrorLines));
        }

        _current = CompiledPolicy.Compile(result.Value, version);
        _lastContentVersion = version;
        PolicyLog.Loaded(_logger, result.Value.Name, version, result.Value.Rules.Count, Path);

        if (watchFileSystem)
        {
            _watcher = TryWatch();
        }

        _loop = Task.Run(() => RunAsync(_stop.Token));
    }

    /// <summary>The policy file, as given.</summary>
    public string Path { get; }

    /// <summary>The backstop check's interval.</summary>
    public TimeSpan CheckInterval { get; }

    /// <summary>How many times the file was read (tests: writes to other files do not read it).</summary>
    internal long Reads => Interlocked.Read(ref _reads);

    /// <inheritdoc/>
    public CompiledPolicy Current => _current;

    /// <inheritdoc/>
    public event EventHandler? Changed;

    /// <summary><c>file:</c> and the first 12 hex digits of the SHA-256 of <paramref name="content"/>.</summary>
    public static string VersionOf(ReadOnlySpan<byte> content) =>
        PolicyDocument.ContentVersion(content);

    /// <summary>
    /// Reads the file now (what a change event does): a new valid content is put in force and
    /// <see cref="IPolicySource.Changed"/> raised; an invalid one is logged and ignored.
    /// </summary>
    /// <returns>True when <see cref="Current"/> changed.</returns>
    public async Task<bool> ReloadAsync(CancellationToken cancellationToken)
    {
        await _checking.WaitAsync(cancellationToken).ConfigureAwait(false);
        bool changed;
        try
        {
            _lastStat = Stat();
            changed = ReloadLocked();
        }
        finally
        {
            _checking.Release();
        }

        if (changed)
        {
            Changed?.Invoke(this, EventArgs.Empty);
        }

        return changed;
    }

    /// <summary>Stops watching without waiting for the check loop; what the loop uses is released once it has ended.</summary>
    public void Dispose()
    {
        if (!Stop())
        {
            return;
        }

        // Never block on the loop (DisposeAsync waits for it): it ends on its own once stopped.
        _loop.ContinueWith(static (_, state) => ((FilePolicySource)state!).Release(), this, CancellationToken.None, TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
    }

    /// <summary>Stops watching and waits until the check loop has ended.</summary>
    public async ValueTask DisposeAsync()
    {
        if (!Stop())
        {
            return;
        }

        try
        {
            await _loop.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
            // Stopped.
        }

        Release();
    }

    private bool Stop()
    {
        if (_stop.IsCancellationRequested)
        {
            return false;
        }

        _stop.Cancel();
        _watcher?.Dispose();
        return true;
    }

    private void Release()
    {
        _stop.Dispose();
        _checking.Dispose();
        _signal.Dispose();
    }

    // One content is judged once: a bad content is logged once, and the same good content is no change.
    private bool ReloadLocked()
    {
        var (result, version) = Read();
        if (string.Equals(version, _lastContentVersion, StringComparison.Ordinal))
        {
            return false;
        }

        _lastContentVersion = version;
        if (!result.IsValid)
        {
            PolicyLog.Rejected(_logger, Path, _current.Version, string.Join("; ", result.ErrorLines));
            return false;
        }

        if (string.Equals(version, _current.Version, StringComparison.Ordinal))
        {
            return false;
        }

        _current = CompiledPolicy.Compile(result.Value, version);
        PolicyLog.Loaded(_logger, result.Value.Name, version, result.Value.Rules.Count, Path);
        return true;
    }

    // The version of an unreadable file is its error text, so a missing file is logged once too.
    private (ConfigResult<CommunicationPolicy> Result, string Version) Read()
    {
        Interlocked.Increment(ref _reads);
        byte[] bytes;
        try
        {
            bytes = File.ReadAllBytes(Path);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            var message = e is FileNotFoundException or DirectoryNotFoundException ? "file not found" : "cannot read the file: " + e.Message;
            return (new ConfigResult<CommunicationPolicy>([new ConfigError(Path, null, null, string.Empty, message)]), "error:" + message);
        }

        var text = new UTF8Encoding(false, false).GetString(bytes);
        return (PolicyDocument.Parse(text, Path), VersionOf(bytes));
    }

    private (long Length, DateTime Modified) Stat()
    {
        try
        {
            var info = new FileInfo(Path);
            return info.Exists ? (info.Length, info.LastWriteTimeUtc) : (-1, default);
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return (-1, default);
        }
    }

    private FileSystemWatcher? TryWatch()
    {
        var full = System.IO.Path.GetFullPath(Path);
        try
        {
            var watcher = new FileSystemWatcher(System.IO.Path.GetDirectoryName(full)!)
            {
                NotifyFilter = NotifyFilters.FileName | NotifyFilters.DirectoryName | NotifyFilters.LastWrite | NotifyFilters.Size | NotifyFilters.CreationTime,
                IncludeSubdirectories = false,
            };
            var name = System.IO.Path.GetFileName(full);
            FileSystemEventHandler onChange = (_, e) =>
            {
                if (Concerns(name, e.Name))
                {
                    Signal();
                }
            };
            watcher.Changed += onChange;
            watcher.Created += onChange;
            watcher.Deleted += onChange;
            watcher.Renamed += (_, e) =>
            {
                if (Concerns(name, e.Name) || Concerns(name, e.OldName))
                {
                    Signal();
                }
            };
            watcher.Error += (_, _) => Signal();
            watcher.EnableRaisingEvents = true;
            return watcher;
        }
        catch (Exception e) when (e is IOException or ArgumentException or PlatformNotSupportedException or UnauthorizedAccessException)
        {
            PolicyLog.WatchUnavailable(_logger, Path, e.Message, CheckInterval);
            return null;
        }
    }

    /// <summary>
    /// Whether a change event for <paramref name="changed"/> (a name in the watched directory) may
    /// change the policy file <paramref name="fileName"/>: the file itself, or a Kubernetes
    /// ConfigMap's <c>..data</c> link and its timestamped siblings, swapped by rename. Other files
    /// in the directory (an audit log written on every connection) are not a reason to read it.
    /// </summary>
    internal static bool Concerns(string fileName, string? changed) =>
        changed is not null &&
        (string.Equals(changed, fileName, StringComparison.Ordinal) || changed.StartsWith("..", StringComparison.Ordinal));

    private void Signal()
    {
        try
        {
            _signal.Release();
        }
        catch (SemaphoreFullException)
        {
            // A check is already pending.
        }
        catch (ObjectDisposedException)
        {
            // Stopping.
        }
    }

    private async Task RunAsync(CancellationToken cancellationToken)
    {
        while (!cancellationToken.IsCancellationRequested)
        {
            bool signalled;
            using (var either = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken))
            {
                var woken = _signal.WaitAsync(either.Token);
                var elapsed = Task.Delay(CheckInterval, _time, either.Token);
                await Task.WhenAny(woken, elapsed).ConfigureAwait(false);
                await either.CancelAsync().ConfigureAwait(false);
                try
                {
                    await Task.WhenAll(woken, elapsed).ConfigureAwait(false);
                }
                catch (OperationCanceledException)
                {
                    // The loser of the race.
                }

                // Also when the signal came just after the delay won: it was taken, so it counts.
                signalled = woken.IsCompletedSuccessfully;
            }

            if (cancellationToken.IsCancellationRequested)
            {
                return;
            }

            // A change event always reads the file; the periodic check reads it only when its
            // size or modification time moved.
            if (signalled || Stat() != _lastStat)
            {
                await ReloadAsync(cancellationToken).ConfigureAwait(false);
            }
        }
    }
}
