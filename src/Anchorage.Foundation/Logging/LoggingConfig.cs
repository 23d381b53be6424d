using Anchorage.Foundation.Config;

namespace Anchorage.Foundation.Logging;

/// <summary>
/// Reads the <c>logging:</c> mapping of <c>server.yaml</c> and <c>agent.yaml</c>. Errors go to the
/// node's error list with their key path and line, e.g.
/// <c>server.yaml:9: logging.format: "xml" is not text or json</c>.
/// </summary>
public static class LoggingConfig
{
    /// <summary>The options in <paramref name="node"/>; the defaults when the node is absent or has an error.</summary>
    public static LoggingOptions Read(ConfigNode? node)
    {
        var section = node?.Map();
        if (section is null)
        {
            return new LoggingOptions();
        }

        var formatNode = section.Get("format");
        var text = formatNode?.Scalar();
        section.RejectUnknownKeys();
        switch (text)
        {
            case null:
                return new LoggingOptions();
            case "text":
                return new LoggingOptions { Format = LogFormat.Text };
            case "json":
                return new LoggingOptions { Format = LogFormat.Json };
            default:
                formatNode!.Error($"{ConfigText.Quote(text)} is not text or json");
                return new LoggingOptions();
        }
    }
}
