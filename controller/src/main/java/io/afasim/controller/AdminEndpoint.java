package io.afasim.controller;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/**
 * Where a controller's admin endpoint listens: {@code HOST:PORT} ({@code [v6]:PORT} for IPv6 literals).
 *
 * <p>afactl finds it, first match wins: {@code --endpoint HOST:PORT}; the environment variable
 * {@value #ENV_NAME}; the first line of the file {@code $AFASIM_HOME/run/admin} that {@code afasim up} writes (only
 * when {@value #HOME_ENV_NAME} is set); else {@value #HOST_DEFAULT}:{@value #PORT_DEFAULT}.
 */
public final class AdminEndpoint
{
    public static final String ENV_NAME = "AFASIM_ADMIN";
    public static final String HOME_ENV_NAME = "AFASIM_HOME";
    /** Relative to {@code $AFASIM_HOME}: the file that holds the running controller's admin endpoint. */
    public static final String FILE_PATH = "run/admin";
    public static final String HOST_DEFAULT = "127.0.0.1";
    public static final int PORT_DEFAULT = 7391;

    private final String host;
    private final int port;
    private final String source;

    public AdminEndpoint(final String host, final int port, final String source)
    {
        if (host.isEmpty())
        {
            throw new IllegalArgumentException("empty host");
        }
        if (port < 1 || port > 65535)
        {
            throw new IllegalArgumentException("port " + port + " outside 1..65535");
        }
        this.host = host;
        this.port = port;
        this.source = source;
    }

    public String host()
    {
        return host;
    }

    public int port()
    {
        return port;
    }

    /** Where this endpoint came from, e.g. {@code --endpoint}, {@code AFASIM_ADMIN}, a file, {@code default}. */
    public String source()
    {
        return source;
    }

    /** Parses {@code HOST:PORT}; {@code source} names the origin in error messages. */
    public static AdminEndpoint parse(final String text, final String source)
    {
        final String trimmed = text.trim();
        final int colon = trimmed.lastIndexOf(':');
        if (colon <= 0 || colon == trimmed.length() - 1)
        {
            throw new IllegalArgumentException(source + ": '" + AdminProtocol.shorten(trimmed) +
                "' is not HOST:PORT");
        }
        String host = trimmed.substring(0, colon);
        if (host.startsWith("[") && host.endsWith("]"))
        {
            host = host.substring(1, host.length() - 1);
        }
        final int port;
        try
        {
            port = Integer.parseInt(trimmed.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(source + ": port of '" + AdminProtocol.shorten(trimmed) +
                "' is not a number");
        }
        if (port < 1 || port > 65535 || host.isEmpty())
        {
            throw new IllegalArgumentException(source + ": '" + AdminProtocol.shorten(trimmed) +
                "' needs a host and a port in 1..65535");
        }
        return new AdminEndpoint(host, port, source);
    }

    /**
     * The endpoint to use: {@code option} when not null, else from the environment, the run file or the default.
     *
     * @throws IllegalArgumentException when the chosen text is not HOST:PORT (names where it came from).
     */
    public static AdminEndpoint resolve(final String option, final Map<String, String> env)
    {
        if (option != null)
        {
            return parse(option, "--endpoint");
        }
        final String fromEnv = env.get(ENV_NAME);
        if (fromEnv != null && !fromEnv.isBlank())
        {
            return parse(fromEnv, ENV_NAME);
        }
        final String home = env.get(HOME_ENV_NAME);
        if (home != null && !home.isBlank())
        {
            final Path file = Path.of(home).resolve(FILE_PATH);
            if (Files.isRegularFile(file))
            {
                try
                {
                    final List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                    if (!lines.isEmpty() && !lines.get(0).isBlank())
                    {
                        return parse(lines.get(0), file.toString());
                    }
                }
                catch (final IOException ex)
                {
                    throw new IllegalArgumentException("cannot read " + file + ": " + ex.getMessage());
                }
            }
        }
        return new AdminEndpoint(HOST_DEFAULT, PORT_DEFAULT, "default");
    }

    /** {@code HOST:PORT}, brackets around IPv6 literals. */
    @Override
    public String toString()
    {
        return (host.indexOf(':') >= 0 ? "[" + host + "]" : host) + ":" + port;
    }
}
