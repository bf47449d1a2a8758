package io.afasim.mirror;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.DatagramChannel;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import io.aeron.driver.DataPacketDispatcher;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.media.ReceiveChannelEndpoint;
import io.aeron.driver.media.SendChannelEndpoint;
import io.aeron.driver.media.UdpChannel;
import org.agrona.concurrent.status.AtomicCounter;

/**
 * Where the link thread waits when it has nothing to do: in {@code epoll_wait} on the link's own UDP sockets,
 * so that a datagram from the peer (a mirrored page, an acknowledgement, a status message) wakes it as soon as
 * the kernel has it, and a thread that queues a message for the peer wakes it with {@link #ring()}. Before, the
 * link thread could only poll: it parked for up to {@code afasim.link.parkNsMax}, or, while the link was
 * "conversing", yielded in a loop; under load the yields alone were 44 % of the link thread's CPU (perf, WB
 * iodepth 32), and a parked thread added up to a park period per hop.
 *
 * <p>The embedded media driver opens its channel endpoints through the suppliers of
 * {@link #applyTo(MediaDriver.Context)}; each endpoint registers its socket here when it opens (on the link
 * thread, which also runs the driver, so registration never races a {@link #park}). A closed socket's key is
 * cancelled by the channel and leaves the selector at its next select.
 *
 * <p>No lost wake-up, as the controller's doorbell: the link thread publishes itself as parked and then checks
 * the bell; a ringer rings and then checks for a parked thread (both volatile, so at least one sees the other).
 * A ring that finds the thread awake costs a volatile store and a load, no syscall; a wake-up of a parked thread
 * is one {@link Selector#wakeup()}.
 *
 * <p>With {@code afasim.threading=shared} the link thread is the controller's I/O thread: it also runs the NBD server
 * (whose sockets share {@link #selector()}) and the volume agents (whose doorbells ring this), and a controller without
 * a peer makes a wake-up of its own for that thread.
 */
public final class LinkWakeup implements Runnable, AutoCloseable
{
    private static final Consumer<SelectionKey> IGNORE_KEY = key -> { };

    private final Selector selector;
    private volatile boolean parked;
    private volatile boolean rung;

    public LinkWakeup()
    {
        try
        {
            this.selector = Selector.open();
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("link wake-up: cannot open a selector", ex);
        }
    }

    /** Makes the driver's channel endpoints register their sockets here when they open. */
    MediaDriver.Context applyTo(final MediaDriver.Context driverContext)
    {
        return driverContext
            .receiveChannelEndpointSupplier(this::newReceiveEndpoint)
            .sendChannelEndpointSupplier(this::newSendEndpoint);
    }

    /**
     * The selector the link thread waits on. With the controller's shared threading the NBD server registers its
     * sockets here too, so that one wait covers both (their keys are the server's to handle; a park ignores keys).
     */
    public Selector selector()
    {
        return selector;
    }

    /** Any thread, after queueing work for the link thread. */
    public void ring()
    {
        rung = true;
        if (parked)
        {
            selector.wakeup();
        }
    }

    /** {@link #ring()}, as a callback. */
    @Override
    public void run()
    {
        ring();
    }

    /**
     * Link thread: waits at most {@code parkNs} (rounded up to a whole millisecond, the selector's unit) for a
     * datagram on a link socket or a {@link #ring()}, unless the bell rang since the last park.
     *
     * @return true when a socket had a datagram (woke the thread or was ready at once).
     */
    public boolean park(final long parkNs)
    {
        parked = true;
        int ready = 0;
        try
        {
            if (!rung)
            {
                ready = selector.select(IGNORE_KEY, Math.max(1, TimeUnit.NANOSECONDS.toMillis(parkNs + 999_999)));
            }
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("link wake-up: select failed", ex);
        }
        finally
        {
            parked = false;
            rung = false;
        }
        return ready > 0;
    }

    /**
     * Link thread: really closes the sockets the driver closed. A channel registered with a selector keeps its file
     * descriptor (and its port) until the selector's next select deregisters it; a relaunched driver binding the
     * same endpoint at once would otherwise get "Address already in use".
     */
    void releaseClosedSockets()
    {
        try
        {
            selector.selectNow(IGNORE_KEY);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("link wake-up: select failed", ex);
        }
    }

    /** Link thread: the sockets registered and still open. */
    int registeredSockets()
    {
        int count = 0;
        for (final SelectionKey key : selector.keys())
        {
            count += key.isValid() && key.channel().isOpen() ? 1 : 0;
        }
        return count;
    }

    @Override
    public void close()
    {
        try
        {
            selector.close();
        }
        catch (final IOException ignore)
        {
            // nothing is waiting on it any more
        }
    }

    private void register(final DatagramChannel channel)
    {
        if (channel == null || !selector.isOpen())
        {
            return;
        }
        try
        {
            channel.register(selector, SelectionKey.OP_READ);
        }
        catch (final ClosedChannelException ignore)
        {
            // closed as it opened: the driver reports the endpoint's failure
        }
    }

    private ReceiveChannelEndpoint newReceiveEndpoint(
        final UdpChannel udpChannel,
        final DataPacketDispatcher dispatcher,
        final AtomicCounter statusIndicator,
        final MediaDriver.Context context)
    {
        return new ReceiveChannelEndpoint(udpChannel, dispatcher, statusIndicator, context)
        {
            @Override
            public void openChannel()
            {
                super.openChannel();
                register(receiveDatagramChannel());
            }
        };
    }

    private SendChannelEndpoint newSendEndpoint(
        final UdpChannel udpChannel, final AtomicCounter statusIndicator, final MediaDriver.Context context)
    {
        return new SendChannelEndpoint(udpChannel, statusIndicator, context)
        {
            @Override
            public void openChannel()
            {
                super.openChannel();
                register(receiveDatagramChannel()); // status messages and NAKs from the peer's receiver
            }
        };
    }
}
