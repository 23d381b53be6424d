using System.Buffers;
using System.Text.Json;
using System.Threading.Channels;
using Anchorage.Foundation.Audit;
using Anchorage.Foundation.Files;
using Anchorage.Hosting.Audit.Internal;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace Anchorage.Hosting.Audit;

/// <summary>
/// The audit trail as a file of JSON lines (<see cref="AuditJson"/>), rotated by size: before a
/// record would take <c>FILE</c> past <see cref="AuditOptions.MaxSizeMB"/>, <c>FILE.keep</c> is
/// deleted, <c>FILE.n</c> becomes <c>FILE.n+1</c>, <c>FILE</c> becomes <c>FILE.1</c> and a new
/// <c>FILE</c> is created (mode 0640).
/// </summary>
/// <remarks>
/// <see cref="Write"/> only queues the record (a bounded queue drained by one background task), so
/// callers never wait for the disk. When the queue is full the record is dropped and counted; once
/// there is room again one <see cref="AuditKinds.AuditDropped"/> record says how many were lost.
/// I/O errors are logged and counted, never thrown; the file is reopened on the next record.
/// <see cref="DisposeAsync"/> writes everything queued and flushes the file to disk.
/// </remarks>
public sealed class AuditLog : IAuditSink, IAsyncDisposable
{
    /// <summary>How many records may wait for the disk before new ones are dropped.</summary>
    public const int DefaultCapacity = 8192;

    // Writes go to the file in batches of about this size (a burst costs few system calls).
    private const int BatchBytes = 64 * 1024;

    // The trail is readable by the owner's group (operators), never by others.
    private const UnixFileMode FileMode0640 = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.GroupRead;
    private const UnixFileMode DirectoryMode = UnixFileMode.UserRead | UnixFileMode.UserWrite | UnixFileMode.UserExecute | UnixFileMode.GroupRead | UnixFileMode.GroupExecute;

    private readonly string _file;
    private readonly long _maxBytes;
    private readonly int _keep;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly Channel<AuditRecord> _queue;
    private readonly Task _loop;

    // Owned by the background task only.
    private readonly ArrayBufferWriter<byte> _batch = new(BatchBytes * 2);
    private readonly Utf8JsonWriter _json;
    private int _batchRecords;
    private FileStream? _stream;
    private long _size;
    private bool _failing;
    private bool _rotateFailing;
    private long _lostWhileFailing;

    private long _pendingDropped;
    private long _dropped;
    private long _written;
    private long _lost;
    private long _errors;

    /// <summary>Opens (lazily, on the first record) the audit file named in <paramref name="options"/>.</summary>
    /// <param name="options">The file and its rotation.</param>
    /// <param name="logger">Where the log's own I/O errors are reported.</param>
    /// <param name="timeProvider">The clock for the records the log writes itself (<see cref="AuditKinds.AuditDropped"/>).</param>
    /// <param name="capacity">The queue's size (default <see cref="DefaultCapacity"/>).</param>
    public AuditLog(AuditOptions options, ILogger? logger = null, TimeProvider? timeProvider = null, int capacity = DefaultCapacity)
        : this(options, (options ?? throw new ArgumentNullException(nameof(options))).MaxSizeMB * 1024L * 1024L, capacity, logger, timeProvider, startGate: null)
    {
    }

