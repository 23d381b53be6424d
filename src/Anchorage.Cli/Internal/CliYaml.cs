using YamlDotNet.Core;
using YamlDotNet.RepresentationModel;

namespace Anchorage.Cli.Internal;

/// <summary>The one way the CLI loads a YAML file it is given (entries, federation relationships).</summary>
internal static class CliYaml
{
    /// <summary>
    /// Loads <paramref name="yaml"/>; null when it is not YAML, with <paramref name="error"/> saying
    /// where and why (YamlDotNet's sentence in this CLI's style: lowercase, no full stop).
    /// </summary>
    public static YamlStream? Load(string yaml, out (long Line, long Column, string Reason) error)
    {
        var stream = new YamlStream();
        try
        {
            stream.Load(new StringReader(yaml));
            error = default;
            return stream;
        }
        catch (YamlException ex)
        {
            var reason = CliApp.OneLine(ex.Message).TrimEnd('.');
            reason = reason.Length > 0 ? char.ToLowerInvariant(reason[0]) + reason[1..] : "not valid YAML";
            error = (ex.Start.Line, ex.Start.Column, reason);
            return null;
        }
    }
}
