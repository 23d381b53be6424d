namespace Anchorage.Server.DataStore.Internal;

/// <summary>
/// Data read back that the code cannot understand (edited by hand, a bug, a partial restore).
/// Reported as an <see cref="InvalidDataException"/> naming the table, the row's key and the
/// column, so one bad row fails one request instead of the process.
/// </summary>
internal static class CorruptData
{
    public static InvalidDataException Row(string table, string key, string column, string detail, Exception? inner = null) =>
        new($"corrupt row in table {table} (key \"{Printable(key)}\"), column {column}: {detail}", inner);

    private static string Printable(string key) =>
        key.Length > 200 ? string.Concat(key.AsSpan(0, 200), "...") : key;
}
