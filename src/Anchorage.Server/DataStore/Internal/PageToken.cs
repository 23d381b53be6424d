using System.Buffers.Text;
using System.Text;

namespace Anchorage.Server.DataStore.Internal;

/// <summary>The opaque page token of every paged listing: the last key of the page, UTF-8, base64url.</summary>
internal static class PageToken
{
    public static string Encode(string lastKey) => Base64Url.EncodeToString(Encoding.UTF8.GetBytes(lastKey));

    /// <exception cref="ArgumentException">The token is malformed (<c>page token is not valid</c>).</exception>
    public static string Decode(string token)
    {
        try
        {
            var key = new UTF8Encoding(false, true).GetString(Base64Url.DecodeFromChars(token));
            if (key.Length > 0)
            {
                return key;
            }
        }
        catch (Exception ex) when (ex is FormatException or DecoderFallbackException)
        {
            throw new ArgumentException("page token is not valid", nameof(token), ex);
        }

        throw new ArgumentException("page token is not valid", nameof(token));
    }
}
