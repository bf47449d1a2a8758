package io.afasim.harness;

/** {@code nbd://HOST:PORT/EXPORT}, as a controller writes it to {@code run/node-X.nbd} (plus the export name). */
public record NbdUri(String host, int port, String export)
{
    private static final String SCHEME = "nbd://";

    public static NbdUri parse(final String uri)
    {
        if (!uri.startsWith(SCHEME))
        {
            throw new IllegalArgumentException("not an nbd:// URI: " + uri);
        }
        final int slash = uri.indexOf('/', SCHEME.length());
        final int colon = uri.lastIndexOf(':', slash < 0 ? uri.length() : slash);
        if (slash < 0 || colon < SCHEME.length() || slash == uri.length() - 1)
        {
            throw new IllegalArgumentException("expected nbd://HOST:PORT/EXPORT, got " + uri);
        }
        final int port;
        try
        {
            port = Integer.parseInt(uri.substring(colon + 1, slash));
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException("bad port in " + uri, ex);
        }
        if (port < 1 || port > 65535)
        {
            throw new IllegalArgumentException("port out of [1, 65535] in " + uri);
        }
        return new NbdUri(uri.substring(SCHEME.length(), colon), port, uri.substring(slash + 1));
    }

    @Override
    public String toString()
    {
        return SCHEME + host + ":" + port + "/" + export;
    }
}
