package io.afasim.controller;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;

/**
 * A blocking admin client: one TCP connection, one request at a time ({@link #send}); not thread safe. Connect and
 * read timeouts are bounded. After any I/O or protocol error the connection is closed and further sends fail, since
 * the position in the response stream is no longer known.
 */
public final class AdminClient implements AutoCloseable
{
    public static final int CONNECT_TIMEOUT_MS_DEFAULT = 2_000;
    /** Long enough for a volume delete that quiesces a busy volume. */
    public static final int READ_TIMEOUT_MS_DEFAULT = 30_000;

    private final AdminEndpoint endpoint;
    private final int readTimeoutMs;
    private final Socket socket;
    private final OutputStream out;
    private final AdminLineReader reader;
    private boolean broken;

    private AdminClient(final AdminEndpoint endpoint, final int readTimeoutMs, final Socket socket) throws IOException
    {
        this.endpoint = endpoint;
        this.readTimeoutMs = readTimeoutMs;
        this.socket = socket;
        this.out = new BufferedOutputStream(socket.getOutputStream(), 4096);
        this.reader = new AdminLineReader(socket.getInputStream());
    }

    /**
     * Connects to the endpoint.
     *
     * @throws IOException whose message reads {@code cannot connect to admin endpoint HOST:PORT (SOURCE): REASON}.
     */
    public static AdminClient connect(final AdminEndpoint endpoint, final int connectTimeoutMs, final int readTimeoutMs)
        throws IOException
    {
        if (connectTimeoutMs <= 0 || readTimeoutMs <= 0)
        {
            throw new IllegalArgumentException("timeouts must be positive: connect " + connectTimeoutMs +
                " ms, read " + readTimeoutMs + " ms");
        }
        final Socket socket = new Socket();
        try
        {
            socket.setTcpNoDelay(true);
            socket.setSoTimeout(readTimeoutMs);
            socket.connect(new InetSocketAddress(endpoint.host(), endpoint.port()), connectTimeoutMs);
            return new AdminClient(endpoint, readTimeoutMs, socket);
        }
        catch (final IOException ex)
        {
            closeQuietly(socket);
            final String reason = ex instanceof SocketTimeoutException ?
                "no answer within " + connectTimeoutMs + " ms" : String.valueOf(ex.getMessage());
            throw new IOException("cannot connect to admin endpoint " + endpoint + " (" + endpoint.source() + "): " +
                reason, ex);
        }
    }

    public static AdminClient connect(final AdminEndpoint endpoint) throws IOException
    {
        return connect(endpoint, CONNECT_TIMEOUT_MS_DEFAULT, READ_TIMEOUT_MS_DEFAULT);
    }

    public AdminEndpoint endpoint()
    {
        return endpoint;
    }

    /**
     * Sends the request and reads its whole response. A refusal is a response with {@code isOk() == false}, not an
     * exception.
     *
     * @throws AdminProtocolException when the response is malformed (the connection is closed).
     * @throws IOException            when the endpoint cannot be written to, closes or does not answer in time.
     */
    public AdminResponse send(final AdminRequest request) throws IOException
    {
        if (broken)
        {
            throw new IOException("admin connection to " + endpoint + " was closed after an earlier error");
        }
        try
        {
            AdminProtocol.writeRequest(out, request);
            out.flush();
            return AdminProtocol.readResponse(reader);
        }
        catch (final AdminProtocolException ex)
        {
            broken = true;
            close();
            throw new AdminProtocolException("bad response from " + endpoint + ": " + ex.getMessage());
        }
        catch (final SocketTimeoutException ex)
        {
            broken = true;
            close();
            throw new IOException("admin endpoint " + endpoint + " did not answer within " + readTimeoutMs + " ms",
                ex);
        }
        catch (final IOException ex)
        {
            broken = true;
            close();
            throw new IOException("admin connection to " + endpoint + " failed: " + ex.getMessage(), ex);
        }
    }

    @Override
    public void close()
    {
        closeQuietly(socket);
    }

    private static void closeQuietly(final Socket socket)
    {
        try
        {
            socket.close();
        }
        catch (final IOException ignore)
        {
            // closing: nothing left to do
        }
    }
}
