package io.afasim.controller;

import org.junit.jupiter.api.Test;

import java.lang.management.ManagementFactory;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The network thread allocates nothing per I/O once warm (pooled requests, buffers, codecs). */
class NbdAllocationTest {
    private static final int WARM_UP_OPERATIONS = 20_000;
    private static final int MEASURED_OPERATIONS = 20_000;
    /** Slack for one-off JIT / NIO internals; per-I/O garbage would be >= 20k * 16 bytes. */
    private static final long ALLOWED_BYTES = 64 * 1024;

    @Test
    void networkThreadDoesNotAllocatePerRequest() throws Exception {
        final java.lang.management.ThreadMXBean bean = ManagementFactory.getThreadMXBean();
        assumeTrue(bean instanceof com.sun.management.ThreadMXBean, "needs com.sun.management.ThreadMXBean");
        final com.sun.management.ThreadMXBean threads = (com.sun.management.ThreadMXBean)bean;
        assumeTrue(threads.isThreadAllocatedMemorySupported(), "thread allocation counting not supported");
        threads.setThreadAllocatedMemoryEnabled(true);
        try (MemoryBackend backend = new MemoryBackend(1, MemoryBackend.export(1, "alloc", 16 * 1024 * 1024));
             NbdServer server = NbdServer.start(backend, new NbdServer.Context().threadName("afasim-nbd-alloc"));
             NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "alloc",
                 new NbdClient.Options().inFlightMax(16))) {
            final long networkThreadId = findThread("afasim-nbd-alloc");
            final byte[] block = new byte[4096];
            final byte[] back = new byte[4096];
            run(client, block, back, WARM_UP_OPERATIONS);
            final long before = threads.getThreadAllocatedBytes(networkThreadId);
            run(client, block, back, MEASURED_OPERATIONS);
            final long allocated = threads.getThreadAllocatedBytes(networkThreadId) - before;
            System.out.println("[afasim] NBD network thread allocated " + allocated + " bytes over "
                + MEASURED_OPERATIONS + " requests");
            assertTrue(allocated < ALLOWED_BYTES, "network thread allocated " + allocated + " bytes");
        }
    }

    private static void run(final NbdClient client, final byte[] block, final byte[] back, final int operations)
        throws Exception {
        for (int i = 0; i < operations; i++) {
            final long offset = (i % 4096) * 4096L;
            switch (i % 4) {
                case 0, 1 -> client.submitWrite(offset, block, 0, block.length, 0);
                case 2 -> client.submitRead(offset, back, 0, back.length, 0);
                default -> client.submitTrim(offset, 4096, 0);
            }
        }
        client.awaitAll();
    }

    private static long findThread(final String name) {
        for (final Thread thread : Thread.getAllStackTraces().keySet()) {
            if (thread.getName().equals(name)) {
                return thread.getId();
            }
        }
        throw new AssertionError("no thread " + name);
    }
}
