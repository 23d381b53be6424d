namespace Anchorage.Foundation.Logging;

/// <summary>
/// The <c>logging:</c> mapping shared by <c>server.yaml</c> and <c>agent.yaml</c>:
/// <c>{ format: text | json }</c> (read by <see cref="LoggingConfig"/>).
/// </summary>
public sealed record LoggingOptions
{
    /// <summary>The format of the log on stdout. Default <see cref="LogFormat.Text"/>.</summary>
    public LogFormat Format { get; init; } = LogFormat.Text;
}
