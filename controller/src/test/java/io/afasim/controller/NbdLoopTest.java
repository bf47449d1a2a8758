package io.afasim.controller;

import io.afasim.mirror.LinkWakeup;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;

import static io.afasim.controller.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Connections served on a volume's thread ({@link NbdLoop}): a connection that picked export "vol" moves from the
 * network thread to vol's loop thread, which then submits its requests; when that thread stops, the connection
 * goes back to the network thread without a lost or failed request. Real sockets, an in-memory backend.
 */
final class NbdLoopTest {
    private static final String NETWORK_THREAD = "nbd-loop-test";

    /** The run's one seed (printed; -Dafasim.seed= replays it): the backend's completion order and the hosts' I/O. */
    private long seed;
    private MemoryBackend memory;
    /** Read by the network thread (loopFor); replaced by the restart test. */
    private volatile LoopThread volumeThread;
    private NbdBackend backend;
    private NbdServer server;
    /** The thread that submitted each request, by cookie. */
    private final ConcurrentHashMap<Long, String> submittedOn = new ConcurrentHashMap<>();

    /** A volume thread as the controller runs one: the loop's duty cycle, parked on its wake-up when idle. */
    private static final class LoopThread extends Thread {
        final LinkWakeup wakeup = new LinkWakeup();
        final NbdLoop loop = new NbdLoop("volume-vol", wakeup.selector(), wakeup);
        volatile boolean running = true;

        LoopThread() {
            super("volume-vol");
            setDaemon(true);
        }

        @Override
        public void run() {
            try {
                while (running) {
                    if (loop.doWork() + loop.flush() == 0) {
                        wakeup.park(TimeUnit.MILLISECONDS.toNanos(1));
                    }
                }
            } finally {
                loop.close();
                wakeup.close();
            }
        }

        void stopAndJoin() throws InterruptedException {
            running = false;
            wakeup.ring();
            join(10_000);
            assertTrue(!isAlive(), "the volume thread did not stop");
        }
    }

    @BeforeEach
    void setUp() throws Exception {
        seed = NbdTestSupport.seed();
        memory = new MemoryBackend(seed,
            MemoryBackend.export(1, "vol", 64L << 20), MemoryBackend.export(2, "other", 64L << 20));
        volumeThread = new LoopThread();
        volumeThread.start();
        backend = new NbdBackend() {
            @Override
            public List<ExportInfo> exports() {
                return memory.exports();
            }

            @Override
            public ExportInfo open(final String name) {
                return memory.open(name);
            }

            @Override
            public void submit(final HostRequest request) {
                submittedOn.put(request.cookie(), Thread.currentThread().getName());
                memory.submit(request);
            }

            @Override
            public NbdLoop loopFor(final int exportId) {
                final LoopThread thread = volumeThread;
                return exportId == 1 && thread.isAlive() ? thread.loop : null;
            }
        };
        server = NbdServer.start(backend, new NbdServer.Context().connectionsMax(8).threadName(NETWORK_THREAD));
    }

    @AfterEach
    void tearDown() throws Exception {
        memory.unpause();
        server.close();
        volumeThread.stopAndJoin();
        memory.close();
    }

