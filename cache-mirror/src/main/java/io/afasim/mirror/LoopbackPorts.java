package io.afasim.mirror;

import java.io.UncheckedIOException;
import java.net.DatagramSocket;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.SocketException;
import java.util.concurrent.ThreadLocalRandom;

/**
 * UDP ports for link endpoints on 127.0.0.1 that are free now, for test pairs and the HA harness. They come from
 * below the kernel's ephemeral range (32768-60999 by default): a port handed out by bind(0) goes back to that range
 * when it is closed, and any socket bound meanwhile (an Aeron sender's, whose local port is ephemeral) could take it
 * before the link binds it ("Address already in use", seen once in LinkTest). {@link #main} serves {@code bin/afasim}
 * (demo, compare) the same way.
 */
public final class LoopbackPorts
{
    static final int RANGE_LOW = 20_000;
    static final int RANGE_SIZE = 12_000;
    private static final int ATTEMPTS_MAX = 256;

    private LoopbackPorts()
    {
    }

    /** Prints {@code COUNT} (default 2) free ports, space-separated, for {@code bin/afasim}. */
    public static void main(final String[] args)
    {
        final int[] ports = freeUdpPorts(args.length > 0 ? Integer.parseInt(args[0]) : 2);
        final StringBuilder line = new StringBuilder();
        for (final int port : ports)
        {
            line.append(line.length() > 0 ? " " : "").append(port);
        }
        System.out.println(line);
    }

    /** {@code count} distinct UDP ports free on 127.0.0.1 now (each is bound while the others are picked). */
    public static int[] freeUdpPorts(final int count)
    {
        final DatagramSocket[] sockets = new DatagramSocket[count];
        final int[] ports = new int[count];
        try
        {
            int attempts = 0;
            for (int i = 0; i < count; )
            {
                final int port = RANGE_LOW + ThreadLocalRandom.current().nextInt(RANGE_SIZE);
                try
                {
                    sockets[i] = new DatagramSocket(new InetSocketAddress(InetAddress.getLoopbackAddress(), port));
                    ports[i++] = port;
                }
                catch (final SocketException taken)
                {
                    if (++attempts == ATTEMPTS_MAX)
                    {
                        throw new UncheckedIOException("no free UDP port on 127.0.0.1 in " + RANGE_LOW + ".." +
                            (RANGE_LOW + RANGE_SIZE - 1) + " after " + ATTEMPTS_MAX + " tries", taken);
                    }
                }
            }
            return ports;
        }
        finally
        {
            for (final DatagramSocket socket : sockets)
            {
                if (socket != null)
                {
                    socket.close();
                }
            }
        }
    }
}
