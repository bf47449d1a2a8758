package io.afasim.controller;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import static io.afasim.controller.NbdTestSupport.hasBinary;
import static io.afasim.controller.NbdTestSupport.runOk;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/** The server against real NBD clients: nbdinfo, qemu-img, nbdcopy, fio (all installed here and in CI). */
class NbdRealClientsTest {
    private static final long MIB = 1024 * 1024;
    private static MemoryBackend backend;
    private static NbdServer server;
    private static long seed;

    @BeforeAll
    static void start() throws Exception {
        seed = NbdTestSupport.seed();
        backend = new MemoryBackend(seed,
            MemoryBackend.export(1, "vol", 64 * MIB),
            MemoryBackend.export(2, "sparse", 16 * MIB),
            MemoryBackend.export(3, "qemu", 8 * MIB),
            MemoryBackend.export(4, "copy", 8 * MIB),
            MemoryBackend.export(5, "fio", 64 * MIB),
            new ExportInfo(6, "ro", "read-only export", MIB, true, true, false, 512, 4096, 1024 * 1024));
        server = NbdServer.start(backend, new NbdServer.Context());
    }

    @AfterAll
    static void stop() throws Exception {
        if (server != null) {
            server.close();
        }
        if (backend != null) {
            backend.close();
        }
    }

    private static String uri(final String export) {
        return "nbd://127.0.0.1:" + server.port() + "/" + export;
    }

    private static void need(final String binary) {
        assumeTrue(hasBinary(binary), binary + " is not installed (apt-get install libnbd-bin qemu-utils fio)");
    }

    @Test
    void nbdinfoShowsSizeAndFlags() throws Exception {
        need("nbdinfo");
        final String output = runOk(60, "nbdinfo", uri("vol")).output();
        assertTrue(output.contains("export-size: " + 64 * MIB), output);
        assertTrue(output.contains("can_multi_conn: true"), output);
        assertTrue(output.contains("can_flush: true"), output);
        assertTrue(output.contains("can_fua: true"), output);
        assertTrue(output.contains("can_trim: true"), output);
        assertTrue(output.contains("can_zero: true"), output);
        assertTrue(output.contains("can_fast_zero: true"), output);
        assertTrue(output.contains("is_read_only: false"), output);
        assertTrue(output.contains("block_size_maximum: " + 32 * MIB), output);

        final String readOnly = runOk(60, "nbdinfo", uri("ro")).output();
        assertTrue(readOnly.contains("is_read_only: true"), readOnly);
        assertTrue(readOnly.contains("can_multi_conn: false"), readOnly);
        assertTrue(readOnly.contains("block_size_minimum: 512"), readOnly);
        assertTrue(readOnly.contains("description: read-only export"), readOnly);
    }

    @Test
    void nbdinfoListsExports() throws Exception {
        need("nbdinfo");
        final String output = runOk(60, "nbdinfo", "--list", "nbd://127.0.0.1:" + server.port()).output();
        for (final String name : new String[] {"vol", "sparse", "qemu", "copy", "fio", "ro"}) {
            assertTrue(output.contains("export=\"" + name + "\"") || output.contains("export: " + name)
                || output.contains(name), output);
        }
        assertTrue(output.contains("export-size: " + 64 * MIB), output);
    }

    @Test
    void nbdinfoMapShowsHoles() throws Exception {
        need("nbdinfo");
        try (NbdClient client = NbdClient.connect("127.0.0.1", server.port(), "sparse")) {
            final byte[] block = new byte[64 * 1024];
            Arrays.fill(block, (byte)0x5A);
            client.write(4 * MIB, block, 0, block.length, 0);
        }
        final String output = runOk(60, "nbdinfo", "--map", uri("sparse")).output();
        // e.g. "0  4194304  3  hole,zero" / "4194304  65536  0  data" / "4259840  12517376  3  hole,zero"
        assertTrue(output.matches("(?s).*\\b0\\s+4194304\\s+3\\s+hole,zero.*"), output);
        assertTrue(output.matches("(?s).*\\b4194304\\s+65536\\s+0\\s+data.*"), output);
        assertTrue(output.matches("(?s).*\\b4259840\\s+12517376\\s+3\\s+hole,zero.*"), output);
    }

    @Test
    void qemuImgConvertRoundTrip(@TempDir final Path dir) throws Exception {
        need("qemu-img");
        final byte[] image = randomImage(8 * MIB);
        final Path source = dir.resolve("source.img");
        final Path copy = dir.resolve("copy.img");
        Files.write(source, image);
        runOk(120, "qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", source.toString(), uri("qemu"));
        runOk(120, "qemu-img", "compare", "-f", "raw", "-F", "raw", source.toString(), uri("qemu"));
        runOk(120, "qemu-img", "convert", "-f", "raw", "-O", "raw", uri("qemu"), copy.toString());
        assertArrayEquals(image, Files.readAllBytes(copy));
        assertArrayEquals(image, backend.contents("qemu", 0, image.length));
    }

    @Test
    void nbdcopyRoundTripWithMultiConn(@TempDir final Path dir) throws Exception {
        need("nbdcopy");
        final byte[] image = randomImage(8 * MIB);
        final Path source = dir.resolve("source.img");
        final Path copy = dir.resolve("copy.img");
        Files.write(source, image);
        final long handshakesBefore = server.counters().get(NbdCounters.HANDSHAKES_COMPLETED);
        runOk(120, "nbdcopy", "--connections=4", source.toString(), uri("copy"));
        final long handshakes = server.counters().get(NbdCounters.HANDSHAKES_COMPLETED) - handshakesBefore;
        assertTrue(handshakes >= 2, "nbdcopy should open several connections with multi-conn, saw " + handshakes);
        runOk(120, "nbdcopy", uri("copy"), copy.toString());
        assertArrayEquals(image, Files.readAllBytes(copy));
    }

    @Test
    void fioRandomWriteVerifies(@TempDir final Path dir) throws Exception {
        need("fio");
        final Path job = dir.resolve("verify.fio");
        Files.writeString(job, String.join("\n",
            "[global]",
            "ioengine=nbd",
            "uri=" + uri("fio"),
            "rw=randwrite",
            "bs=4k",
            "iodepth=16",
            "size=16m",
            "verify=crc32c",
            "do_verify=1",
            "verify_fatal=1",
            "verify_state_save=0",
            "randseed=" + (seed & 0x7FFF_FFFFL),
            "",
            "[randwrite-verify]",
            ""));
        final NbdTestSupport.Result result = runOk(300, "fio", "--output-format=normal", job.toString());
        assertTrue(result.output().contains("randwrite-verify"), result.output());
        assertTrue(!result.output().contains("verify: bad"), result.output());
        assertEquals(0, server.counters().get(NbdCounters.UNEXPECTED_ERRORS), server.counters().toString());
    }

    /** Random data with zero runs (so a copy has both data and zero regions). */
    private static byte[] randomImage(final long sizeBytes) {
        final Random random = new Random(seed);
        final byte[] image = new byte[(int)sizeBytes];
        random.nextBytes(image);
        for (int i = 0; i < 8; i++) {
            final int from = random.nextInt(image.length - 256 * 1024);
            Arrays.fill(image, from, from + random.nextInt(256 * 1024), (byte)0);
        }
        return image;
    }
}
