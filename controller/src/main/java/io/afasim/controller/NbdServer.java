package io.afasim.controller;

import org.agrona.ErrorHandler;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.StandardSocketOptions;
import java.nio.ByteBuffer;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.nio.channels.ServerSocketChannel;
import java.nio.channels.SocketChannel;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * NBD server: one network thread (this agent) owns a {@link Selector}, the listening socket and every
 * {@link NbdConnection}. Hosted ({@link Context#hostedOn}), it has no thread of its own: the controller's shared
 * I/O thread runs {@link #hostedDoWork()} among its other agents and waits on the selector it shares with us.
 * Backend threads hand completed requests back through a bounded MPSC queue
 * ({@link ManyToOneConcurrentArrayQueue}, capacity = every request slot of every connection, so an offer never
 * fails) and wake the selector at most once per drain. One thread is enough for NBD framing on this 2-core box:
 * it only parses headers, copies small payloads and issues gathering writes; the backend does the storage work
 * on its own threads.
 * <p>
 * Limits (all in {@link Context}): connections, request slots per connection, request data size, data buffer
 * tiers, write-discard size, block status extents, handshake and close timeouts.
 */
public final class NbdServer implements AutoCloseable {
    /** Configuration (Aeron style: defaults as constants, {@link #conclude()} validates once). */
    public static final class Context {
        public static final String HOST_PROP_NAME = "afasim.nbd.host";
        public static final String PORT_PROP_NAME = "afasim.nbd.port";
        public static final String CONNECTIONS_MAX_PROP_NAME = "afasim.nbd.connections.max";
        public static final String REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX_PROP_NAME =
            "afasim.nbd.requests.in.flight.per.connection.max";
        public static final String REQUEST_DATA_MAX_BYTES_PROP_NAME = "afasim.nbd.request.data.max.bytes";
        public static final String IDLE_YIELDS_PROP_NAME = "afasim.nbd.idle.yields";
        public static final String HOST_DEFAULT = "127.0.0.1";
        public static final int PORT_DEFAULT = 0;
        public static final int CONNECTIONS_MAX_DEFAULT = 64;
        public static final int REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX_DEFAULT = 128;
        public static final int REQUEST_DATA_MAX_BYTES_DEFAULT = 32 * 1024 * 1024;
        /** Data buffer tiers: common case 128 KiB, then 2 MiB (qemu-img chunks), then the 32 MiB maximum. */
        public static final int[] BUFFER_TIER_BYTES_DEFAULT = {128 * 1024, 2 * 1024 * 1024, 32 * 1024 * 1024};
        public static final int[] BUFFER_TIER_COUNT_MAX_DEFAULT = {1024, 64, 4};
        /** A WRITE above the maximum but at most this is read and dropped (EINVAL); larger closes the connection. */
        public static final int WRITE_DISCARD_MAX_BYTES_DEFAULT = 64 * 1024 * 1024;
        public static final int BLOCK_STATUS_EXTENTS_MAX_DEFAULT = 256;
        public static final long HANDSHAKE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(30);
        public static final long CLOSE_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(5);
        public static final int COMPLETIONS_PER_WORK_MAX_DEFAULT = 1024;
        public static final int ACCEPTS_PER_WORK_MAX_DEFAULT = 16;
        public static final long IDLE_SELECT_MS_DEFAULT = 100;
        /**
         * Idle turns of the network thread that yield and poll its sockets before it blocks in select. A host at
         * iodepth 32 sends its next requests within microseconds of the last replies; blocking at once put the
         * thread to sleep (and the volume's completion woke it through the selector) every few requests. Measured
         * (1WB randwrite qd32, this 2-core box): 0 yields 70-79 k IOPS, 2-10 yields 80-91 k, 20-100 uneven
         * (59-87 k). Bounded: the thread still blocks once it has yielded this many times in a row.
         */
        public static final int IDLE_YIELDS_DEFAULT = 8;

        private String host = System.getProperty(HOST_PROP_NAME, HOST_DEFAULT);
        private int port = Integer.getInteger(PORT_PROP_NAME, PORT_DEFAULT);
        private int connectionsMax = Integer.getInteger(CONNECTIONS_MAX_PROP_NAME, CONNECTIONS_MAX_DEFAULT);
        private int requestsInFlightPerConnectionMax = Integer.getInteger(
            REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX_PROP_NAME, REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX_DEFAULT);
        private int requestDataMaxBytes = Integer.getInteger(REQUEST_DATA_MAX_BYTES_PROP_NAME,
            REQUEST_DATA_MAX_BYTES_DEFAULT);
        private int[] bufferTierBytes = BUFFER_TIER_BYTES_DEFAULT.clone();
        private int[] bufferTierCountMax = BUFFER_TIER_COUNT_MAX_DEFAULT.clone();
        private int writeDiscardMaxBytes = WRITE_DISCARD_MAX_BYTES_DEFAULT;
        private int blockStatusExtentsMax = BLOCK_STATUS_EXTENTS_MAX_DEFAULT;
        private long handshakeTimeoutNs = HANDSHAKE_TIMEOUT_NS_DEFAULT;
        private long closeTimeoutNs = CLOSE_TIMEOUT_NS_DEFAULT;
        private int completionsPerWorkMax = COMPLETIONS_PER_WORK_MAX_DEFAULT;
        private long idleSelectMs = IDLE_SELECT_MS_DEFAULT;
        private int idleYields = Integer.getInteger(IDLE_YIELDS_PROP_NAME, IDLE_YIELDS_DEFAULT);
        private String threadName = "afasim-nbd";
        private Selector hostSelector;
        private Runnable hostWakeup;
        private NanoClock nanoClock = SystemNanoClock.INSTANCE;
        private ErrorHandler errorHandler = Throwable::printStackTrace;

        public Context host(final String host) {
            this.host = host;
            return this;
        }

        public String host() {
            return host;
        }

        /** 0 = ephemeral (see {@link NbdServer#port()}). */
        public Context port(final int port) {
            this.port = port;
            return this;
        }

        public int port() {
            return port;
        }

        public Context connectionsMax(final int value) {
            connectionsMax = value;
            return this;
        }

        public int connectionsMax() {
            return connectionsMax;
        }

        public Context requestsInFlightPerConnectionMax(final int value) {
            requestsInFlightPerConnectionMax = value;
            return this;
        }

        public int requestsInFlightPerConnectionMax() {
            return requestsInFlightPerConnectionMax;
        }

        public Context requestDataMaxBytes(final int value) {
            requestDataMaxBytes = value;
            return this;
        }

        public int requestDataMaxBytes() {
            return requestDataMaxBytes;
        }

        public Context bufferTiers(final int[] tierBytes, final int[] tierCountMax) {
            bufferTierBytes = tierBytes.clone();
            bufferTierCountMax = tierCountMax.clone();
            return this;
        }

        public int[] bufferTierBytes() {
            return bufferTierBytes.clone();
        }

        public int[] bufferTierCountMax() {
            return bufferTierCountMax.clone();
        }

        public Context writeDiscardMaxBytes(final int value) {
            writeDiscardMaxBytes = value;
            return this;
        }

        public int writeDiscardMaxBytes() {
            return writeDiscardMaxBytes;
        }

        public Context blockStatusExtentsMax(final int value) {
            blockStatusExtentsMax = value;
            return this;
        }

        public int blockStatusExtentsMax() {
            return blockStatusExtentsMax;
        }

        public Context handshakeTimeoutNs(final long value) {
            handshakeTimeoutNs = value;
            return this;
        }

        public long handshakeTimeoutNs() {
            return handshakeTimeoutNs;
        }

        public Context closeTimeoutNs(final long value) {
            closeTimeoutNs = value;
            return this;
        }

        public long closeTimeoutNs() {
            return closeTimeoutNs;
        }

        public Context completionsPerWorkMax(final int value) {
            completionsPerWorkMax = value;
            return this;
        }

        public int completionsPerWorkMax() {
            return completionsPerWorkMax;
        }

        public Context idleSelectMs(final long value) {
            idleSelectMs = value;
            return this;
        }

        public long idleSelectMs() {
            return idleSelectMs;
        }

        /** Idle turns that yield and poll the sockets before the network thread blocks in select (own thread only). */
        public Context idleYields(final int value) {
            idleYields = value;
            return this;
        }

        public int idleYields() {
            return idleYields;
        }

        public Context threadName(final String value) {
            threadName = value;
            return this;
        }

        public String threadName() {
            return threadName;
        }

        /**
         * Hosted mode: no network thread; the host thread calls {@link NbdServer#hostedDoWork()} and waits on
         * {@code selector} (which it owns, and may share with other channels: keys that are not ours are skipped).
         * {@code wakeup} wakes it when another thread completes a request or asks the server to close.
         */
        public Context hostedOn(final Selector selector, final Runnable wakeup) {
            hostSelector = selector;
            hostWakeup = wakeup;
            return this;
        }

        /** The host's selector in hosted mode; null when the server runs its own network thread. */
        public Selector hostSelector() {
            return hostSelector;
        }

        public Runnable hostWakeup() {
            return hostWakeup;
        }

        public Context nanoClock(final NanoClock value) {
            nanoClock = value;
            return this;
        }

        public NanoClock nanoClock() {
            return nanoClock;
        }

        public Context errorHandler(final ErrorHandler value) {
            errorHandler = value;
            return this;
        }

        public ErrorHandler errorHandler() {
            return errorHandler;
        }

        /** Validates every value once; the message names the bad one. */
        public Context conclude() {
            require(host != null && !host.isEmpty(), "host must be set");
            require(port >= 0 && port <= 65535, "port out of range: " + port);
            require(connectionsMax >= 1 && connectionsMax <= 4096, "connectionsMax out of [1, 4096]: " + connectionsMax);
            require(requestsInFlightPerConnectionMax >= 1 && requestsInFlightPerConnectionMax <= 4096,
                "requestsInFlightPerConnectionMax out of [1, 4096]: " + requestsInFlightPerConnectionMax);
            require(bufferTierBytes.length > 0 && bufferTierBytes.length == bufferTierCountMax.length,
                "bufferTierBytes and bufferTierCountMax must be non-empty and of equal length");
            require(requestDataMaxBytes >= 512 && requestDataMaxBytes <= bufferTierBytes[bufferTierBytes.length - 1],
                "requestDataMaxBytes must be in [512, largest buffer tier]: " + requestDataMaxBytes);
            require(writeDiscardMaxBytes >= requestDataMaxBytes,
                "writeDiscardMaxBytes must be >= requestDataMaxBytes: " + writeDiscardMaxBytes);
            require(blockStatusExtentsMax >= 1 && blockStatusExtentsMax <= 65536,
                "blockStatusExtentsMax out of [1, 65536]: " + blockStatusExtentsMax);
            require(handshakeTimeoutNs > 0, "handshakeTimeoutNs must be > 0: " + handshakeTimeoutNs);
            require(closeTimeoutNs >= 0, "closeTimeoutNs must be >= 0: " + closeTimeoutNs);
            require(completionsPerWorkMax >= 1, "completionsPerWorkMax must be >= 1: " + completionsPerWorkMax);
            require(idleSelectMs >= 1, "idleSelectMs must be >= 1: " + idleSelectMs);
            require(idleYields >= 0 && idleYields <= 1000, "idleYields out of [0, 1000]: " + idleYields);
            require(nanoClock != null && errorHandler != null, "nanoClock and errorHandler must be set");
            require((hostSelector == null) == (hostWakeup == null), "hostedOn needs a selector and a wake-up");
            return this;
        }

        /** The values a child controller JVM needs, as -D arguments. */
        public java.util.List<String> toJvmArguments() {
            return java.util.List.of(
                "-D" + HOST_PROP_NAME + "=" + host,
                "-D" + PORT_PROP_NAME + "=" + port,
                "-D" + CONNECTIONS_MAX_PROP_NAME + "=" + connectionsMax,
                "-D" + REQUESTS_IN_FLIGHT_PER_CONNECTION_MAX_PROP_NAME + "=" + requestsInFlightPerConnectionMax,
                "-D" + REQUEST_DATA_MAX_BYTES_PROP_NAME + "=" + requestDataMaxBytes,
                "-D" + IDLE_YIELDS_PROP_NAME + "=" + idleYields);
        }

        private static void require(final boolean condition, final String message) {
            if (!condition) {
                throw new IllegalArgumentException("NbdServer.Context: " + message);
            }
        }
    }

    private static final long TIMEOUT_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);

    private final Context ctx;
    private final NbdBackend backend;
    private final NbdCounters counters = new NbdCounters();
    private final NbdBufferPool bufferPool;
    private final Selector selector;
    private final ServerSocketChannel serverChannel;
    private final SelectionKey serverKey;
    private final InetSocketAddress boundAddress;
    private final ManyToOneConcurrentArrayQueue<HostRequest> completions;
    /**
     * Own thread: it is in (or about to enter) a blocking select, and a completion since its last duty cycle. No lost
     * wake-up, as the controller's doorbell: the network thread publishes {@code selecting} and then checks
     * {@code completed}; a completing thread sets {@code completed} and then checks {@code selecting} (all volatile,
     * so at least one sees the other). A completion while the thread is awake costs no syscall.
     */
    private volatile boolean selecting;
    private volatile boolean completed;
    private final HostRequest.CompletionHandler completionHandler = this::onCompleteAnyThread;
    private final Consumer<HostRequest> completionDrainer = this::onCompletion;
    private final Consumer<SelectionKey> keyHandler = this::onSelectedKey;
    private final NbdConnection[] active;
    private int activeCount;
    private volatile int activeCountPublished;
    private final NbdConnection[] idle;
    private int idleCount;
    private int createdCount;
    private final NbdConnection[] resumeQueue;
    private int resumeCount;
    private final NbdConnection[] bufferWaiters;
    private int bufferWaiterCount;
    /** Connections with replies queued in this duty cycle: each is flushed once, at its end. */
    private final NbdConnection[] flushQueue;
    private int flushCount;
    /** The network thread; hosted: the host thread, once it has run a duty cycle. */
    private volatile Thread thread;
    /** Keys of ours handled by the last select (hosted: the shared selector also holds the host's). */
    private int keysHandled;
    private final boolean hosted;
    private final CountDownLatch hostedClosed = new CountDownLatch(1);
    private volatile boolean closed;
    private volatile boolean closeRequested;
    private boolean draining;
    private long drainDeadlineNs;
    private long nextTimeoutCheckNs;
    private long nowNs;

    private NbdServer(final NbdBackend backend, final Context ctx) throws IOException {
        this.ctx = ctx.conclude();
        this.backend = backend;
        this.bufferPool = new NbdBufferPool(ctx.bufferTierBytes(), ctx.bufferTierCountMax());
        this.completions = new ManyToOneConcurrentArrayQueue<>(
            ctx.connectionsMax() * ctx.requestsInFlightPerConnectionMax());
        this.active = new NbdConnection[ctx.connectionsMax()];
        this.idle = new NbdConnection[ctx.connectionsMax()];
        this.resumeQueue = new NbdConnection[ctx.connectionsMax()];
        this.bufferWaiters = new NbdConnection[ctx.connectionsMax()];
        this.flushQueue = new NbdConnection[ctx.connectionsMax()];
        this.hosted = ctx.hostSelector() != null;
        this.selector = hosted ? ctx.hostSelector() : Selector.open();
        this.serverChannel = ServerSocketChannel.open();
        try {
            serverChannel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            serverChannel.bind(new InetSocketAddress(ctx.host(), ctx.port()), ctx.connectionsMax());
            serverChannel.configureBlocking(false);
            this.serverKey = serverChannel.register(selector, SelectionKey.OP_ACCEPT, null);
            this.boundAddress = (InetSocketAddress)serverChannel.getLocalAddress();
        } catch (final IOException | RuntimeException ex) {
            serverChannel.close();
            if (!hosted) {
                selector.close();
            }
            throw ex;
        }
        if (!hosted) {
            this.thread = new Thread(this::run, ctx.threadName());
            this.thread.setDaemon(true);
        }
    }

    /** Binds the listener and starts the network thread. */
    public static NbdServer start(final NbdBackend backend, final Context ctx) throws IOException {
        if (backend == null) {
            throw new IllegalArgumentException("backend is null");
        }
        final NbdServer server = new NbdServer(backend, ctx);
        if (!server.hosted) {
            server.thread.start();
        }
        return server;
    }

    /** The bound port (useful with port 0). */
    public int port() {
        return boundAddress.getPort();
    }

    public InetSocketAddress address() {
        return boundAddress;
    }

    public NbdCounters counters() {
        return counters;
    }

    public Context context() {
        return ctx;
    }

    /** Open client connections (any thread; updated by the network thread). */
    public int connectionCount() {
        return activeCountPublished;
    }

    /** Stops accepting, lets connections answer what they accepted (bounded by closeTimeoutNs), closes all. */
    @Override
    public void close() {
        closeRequested = true;
        if (hosted) {
            awaitHostedClose();
            return;
        }
        selector.wakeup();
        if (Thread.currentThread() != thread) {
            try {
                thread.join(TimeUnit.NANOSECONDS.toMillis(ctx.closeTimeoutNs()) + 5_000);
            } catch (final InterruptedException ex) {
                Thread.currentThread().interrupt();
            }
            if (thread.isAlive()) {
                ctx.errorHandler().onError(new IllegalStateException("NBD network thread did not stop"));
            }
        }
    }

    // ------------------------------------------------------------------ agent loop

    private void run() {
        try {
            final int idleYields = ctx.idleYields();
            int idleTurns = 0;
            int work;
            while ((work = turn()) >= 0) {
                if (work > 0) {
                    idleTurns = 0;
                } else if (idleTurns < idleYields) {
                    idleTurns++;
                    Thread.yield(); // the next turn polls the sockets (doWork's selectNow) and counts what it finds
                } else {
                    selectUnlessCompleted();
                }
            }
        } catch (final Throwable ex) {
            ctx.errorHandler().onError(ex);
        } finally {
            closeAll();
        }
    }

    private void selectUnlessCompleted() throws IOException {
        selecting = true;
        try {
            if (!completed) {
                selector.select(keyHandler, ctx.idleSelectMs());
            }
        } finally {
            selecting = false;
            completed = false; // the next duty cycle drains what completed
        }
    }

    /** One turn of the network loop: the duty cycle, or the drain once closing; -1 when it has finished. */
    private int turn() throws IOException {
        nowNs = ctx.nanoClock().nanoTime();
        if (closeRequested && !draining) {
            beginDrain();
        }
        if (draining && (activeCount == 0 || nowNs - drainDeadlineNs >= 0)) {
            return -1;
        }
        return doWork();
    }

    /**
     * Hosted mode: one turn of the network loop on the host thread (the host waits on the shared selector when
     * every agent it runs is idle). After the server has closed it does nothing.
     */
    public int hostedDoWork() {
        if (closed) {
            return 0;
        }
        if (thread == null) {
            thread = Thread.currentThread();
        }
        int work = -1;
        try {
            work = turn();
        } catch (final IOException | RuntimeException ex) {
            ctx.errorHandler().onError(ex);
        } finally {
            if (work < 0) {
                closeAll();
            }
        }
        return Math.max(work, 0);
    }

    /**
     * Hosted mode, on the host thread between its other agents: answers the requests completed so far (drains the
     * completion queue, one gathering write per connection), so that hosts are not kept waiting while the host
     * thread blocks (a volume agent's commit-time fdatasync). Returns the completions answered.
     */
    public int hostedFlush() {
        if (closed || thread != Thread.currentThread()) {
            return 0;
        }
        final int work = completions.drain(completionDrainer, ctx.completionsPerWorkMax());
        runFlushes();
        return work;
    }

    /** Hosted: waits for the host thread to drain and close (bounded); without a running host, closes here. */
    private void awaitHostedClose() {
        final Thread host = thread;
        if (host != null && !host.isAlive()) {
            closeAll(); // the host thread is gone
            return;
        }
        if (host == Thread.currentThread()) {
            return; // the host's next duty cycles drain and close
        }
        ctx.hostWakeup().run(); // a host that has not run our duty cycle yet will: it drains and closes then
        try {
            final long waitMs = TimeUnit.NANOSECONDS.toMillis(ctx.closeTimeoutNs()) + 5_000;
            if (!hostedClosed.await(waitMs, TimeUnit.MILLISECONDS)) {
                ctx.errorHandler().onError(new IllegalStateException("NBD server did not stop on its host thread"));
            }
        } catch (final InterruptedException ex) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Hosted mode, on the host thread as it stops (its agent's onClose): closes what is still open, without a
     * drain. Nothing is lost: what was not answered was not acknowledged.
     */
    public void hostedClose() {
        if (thread == null || thread == Thread.currentThread()) {
            closeAll();
        }
    }

    /** One duty cycle: ready sockets, completions, resumed connections, replies out, handshake timeouts. */
    int doWork() throws IOException {
        keysHandled = 0;
        selector.selectNow(keyHandler);
        int work = keysHandled; // not the host's keys (hosted): a readable link socket is the link's work
        work += completions.drain(completionDrainer, ctx.completionsPerWorkMax());
        work += runResumes();
        runFlushes();
        if (nowNs - nextTimeoutCheckNs >= 0) {
            nextTimeoutCheckNs = nowNs + TIMEOUT_CHECK_INTERVAL_NS;
            closeExpiredHandshakes();
        }
        return work;
    }

    private void onSelectedKey(final SelectionKey key) {
        if (key == serverKey) {
            keysHandled++;
            acceptConnections();
            return;
        }
        if (!(key.attachment() instanceof NbdConnection)) {
            return; // hosted: a channel of the host's on the shared selector
        }
        keysHandled++;
        final NbdConnection connection = (NbdConnection)key.attachment();
        try {
            if (key.isValid() && key.isWritable()) {
                connection.onWritable();
            }
            if (key.isValid() && key.isReadable()) {
                connection.onReadable();
            }
        } catch (final IOException ex) {
            counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
            connection.close();
        } catch (final RuntimeException ex) {
            unexpected(ex, connection);
        }
    }

    private void acceptConnections() {
        for (int i = 0; i < Context.ACCEPTS_PER_WORK_MAX_DEFAULT && !draining; i++) {
            final SocketChannel channel;
            try {
                channel = serverChannel.accept();
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                return;
            }
            if (channel == null) {
                return;
            }
            counters.increment(NbdCounters.CONNECTIONS_ACCEPTED);
            final NbdConnection connection = obtainConnection();
            if (connection == null) {
                counters.increment(NbdCounters.CONNECTIONS_REFUSED_LIMIT);
                closeQuietly(channel);
                continue;
            }
            final SelectionKey key;
            try {
                channel.configureBlocking(false);
                channel.setOption(StandardSocketOptions.TCP_NODELAY, true);
                key = channel.register(selector, SelectionKey.OP_READ, connection);
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                closeQuietly(channel);
                recycle(connection);
                continue;
            }
            connection.activeIndex = activeCount;
            active[activeCount++] = connection;
            activeCountPublished = activeCount;
            try {
                connection.open(channel, key, nowNs);
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                connection.close();
            }
        }
    }

    private NbdConnection obtainConnection() {
        if (idleCount > 0) {
            final NbdConnection connection = idle[--idleCount];
            idle[idleCount] = null;
            return connection;
        }
        if (createdCount >= ctx.connectionsMax()) {
            return null;
        }
        createdCount++;
        return new NbdConnection(this, ctx, counters);
    }

    private void onCompletion(final HostRequest request) {
        final NbdConnection connection = request.connection;
        try {
            connection.onBackendComplete(request);
        } catch (final IOException ex) {
            counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
            connection.close();
        } catch (final RuntimeException ex) {
            unexpected(ex, connection);
        }
    }

    /** Resumes stalled connections; one that stalls and is re-queued meanwhile waits for the next cycle. */
    private int runResumes() {
        final int count = resumeCount;
        int work = 0;
        for (int i = 0; i < count; i++) {
            final NbdConnection connection = resumeQueue[i];
            resumeQueue[i] = null;
            try {
                connection.resume();
                work++;
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                connection.close();
            } catch (final RuntimeException ex) {
                unexpected(ex, connection);
            }
        }
        System.arraycopy(resumeQueue, count, resumeQueue, 0, resumeCount - count);
        for (int i = resumeCount - count; i < resumeCount; i++) {
            resumeQueue[i] = null;
        }
        resumeCount -= count;
        return work;
    }

    /** Writes the replies queued in this duty cycle: one gathering write per connection and batch. */
    private void runFlushes() {
        for (int i = 0; i < flushCount; i++) {
            final NbdConnection connection = flushQueue[i];
            flushQueue[i] = null;
            try {
                connection.flush();
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                connection.close();
            } catch (final RuntimeException ex) {
                unexpected(ex, connection);
            }
        }
        flushCount = 0;
    }

    private void closeExpiredHandshakes() {
        for (int i = activeCount - 1; i >= 0; i--) {
            final NbdConnection connection = active[i];
            if (connection.isHandshakeExpired(nowNs)) {
                counters.increment(NbdCounters.HANDSHAKE_TIMEOUTS);
                connection.close();
            }
        }
    }

    private void beginDrain() {
        draining = true;
        drainDeadlineNs = nowNs + ctx.closeTimeoutNs();
        serverKey.cancel();
        closeQuietly(serverChannel);
        for (int i = activeCount - 1; i >= 0; i--) {
            active[i].beginFinish();
        }
    }

    private synchronized void closeAll() {
        if (closed) {
            return;
        }
        closed = true;
        for (int i = activeCount - 1; i >= 0; i--) {
            active[i].close();
        }
        closeQuietly(serverChannel);
        if (hosted) {
            hostedClosed.countDown(); // the selector is the host's
            return;
        }
        try {
            selector.close();
        } catch (final IOException ex) {
            ctx.errorHandler().onError(ex);
        }
    }

    private void unexpected(final RuntimeException ex, final NbdConnection connection) {
        counters.increment(NbdCounters.UNEXPECTED_ERRORS);
        ctx.errorHandler().onError(ex);
        connection.close();
    }

    private static void closeQuietly(final java.nio.channels.Channel channel) {
        if (channel != null) {
            try {
                channel.close();
            } catch (final IOException ignore) {
                // nothing more to do
            }
        }
    }

    // ------------------------------------------------------------------ called by connections (network thread)

    HostRequest.CompletionHandler completionHandler() {
        return completionHandler;
    }

    NbdBufferPool bufferPool() {
        return bufferPool;
    }

    ExportInfo openExport(final String name) {
        return backend.open(name);
    }

    List<ExportInfo> listExports() {
        return backend.exports();
    }

    void submitToBackend(final HostRequest request) {
        try {
            backend.submit(request);
        } catch (final RuntimeException ex) {
            counters.increment(NbdCounters.UNEXPECTED_ERRORS);
            ctx.errorHandler().onError(ex);
            if (request.state() == HostRequest.STATE_SUBMITTED) {
                request.complete(HostRequest.EIO);
            }
        }
    }

    void releaseBuffer(final ByteBuffer buffer) {
        bufferPool.release(buffer);
        for (int i = 0; i < bufferWaiterCount; i++) {
            final NbdConnection connection = bufferWaiters[i];
            bufferWaiters[i] = null;
            connection.waitingForBuffer = false;
            queueResume(connection);
        }
        bufferWaiterCount = 0;
    }

    /** A connection found no free data buffer: it is resumed when any buffer comes back. */
    void waitForBuffer(final NbdConnection connection) {
        if (!connection.waitingForBuffer) {
            connection.waitingForBuffer = true;
            bufferWaiters[bufferWaiterCount++] = connection;
        }
    }

    /** A connection queued replies: it is flushed at the end of this duty cycle. */
    void queueFlush(final NbdConnection connection) {
        if (!connection.flushQueued) {
            connection.flushQueued = true;
            flushQueue[flushCount++] = connection;
        }
    }

    void queueResume(final NbdConnection connection) {
        if (!connection.resumeQueued) {
            connection.resumeQueued = true;
            resumeQueue[resumeCount++] = connection;
        }
    }

    void onConnectionClosed(final NbdConnection connection) {
        final int index = connection.activeIndex;
        if (index >= 0) {
            final NbdConnection last = active[--activeCount];
            active[index] = last;
            last.activeIndex = index;
            active[activeCount] = null;
            connection.activeIndex = -1;
            activeCountPublished = activeCount;
        }
        if (connection.isRecyclable()) {
            recycle(connection);
        }
    }

    void recycle(final NbdConnection connection) {
        idle[idleCount++] = connection;
    }

    // ------------------------------------------------------------------ any thread

    private void onCompleteAnyThread(final HostRequest request) {
        if (!completions.offer(request)) {
            throw new IllegalStateException("NBD completion queue full: more requests in flight than slots");
        }
        if (Thread.currentThread() == thread) {
            return; // completed on the network thread itself (served at once): drained in this or the next cycle
        }
        if (hosted) {
            ctx.hostWakeup().run();
            return;
        }
        completed = true;
        if (selecting) {
            selector.wakeup();
        }
    }
}
