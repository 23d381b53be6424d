using Anchorage.Hosting.Config;

namespace Anchorage.Policy;

/// <summary>Reads a <c>CommunicationPolicy</c> YAML document, reporting every error with its path.</summary>
public static class PolicyDocument
{
    /// <summary>Parses and validates <paramref name="yaml"/>; <paramref name="source"/> names it in errors (a file path).</summary>
    public static ConfigResult<CommunicationPolicy> Parse(string yaml, string source) =>
        throw new NotImplementedException("policy parsing is being written (issue 6)");
}
