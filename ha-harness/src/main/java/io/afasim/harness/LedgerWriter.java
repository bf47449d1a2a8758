package io.afasim.harness;

import io.afasim.controller.NbdClient;
import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.Supplier;
import java.util.zip.CRC32C;

/**
 * A host workload over NBD that keeps a {@link Ledger}: random 4 KiB writes of {@link LedgerBlock}s, pipelined up to
 * a queue depth, on one NBD connection (and one thread) per URI. The URIs may name the same volume on different
 * controllers (the owner and the non-owner, once forwarding exists) or the same one twice (multi-conn).
 * <p>
 * Connection {@code i} of {@code n} writes only the blocks {@code lba % n == i}, and never two writes to one block at
 * once: each block's writes are ordered by one connection, so its last acknowledged version is well defined. A
 * write enters the ledger as acknowledged only when its OK reply arrived. Host errors are counted: an error reply
 * (the write stays in doubt, the connection goes on) and a dropped connection (its outstanding writes stay in
 * doubt, its thread ends; it does not reconnect). A connection stops by itself after {@link #ERROR_REPLIES_MAX} error
 * replies.
 * <p>
 * Block choice comes from a generator seeded with the ledger's seed and the connection index, so a seed replays the
 * same sequence of blocks per connection (the interleaving with the controllers' timing is not replayed).
 */
public final class LedgerWriter implements AutoCloseable
{
    public static final int CONNECTIONS_MAX = 8;
    /** At most the controller's per-connection request limit (128). */
    public static final int QUEUE_DEPTH_MAX = 128;
    public static final long STOP_TIMEOUT_MS = 60_000;
    /** A connection whose writes keep failing stops after this many error replies (no error loop on 2 cores). */
    public static final long ERROR_REPLIES_MAX = 1_000;

    private final Ledger ledger;
    private final Connection[] connections;
    private final Thread[] threads;
    private final AtomicInteger runningCount;
    private volatile boolean stopping;

    private LedgerWriter(final Ledger ledger, final Connection[] connections)
    {
        this.ledger = ledger;
        this.connections = connections;
        this.threads = new Thread[connections.length];
        this.runningCount = new AtomicInteger(connections.length);
    }

