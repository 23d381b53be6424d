namespace Anchorage.Server.Federation;

/// <summary>
/// One problem of a federation relationship's declaration: <see cref="Key"/> is the field at fault
/// (the proto JSON name, e.g. <c>url</c>) and <see cref="Message"/> the whole line, which starts with
/// that key, so a caller that shows another key path (the CLI's <c>spec.bundleEndpoint.url</c>)
/// replaces the prefix.
/// </summary>
public sealed record FederationSpecProblem(string Key, string Message);
