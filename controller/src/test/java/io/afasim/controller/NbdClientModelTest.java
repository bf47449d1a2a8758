package io.afasim.controller;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Randomized pipelined writes / reads / trims / write-zeroes / flushes / block status through {@link NbdClient}
 * against a byte-array model. Requests that overlap an in-flight conflicting request wait for the window to drain
 * (NBD does not order overlapping in-flight requests), so every reply is exactly predictable.
 */
class NbdClientModelTest {
    private static final int EXPORT_BYTES = 8 * 1024 * 1024;
    private static final int OPERATIONS = 3_000;

    private record InFlight(long offset, long length, boolean writes) {
    }

    @Test
    void pipelinedRequestsMatchTheModelWithDefaultLimits() throws Exception {
        run(new NbdServer.Context(), 32, true);
    }

    @Test
    void pipelinedRequestsMatchTheModelWithTightLimits() throws Exception {
        // 8 slots, 4 small buffers, 2 medium, 1 large: the connection stalls and resumes often.
        run(new NbdServer.Context().requestsInFlightPerConnectionMax(8).requestDataMaxBytes(1024 * 1024)
            .writeDiscardMaxBytes(2 * 1024 * 1024)
            .bufferTiers(new int[] {16 * 1024, 256 * 1024, 1024 * 1024}, new int[] {4, 2, 1}), 8, false);
    }

    @Test
    void pipelinedRequestsMatchTheModelWhenTheNetworkThreadBlocksAtOnce() throws Exception {
        // no idle yields and a select that would wait for ten minutes: every completion from the backend's thread
        // must wake the network thread itself (a lost wake-up leaves a reply unsent and the client times out)
        run(new NbdServer.Context().idleYields(0).idleSelectMs(600_000), 32, true);
    }

    private static void run(final NbdServer.Context context, final int inFlightMax, final boolean structured)
        throws Exception {
        final long seed = NbdTestSupport.seed();
        final Random random = new Random(seed);
        final byte[] model = new byte[EXPORT_BYTES];
        try (MemoryBackend backend = new MemoryBackend(seed, MemoryBackend.export(1, "model", EXPORT_BYTES));
             NbdServer server = NbdServer.start(backend, context);
             NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "model",
                 new NbdClient.Options().inFlightMax(inFlightMax).structuredReplies(structured))) {
            final int maxLength = Math.min(client.maximumBlockSize(), 512 * 1024);
            final Map<Long, InFlight> inFlight = new HashMap<>();
            final Map<Long, byte[]> expectedReads = new HashMap<>();
            final Map<Long, byte[]> readBuffers = new HashMap<>();
            final List<String> failures = new ArrayList<>();
            client.listener((cookie, command, offset, length, errno) -> {
                inFlight.remove(cookie);
                if (errno != 0) {
                    failures.add("cookie " + cookie + " command " + command + " errno " + errno);
                }
                final byte[] expected = expectedReads.remove(cookie);
                if (expected != null && !Arrays.equals(expected, readBuffers.remove(cookie))) {
                    failures.add("read at " + offset + " length " + length + " returned wrong data");
                }
            });
            for (int op = 0; op < OPERATIONS; op++) {
                final int kind = random.nextInt(100);
                final long length = 1 + (random.nextInt(4) == 0 ? random.nextInt(maxLength) : random.nextInt(16 * 1024));
                final long offset = random.nextInt(4) == 0 ? random.nextInt((int)(EXPORT_BYTES - length + 1))
                    : (long)random.nextInt((int)((EXPORT_BYTES - length) / 4096 + 1)) * 4096;
                final boolean writes = kind < 70 && kind >= 30;
                if (conflicts(inFlight, offset, length, writes || kind >= 90)) {
                    client.awaitAll();
                }
                final int flags = random.nextInt(10) == 0 ? HostRequest.FUA : 0;
                if (kind < 30) {
                    final byte[] buffer = new byte[(int)length];
                    final long cookie = client.submitRead(offset, buffer, 0, (int)length, 0);
                    readBuffers.put(cookie, buffer);
                    expectedReads.put(cookie, Arrays.copyOfRange(model, (int)offset, (int)(offset + length)));
                    inFlight.put(cookie, new InFlight(offset, length, false));
                } else if (kind < 55) {
                    final byte[] data = new byte[(int)length];
                    random.nextBytes(data);
                    System.arraycopy(data, 0, model, (int)offset, data.length);
                    inFlight.put(client.submitWrite(offset, data, 0, data.length, flags), new InFlight(offset, length, true));
                } else if (kind < 62) {
                    Arrays.fill(model, (int)offset, (int)(offset + length), (byte)0);
                    inFlight.put(client.submitTrim(offset, length, flags), new InFlight(offset, length, true));
                } else if (kind < 70) {
                    Arrays.fill(model, (int)offset, (int)(offset + length), (byte)0);
                    final int zeroFlags = flags | (random.nextBoolean() ? HostRequest.NO_HOLE : 0)
                        | (random.nextBoolean() ? HostRequest.FAST_ZERO : 0);
                    inFlight.put(client.submitWriteZeroes(offset, length, zeroFlags), new InFlight(offset, length, true));
                } else if (kind < 75) {
                    client.submitFlush();
                } else if (kind < 90 && structured) {
                    client.awaitAll();
                    checkBlockStatus(client, model, offset, length, random.nextInt(8) == 0);
                } else {
                    final byte[] buffer = new byte[(int)length];
                    client.awaitAll();
                    client.read(offset, buffer, 0, buffer.length);
                    assertArrayEquals(Arrays.copyOfRange(model, (int)offset, (int)(offset + length)), buffer,
                        "blocking read at " + offset + " length " + length + " (seed " + seed + ")");
                }
                assertTrue(failures.isEmpty(), failures + " (seed " + seed + ")");
            }
            client.awaitAll();
            assertTrue(failures.isEmpty(), failures + " (seed " + seed + ")");
            assertArrayEquals(model, backend.contents("model", 0, EXPORT_BYTES), "final contents (seed " + seed + ")");
            System.out.println("[afasim] model run: " + server.counters());
            assertEquals(0, server.counters().get(NbdCounters.UNEXPECTED_ERRORS));
        }
    }

    private static boolean conflicts(final Map<Long, InFlight> inFlight, final long offset, final long length,
                                     final boolean writes) {
        for (final InFlight request : inFlight.values()) {
            final boolean overlap = offset < request.offset() + request.length() && request.offset() < offset + length;
            if (overlap && (writes || request.writes())) {
                return true;
            }
        }
        return false;
    }

    private static void checkBlockStatus(final NbdClient client, final byte[] model, final long offset, final long length,
                                         final boolean reqOne) throws Exception {
        final List<NbdClient.Extent> extents = client.blockStatus(offset, length, reqOne ? HostRequest.REQ_ONE : 0);
        assertTrue(!extents.isEmpty(), "block status returned no extent");
        assertTrue(!reqOne || extents.size() == 1, "REQ_ONE returned " + extents.size() + " extents");
        long position = offset;
        for (final NbdClient.Extent extent : extents) {
            assertTrue(extent.lengthBytes() > 0, "zero-length extent");
            if ((extent.flags() & BlockStatusSink.STATE_ZERO) != 0) {
                for (long i = position; i < position + extent.lengthBytes(); i++) {
                    assertEquals(0, model[(int)i], "extent flagged zero holds data at " + i);
                }
            }
            position += extent.lengthBytes();
        }
        assertTrue(position <= offset + length, "extents beyond the request");
    }
}