    @Test
    void requestsPipelinedBehindGoAreServedOnTheVolumeThread() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.option(OPT_GO, NbdRawSocket.nameAndInfos("vol", INFO_BLOCK_SIZE)); // no wait for the reply:
            final byte[] block = block(7);
            raw.request(0, CMD_WRITE, 1, 0, block.length, block); // these arrive with the GO
            raw.request(0, CMD_WRITE, 2, 4096, block.length, block);
            while (raw.readOptionReply().type() != REP_ACK) {
                // the GO's information replies
            }
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i < 2; i++) {
                final long[] reply = raw.readSimpleReply(null);
                assertEquals(0, reply[0], "errno of request " + reply[1]);
                cookies.add(reply[1]);
            }
            assertEquals(Set.of(1L, 2L), cookies);
            final byte[] back = new byte[2 * block.length];
            raw.request(0, CMD_READ, 3, 0, back.length, null);
            assertEquals(0, raw.readSimpleReply(back)[0]);
            assertArrayEquals(block, Arrays.copyOfRange(back, 0, 4096));
            assertArrayEquals(block, Arrays.copyOfRange(back, 4096, 8192));
            for (long cookie = 1; cookie <= 3; cookie++) {
                assertEquals("volume-vol", submittedOn.get(cookie));
            }
        }
    }

    @Test
    void multiConnToOneVolumeAndAnotherExportOnTheNetworkThread() throws Exception {
        try (NbdClient first = NbdClient.connect("127.0.0.1", server.port(), "vol");
             NbdClient second = NbdClient.connect("127.0.0.1", server.port(), "vol");
             NbdRawSocket other = NbdRawSocket.connect(server.port())) {
            final byte[] a = block(1);
            final byte[] b = block(2);
            first.write(0, a, 0, a.length, 0);
            second.write(4096, b, 0, b.length, 0);
            first.flush();
            final byte[] back = new byte[8192];
            second.read(0, back, 0, back.length);
            assertArrayEquals(a, Arrays.copyOfRange(back, 0, 4096));
            assertArrayEquals(b, Arrays.copyOfRange(back, 4096, 8192));
            other.go("other");
            other.request(0, CMD_WRITE, 77, 0, a.length, a);
            assertEquals(0, other.readSimpleReply(null)[0]);
            assertEquals(NETWORK_THREAD, submittedOn.get(77L), "an export without a loop stays on the network thread");
            assertEquals(3, server.connectionCount());
        }
        assertTrue(submittedOn.entrySet().stream().filter(e -> e.getKey() != 77L)
            .allMatch(e -> e.getValue().equals("volume-vol")), submittedOn.toString());
    }

    @Test
    void stoppingTheVolumeThreadHandsItsConnectionsBackWithRequestsInFlight() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            memory.pause(); // requests are taken and not completed: in flight when the thread stops
            final int inFlight = 8;
            for (int i = 0; i < inFlight; i++) {
                final byte[] block = block(10 + i);
                raw.request(0, CMD_WRITE, 100 + i, i * 4096L, block.length, block);
            }
            NbdTestSupport.await("8 writes submitted", 10_000, () -> memory.pending() == inFlight);
            volumeThread.stopAndJoin();
            final byte[] block = block(99);
            raw.request(0, CMD_WRITE, 200, 99 * 4096L, block.length, block); // after the hand-back
            NbdTestSupport.await("the write after the stop submitted", 10_000, () -> submittedOn.containsKey(200L));
            memory.unpause();
            final Set<Long> cookies = new HashSet<>();
            for (int i = 0; i <= inFlight; i++) {
                final long[] reply = raw.readSimpleReply(null);
                assertEquals(0, reply[0], "errno of request " + reply[1]);
                cookies.add(reply[1]);
            }
            assertEquals(inFlight + 1, cookies.size());
            for (int i = 0; i < inFlight; i++) {
                assertEquals("volume-vol", submittedOn.get(100L + i));
                assertArrayEquals(block(10 + i), memory.contents("vol", i * 4096L, 4096));
            }
            assertEquals(NETWORK_THREAD, submittedOn.get(200L));
            assertArrayEquals(block, memory.contents("vol", 99 * 4096L, 4096));
        }
        assertEquals(0, server.counters().get(NbdCounters.UNEXPECTED_ERRORS), server.counters().toString());
    }

    /**
     * A connection that picked "vol" while no thread served it stays on the network thread; once vol's thread runs
     * and the server is told ({@link NbdServer#rehome}, as after a volume moved here), it moves there with its
     * requests in flight, which are all answered.
     */
    @Test
    void aConnectionMadeBeforeItsVolumeHadAThreadMovesThereOnRehome() throws Exception {
        volumeThread.stopAndJoin();
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            raw.request(0, CMD_WRITE, 500, 0, 4096, block(50));
            assertEquals(0, raw.readSimpleReply(null)[0]);
            assertEquals(NETWORK_THREAD, submittedOn.get(500L));
            final LoopThread next = new LoopThread();
            next.start();
            volumeThread = next;
            memory.pause();
            for (int i = 1; i <= 4; i++) {
                raw.request(0, CMD_WRITE, 500 + i, i * 4096L, 4096, block(50 + i));
            }
            NbdTestSupport.await("4 writes in flight", 10_000, () -> memory.pending() == 4);
            server.rehome(1);
            NbdTestSupport.await("the connection on vol's thread", 10_000, () -> next.loop.connectionCount() == 1);
            memory.unpause();
            final Set<Long> cookies = new HashSet<>();
            for (int i = 1; i <= 4; i++) {
                final long[] reply = raw.readSimpleReply(null);
                assertEquals(0, reply[0], "errno of request " + reply[1]);
                cookies.add(reply[1]);
            }
            assertEquals(Set.of(501L, 502L, 503L, 504L), cookies);
            raw.request(0, CMD_WRITE, 505, 5 * 4096L, 4096, block(55));
            assertEquals(0, raw.readSimpleReply(null)[0]);
            assertEquals("volume-vol", submittedOn.get(505L));
            for (int i = 0; i <= 5; i++) {
                assertArrayEquals(block(50 + i), memory.contents("vol", i * 4096L, 4096));
            }
        }
    }

    /**
     * A connection stalled for a data buffer (another connection holds the only one) when its volume's thread stops: on
     * the network thread it waits for a buffer there, and its write goes through once one comes back.
     */
    @Test
    void aConnectionStalledForABufferWhenTheVolumeThreadStopsResumesOnTheNetworkThread() throws Exception {
        server.close();
        server = NbdServer.start(backend, new NbdServer.Context().connectionsMax(8).threadName(NETWORK_THREAD)
            .bufferTiers(new int[] {8192, 32 * 1024 * 1024}, new int[] {1, 1}));
        try (NbdRawSocket other = NbdRawSocket.connect(server.port());
             NbdRawSocket vol = NbdRawSocket.connect(server.port())) {
            other.go("other");
            vol.go("vol");
            memory.pause();
            other.request(0, CMD_WRITE, 400, 0, 4096, block(4)); // the one buffer for 4 KiB writes, held
            NbdTestSupport.await("the buffer taken", 10_000, () -> memory.pending() == 1);
            final long stallsBefore = server.counters().get(NbdCounters.STALLS_BUFFER);
            vol.request(0, CMD_WRITE, 300, 0, 4096, block(3));
            NbdTestSupport.await("the volume's connection stalled for a buffer", 10_000,
                () -> server.counters().get(NbdCounters.STALLS_BUFFER) > stallsBefore);
            volumeThread.stopAndJoin();
            memory.unpause();
            assertEquals(0, other.readSimpleReply(null)[0]);
            final long[] reply = vol.readSimpleReply(null);
            assertEquals(0, reply[0]);
            assertEquals(300L, reply[1]);
            assertEquals(NETWORK_THREAD, submittedOn.get(300L));
            assertArrayEquals(block(3), memory.contents("vol", 0, 4096));
        }
    }

    @Test
    void closingTheServerClosesConnectionsOnTheVolumeThread() throws Exception {
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol")) {
            final byte[] block = block(3);
            client.write(0, block, 0, block.length, CMD_FLAG_FUA);
            assertEquals(1, server.connectionCount());
            server.close();
            NbdTestSupport.await("the connection closed", 10_000, () -> server.connectionCount() == 0);
            org.junit.jupiter.api.Assertions.assertThrows(java.io.IOException.class,
                () -> client.read(0, new byte[4096], 0, 4096));
            assertArrayEquals(block, memory.contents("vol", 0, block.length));
        }
    }

    /**
     * Randomized: four hosts write and read back blocks of their own on "vol" (reconnecting now and then, so new
     * connections land on the newest volume thread) while the volume's thread is stopped and a new one started,
     * again and again; after each restart the connections handed back to the network thread are moved to the new
     * thread ({@link NbdServer#rehome}) with their requests in flight. No request fails or hangs, every block reads back as last written, and no connection leaks.
     */
    @Test
    void volumeThreadsStoppedAndStartedUnderLoadLoseNothing() throws Exception {
        final java.util.Random random = new java.util.Random(seed);
        final int hosts = 4;
        final java.util.concurrent.atomic.AtomicLong operations = new java.util.concurrent.atomic.AtomicLong();
        final java.util.concurrent.atomic.AtomicBoolean running = new java.util.concurrent.atomic.AtomicBoolean(true);
        final java.util.concurrent.ExecutorService executor = java.util.concurrent.Executors.newFixedThreadPool(hosts);
        final List<java.util.concurrent.Future<?>> futures = new java.util.ArrayList<>();
        for (int h = 0; h < hosts; h++) {
            final int host = h;
            final long hostSeed = random.nextLong();
            futures.add(executor.submit(() -> {
                final java.util.Random hostRandom = new java.util.Random(hostSeed);
                final byte[][] written = new byte[16][];
                NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol");
                try {
                    while (running.get()) {
                        final int slot = hostRandom.nextInt(written.length);
                        final long offset = (host * written.length + slot) * 4096L;
                        if (written[slot] == null || hostRandom.nextBoolean()) {
                            final int count = 1 + hostRandom.nextInt(8); // pipelined: in flight as threads stop
                            for (int i = 0; i < count; i++) {
                                final int to = (slot + i) % written.length;
                                final byte[] block = new byte[4096];
                                hostRandom.nextBytes(block);
                                client.submitWrite((host * written.length + to) * 4096L, block, 0, block.length, 0);
                                written[to] = block;
                            }
                            client.awaitAll();
                        } else {
                            final byte[] back = new byte[4096];
                            client.read(offset, back, 0, back.length);
                            assertArrayEquals(written[slot], back, "host " + host + " slot " + slot + " seed " + seed);
                        }
                        operations.incrementAndGet();
                        if (hostRandom.nextInt(50) == 0) {
                            client.close();
                            client = NbdClient.connect("127.0.0.1", server.port(), "vol");
                        }
                    }
                } finally {
                    client.close();
                }
                return null;
            }));
        }
        try {
            for (int restart = 0; restart < 100; restart++) {
                final long target = operations.get() + 10 + random.nextInt(200);
                NbdTestSupport.await("host operations before restart " + restart, 20_000,
                    () -> operations.get() >= target || futures.stream().anyMatch(java.util.concurrent.Future::isDone));
                final LoopThread stopping = volumeThread;
                final LoopThread next = new LoopThread();
                next.start();
                volumeThread = next; // new connections go to the new thread from now on
                stopping.stopAndJoin();
                server.rehome(1); // and those the stop handed back to the network thread, mid-stream
            }
            final long target = operations.get() + 100;
            NbdTestSupport.await("host operations after the last restart", 20_000,
                () -> operations.get() >= target || futures.stream().anyMatch(java.util.concurrent.Future::isDone));
        } finally {
            running.set(false);
            executor.shutdown();
        }
        for (final java.util.concurrent.Future<?> future : futures) {
            future.get(30, TimeUnit.SECONDS); // a host's failure (an errno, a wrong block) surfaces here
        }
        assertTrue(executor.awaitTermination(10, TimeUnit.SECONDS));
        NbdTestSupport.await("every connection closed", 10_000, () -> server.connectionCount() == 0);
        assertEquals(0, server.counters().get(NbdCounters.UNEXPECTED_ERRORS), server.counters().toString());
        assertEquals(0, server.counters().get(NbdCounters.BACKEND_ERRORS), server.counters().toString());
    }

    private static byte[] block(final int fill) {
        final byte[] block = new byte[4096];
        Arrays.fill(block, (byte)fill);
        return block;
    }
}
