namespace Anchorage.Server.Api.Internal;

/// <summary>
/// Calls into the CA. Its <see cref="InvalidOperationException"/>s mean "not now" (no active
/// authority yet, no prepared authority to activate, an authority in the wrong state) and become
/// FailedPrecondition; elsewhere that exception is a bug and stays Internal, so the translation
/// happens only around CA calls.
/// </summary>
internal static class CaCalls
{
    public static async Task<T> RunAsync<T>(Func<Task<T>> call)
    {
        try
        {
            return await call().ConfigureAwait(false);
        }
        catch (InvalidOperationException ex) when (ex is not ObjectDisposedException)
        {
            throw ApiException.FailedPrecondition(ex.Message);
        }
    }
}
