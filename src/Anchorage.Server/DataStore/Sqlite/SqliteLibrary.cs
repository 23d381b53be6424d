using System.Reflection;
using System.Runtime.InteropServices;

namespace Anchorage.Server.DataStore.Sqlite;

/// <summary>
/// Where the SQLite engine comes from: the <c>libe_sqlite3.so</c> shipped next to the assemblies in
/// a build tree, or, when there is none (the single-file release binary, which leaves it out so
/// that nothing is extracted to disk at start), the system's <c>libsqlite3.so.0</c> (Debian
/// <c>libsqlite3-0</c>), which exports the same C API. Call <see cref="Use"/> before the first connection.
/// </summary>
public static class SqliteLibrary
{
    private const string Bundled = "e_sqlite3";
    private const string System = "libsqlite3.so.0";
    private static int registered;

    /// <summary>Installs the fallback once per process; later calls do nothing.</summary>
    public static void Use()
    {
        if (Interlocked.Exchange(ref registered, 1) == 1)
        {
            return;
        }

        try
        {
            NativeLibrary.SetDllImportResolver(typeof(SQLitePCL.SQLite3Provider_e_sqlite3).Assembly, Resolve);
        }
        catch (InvalidOperationException)
        {
            // Someone else owns the resolver of that assembly: their choice stands.
        }
    }

    private static IntPtr Resolve(string name, Assembly assembly, DllImportSearchPath? searchPath)
    {
        if (name != Bundled)
        {
            return IntPtr.Zero;
        }

        return NativeLibrary.TryLoad(name, assembly, searchPath, out var bundled) ? bundled
            : NativeLibrary.TryLoad(System, out var system) ? system
            : IntPtr.Zero;
    }
}