    /**
     * Connects to every URI (on this thread: a connection that cannot be made fails here, not as a host error),
     * then starts one writing thread per connection.
     */
    public static LedgerWriter start(final Ledger ledger, final int queueDepth, final String... uris)
        throws IOException
    {
        if (uris.length < 1 || uris.length > CONNECTIONS_MAX)
        {
            throw new IllegalArgumentException("1 to " + CONNECTIONS_MAX + " URIs, got " + uris.length);
        }
        if (queueDepth < 1 || queueDepth > QUEUE_DEPTH_MAX)
        {
            throw new IllegalArgumentException("queueDepth=" + queueDepth + " out of [1, " + QUEUE_DEPTH_MAX + "]");
        }
        if (ledger.blockCount() / uris.length <= queueDepth)
        {
            throw new IllegalArgumentException("each connection needs more blocks (" + ledger.blockCount() /
                uris.length + ") than its queue depth (" + queueDepth + ")");
        }
        ledger.claim();
        final Connection[] connections = new Connection[uris.length];
        try
        {
            for (int i = 0; i < uris.length; i++)
            {
                connections[i] = new Connection(ledger, uris[i], i, uris.length, queueDepth);
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            for (final Connection connection : connections)
            {
                if (connection != null)
                {
                    connection.closeQuietly();
                }
            }
            ledger.release();
            throw ex;
        }
        final LedgerWriter writer = new LedgerWriter(ledger, connections);
        for (int i = 0; i < connections.length; i++)
        {
            final Connection connection = connections[i];
            writer.threads[i] = new Thread(() -> writer.run(connection), "ledger-" + ledger.volume() + "-" + i);
            writer.threads[i].setDaemon(true);
        }
        for (final Thread thread : writer.threads)
        {
            thread.start();
        }
        return writer;
    }

    private void run(final Connection connection)
    {
        try
        {
            connection.run(this);
        }
        finally
        {
            if (runningCount.decrementAndGet() == 0)
            {
                ledger.release(); // after every connection's last ledger update
            }
        }
    }

    boolean isStopping()
    {
        return stopping;
    }

    public Ledger ledger()
    {
        return ledger;
    }

    /** The URIs of this writer's connections. */
    public List<String> uris()
    {
        final List<String> uris = new ArrayList<>();
        for (final Connection connection : connections)
        {
            uris.add(connection.uri);
        }
        return uris;
    }

    /** Writes acknowledged so far, all connections. */
    public long acknowledged()
    {
        long sum = 0;
        for (final Connection connection : connections)
        {
            sum += connection.acknowledged.get();
        }
        return sum;
    }

    public long errorReplies()
    {
        long sum = 0;
        for (final Connection connection : connections)
        {
            sum += connection.errorReplies.get();
        }
        return sum;
    }

    public int connectionDrops()
    {
        int count = 0;
        for (final Connection connection : connections)
        {
            count += connection.dropCause != null ? 1 : 0;
        }
        return count;
    }

    /** Error replies plus dropped connections: what a host would have seen fail. */
    public long hostErrors()
    {
        return errorReplies() + connectionDrops();
    }

    /** Writes acknowledged on the connections whose URI starts with {@code uriPrefix} (a controller's nbd://H:P/). */
    public long acknowledgedThrough(final String uriPrefix)
    {
        long sum = 0;
        for (final Connection connection : connections)
        {
            sum += connection.uri.startsWith(uriPrefix) ? connection.acknowledged.get() : 0;
        }
        return sum;
    }

    /** Error replies on the connections whose URI starts with {@code uriPrefix} (a controller's {@code nbd://H:P/}). */
    public long errorRepliesThrough(final String uriPrefix)
    {
        long sum = 0;
        for (final Connection connection : connections)
        {
            sum += connection.uri.startsWith(uriPrefix) ? connection.errorReplies.get() : 0;
        }
        return sum;
    }

    /** Dropped connections among those whose URI starts with {@code uriPrefix}. */
    public int connectionDropsThrough(final String uriPrefix)
    {
        int count = 0;
        for (final Connection connection : connections)
        {
            count += connection.uri.startsWith(uriPrefix) && connection.dropCause != null ? 1 : 0;
        }
        return count;
    }

    /** Connections whose URI starts with {@code uriPrefix}. */
    public int connectionsThrough(final String uriPrefix)
    {
        int count = 0;
        for (final Connection connection : connections)
        {
            count += connection.uri.startsWith(uriPrefix) ? 1 : 0;
        }
        return count;
    }

    /** True while any connection's thread runs. */
    public boolean isRunning()
    {
        return runningCount.get() > 0;
    }

    /**
     * Waits (bounded) until {@code total} writes have been acknowledged. Fails at once when every connection has
     * ended or the harness itself failed, else at the deadline, with {@link #describe()} and the diagnostics.
     */
    public LedgerWriter awaitAcknowledged(final long total, final long timeoutMs, final Supplier<String> diagnostics)
    {
        Poll.until(total + " acknowledged writes to " + ledger.volume(), timeoutMs, () ->
        {
            requireNoHarnessFailure(diagnostics);
            if (acknowledged() >= total)
            {
                return true;
            }
            if (!isRunning())
            {
                throw new AssertionError("every connection ended before " + total + " acknowledged writes: " +
                    describe() + "\n" + diagnostics.get());
            }
            return false;
        }, () -> describe() + "\n" + diagnostics.get());
        return this;
    }

    /** {@link #awaitAcknowledged} of {@code moreAcknowledged} beyond the count now: the volume makes progress. */
    public LedgerWriter awaitProgress(
        final long moreAcknowledged, final long timeoutMs, final Supplier<String> diagnostics)
    {
        return awaitAcknowledged(acknowledged() + moreAcknowledged, timeoutMs, diagnostics);
    }

    /**
     * Waits (bounded) until the connections whose URI starts with {@code uriPrefix} have acknowledged {@code total}
     * writes: one controller's paths make progress, whatever the others do. Fails at once when those connections
     * have ended, else at the deadline.
     */
    public LedgerWriter awaitAcknowledgedThrough(
        final String uriPrefix, final long total, final long timeoutMs, final Supplier<String> diagnostics)
    {
        if (connectionsThrough(uriPrefix) == 0)
        {
            throw new IllegalArgumentException("no connection of the writer to " + ledger.volume() + " goes through " +
                uriPrefix + ": " + uris());
        }
        Poll.until(total + " acknowledged writes to " + ledger.volume() + " through " + uriPrefix, timeoutMs, () ->
        {
            requireNoHarnessFailure(diagnostics);
            if (acknowledgedThrough(uriPrefix) >= total)
            {
                return true;
            }
            if (connectionDropsThrough(uriPrefix) == connectionsThrough(uriPrefix))
            {
                throw new AssertionError("every connection through " + uriPrefix + " dropped before " + total +
                    " acknowledged writes: " + describe() + "\n" + diagnostics.get());
            }
            return false;
        }, () -> describe() + "\n" + diagnostics.get());
        return this;
    }

    /** Waits (bounded) until every connection has ended by itself (its controller went away). */
    public LedgerWriter awaitEnded(final long timeoutMs, final Supplier<String> diagnostics)
    {
        Poll.until("every connection of the writer to " + ledger.volume() + " ended", timeoutMs,
            () -> !isRunning(), () -> describe() + "\n" + diagnostics.get());
        joinAll(timeoutMs, diagnostics);
        requireNoHarnessFailure(diagnostics);
        return this;
    }

    /**
     * Stops writing: each connection sends no more, waits for the replies to what it sent, disconnects. Waits
     * (bounded) for every thread; afterwards the ledger can be verified.
     */
    public LedgerWriter stop(final Supplier<String> diagnostics)
    {
        stopping = true;
        joinAll(STOP_TIMEOUT_MS, diagnostics);
        requireNoHarnessFailure(diagnostics);
        return this;
    }

    /** Fails, naming every host error, unless no write got an error reply and no connection dropped. */
    public LedgerWriter assertNoHostErrors(final Supplier<String> diagnostics)
    {
        if (hostErrors() != 0)
        {
            throw new AssertionError("host errors on " + ledger.volume() + ": " + describe() + "\n" +
                diagnostics.get());
        }
        return this;
    }

    /** One line per connection: URI, acknowledged writes, error replies (the first one), drop cause. */
    public String describe()
    {
        final StringBuilder text = new StringBuilder("writer of ").append(ledger.volume()).append(" (seed ")
            .append(ledger.seed()).append("):");
        for (final Connection connection : connections)
        {
            text.append("\n  ").append(connection.describe());
        }
        return text.toString();
    }

    private void joinAll(final long timeoutMs, final Supplier<String> diagnostics)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        for (final Thread thread : threads)
        {
            try
            {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime())));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("interrupted while stopping " + thread.getName(), ex);
            }
            if (thread.isAlive())
            {
                throw new AssertionError(thread.getName() + " did not end within " + timeoutMs + " ms: " + describe() +
                    "\n" + diagnostics.get());
            }
        }
    }

    private void requireNoHarnessFailure(final Supplier<String> diagnostics)
    {
        for (final Connection connection : connections)
        {
            final Throwable failure = connection.harnessFailure;
            if (failure != null)
            {
                throw new AssertionError("ledger writer failed (a harness bug or a broken invariant): " + describe() +
                    "\n" + diagnostics.get(), failure);
            }
        }
    }

    /** Stops if still running (for try-with-resources on a failing path); never throws for host errors. */
    @Override
    public void close()
    {
        stopping = true;
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(STOP_TIMEOUT_MS);
        for (final Thread thread : threads)
        {
            try
            {
                thread.join(Math.max(1, TimeUnit.NANOSECONDS.toMillis(deadlineNs - System.nanoTime())));
            }
            catch (final InterruptedException ex)
            {
                Thread.currentThread().interrupt();
                return;
            }
        }
    }

    /** One NBD connection and the stripe of blocks it writes; its fields are its own thread's, counters aside. */
    private static final class Connection
    {
        private final Ledger ledger;
        private final String uri;
        private final int index;
        private final int stride;
        private final int stripeBlocks;
        private final NbdClient client;
        private final SplittableRandom random;
        private final int[] slotLba;
        private final long[] slotVersion;
        private final boolean[] slotBusy;
        private final byte[] block = new byte[LedgerBlock.BLOCK_SIZE_BYTES];
        private final CRC32C crc = new CRC32C();
        private int submittingLba = -1;
        final AtomicLong acknowledged = new AtomicLong();
        final AtomicLong errorReplies = new AtomicLong();
        private volatile String firstErrorReply;
        volatile Throwable dropCause;
        volatile Throwable harnessFailure;

        Connection(final Ledger ledger, final String uri, final int index, final int stride, final int queueDepth)
            throws IOException
        {
            this.ledger = ledger;
            this.uri = uri;
            this.index = index;
            this.stride = stride;
            this.stripeBlocks = (ledger.blockCount() - index + stride - 1) / stride;
            this.random = new SplittableRandom(ledger.seed() * 31 + index);
            this.slotLba = new int[queueDepth];
            this.slotVersion = new long[queueDepth];
            this.slotBusy = new boolean[queueDepth];
            final NbdUri address = NbdUri.parse(uri);
            this.client = NbdClient.connect(address.host(), address.port(), address.export(),
                new NbdClient.Options().inFlightMax(queueDepth));
            if (client.sizeBytes() < (long)ledger.blockCount() * LedgerBlock.BLOCK_SIZE_BYTES)
            {
                client.close();
                throw new IOException(uri + " is " + client.sizeBytes() + " bytes, smaller than the ledger's " +
                    ledger.blockCount() + " blocks");
            }
            client.listener(this::onReply);
        }

        void run(final LedgerWriter writer)
        {
            try
            {
                while (!writer.isStopping() && errorReplies.get() < ERROR_REPLIES_MAX)
                {
                    submitNext();
                }
                client.awaitAll();
                client.disconnect();
            }
            catch (final IOException ex)
            {
                dropCause = ex;
                closeQuietly();
            }
            catch (final RuntimeException | Error ex)
            {
                harnessFailure = ex;
                closeQuietly();
            }
            finally
            {
                abandonOutstanding();
            }
        }

        private void submitNext() throws IOException
        {
            final int lba = pickLba();
            final long version = ledger.beginWrite(lba);
            submittingLba = lba;
            LedgerBlock.fill(block, 0, ledger.volumeTag(), lba, version, ledger.seed(), crc);
            final long cookie = client.submitWrite((long)lba * LedgerBlock.BLOCK_SIZE_BYTES, block, 0,
                LedgerBlock.BLOCK_SIZE_BYTES, 0);
            final int slot = (int)(cookie & 0xFFFF);
            if (slotBusy[slot])
            {
                throw new IllegalStateException("cookie slot " + slot + " reused while its write is outstanding");
            }
            slotLba[slot] = lba;
            slotVersion[slot] = version;
            slotBusy[slot] = true;
            submittingLba = -1;
        }

        /** A random block of this connection's stripe with no write in flight (the stripe is larger than the depth). */
        private int pickLba()
        {
            final int start = random.nextInt(stripeBlocks);
            for (int probe = 0; probe < stripeBlocks; probe++)
            {
                final int lba = index + stride * ((start + probe) % stripeBlocks);
                if (!ledger.isInFlight(lba))
                {
                    return lba;
                }
            }
            throw new IllegalStateException("every block of stripe " + index + " is in flight");
        }

        private void onReply(
            final long cookie, final int command, final long offsetBytes, final long lengthBytes, final int errno)
        {
            final int slot = (int)(cookie & 0xFFFF);
            if (!slotBusy[slot] || offsetBytes != (long)slotLba[slot] * LedgerBlock.BLOCK_SIZE_BYTES)
            {
                throw new IllegalStateException("reply for cookie " + cookie + " at offset " + offsetBytes +
                    " matches no outstanding write");
            }
            slotBusy[slot] = false;
            if (errno == 0)
            {
                ledger.onAcknowledged(slotLba[slot], slotVersion[slot]);
                acknowledged.incrementAndGet();
            }
            else
            {
                ledger.onInDoubt(slotLba[slot]);
                if (errorReplies.incrementAndGet() == 1)
                {
                    firstErrorReply = "errno " + errno + " on the write of version " + slotVersion[slot] + " to lba " +
                        slotLba[slot];
                }
            }
        }

        /** Writes without a reply stay in doubt; their blocks may be written again by a next writer. */
        private void abandonOutstanding()
        {
            for (int slot = 0; slot < slotBusy.length; slot++)
            {
                if (slotBusy[slot])
                {
                    slotBusy[slot] = false;
                    ledger.onInDoubt(slotLba[slot]);
                }
            }
            if (submittingLba >= 0)
            {
                ledger.onInDoubt(submittingLba);
                submittingLba = -1;
            }
        }

        void closeQuietly()
        {
            try
            {
                client.close();
            }
            catch (final IOException ex)
            {
                // the connection is gone either way
            }
        }

        String describe()
        {
            final Throwable drop = dropCause;
            final Throwable failure = harnessFailure;
            return uri + " (lba % " + stride + " == " + index + "): " + acknowledged.get() + " acknowledged, " +
                errorReplies.get() + " error replies" + (firstErrorReply == null ? "" : " (first: " + firstErrorReply +
                ")") + (drop == null ? "" : ", connection dropped: " + drop) +
                (failure == null ? "" : ", HARNESS FAILURE: " + failure);
        }
    }
}
