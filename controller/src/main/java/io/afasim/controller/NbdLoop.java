package io.afasim.controller;

import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

import java.io.IOException;
import java.nio.channels.ClosedChannelException;
import java.nio.channels.SelectionKey;
import java.nio.channels.Selector;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * One thread's share of the NBD server: the connections that thread serves, the selector it waits on, and the queue
 * through which backend threads hand its requests back. The server's network thread runs one (with the listener and
 * every handshake); with {@code afasim.nbd.placement=volume} each volume agent thread runs another, and a connection
 * moves to the loop of its volume's thread once {@code NBD_OPT_GO} (or {@code EXPORT_NAME}) has picked the volume
 * ({@link NbdBackend#loopFor}). A write is then read from the socket, cached and answered on one thread, with no
 * hand-off between threads, while volumes still run in parallel.
 *
 * <p>Everything here runs on the loop's host thread except {@link #onCompleteAnyThread} (any thread) and
 * {@link #offerArrival} (the thread handing a connection over).
 *
 * <p>A connection that picked a volume before the volume had a thread here (the peer owned it then) moves to that
 * thread once it has one ({@link NbdServer#rehome}). A connection leaves a volume's loop again only when that thread
 * stops (the volume moved to the peer, was deleted, or the controller stops): {@link #close} hands its connections
 * back to the network thread, whose requests then take the path they took before (forwarded, or answered with an
 * error for a deleted volume).
 *
 * <p>Completions never get lost in a move. A completing thread reads the connection's loop and offers the request
 * to that loop's queue; a loop draining its queue passes a request whose connection has moved on to the connection's
 * loop of now. A stopped loop's queue goes to the server's spare queues, which the network thread drains until
 * another loop takes the queue over: every queue always has a thread draining it. A completion that raced a move
 * waits at most one idle select of the network thread ({@link NbdServer.Context#idleSelectMs()}).
 */
public final class NbdLoop {
    private static final long TIMEOUT_CHECK_INTERVAL_NS = TimeUnit.MILLISECONDS.toNanos(100);
    private static final Consumer<SelectionKey> IGNORE_KEY = key -> { };

    private final String name;
    private final Selector selector;
    private final Runnable wakeup;
    private final Consumer<SelectionKey> keyHandler = this::onSelectedKey;
    private final Consumer<HostRequest> completionDrainer = this::onCompletion;
    private final Consumer<NbdConnection> arrivalHandler = this::onArrival;
    private volatile NbdServer server;
    private ManyToOneConcurrentArrayQueue<HostRequest> completions;
    private ManyToOneConcurrentArrayQueue<NbdConnection> arrivals;
    private NbdConnection[] active;
    private int activeCount;
    private volatile int activeCountPublished;
    private NbdConnection[] resumeQueue;
    private int resumeCount;
    private NbdConnection[] bufferWaiters;
    private int bufferWaiterCount;
    /** Connections with replies queued in this duty cycle: each is flushed once, at its end. */
    private NbdConnection[] flushQueue;
    private int flushCount;
    /** Connections that picked a volume served on another loop: they move at the end of the duty cycle. */
    private NbdConnection[] moves;
    private int moveCount;
    /** Closed connections with nothing in flight, for the server to reuse at the end of the duty cycle. */
    private NbdConnection[] recycles;
    private int recycleCount;
    private volatile Thread thread;
    private volatile boolean bufferReleased;
    /** Its thread stopped ({@link #close}): it takes no more connections (set under this loop's lock). */
    private volatile boolean retired;
    private boolean finishing;
    private int keysHandled;
    private long nextTimeoutCheckNs;

    /**
     * A loop whose host thread waits on {@code selector} (which it may share with channels of its own: keys that are
     * not a connection's are skipped) and is woken by {@code wakeup}. It takes its queues from the server when the
     * first connection arrives.
     */
    public NbdLoop(final String name, final Selector selector, final Runnable wakeup) {
        if (selector == null || wakeup == null) {
            throw new IllegalArgumentException("an NBD loop needs a selector and a wake-up");
        }
        this.name = name;
        this.selector = selector;
        this.wakeup = wakeup;
    }

    /** The server's own loop (network or host thread): attached at once. */
    NbdLoop(final NbdServer server, final String name, final Selector selector, final Runnable wakeup) {
        this(name, selector, wakeup);
        attachIfNew(server);
    }

    /** Handles a ready key of this loop's (the own network thread's blocking select). */
    Consumer<SelectionKey> keyHandler() {
        return keyHandler;
    }

    /** Open connections this loop serves (any thread; updated by the loop's thread). */
    int connectionCount() {
        return activeCountPublished;
    }

    // ------------------------------------------------------------------ host thread

    /**
     * One duty cycle: ready sockets, connections handed over, completions, resumed connections, replies out, moves,
     * handshake timeouts, and the server's close. Returns the work done.
     */
    public int doWork() {
        if (thread == null) {
            thread = Thread.currentThread();
        }
        final NbdServer server = this.server;
        if (server == null) {
            return 0; // no connection has ever come here
        }
        keysHandled = 0;
        try {
            selector.selectNow(keyHandler);
        } catch (final IOException ex) {
            server.context().errorHandler().onError(ex);
        }
        int work = keysHandled; // not the host's keys: a readable link socket is the link's work
        work += arrivals.drain(arrivalHandler);
        work += completions.drain(completionDrainer, server.context().completionsPerWorkMax());
        work += server.drainSpareQueues(this, completionDrainer);
        work += server.drainRehomes(this);
        if (bufferReleased) {
            bufferReleased = false;
            resumeBufferWaiters();
        }
        work += runResumes();
        runFlushes();
        runMoves();
        runRecycles();
        if (this == server.networkLoop()) { // handshakes run there only: a volume loop's thread reads no clock
            final long nowNs = server.context().nanoClock().nanoTime();
            if (nowNs - nextTimeoutCheckNs >= 0) {
                nextTimeoutCheckNs = nowNs + TIMEOUT_CHECK_INTERVAL_NS;
                closeExpiredHandshakes(nowNs);
            }
        }
        if (server.isClosed()) {
            closeConnections();
        } else if (server.isCloseRequested() && !finishing) {
            beginFinish();
        }
        return work;
    }

    /**
     * Answers the requests completed so far (one gathering write per connection): after the host's other agents
     * ran, and before the host thread blocks (a volume agent's commit-time fdatasync). Returns the completions.
     */
    public int flush() {
        if (server == null || thread != Thread.currentThread()) {
            return 0;
        }
        arrivals.drain(arrivalHandler); // first: a completion may be for a connection handed over meanwhile
        final int work = completions.drain(completionDrainer, server.context().completionsPerWorkMax());
        runFlushes();
        runRecycles();
        return work;
    }

    /**
     * The host thread stops (its agent's onClose): the requests completed so far are answered and every connection
     * goes back to the server's network thread, which serves it from now on (closed here when the server has
     * closed). The completion queue goes to the server's spare queues. Nothing is lost: what was not answered was
     * not acknowledged, and what completes later reaches the connection where it is then.
     */
    public void close() {
        final NbdServer server;
        synchronized (this) {
            retired = true; // no connection arrives after this
            server = this.server; // attached under the same lock: null means none ever arrived
        }
        if (server == null) {
            return;
        }
        arrivals.drain(arrivalHandler);
        completions.drain(completionDrainer);
        runFlushes();
        runMoves();
        final NbdLoop home = server.networkLoop();
        for (int i = activeCount - 1; i >= 0; i--) {
            final NbdConnection connection = active[i];
            detach(connection);
            if (home == this || !home.offerArrival(connection)) {
                connection.close(); // the server has closed
            }
        }
        completions.drain(completionDrainer); // what completed meanwhile goes to its connection's loop of now
        runRecycles();
        forgetQueued(resumeQueue, resumeCount); // closed connections only: the others left with detach
        resumeCount = 0;
        forgetQueued(bufferWaiters, bufferWaiterCount);
        bufferWaiterCount = 0;
        server.spareQueue(this, completions); // a late completer may still offer here: the network thread drains it
    }

    private static void forgetQueued(final NbdConnection[] array, final int count) {
        for (int i = 0; i < count; i++) {
            array[i].resumeQueued = false;
            array[i].waitingForBuffer = false;
            array[i] = null;
        }
    }

    private void onSelectedKey(final SelectionKey key) {
        final Object attachment = key.attachment();
        if (attachment instanceof Runnable) {
            keysHandled++;
            ((Runnable)attachment).run(); // the listener of the server's loop
            return;
        }
        if (!(attachment instanceof NbdConnection)) {
            return; // a channel of the host's on the shared selector
        }
        keysHandled++;
        final NbdConnection connection = (NbdConnection)attachment;
        try {
            if (key.isValid() && key.isWritable()) {
                connection.onWritable();
            }
            if (key.isValid() && key.isReadable()) {
                connection.onReadable();
            }
        } catch (final IOException | RuntimeException ex) {
            failed(connection, ex);
        }
    }

    /** A connection accepted by the server's listener (its loop, host thread). */
    void add(final NbdConnection connection) {
        connection.loop = this;
        connection.activeIndex = activeCount;
        active[activeCount++] = connection;
        activeCountPublished = activeCount;
    }

    private void onArrival(final NbdConnection connection) {
        if (server.isClosed()) {
            connection.close();
            return;
        }
        final SelectionKey key;
        try {
            key = connection.channel().register(selector, 0, connection);
        } catch (final ClosedChannelException ex) {
            server.counters().increment(NbdCounters.CONNECTION_IO_ERRORS);
            connection.close();
            return;
        }
        add(connection);
        try {
            connection.arrived(key);
            if (finishing) {
                connection.beginFinish();
            }
        } catch (final IOException | RuntimeException ex) {
            failed(connection, ex);
        }
    }

    private void onCompletion(final HostRequest request) {
        final NbdConnection connection = request.connection;
        final NbdLoop owner = connection.loop;
        if (owner != this) {
            if (!owner.retired) {
                owner.onCompleteAnyThread(request); // its connection moved on since the request completed
                return;
            }
            if (owner == server.networkLoop()) {
                return; // the server has closed, and every connection with it
            }
            // a connection that closed on a volume loop whose thread has stopped since: this loop takes what is left
            connection.loop = this;
        } else if (connection.activeIndex < 0 && !connection.isClosed()) {
            arrivals.drain(arrivalHandler); // handed over to this loop after the cycle took its arrivals
        }
        try {
            connection.onBackendComplete(request);
        } catch (final IOException | RuntimeException ex) {
            failed(connection, ex);
        }
    }

    private void resumeBufferWaiters() {
        for (int i = 0; i < bufferWaiterCount; i++) {
            final NbdConnection connection = bufferWaiters[i];
            bufferWaiters[i] = null;
            connection.waitingForBuffer = false;
            queueResume(connection);
        }
        bufferWaiterCount = 0;
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
            } catch (final IOException | RuntimeException ex) {
                failed(connection, ex);
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
            } catch (final IOException | RuntimeException ex) {
                failed(connection, ex);
            }
        }
        flushCount = 0;
    }

    /** Hands the connections that picked another loop's volume over to that loop (or keeps them: it stopped). */
    private void runMoves() {
        for (int i = 0; i < moveCount; i++) {
            final NbdConnection connection = moves[i];
            moves[i] = null;
            final NbdLoop target = connection.moveTarget();
            if (connection.isClosed() || connection.loop != this) {
                continue;
            }
            detach(connection);
            if (!target.offerArrival(connection)) {
                flushCancelledKeys(); // the channel registers with this selector again
                onArrival(connection); // its volume's thread stopped meanwhile: served here, as without the move
            }
        }
        moveCount = 0;
    }

    /** Takes the connection out of this loop (host thread): it is in no queue of ours once this returns. */
    private void detach(final NbdConnection connection) {
        if (removeFrom(resumeQueue, resumeCount, connection)) {
            resumeCount--;
        }
        if (removeFrom(bufferWaiters, bufferWaiterCount, connection)) {
            bufferWaiterCount--;
        }
        if (removeFrom(flushQueue, flushCount, connection)) {
            flushCount--;
        }
        connection.resumeQueued = false;
        connection.waitingForBuffer = false;
        connection.flushQueued = false;
        removeActive(connection);
        connection.detached();
    }

    /**
     * Removes {@code connection} from the first {@code count} entries (order kept); true when it was there (the
     * caller shrinks the count). A connection that closed on a loop whose thread stopped since is in no queue here.
     */
    private static boolean removeFrom(final NbdConnection[] array, final int count, final NbdConnection connection) {
        for (int i = 0; i < count; i++) {
            if (array[i] == connection) {
                System.arraycopy(array, i + 1, array, i, count - i - 1);
                array[count - 1] = null;
                return true;
            }
        }
        return false;
    }

    private void removeActive(final NbdConnection connection) {
        final int index = connection.activeIndex;
        if (index >= 0) {
            final NbdConnection last = active[--activeCount];
            active[index] = last;
            last.activeIndex = index;
            active[activeCount] = null;
            connection.activeIndex = -1;
            activeCountPublished = activeCount;
        }
    }

    private void flushCancelledKeys() {
        try {
            selector.selectNow(IGNORE_KEY); // ready keys stay ready: the next duty cycle handles them
        } catch (final IOException ex) {
            server.context().errorHandler().onError(ex);
        }
    }

    private void closeExpiredHandshakes(final long nowNs) {
        for (int i = activeCount - 1; i >= 0; i--) {
            final NbdConnection connection = active[i];
            if (connection.isHandshakeExpired(nowNs)) {
                server.counters().increment(NbdCounters.HANDSHAKE_TIMEOUTS);
                connection.close();
            }
        }
    }

    /** The server closes: every connection answers what it accepted and closes. */
    void beginFinish() {
        finishing = true;
        for (int i = activeCount - 1; i >= 0; i--) {
            active[i].beginFinish();
        }
    }

    /** The server has closed (host thread): what is still open closes now, and nothing arrives any more. */
    void closeConnections() {
        synchronized (this) {
            retired |= this == server.networkLoop();
        }
        for (int i = activeCount - 1; i >= 0; i--) {
            active[i].close();
        }
        if (arrivals != null) {
            arrivals.drain(arrivalHandler); // closes them: the server has closed
        }
        runRecycles();
    }

    /** An I/O error closes the connection; anything else is a bug of ours: reported, and the connection closes too. */
    private void failed(final NbdConnection connection, final Exception ex) {
        if (ex instanceof IOException) {
            server.counters().increment(NbdCounters.CONNECTION_IO_ERRORS);
        } else {
            server.counters().increment(NbdCounters.UNEXPECTED_ERRORS);
            server.context().errorHandler().onError(ex);
        }
        connection.close();
    }

    // ------------------------------------------------------------------ called by connections (host thread)

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

    /** Every connection here in transmission on {@code exportId} moves to {@code target} at the end of the cycle. */
    void moveConnectionsOf(final int exportId, final NbdLoop target) {
        for (int i = 0; i < activeCount; i++) {
            final NbdConnection connection = active[i];
            if (connection.servesExport(exportId)) {
                connection.moveTo(target);
                queueMove(connection);
            }
        }
    }

    /** A connection entered transmission for an export served on {@code target}: it moves at the end of the cycle. */
    void queueMove(final NbdConnection connection) {
        moves[moveCount++] = connection;
    }

    void onConnectionClosed(final NbdConnection connection) {
        removeActive(connection);
        server.onConnectionClosed();
        if (connection.isRecyclable()) {
            recycleLater(connection);
        }
    }

    /**
     * A closed connection with nothing in flight: it goes back to the server at the end of the duty cycle, once it
     * is out of every queue of this loop (it may be in one being walked now).
     */
    void recycleLater(final NbdConnection connection) {
        recycles[recycleCount++] = connection;
    }

    private void runRecycles() {
        for (int i = 0; i < recycleCount; i++) {
            final NbdConnection connection = recycles[i];
            recycles[i] = null;
            detach(connection);
            server.recycle(connection);
        }
        recycleCount = 0;
    }

    // ------------------------------------------------------------------ other threads

    /**
     * Takes the server's queues (before the first connection moves here, or the server's own loop at its start);
     * false when it already had them.
     */
    synchronized boolean attachIfNew(final NbdServer server) {
        if (retired) {
            return false; // its thread stopped before a connection came: offerArrival refuses too
        }
        if (this.server != null) {
            if (this.server != server) {
                throw new IllegalStateException("NBD loop " + name + " already serves another server");
            }
            return false;
        }
        final NbdServer.Context ctx = server.context();
        final int connections = ctx.connectionsMax();
        completions = server.takeSpareQueue();
        arrivals = new ManyToOneConcurrentArrayQueue<>(connections);
        active = new NbdConnection[connections];
        resumeQueue = new NbdConnection[connections];
        bufferWaiters = new NbdConnection[connections];
        flushQueue = new NbdConnection[connections];
        moves = new NbdConnection[connections];
        recycles = new NbdConnection[connections];
        this.server = server;
        return true;
    }

    /** The thread handing {@code connection} over: false when this loop's thread has stopped (keep it). */
    synchronized boolean offerArrival(final NbdConnection connection) {
        if (retired) {
            return false;
        }
        connection.loop = this;
        if (!arrivals.offer(connection)) {
            throw new IllegalStateException("NBD loop " + name + ": more connections than connectionsMax");
        }
        wakeup.run();
        return true;
    }

    /** Any thread: the loop's next duty cycle runs soon (the server closes, a spare queue to drain). */
    void wake() {
        wakeup.run();
    }

    /** A data buffer came back to the pool while connections of this loop waited for one (any thread). */
    void onBufferReleased() {
        bufferReleased = true;
        if (Thread.currentThread() != thread) {
            wakeup.run();
        }
    }

    /** Any thread: a request of a connection of this loop completed. */
    void onCompleteAnyThread(final HostRequest request) {
        if (!completions.offer(request)) {
            throw new IllegalStateException("NBD completion queue full: more requests in flight than slots");
        }
        if (Thread.currentThread() != thread) { // on the loop's own thread it is drained in this or the next cycle
            wakeup.run();
        }
    }
}
