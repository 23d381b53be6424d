using System.Text;

namespace Anchorage.Cli.Internal;

/// <summary>
/// Reads an audit file line by line from where it last stopped, numbering lines from 1, and
/// tells when the path now names another file (the audit log rotated it) or the file shrank.
/// A line is complete at its line break; the rest waits for more unless the caller says it is the end.
/// </summary>
internal sealed class AuditFileReader : IDisposable
{
    private readonly FileStream _stream;
    private readonly string _identity;
    private readonly byte[] _buffer = new byte[64 * 1024];
    private readonly MemoryStream _partial = new();
    private long _line;

    private AuditFileReader(string path, FileStream stream)
    {
        Path = path;
        _stream = stream;
        _identity = Identity(stream) ?? System.IO.Path.GetFullPath(path);
    }

    public string Path { get; }

    /// <exception cref="IOException">The file cannot be opened (FileNotFoundException when it does not exist).</exception>
    /// <exception cref="UnauthorizedAccessException">No permission to read it.</exception>
    public static AuditFileReader Open(string path)
    {
        var stream = new FileStream(path, new FileStreamOptions
        {
            Mode = FileMode.Open,
            Access = FileAccess.Read,
            Share = FileShare.ReadWrite | FileShare.Delete, // the audit log keeps writing and rotating
            BufferSize = 0,
        });
        return new AuditFileReader(path, stream);
    }

    /// <summary>The lines written since the last call; with <paramref name="atEnd"/>, also a last line without a line break.</summary>
    public List<(long Number, string Text)> ReadAvailable(bool atEnd)
    {
        var lines = new List<(long, string)>();
        int read;
        while ((read = _stream.Read(_buffer)) > 0)
        {
            var span = _buffer.AsSpan(0, read);
            int newline;
            while ((newline = span.IndexOf((byte)'\n')) >= 0)
            {
                _partial.Write(span[..newline]);
                lines.Add((++_line, TakePartial()));
                span = span[(newline + 1)..];
            }

            _partial.Write(span);
        }

        if (atEnd && _partial.Length > 0)
        {
            lines.Add((++_line, TakePartial()));
        }

        return lines;
    }

    /// <summary>
    /// True when the path no longer names the file being read: renamed away (rotation) or deleted,
    /// whether or not a new file has been created yet.
    /// </summary>
    public bool IsReplaced()
    {
        var full = System.IO.Path.GetFullPath(Path);
        if (!File.Exists(full))
        {
            return true;
        }

        // Linux: /proc/self/fd/N names the file the handle reads ("... (deleted)" once unlinked).
        if (Identity(_stream) is { } now)
        {
            return !string.Equals(now, _identity, StringComparison.Ordinal);
        }

        return new FileInfo(full).Length < _stream.Position;
    }

    /// <summary>True when the file is now shorter than what was read (truncated in place): read it again from the start.</summary>
    public bool Shrank() => _stream.Length < _stream.Position;

    /// <summary>Starts again from the first line (after a truncation).</summary>
    public void Rewind()
    {
        _stream.Position = 0;
        _partial.SetLength(0);
        _line = 0;
    }

    public void Dispose()
    {
        _stream.Dispose();
        _partial.Dispose();
    }

    private static string? Identity(FileStream stream)
    {
        if (!OperatingSystem.IsLinux())
        {
            return null;
        }

        try
        {
            var fd = stream.SafeFileHandle.DangerousGetHandle().ToInt64();
            return new FileInfo("/proc/self/fd/" + fd.ToString(System.Globalization.CultureInfo.InvariantCulture)).LinkTarget;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }

    private string TakePartial()
    {
        var text = Encoding.UTF8.GetString(_partial.GetBuffer(), 0, (int)_partial.Length);
        _partial.SetLength(0);
        return text.EndsWith('\r') ? text[..^1] : text;
    }
}
