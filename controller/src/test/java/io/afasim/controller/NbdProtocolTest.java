package io.afasim.controller;

import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static io.afasim.controller.NbdProtocol.*;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Protocol edge cases through raw sockets and NbdClient: bad input gets an error or a clean close, never a hang. */
class NbdProtocolTest {
    private static final long MIB = 1024 * 1024;
    private MemoryBackend backend;
    private NbdServer server;

    @BeforeEach
    void start() throws Exception {
        backend = new MemoryBackend(NbdTestSupport.seed(),
            MemoryBackend.export(1, "vol", 64 * MIB),
            new ExportInfo(2, "ro", "", MIB, true, true, false, 1, 4096, (int)MIB),
            MemoryBackend.export(3, "off", 4 * MIB));
        backend.setOnline("off", false);
        server = NbdServer.start(backend, new NbdServer.Context().connectionsMax(16));
    }

    @AfterEach
    void stop() throws Exception {
        server.close();
        backend.close();
    }

    private long count(final int counter) {
        return server.counters().get(counter);
    }

    private void assertServes() throws Exception {
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol")) {
            final byte[] data = "still serving".getBytes(StandardCharsets.US_ASCII);
            client.write(8192, data, 0, data.length, HostRequest.FUA);
            final byte[] back = new byte[data.length];
            client.read(8192, back, 0, back.length);
            assertArrayEquals(data, back);
        }
    }

    @Test
    void wrongRequestMagicClosesConnectionAndServerKeepsServing() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            raw.out.writeInt(0xDEADBEEF);
            raw.out.write(new byte[24]);
            raw.out.flush();
            assertTrue(raw.closedByPeer(), "wrong magic must close the connection");
        }
        assertEquals(1, count(NbdCounters.BAD_REQUEST_MAGIC));
        assertServes();
    }

    @Test
    void wrongOptionMagicAndBadClientFlagsClose() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.out.writeLong(0x1234L);
            raw.out.writeInt(OPT_GO);
            raw.out.writeInt(0);
            raw.out.flush();
            assertTrue(raw.closedByPeer());
        }
        assertEquals(1, count(NbdCounters.BAD_OPTION_MAGIC));
        try (java.net.Socket socket = new java.net.Socket("127.0.0.1", server.port())) {
            socket.setSoTimeout(NbdRawSocket.TIMEOUT_MS);
            socket.getInputStream().readNBytes(18);
            socket.getOutputStream().write(new byte[] {0, 0, 0, (byte)0x80});
            assertEquals(-1, socket.getInputStream().read());
        }
        assertEquals(1, count(NbdCounters.BAD_CLIENT_FLAGS));
        assertServes();
    }

    @Test
    void outOfRangeGetsEinvalOrEnospcAndConnectionKeepsWorking() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            raw.request(0, CMD_READ, 1, 64 * MIB - 512, 4096, null);
            assertArrayEquals(new long[] {HostRequest.EINVAL, 1}, raw.readSimpleReply(null));
            raw.request(0, CMD_WRITE, 2, 64 * MIB, 4096, new byte[4096]);
            assertArrayEquals(new long[] {HostRequest.ENOSPC, 2}, raw.readSimpleReply(null));
            raw.request(0, CMD_TRIM, 3, -4096L, 4096, null); // offset 2^64 - 4096: overflow-safe check
            assertArrayEquals(new long[] {HostRequest.ENOSPC, 3}, raw.readSimpleReply(null));
            final byte[] payload = new byte[4096];
            Arrays.fill(payload, (byte)7);
            raw.request(0, CMD_WRITE, 4, 0, 4096, payload);
            assertArrayEquals(new long[] {0, 4}, raw.readSimpleReply(null));
            final byte[] back = new byte[4096];
            raw.request(0, CMD_READ, 5, 0, 4096, null);
            assertArrayEquals(new long[] {0, 5}, raw.readSimpleReply(back));
            assertArrayEquals(payload, back);
        }
        assertEquals(3, count(NbdCounters.OUT_OF_RANGE));
    }

    @Test
    void unknownCommandAndBadFlagsGetEinval() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.structuredReplies();
            raw.go("vol");
            raw.request(0, 42, 7, 0, 4096, null);
            final NbdRawSocket.Chunk unknown = raw.readChunk();
            assertEquals(REPLY_TYPE_ERROR, unknown.type());
            assertEquals(REPLY_FLAG_DONE, unknown.flags());
            assertEquals(7, unknown.cookie());
            assertEquals(HostRequest.EINVAL, unknown.errno());
            assertEquals("afasim: unknown command", unknown.errorMessage());
            raw.request(CMD_FLAG_DF, CMD_READ, 8, 0, 4096, null);
            assertEquals(HostRequest.EINVAL, raw.readChunk().errno());
            raw.request(CMD_FLAG_NO_HOLE, CMD_WRITE, 9, 0, 512, new byte[512]); // payload still skipped correctly
            assertEquals(HostRequest.EINVAL, raw.readChunk().errno());
            raw.request(0, CMD_READ, 10, 0, 512, null);
            final NbdRawSocket.Chunk data = raw.readChunk();
            assertEquals(REPLY_TYPE_OFFSET_DATA, data.type());
            assertEquals(8 + 512, data.payload().length);
        }
        assertEquals(1, count(NbdCounters.UNKNOWN_COMMANDS));
        assertEquals(2, count(NbdCounters.BAD_COMMAND_FLAGS));
    }

    @Test
    void oversizeRequestsGetEinvalOrCleanClose() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            raw.request(0, CMD_READ, 1, 0, 33 * MIB, null);
            assertArrayEquals(new long[] {HostRequest.EINVAL, 1}, raw.readSimpleReply(null));
            raw.request(0, CMD_WRITE, 2, 0, 33 * MIB, new byte[(int)(33 * MIB)]); // read and dropped
            assertArrayEquals(new long[] {HostRequest.EINVAL, 2}, raw.readSimpleReply(null));
            raw.request(0, CMD_FLUSH, 3, 0, 0, null);
            assertArrayEquals(new long[] {0, 3}, raw.readSimpleReply(null));
            raw.request(0, CMD_WRITE, 4, 0, 100 * MIB, null); // payload too large to skip: clean close
            assertTrue(raw.closedByPeer());
        }
        assertEquals(2, count(NbdCounters.OVERSIZE_REQUESTS));
        assertEquals(1, count(NbdCounters.OVERSIZE_WRITES_CLOSED));
        assertServes();
    }

    @Test
    void offlineExportAnswersWithErrors() throws Exception {
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "off")) {
            final NbdException error = assertThrows(NbdException.class, () -> client.read(0, new byte[512], 0, 512));
            assertEquals(HostRequest.EIO, error.errno());
            assertTrue(error.getMessage().contains("offline"), error.getMessage());
        }
        assertEquals(1, count(NbdCounters.OFFLINE_REQUESTS));
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol")) {
            client.write(0, new byte[512], 0, 512, 0);
            backend.setOnline("vol", false); // goes offline under a connected client: the backend answers EIO
            final NbdException error = assertThrows(NbdException.class, () -> client.write(0, new byte[512], 0, 512, 0));
            assertEquals(HostRequest.EIO, error.errno());
            backend.setOnline("vol", true);
            client.write(0, new byte[512], 0, 512, 0);
        }
    }

    @Test
    void readOnlyExportRefusesWritesWithEperm() throws Exception {
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "ro")) {
            assertTrue(client.isReadOnly());
            assertEquals(HostRequest.EPERM,
                assertThrows(NbdException.class, () -> client.write(0, new byte[512], 0, 512, 0)).errno());
            assertEquals(HostRequest.EPERM, assertThrows(NbdException.class, () -> client.trim(0, 512)).errno());
            client.read(0, new byte[512], 0, 512);
        }
        assertEquals(2, count(NbdCounters.READ_ONLY_VIOLATIONS));
    }

    @Test
    void unknownExportAndUnknownOptionsKeepTheHandshakeGoing() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.option(OPT_GO, NbdRawSocket.nameAndInfos("nope", INFO_BLOCK_SIZE));
            final NbdRawSocket.OptionReply unknown = raw.readOptionReply();
            assertEquals(REP_ERR_UNKNOWN, unknown.type());
            assertTrue(unknown.text().contains("nope"), unknown.text());
            raw.option(99, new byte[] {1, 2, 3});
            final NbdRawSocket.OptionReply unsupported = raw.readOptionReply();
            assertEquals(99, unsupported.option());
            assertEquals(REP_ERR_UNSUP, unsupported.type());
            raw.option(OPT_STARTTLS, new byte[0]);
            assertEquals(REP_ERR_UNSUP, raw.readOptionReply().type());
            raw.option(OPT_LIST_META_CONTEXT, NbdRawSocket.metaContextQuery("vol"));
            assertEquals(REP_ERR_INVALID, raw.readOptionReply().type(), "meta context needs structured replies");
            raw.option(OPT_LIST, new byte[0]);
            final List<String> names = new ArrayList<>();
            for (NbdRawSocket.OptionReply reply = raw.readOptionReply(); reply.type() != REP_ACK;
                 reply = raw.readOptionReply()) {
                assertEquals(REP_SERVER, reply.type());
                final int length = ByteBuffer.wrap(reply.data()).getInt();
                names.add(new String(reply.data(), 4, length, StandardCharsets.UTF_8));
            }
            assertEquals(List.of("vol", "ro", "off"), names);
            raw.option(OPT_INFO, NbdRawSocket.nameAndInfos("vol", INFO_NAME, INFO_DESCRIPTION, INFO_BLOCK_SIZE));
            int infos = 0;
            for (NbdRawSocket.OptionReply reply = raw.readOptionReply(); reply.type() != REP_ACK;
                 reply = raw.readOptionReply()) {
                assertEquals(REP_INFO, reply.type());
                infos++;
            }
            assertEquals(4, infos, "EXPORT, NAME, DESCRIPTION, BLOCK_SIZE");
            final long[] export = raw.go("vol");
            assertNotNull(export);
            assertEquals(64 * MIB, export[0]);
            assertEquals(FLAG_HAS_FLAGS | FLAG_SEND_FLUSH | FLAG_SEND_FUA | FLAG_SEND_TRIM | FLAG_SEND_WRITE_ZEROES
                | FLAG_SEND_FAST_ZERO | FLAG_CAN_MULTI_CONN, export[1]);
            raw.request(0, CMD_FLUSH, 1, 0, 0, null);
            assertArrayEquals(new long[] {0, 1}, raw.readSimpleReply(null));
        }
        assertEquals(1, count(NbdCounters.UNKNOWN_EXPORTS));
        assertEquals(2, count(NbdCounters.UNKNOWN_OPTIONS));
    }

    @Test
    void oversizeOptionGetsTooBigAndAbortAcks() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.option(OPT_GO, new byte[NbdConnection.OPTION_DATA_MAX_BYTES + 1]);
            assertEquals(REP_ERR_TOO_BIG, raw.readOptionReply().type());
            raw.option(OPT_ABORT, new byte[0]);
            assertEquals(REP_ACK, raw.readOptionReply().type());
            assertTrue(raw.closedByPeer());
        }
        assertEquals(1, count(NbdCounters.OVERSIZE_OPTIONS));
    }

    @Test
    void exportNameOptionEntersTransmission() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.option(OPT_EXPORT_NAME, "vol".getBytes(StandardCharsets.US_ASCII));
            assertEquals(64 * MIB, raw.in.readLong());
            assertEquals(FLAG_HAS_FLAGS, raw.in.readUnsignedShort() & FLAG_HAS_FLAGS); // no 124 zero bytes follow
            raw.request(0, CMD_READ, 11, 0, 16, null);
            assertArrayEquals(new long[] {0, 11}, raw.readSimpleReply(new byte[16]));
        }
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.option(OPT_EXPORT_NAME, "nope".getBytes(StandardCharsets.US_ASCII));
            assertTrue(raw.closedByPeer(), "EXPORT_NAME of an unknown export can only close");
        }
    }

    @Test
    void metaContextListAndBlockStatus() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.structuredReplies();
            raw.option(OPT_LIST_META_CONTEXT, NbdRawSocket.metaContextQuery("vol"));
            final NbdRawSocket.OptionReply context = raw.readOptionReply();
            assertEquals(REP_META_CONTEXT, context.type());
            assertEquals(BASE_ALLOCATION, new String(context.data(), 4, context.data().length - 4, StandardCharsets.US_ASCII));
            assertEquals(REP_ACK, raw.readOptionReply().type());
            raw.option(OPT_SET_META_CONTEXT, NbdRawSocket.metaContextQuery("vol", "x-other:thing", BASE_ALLOCATION));
            final NbdRawSocket.OptionReply set = raw.readOptionReply();
            assertEquals(REP_META_CONTEXT, set.type());
            final int contextId = ByteBuffer.wrap(set.data()).getInt();
            assertEquals(REP_ACK, raw.readOptionReply().type());
            raw.go("vol");
            raw.request(0, CMD_WRITE, 1, 8192, 4096, new byte[4096]);
            assertEquals(REPLY_TYPE_NONE, raw.readChunk().type());
            raw.request(0, CMD_BLOCK_STATUS, 2, 0, 16384, null);
            final NbdRawSocket.Chunk status = raw.readChunk();
            assertEquals(REPLY_TYPE_BLOCK_STATUS, status.type());
            final ByteBuffer payload = ByteBuffer.wrap(status.payload());
            assertEquals(contextId, payload.getInt());
            assertEquals(8192, payload.getInt());
            assertEquals(BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO, payload.getInt());
            assertEquals(4096, payload.getInt());
            assertEquals(0, payload.getInt());
            assertEquals(4096, payload.getInt());
            assertEquals(3, payload.getInt());
            assertFalse(payload.hasRemaining());
            raw.request(CMD_FLAG_REQ_ONE, CMD_BLOCK_STATUS, 3, 0, 16384, null);
            assertEquals(4 + 8, raw.readChunk().payload().length);
            raw.request(0, CMD_BLOCK_STATUS, 4, 64 * MIB - 4096, 8192, null);
            assertEquals(HostRequest.EINVAL, raw.readChunk().errno());
        }
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol",
            new NbdClient.Options().baseAllocation(false))) {
            assertEquals(HostRequest.EINVAL,
                assertThrows(NbdException.class, () -> client.blockStatus(0, 4096, 0)).errno());
        }
        assertEquals(1, count(NbdCounters.BLOCK_STATUS_WITHOUT_CONTEXT));
    }

    @Test
    void simpleAndStructuredRepliesBothCarryData() throws Exception {
        final byte[] data = new byte[200_000]; // above the 128 KiB buffer tier
        new Random(1).nextBytes(data);
        for (final boolean structured : new boolean[] {false, true}) {
            try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol",
                new NbdClient.Options().structuredReplies(structured))) {
                assertEquals(structured, client.structuredReplies());
                client.write(MIB + 3, data, 0, data.length, 0);
                final byte[] back = new byte[data.length];
                client.read(MIB + 3, back, 0, back.length);
                assertArrayEquals(data, back);
                assertEquals(HostRequest.EINVAL,
                    assertThrows(NbdException.class, () -> client.read(64 * MIB, back, 0, 1)).errno());
                client.writeZeroes(MIB + 3, 1000, 0);
                client.read(MIB + 3, back, 0, 1000);
                assertArrayEquals(new byte[1000], Arrays.copyOf(back, 1000));
            }
        }
    }

    @Test
    void discWaitsForInFlightRequests() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            final byte[] payload = new byte[65536];
            for (int i = 0; i < 20; i++) {
                raw.request(0, CMD_WRITE, 100 + i, (long)i * payload.length, payload.length, payload);
            }
            raw.request(0, CMD_DISC, 0, 0, 0, null);
            final boolean[] seen = new boolean[20];
            for (int i = 0; i < 20; i++) {
                final long[] reply = raw.readSimpleReply(null);
                assertEquals(0, reply[0]);
                seen[(int)reply[1] - 100] = true;
            }
            assertTrue(raw.closedByPeer());
            for (final boolean s : seen) {
                assertTrue(s);
            }
        }
        assertEquals(1, count(NbdCounters.DISCONNECTS));
        NbdTestSupport.await("connection closed", 10_000, () -> count(NbdCounters.CONNECTIONS_CLOSED) == 1);
    }

    @Test
    void severalConcurrentClients() throws Exception {
        final int clients = 8;
        final ExecutorService executor = Executors.newFixedThreadPool(clients);
        try {
            final List<Future<?>> futures = new ArrayList<>();
            for (int c = 0; c < clients; c++) {
                final int id = c;
                futures.add(executor.submit(() -> {
                    try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "vol",
                        new NbdClient.Options().inFlightMax(32))) {
                        final byte[] block = new byte[4096];
                        final long base = id * 4 * MIB;
                        for (int i = 0; i < 256; i++) {
                            Arrays.fill(block, (byte)(id * 31 + i));
                            client.submitWrite(base + i * 4096L, block, 0, block.length, 0);
                        }
                        final long flushCookie = client.submitFlush();
                        assertEquals(0, client.await(flushCookie));
                        client.awaitAll();
                        client.flush();
                        for (int i = 0; i < 256; i++) {
                            client.read(base + i * 4096L, block, 0, block.length);
                            for (final byte b : block) {
                                assertEquals((byte)(id * 31 + i), b);
                            }
                        }
                    }
                    return null;
                }));
            }
            for (final Future<?> future : futures) {
                future.get(60, TimeUnit.SECONDS);
            }
        } finally {
            executor.shutdownNow();
        }
        assertEquals(0, count(NbdCounters.UNEXPECTED_ERRORS));
    }

    @Test
    void connectionLimitRefusesExtraClientsAndCloseStopsCleanly() throws Exception {
        server.close();
        server = NbdServer.start(backend, new NbdServer.Context().connectionsMax(2));
        try (NbdClient first = NbdClient.connect("127.0.0.1", server.port(), "vol");
             NbdClient second = NbdClient.connect("127.0.0.1", server.port(), "vol")) {
            assertThrows(java.io.IOException.class, () -> NbdClient.connect("127.0.0.1", server.port(), "vol"));
            assertEquals(1, count(NbdCounters.CONNECTIONS_REFUSED_LIMIT));
            assertEquals(2, server.connectionCount());
            first.flush();
            second.flush();
            server.close();
            assertThrows(java.io.IOException.class, () -> first.read(0, new byte[1], 0, 1));
        }
        assertThrows(java.io.IOException.class, () -> NbdClient.connect("127.0.0.1", server.port(), "vol"));
    }

    @Test
    void requestSlotExhaustionStallsAndResumes() throws Exception {
        server.close();
        server = NbdServer.start(backend, new NbdServer.Context().requestsInFlightPerConnectionMax(2)
            .bufferTiers(new int[] {8192, 32 * 1024 * 1024}, new int[] {1, 1}));
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            final byte[] block = new byte[4096];
            for (int i = 0; i < 40; i++) {
                Arrays.fill(block, (byte)i);
                raw.request(0, CMD_WRITE, i, i * 4096L, 4096, block);
            }
            for (int i = 0; i < 40; i++) {
                raw.request(0, CMD_READ, 1000 + i, i * 4096L, 4096, null);
            }
            final java.util.Set<Long> cookies = new java.util.HashSet<>();
            for (int i = 0; i < 40; i++) {
                final long[] reply = raw.readSimpleReply(null);
                assertEquals(0, reply[0]);
                cookies.add(reply[1]);
            }
            final byte[] back = new byte[4096];
            for (int i = 0; i < 40; i++) {
                final long[] reply = raw.readSimpleReply(back);
                assertEquals(0, reply[0]);
                final int index = (int)reply[1] - 1000;
                cookies.add(reply[1]);
                for (final byte b : back) {
                    assertEquals((byte)index, b);
                }
            }
            assertEquals(80, cookies.size());
        }
        assertTrue(count(NbdCounters.STALLS_REQUEST_SLOT) + count(NbdCounters.STALLS_BUFFER) > 0,
            server.counters().toString());
    }

    @Test
    void serverCloseAnswersInFlightRequestsThenCloses() throws Exception {
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            backend.pause();
            for (int i = 0; i < 5; i++) {
                raw.request(0, CMD_READ, i, i * 4096L, 4096, null);
            }
            NbdTestSupport.await("requests queued in the backend", 10_000, () -> backend.pending() == 5);
            final Thread closer = new Thread(server::close, "closer");
            closer.start();
            backend.unpause();
            for (int i = 0; i < 5; i++) {
                assertEquals(0, raw.readSimpleReply(new byte[4096])[0]);
            }
            assertTrue(raw.closedByPeer());
            closer.join(30_000);
            assertFalse(closer.isAlive(), "close() must return");
        }
    }

    @Test
    void clientVanishingWithRequestsInFlightLeavesServerHealthy() throws Exception {
        server.close();
        server = NbdServer.start(backend, new NbdServer.Context().connectionsMax(1));
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            raw.go("vol");
            backend.pause();
            for (int i = 0; i < 10; i++) {
                raw.request(0, CMD_WRITE, i, i * 4096L, 4096, new byte[4096]);
            }
            NbdTestSupport.await("requests queued in the backend", 10_000, () -> backend.pending() == 10);
        }
        NbdTestSupport.await("connection closed", 10_000, () -> count(NbdCounters.CONNECTIONS_CLOSED) == 1);
        backend.unpause();
        // the single connection object is recycled once the backend returned its requests
        NbdTestSupport.await("connection recycled", 10_000, () -> {
            try {
                assertServes();
                return true;
            } catch (final Exception | AssertionError ex) {
                return false;
            }
        });
    }

    @Test
    void handshakeTimeoutClosesIdleConnections() throws Exception {
        server.close();
        server = NbdServer.start(backend, new NbdServer.Context().handshakeTimeoutNs(TimeUnit.MILLISECONDS.toNanos(200)));
        try (NbdRawSocket raw = NbdRawSocket.connect(server.port())) {
            assertTrue(raw.closedByPeer());
        }
        assertEquals(1, count(NbdCounters.HANDSHAKE_TIMEOUTS));
    }
}
