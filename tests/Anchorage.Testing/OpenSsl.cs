using System.Diagnostics;

namespace Anchorage.Testing;

/// <summary>The outcome of one openssl run.</summary>
public sealed record OpenSslResult(int ExitCode, string StandardOutput, string StandardError);

/// <summary>
/// Runs the <c>openssl</c> CLI in a private temporary directory, as an independent producer and
/// checker of certificates, keys and TLS. Relative paths in arguments resolve in <see cref="WorkDir"/>.
/// Dispose to delete the directory.
/// </summary>
public sealed class OpenSsl : IDisposable
{
    private static readonly TimeSpan Timeout = TimeSpan.FromSeconds(60);

    public OpenSsl()
    {
        WorkDir = Directory.CreateTempSubdirectory("anchorage-openssl-").FullName;
    }

    /// <summary>The temporary directory openssl runs in.</summary>
    public string WorkDir { get; }

    /// <summary>Runs openssl and throws when it exits non-zero, with its stderr in the message.</summary>
    /// <exception cref="InvalidOperationException">openssl failed or could not start.</exception>
    public OpenSslResult Run(params string[] args)
    {
        var result = TryRun(args);
        if (result.ExitCode != 0)
        {
            throw new InvalidOperationException(
                $"openssl {string.Join(' ', args)} exited with {result.ExitCode}:\n{result.StandardError}{result.StandardOutput}");
        }

        return result;
    }

    /// <summary>Runs openssl and returns its exit code and output, whatever they are.</summary>
    /// <exception cref="InvalidOperationException">openssl could not start or timed out.</exception>
    public OpenSslResult TryRun(params string[] args) => TryRunWithInput(null, args);

    /// <summary>Like <see cref="TryRun"/>, writing <paramref name="stdin"/> to openssl's standard input.</summary>
    public OpenSslResult TryRunWithInput(string? stdin, params string[] args)
    {
        var info = new ProcessStartInfo("openssl")
        {
            WorkingDirectory = WorkDir,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            RedirectStandardInput = true,
            UseShellExecute = false,
        };
        foreach (var arg in args)
        {
            info.ArgumentList.Add(arg);
        }

        Process process;
        try
        {
            process = Process.Start(info) ?? throw new InvalidOperationException("openssl did not start");
        }
        catch (System.ComponentModel.Win32Exception ex)
        {
            throw new InvalidOperationException("cannot run openssl; is it installed and on PATH?", ex);
        }

        using (process)
        {
            var stdout = process.StandardOutput.ReadToEndAsync();
            var stderr = process.StandardError.ReadToEndAsync();
            if (stdin is not null)
            {
                process.StandardInput.Write(stdin);
            }

            process.StandardInput.Close();
            if (!process.WaitForExit(Timeout))
            {
                process.Kill(entireProcessTree: true);
                throw new InvalidOperationException($"openssl {string.Join(' ', args)} did not finish within {Timeout}");
            }

            return new OpenSslResult(process.ExitCode, stdout.GetAwaiter().GetResult(), stderr.GetAwaiter().GetResult());
        }
    }

    /// <summary>The absolute path of <paramref name="name"/> in the work directory.</summary>
    public string PathOf(string name) => Path.Combine(WorkDir, name);

    /// <summary>Writes a text file in the work directory and returns its absolute path.</summary>
    public string WriteFile(string name, string content)
    {
        var path = PathOf(name);
        File.WriteAllText(path, content);
        return path;
    }

    /// <summary>Writes a binary file in the work directory and returns its absolute path.</summary>
    public string WriteFile(string name, byte[] content)
    {
        var path = PathOf(name);
        File.WriteAllBytes(path, content);
        return path;
    }

    /// <summary>Reads a file of the work directory.</summary>
    public byte[] ReadBytes(string name) => File.ReadAllBytes(PathOf(name));

    /// <summary>Reads a text file of the work directory.</summary>
    public string ReadText(string name) => File.ReadAllText(PathOf(name));

    public void Dispose()
    {
        try
        {
            Directory.Delete(WorkDir, recursive: true);
        }
        catch (IOException)
        {
            // A leftover temp directory is not worth failing a test for.
        }
    }
}