    /// <summary>For tests: a size limit in bytes, and a task the writer waits for before its first record (to fill the queue).</summary>
    internal AuditLog(AuditOptions options, long maxBytes, int capacity, ILogger? logger, TimeProvider? timeProvider, Task? startGate)
    {
        ArgumentNullException.ThrowIfNull(options);
        ArgumentException.ThrowIfNullOrEmpty(options.File);
        ArgumentOutOfRangeException.ThrowIfLessThan(maxBytes, 1);
        ArgumentOutOfRangeException.ThrowIfNegative(options.Keep);
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 1);
        _file = Path.GetFullPath(options.File);
        _maxBytes = maxBytes;
        _keep = options.Keep;
        _logger = logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _json = new Utf8JsonWriter(_batch, AuditJson.WriterOptions);
        _queue = Channel.CreateBounded<AuditRecord>(new BoundedChannelOptions(capacity)
        {
            SingleReader = true,
            SingleWriter = false,
            FullMode = BoundedChannelFullMode.Wait, // TryWrite fails when full: the record is counted, never waited for
        });
        _loop = Task.Run(() => RunAsync(startGate));
    }

    /// <summary>The audit file's full path.</summary>
    public string File => _file;

    /// <summary>Records written to the file (not counting the log's own <see cref="AuditKinds.AuditDropped"/> records).</summary>
    public long Written => Interlocked.Read(ref _written);

    /// <summary>Records dropped because the queue was full (or the log was closed).</summary>
    public long Dropped => Interlocked.Read(ref _dropped);

    /// <summary>Records lost because the file could not be written.</summary>
    public long Lost => Interlocked.Read(ref _lost);

    /// <summary>I/O errors met (opening, writing, rotating, flushing).</summary>
    public long Errors => Interlocked.Read(ref _errors);

    /// <summary>Queues <paramref name="record"/>; never blocks and never throws for I/O (a full queue drops and counts it).</summary>
    /// <exception cref="ArgumentNullException"><paramref name="record"/> is null.</exception>
    public void Write(AuditRecord record)
    {
        ArgumentNullException.ThrowIfNull(record);
        if (!_queue.Writer.TryWrite(record))
        {
            Interlocked.Increment(ref _dropped);
            Interlocked.Increment(ref _pendingDropped);
        }
    }

    /// <summary>Stops taking records, writes every queued one, flushes the file to disk and closes it.</summary>
    public async ValueTask DisposeAsync()
    {
        _queue.Writer.TryComplete();
        await _loop.ConfigureAwait(ConfigureAwaitOptions.SuppressThrowing);
    }

    private async Task RunAsync(Task? startGate)
    {
        if (startGate is not null)
        {
            await startGate.ConfigureAwait(false);
        }

        var reader = _queue.Reader;
        while (await reader.WaitToReadAsync().ConfigureAwait(false))
        {
            while (reader.TryRead(out var record))
            {
                Guarded(() =>
                {
                    Append(record, counted: true);

                    // A slot was just freed: say how many were lost while there was none.
                    var dropped = Interlocked.Exchange(ref _pendingDropped, 0);
                    if (dropped > 0)
                    {
                        AuditLogEvents.Dropped(_logger, _file, dropped);
                        Append(DroppedRecord(dropped), counted: false);
                    }

                    if (_batch.WrittenCount >= BatchBytes)
                    {
                        WriteBatch();
                    }
                });
            }

            Guarded(WriteBatch);
        }

        var late = Interlocked.Exchange(ref _pendingDropped, 0);
        if (late > 0)
        {
            AuditLogEvents.DroppedAfterClose(_logger, _file, late);
        }

        Guarded(WriteBatch);
        Guarded(() => Close(flushToDisk: true));
        await _json.DisposeAsync().ConfigureAwait(false);
    }

    // The writer outlives any one bad record or odd file system error: what was pending is counted as lost.
    private void Guarded(Action step)
    {
        try
        {
            step();
        }
#pragma warning disable CA1031 // an audit writer that stops would silently lose every later record
        catch (Exception e)
#pragma warning restore CA1031
        {
            Interlocked.Add(ref _lost, _batchRecords);
            Interlocked.Increment(ref _errors);
            _batchRecords = 0;
            _batch.ResetWrittenCount();
            Close(flushToDisk: false);
            AuditLogEvents.Unexpected(_logger, _file, e.GetType().Name + ": " + e.Message);
        }
    }

    private AuditRecord DroppedRecord(long count) => new()
    {
        Time = _time.GetUtcNow(),
        Kind = AuditKinds.AuditDropped,
        Dropped = count,
        Detail = "the audit queue was full",
    };

    // Adds one line to the batch, writing the batch and rotating first when the line would not fit.
    private void Append(AuditRecord record, bool counted)
    {
        var start = _batch.WrittenCount;
        try
        {
            _json.Reset(_batch);
            AuditJson.Write(_json, record);
            _json.Flush();
        }
        catch (Exception e) when (e is JsonException or NotSupportedException or InvalidOperationException)
        {
            // Not expected for a record type we own; never let it stop the writer.
            Interlocked.Increment(ref _lost);
            Interlocked.Increment(ref _errors);
            AuditLogEvents.WriteFailed(_logger, _file, "a record could not be serialized: " + e.Message);
            Truncate(start);
            return;
        }

        _batch.Write("\n"u8);
        if (EnsureOpen() && _size + start > 0 && _size + _batch.WrittenCount > _maxBytes)
        {
            // The batch without this line goes to the current file, then the file rotates.
            var line = _batch.WrittenSpan[start..].ToArray();
            Truncate(start);
            WriteBatch();
            Rotate();
            _batch.Write(line);
        }

        if (counted)
        {
            _batchRecords++;
        }
    }

    private void Truncate(int length)
    {
        if (_batch.WrittenCount == length)
        {
            return;
        }

        var keep = _batch.WrittenSpan[..length].ToArray();
        _batch.ResetWrittenCount();
        _batch.Write(keep);
    }

    private void WriteBatch()
    {
        if (_batch.WrittenCount == 0)
        {
            return;
        }

        var records = _batchRecords;
        _batchRecords = 0;
        try
        {
            if (!EnsureOpen())
            {
                RecordLost(records);
                return;
            }

            _stream!.Write(_batch.WrittenSpan);
            _size += _batch.WrittenCount;
            Interlocked.Add(ref _written, records);
            Recovered();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(e);
            RecordLost(records);
            Close(flushToDisk: false);
        }
        finally
        {
            _batch.ResetWrittenCount();
        }
    }

    private bool EnsureOpen()
    {
        if (_stream is not null)
        {
            return true;
        }

        try
        {
            var directory = Path.GetDirectoryName(_file);
            if (!string.IsNullOrEmpty(directory) && !Directory.Exists(directory))
            {
                if (OperatingSystem.IsWindows())
                {
                    Directory.CreateDirectory(directory);
                }
                else
                {
                    Directory.CreateDirectory(directory, DirectoryMode);
                }
            }

            // Through the one safe-write helper: the directory checked, never through a symlink or into another user's file.
            // Buffer size 0: batches are built in memory; a write is one system call.
            _stream = SafeFile.OpenAppend(_file, FileMode0640, bufferSize: 0);
            _size = _stream.Length;
            return true;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(e);
            return false;
        }
    }

    private void Rotate()
    {
        Close(flushToDisk: false);
        try
        {
            if (_keep == 0)
            {
                System.IO.File.Delete(_file);
            }
            else
            {
                System.IO.File.Delete(Rotated(_keep));
                for (var n = _keep - 1; n >= 1; n--)
                {
                    if (System.IO.File.Exists(Rotated(n)))
                    {
                        System.IO.File.Move(Rotated(n), Rotated(n + 1));
                    }
                }

                System.IO.File.Move(_file, Rotated(1));
            }

            _rotateFailing = false;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Interlocked.Increment(ref _errors);
            if (!_rotateFailing)
            {
                _rotateFailing = true;
                AuditLogEvents.RotateFailed(_logger, _file, e.Message);
            }
        }

        EnsureOpen();
    }

    private string Rotated(int n) => _file + "." + n.ToString(System.Globalization.CultureInfo.InvariantCulture);

    private void Close(bool flushToDisk)
    {
        if (_stream is null)
        {
            return;
        }

        try
        {
            if (flushToDisk)
            {
                _stream.Flush(flushToDisk: true);
            }

            _stream.Dispose();
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            Failed(e);
        }
        finally
        {
            _stream = null;
        }
    }

    private void Failed(Exception e)
    {
        Interlocked.Increment(ref _errors);
        if (!_failing)
        {
            _failing = true;
            _lostWhileFailing = 0;
            AuditLogEvents.WriteFailed(_logger, _file, e.Message);
        }
    }

    private void RecordLost(int records)
    {
        Interlocked.Add(ref _lost, records);
        _lostWhileFailing += records;
    }

    private void Recovered()
    {
        if (_failing)
        {
            _failing = false;
            AuditLogEvents.WriteRecovered(_logger, _file, _lostWhileFailing);
        }
    }
}
