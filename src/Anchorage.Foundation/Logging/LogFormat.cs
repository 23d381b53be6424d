namespace Anchorage.Foundation.Logging;

/// <summary>How <c>server run</c> and <c>agent run</c> write their log to stdout.</summary>
public enum LogFormat
{
    /// <summary>One human-readable line per event (the default).</summary>
    Text,

    /// <summary>One JSON object per line, for log shippers: time, level, category, event id and name, message, fields.</summary>
    Json,
}
