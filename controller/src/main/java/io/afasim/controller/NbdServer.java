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
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.Consumer;

/**
 * NBD server: one network thread (this agent) owns a {@link Selector}, the listening socket and every connection
 * until its handshake has picked an export. A connection then stays on the network thread, or, when the backend
 * serves that export on a thread of its own ({@link NbdBackend#loopFor}: the controller's volume threads), moves to
 * that thread's {@link NbdLoop}, which reads its requests, submits them and sends its replies from then on. Hosted
 * ({@link Context#hostedOn}), the server has no thread of its own: the controller's shared I/O thread runs
 * {@link #hostedDoWork()} among its other agents and waits on the selector it shares with us.
 * <p>
 * Backend threads hand completed requests back to the connection's loop through a bounded MPSC queue
 * ({@link ManyToOneConcurrentArrayQueue}, capacity = every request slot of every connection, so an offer never
 * fails) and wake that loop's thread only when it is not the completing thread. Data buffers come from one pool
 * ({@link NbdBufferPool}) for every loop.
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

    private final Context ctx;
    private final NbdBackend backend;
    private final NbdCounters counters = new NbdCounters();
    private final NbdBufferPool bufferPool;
    private final Selector selector;
    private final ServerSocketChannel serverChannel;
    private final SelectionKey serverKey;
    private final InetSocketAddress boundAddress;
    /** The network thread's (hosted: the host thread's) connections: the listener's and every handshake. */
    private final NbdLoop networkLoop;
    /** Loops that have served a connection (volume threads): woken when the server closes. */
    private final List<NbdLoop> loops = new CopyOnWriteArrayList<>();
    /**
     * Completion queues of loops whose thread stopped; the network thread drains them until another loop takes one
     * over (under this list's lock: a queue has one consumer at a time).
     */
    private final ArrayList<ManyToOneConcurrentArrayQueue<HostRequest>> spareQueues = new ArrayList<>();
    private volatile int spareQueueCount;
    /** Connections closed on any loop and free for reuse: the listener takes them back (network thread). */
    private final ManyToOneConcurrentArrayQueue<NbdConnection> recycled;
    private final AtomicInteger openConnections = new AtomicInteger();
    /** Exports now served on a thread of their own ({@link #rehome}): the network thread moves their connections. */
    private final ManyToOneConcurrentArrayQueue<Integer> rehomes = new ManyToOneConcurrentArrayQueue<>(REHOMES_MAX);
    /**
     * Own thread: it is in (or about to enter) a blocking select, and a wake-up since its last duty cycle. No lost
     * wake-up, as the controller's doorbell: the network thread publishes {@code selecting} and then checks
     * {@code woken}; a waking thread sets {@code woken} and then checks {@code selecting} (all volatile, so at least
     * one sees the other). A completion while the thread is awake costs no syscall.
     */
    private volatile boolean selecting;
    private volatile boolean woken;
    private final HostRequest.CompletionHandler completionHandler =
        request -> request.connection.loop.onCompleteAnyThread(request);
    private final NbdConnection[] idle;
    private int idleCount;
    private int createdCount;
    /** The network thread; hosted: the host thread, once it has run a duty cycle. */
    private volatile Thread thread;
    private final boolean hosted;
    private final CountDownLatch hostedClosed = new CountDownLatch(1);
    private volatile boolean closed;
    private volatile boolean closeRequested;
    private boolean draining;
    private long drainDeadlineNs;
    private long nowNs;

    private static final int REHOMES_MAX = 1024;

    private NbdServer(final NbdBackend backend, final Context ctx) throws IOException {
        this.ctx = ctx.conclude();
        this.backend = backend;
        this.bufferPool = new NbdBufferPool(ctx.bufferTierBytes(), ctx.bufferTierCountMax());
        this.recycled = new ManyToOneConcurrentArrayQueue<>(ctx.connectionsMax());
        this.idle = new NbdConnection[ctx.connectionsMax()];
        this.hosted = ctx.hostSelector() != null;
        this.selector = hosted ? ctx.hostSelector() : Selector.open();
        this.serverChannel = ServerSocketChannel.open();
        try {
            serverChannel.setOption(StandardSocketOptions.SO_REUSEADDR, true);
            serverChannel.bind(new InetSocketAddress(ctx.host(), ctx.port()), ctx.connectionsMax());
            serverChannel.configureBlocking(false);
            final Runnable acceptor = this::acceptConnections;
            this.serverKey = serverChannel.register(selector, SelectionKey.OP_ACCEPT, acceptor);
            this.boundAddress = (InetSocketAddress)serverChannel.getLocalAddress();
        } catch (final IOException | RuntimeException ex) {
            serverChannel.close();
            if (!hosted) {
                selector.close();
            }
            throw ex;
        }
        this.networkLoop = new NbdLoop(this, ctx.threadName(), selector, hosted ? ctx.hostWakeup() : this::wake);
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

    /** Open client connections, on every loop (any thread). */
    public int connectionCount() {
        return openConnections.get();
    }

    /**
     * Any thread: export {@code exportId} is now served on a thread of its own ({@link NbdBackend#loopFor}; a volume
     * that moved here, or was taken over). Connections that picked it before, and so stayed on the network thread,
     * move to that thread with their requests in flight, as a connection does at {@code NBD_OPT_GO}.
     */
    public void rehome(final int exportId) {
        if (!rehomes.offer(exportId)) {
            ctx.errorHandler().onError(new IllegalStateException(
                "NBD rehome of export " + exportId + " dropped: " + REHOMES_MAX + " pending (its connections stay)"));
            return;
        }
        networkLoop.wake();
    }

    /** Stops accepting, lets connections answer what they accepted (bounded by closeTimeoutNs), closes all. */
    @Override
    public void close() {
        closeRequested = true;
        if (hosted) {
            awaitHostedClose();
            return;
        }
        wake();
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
                    selectUnlessWoken();
                }
            }
        } catch (final Throwable ex) {
            ctx.errorHandler().onError(ex);
        } finally {
            closeAll();
        }
    }

    private void selectUnlessWoken() throws IOException {
        selecting = true;
        try {
            if (!woken) {
                selector.select(networkLoop.keyHandler(), ctx.idleSelectMs());
            }
        } finally {
            selecting = false;
            woken = false; // the next duty cycle drains what completed
        }
    }

    /** Own thread: wakes the network thread (a completion, a connection handed back, the close). */
    private void wake() {
        woken = true;
        if (selecting) {
            selector.wakeup();
        }
    }

    /** One turn of the network loop: the duty cycle, or the drain once closing; -1 when it has finished. */
    private int turn() {
        nowNs = ctx.nanoClock().nanoTime();
        if (closeRequested && !draining) {
            beginDrain();
        }
        if (draining && (openConnections.get() == 0 || nowNs - drainDeadlineNs >= 0)) {
            return -1;
        }
        return networkLoop.doWork();
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
        } catch (final RuntimeException ex) {
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
        return networkLoop.flush();
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

    /** Listener (network thread): new connections start their handshake on the network loop. */
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
            openConnections.incrementAndGet();
            networkLoop.add(connection);
            try {
                connection.open(channel, key, nowNs);
            } catch (final IOException ex) {
                counters.increment(NbdCounters.CONNECTION_IO_ERRORS);
                connection.close();
            }
        }
    }

    private NbdConnection obtainConnection() {
        NbdConnection connection;
        while (idleCount < idle.length && (connection = recycled.poll()) != null) {
            idle[idleCount++] = connection;
        }
        if (idleCount > 0) {
            connection = idle[--idleCount];
            idle[idleCount] = null;
            return connection;
        }
        if (createdCount >= ctx.connectionsMax()) {
            return null;
        }
        createdCount++;
        return new NbdConnection(this, ctx, counters);
    }

    private void beginDrain() {
        draining = true;
        drainDeadlineNs = nowNs + ctx.closeTimeoutNs();
        serverKey.cancel();
        closeQuietly(serverChannel);
        wakeLoops(); // they see the close request and let their connections finish
    }

    private synchronized void closeAll() {
        if (closed) {
            return;
        }
        closed = true;
        networkLoop.closeConnections();
        wakeLoops(); // they close what is still open on their next duty cycle
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

    private void wakeLoops() {
        for (final NbdLoop loop : loops) {
            loop.wake(); // its next duty cycle looks at the server's state
        }
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

    // ------------------------------------------------------------------ called by loops and connections

    boolean isCloseRequested() {
        return closeRequested;
    }

    boolean isClosed() {
        return closed;
    }

    NbdLoop networkLoop() {
        return networkLoop;
    }

    HostRequest.CompletionHandler completionHandler() {
        return completionHandler;
    }

    ExportInfo openExport(final String name) {
        return backend.open(name);
    }

    List<ExportInfo> listExports() {
        return backend.exports();
    }

    /** The loop that serves {@code exportId}'s connections from now on (attached to this server), or null: here. */
    NbdLoop loopFor(final int exportId) {
        final NbdLoop loop = backend.loopFor(exportId);
        if (loop == null || loop == networkLoop) {
            return null;
        }
        if (loop.attachIfNew(this)) {
            loops.add(loop);
        }
        return loop;
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

    /** A data buffer of at least {@code lengthBytes}, or null: {@code waiter} is woken when one comes back. */
    ByteBuffer acquireBuffer(final int lengthBytes, final NbdLoop waiter) {
        return bufferPool.acquire(lengthBytes, waiter);
    }

    void releaseBuffer(final ByteBuffer buffer) {
        bufferPool.release(buffer);
    }

    void onConnectionClosed() {
        openConnections.decrementAndGet();
    }

    /** A closed connection whose last request came back, out of every queue of its loop: the listener reuses it. */
    void recycle(final NbdConnection connection) {
        if (!recycled.offer(connection)) {
            throw new IllegalStateException("NBD connection recycled twice");
        }
    }

    /** A loop's completion queue, a spare one (whose last loop stopped) or a new one. */
    ManyToOneConcurrentArrayQueue<HostRequest> takeSpareQueue() {
        synchronized (spareQueues) {
            if (!spareQueues.isEmpty()) {
                final ManyToOneConcurrentArrayQueue<HostRequest> queue = spareQueues.remove(spareQueues.size() - 1);
                spareQueueCount = spareQueues.size();
                return queue;
            }
        }
        return new ManyToOneConcurrentArrayQueue<>(ctx.connectionsMax() * ctx.requestsInFlightPerConnectionMax());
    }

    /** A stopped loop's completion queue: the network thread drains it from now on. */
    void spareQueue(final NbdLoop loop, final ManyToOneConcurrentArrayQueue<HostRequest> queue) {
        loops.remove(loop);
        synchronized (spareQueues) {
            spareQueues.add(queue);
            spareQueueCount = spareQueues.size();
        }
        networkLoop.wake(); // it drains the queue
    }

    /** The network loop's duty: the connections of exports served elsewhere now are queued to move there. */
    int drainRehomes(final NbdLoop loop) {
        if (loop != networkLoop || rehomes.isEmpty()) {
            return 0;
        }
        return rehomes.drain(exportId -> {
            final NbdLoop home = loopFor(exportId);
            if (home != null) {
                networkLoop.moveConnectionsOf(exportId, home);
            }
        });
    }

    /** The network loop's duty: requests completed into spare queues go to their connections' loops. */
    int drainSpareQueues(final NbdLoop loop, final Consumer<HostRequest> drainer) {
        if (loop != networkLoop || spareQueueCount == 0) {
            return 0;
        }
        int work = 0;
        synchronized (spareQueues) {
            for (int i = 0; i < spareQueues.size(); i++) {
                work += spareQueues.get(i).drain(drainer);
            }
        }
        return work;
    }
}
