package io.afasim.controller;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.function.Function;

/**
 * An admin endpoint for tests: listens on an ephemeral port of 127.0.0.1, parses each request with
 * {@link AdminProtocol}, records its wire line and answers what the handler returns (a malformed request is answered
 * {@code error MESSAGE}, as a real controller would). The handler may instead return raw text to send verbatim, to
 * test how clients take malformed responses; {@link #SILENT} sends nothing.
 */
final class FakeAdminServer implements AutoCloseable
{
    /** Handler result that answers nothing (the client's read timeout fires). */
    static final Object SILENT = new Object();

    private final ServerSocket serverSocket;
    private final Function<AdminRequest, Object> handler;
    private final List<String> requestLines = new CopyOnWriteArrayList<>();
    private final List<Socket> sockets = new CopyOnWriteArrayList<>();
    private final List<Throwable> failures = new CopyOnWriteArrayList<>();
    private final Thread acceptThread;

    /** The handler returns an {@link AdminResponse}, a {@link String} of raw response text, or {@link #SILENT}. */
    FakeAdminServer(final Function<AdminRequest, Object> handler) throws IOException
    {
        this.handler = handler;
        this.serverSocket = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
        this.acceptThread = new Thread(this::acceptLoop, "fake-admin-accept");
        this.acceptThread.setDaemon(true);
        this.acceptThread.start();
    }

    /** A server that answers every request with the same response. */
    static FakeAdminServer answering(final AdminResponse response) throws IOException
    {
        return new FakeAdminServer(request -> response);
    }

    int port()
    {
        return serverSocket.getLocalPort();
    }

    String endpoint()
    {
        return "127.0.0.1:" + port();
    }

    /** Wire lines of the requests received so far, in order. */
    List<String> requestLines()
    {
        return new ArrayList<>(requestLines);
    }

    /** Anything unexpected on the server's threads. */
    List<Throwable> failures()
    {
        return new ArrayList<>(failures);
    }

    private void acceptLoop()
    {
        while (!serverSocket.isClosed())
        {
            try
            {
                final Socket socket = serverSocket.accept();
                sockets.add(socket);
                final Thread connectionThread = new Thread(() -> serve(socket), "fake-admin-connection");
                connectionThread.setDaemon(true);
                connectionThread.start();
            }
            catch (final IOException ex)
            {
                if (!serverSocket.isClosed())
                {
                    failures.add(ex);
                }
            }
        }
    }

    private void serve(final Socket socket)
    {
        try (socket)
        {
            final AdminLineReader reader = new AdminLineReader(socket.getInputStream());
            final OutputStream out = new BufferedOutputStream(socket.getOutputStream());
            while (true)
            {
                final String line;
                try
                {
                    line = reader.readLine();
                }
                catch (final AdminProtocolException ex)
                {
                    requestLines.add("<unreadable: " + ex.getMessage() + ">");
                    out.write(AdminProtocol.errorResponseText(ex.getMessage()).getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    continue;
                }
                if (line == null)
                {
                    return;
                }
                requestLines.add(line);
                final Object answer;
                try
                {
                    answer = handler.apply(AdminProtocol.parseRequest(line));
                }
                catch (final AdminProtocolException ex)
                {
                    out.write(AdminProtocol.errorResponseText(ex.getMessage()).getBytes(StandardCharsets.UTF_8));
                    out.flush();
                    continue;
                }
                if (answer == SILENT)
                {
                    continue;
                }
                if (answer instanceof String)
                {
                    out.write(((String)answer).getBytes(StandardCharsets.UTF_8));
                }
                else
                {
                    AdminProtocol.writeResponse(out, (AdminResponse)answer);
                }
                out.flush();
            }
        }
        catch (final IOException ex)
        {
            if (!serverSocket.isClosed())
            {
                failures.add(ex);
            }
        }
        catch (final RuntimeException ex)
        {
            failures.add(ex);
        }
    }

    @Override
    public void close() throws IOException
    {
        serverSocket.close();
        for (final Socket socket : sockets)
        {
            socket.close();
        }
    }
}
