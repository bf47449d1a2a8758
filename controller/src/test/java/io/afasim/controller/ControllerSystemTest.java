package io.afasim.controller;

import io.afasim.journal.Seeds;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Random;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A real controller process and real NBD clients (fio, nbdinfo, qemu-img, qemu-io, nbdcopy), through
 * the interfaces a user has: NBD and afactl. `.ci/run` installs the clients; a missing one skips its
 * test with a message.
 */
class ControllerSystemTest
{
    static final long CLIENT_TIMEOUT_MS = 180_000;

    @TempDir
    static Path dir;

    static ControllerProcess controller;

    @BeforeAll
    static void startController() throws Exception
    {
        controller = new ControllerProcess(ControllerProcess.testContext(dir.resolve("array"))).start();
    }

    @AfterAll
    static void stopController() throws Exception
    {
        if (controller != null)
        {
            controller.close();
        }
    }

    private static void createVolume(final String name, final String size) throws IOException
    {
        final ControllerProcess.AfactlResult result = controller.afactl("volume", "create", name, "--size", size);
        assertEquals(0, result.exitCode(), result.err() + "\n" + controller.logTail());
    }

    private static ControllerProcess.ExternalResult client(final String... command) throws Exception
    {
        assumeTrue(ControllerProcess.installed(command[0]), command[0] + " is not installed (.ci/run installs it)");
        return ControllerProcess.run(CLIENT_TIMEOUT_MS, dir.toFile(), command);
    }

    private static void assertOk(final ControllerProcess.ExternalResult result, final String what)
    {
        assertEquals(0, result.exitCode(), what + " failed:\n" + result.output() + "\ncontroller log:\n" +
            controller.logTail());
    }

    @Test
    void fioRandomWritesVerifyOverNbd() throws Exception
    {
        createVolume("fio", "64M");
        final Path job = dir.resolve("verify.fio");
        Files.writeString(job, String.join("\n",
            "[verify]",
            "ioengine=nbd",
            "uri=" + controller.nbdUri("fio"),
            "rw=randwrite",
            "bs=4k",
            "iodepth=16",
            "size=16m",
            "verify=crc32c",
            "do_verify=1",
            ""));
        final ControllerProcess.ExternalResult result = client("fio", job.toString());
        assertOk(result, "fio verify");
        assertTrue(result.output().contains("err= 0"), result.output());
    }

    @Test
    void nbdinfoShowsTheSizeAndFlags() throws Exception
    {
        createVolume("info", "96M");
        final ControllerProcess.ExternalResult result = client("nbdinfo", "--json", controller.nbdUri("info"));
        assertOk(result, "nbdinfo");
        final String json = result.output().replace(" ", "");
        assertTrue(json.contains("\"export-size\":100663296"), json);
        assertTrue(json.contains("\"can_flush\":true"), json);
        assertTrue(json.contains("\"can_trim\":true"), json);
        assertTrue(json.contains("\"can_multi_conn\":true"), json);
        assertTrue(json.contains("\"is_read_only\":false"), json);

        final ControllerProcess.ExternalResult list = client("nbdinfo", "--list",
            controller.nbdUri("").replaceAll("/$", ""));
        assertOk(list, "nbdinfo --list");
        assertTrue(list.output().contains("export=\"info\""), list.output());
    }

    @Test
    void nbdinfoMapShowsHolesOnAThinVolume() throws Exception
    {
        createVolume("thin", "64M");
        assertOk(client("qemu-io", "-f", "raw", "-c", "write -P 0x55 8M 1M", controller.nbdUri("thin")), "qemu-io write");
        final ControllerProcess.ExternalResult map = client("nbdinfo", "--map", controller.nbdUri("thin"));
        assertOk(map, "nbdinfo --map");
        // three extents: hole up to 8 MiB, 1 MiB of data, hole to the end
        final String[] lines = map.output().trim().split("\n");
        assertEquals(3, lines.length, map.output());
        assertTrue(lines[0].matches("\\s*0\\s+8388608\\s+3\\s+hole,zero\\s*"), lines[0]);
        assertTrue(lines[1].matches("\\s*8388608\\s+1048576\\s+0\\s+data\\s*"), lines[1]);
        assertTrue(lines[2].matches("\\s*9437184\\s+57671680\\s+3\\s+hole,zero\\s*"), lines[2]);
    }

    @Test
    void qemuImgAndNbdcopyRoundTripsAreByteIdentical() throws Exception
    {
        createVolume("copy", "32M");
        final long seed = Seeds.seed("qemuImgAndNbdcopyRoundTripsAreByteIdentical");
        final byte[] image = new byte[32 << 20];
        final Random random = new Random(seed);
        for (int offset = 0; offset < image.length; offset += 1 << 20)
        {
            // half the megabytes random, a quarter repeated (dedups), a quarter zero (thin)
            final int kind = random.nextInt(4);
            if (kind < 2)
            {
                final byte[] chunk = new byte[1 << 20];
                random.nextBytes(chunk);
                System.arraycopy(chunk, 0, image, offset, chunk.length);
            }
            else if (kind == 2 && offset > 0)
            {
                System.arraycopy(image, 0, image, offset, 1 << 20);
            }
        }
        final Path in = dir.resolve("in.raw");
        Files.write(in, image);

        assertOk(client("qemu-img", "convert", "-n", "-f", "raw", "-O", "raw", in.toString(),
            controller.nbdUri("copy")), "qemu-img convert into the volume");
        final Path out = dir.resolve("out.raw");
        assertOk(client("qemu-img", "convert", "-f", "raw", "-O", "raw", controller.nbdUri("copy"), out.toString()),
            "qemu-img convert out of the volume");
        assertArrayEquals(image, Files.readAllBytes(out), "qemu-img round trip differs (seed " + seed + ")");
        assertOk(client("qemu-img", "compare", "-f", "raw", "-F", "raw", in.toString(), controller.nbdUri("copy")),
            "qemu-img compare");

        createVolume("copy2", "32M");
        assertOk(client("nbdcopy", controller.nbdUri("copy"), controller.nbdUri("copy2")), "nbdcopy volume to volume");
        final Path out2 = dir.resolve("out2.raw");
        assertOk(client("nbdcopy", controller.nbdUri("copy2"), out2.toString()), "nbdcopy volume to file");
        assertArrayEquals(image, Files.readAllBytes(out2), "nbdcopy round trip differs (seed " + seed + ")");
    }

    @Test
    void fioDedupePercentage50GivesADedupRatioNearTwo() throws Exception
    {
        createVolume("dedup", "64M");
        final Path job = dir.resolve("dedup.fio");
        Files.writeString(job, String.join("\n",
            "[dedup]",
            "ioengine=nbd",
            "uri=" + controller.nbdUri("dedup"),
            "rw=write",
            "bs=4k",
            "iodepth=16",
            "size=32m",
            "dedupe_percentage=50",
            "buffer_compress_percentage=0",
            ""));
        assertOk(client("fio", job.toString()), "fio dedupe_percentage=50");
        final ControllerProcess.AfactlResult stats = controller.afactl("--json", "stats", "--volume", "dedup");
        assertEquals(0, stats.exitCode(), stats.err());
        final Matcher ratio = Pattern.compile("\"dedupRatio\"\\s*:\\s*\"?([0-9.]+)").matcher(stats.out());
        assertTrue(ratio.find(), stats.out());
        final double value = Double.parseDouble(ratio.group(1));
        assertTrue(value > 1.6 && value < 2.5, "dedup ratio " + value + " not near 2: " + stats.out());
    }

    /**
     * Destage commits in groups (large or old enough): after a burst of acknowledged writes and no further I/O, a
     * 1WB volume still becomes clean on its own (the open group commits once it is old), and reads back the burst.
     */
    @Test
    void aOneWayWbVolumeBecomesCleanWithoutFurtherIoAfterABurst() throws Exception
    {
        createVolume("burst", "16M"); // 1wb: the default mode of a new volume
        final long seed = Seeds.seed("ControllerSystemTest-burst");
        // a few commit groups, the last one left open when the burst ends; then no I/O until the cache is clean
        final long[] tokens = writeRandomly(controller, "burst", 4096, 3000, seed);
        NbdTestSupport.await("volume burst clean", CLIENT_TIMEOUT_MS,
            () -> statsValue(controller, "burst", "cacheDirtyBytes") == 0);
        readBack(controller, "burst", tokens, seed);
    }

    @ParameterizedTest
    @ValueSource(strings = {"1wb", "wt"})
    void aVolumeOverwrittenFiveTimesItsPoolCleansSegmentsAndKeepsEveryWriteAcrossAKill(final String mode)
        throws Exception
    {
        // drives of the smallest size: the 16 MiB volume's pool holds about 28 segments of 1 MiB, and 36,000 unique
        // 4 KiB writes need five times that, so destage runs out of segments unless the cleaner frees old ones
        try (ControllerProcess small = startSmallPoolController("small-" + mode))
        {
            final ControllerProcess.AfactlResult created = small.afactl("volume", "create", "churn", "--size", "16M", "--mode", mode);
            assertEquals(0, created.exitCode(), created.err());
            final long seed = Seeds.seed("ControllerSystemTest-churn-" + mode);
            final long[] tokens = writeRandomly(small, "churn", 4096, 36_000, seed);
            final long cleaned = statsValue(small, "churn", "cleanedSegments");
            assertTrue(cleaned > 28, "cleaned segments: " + cleaned);
            assertEquals(0, statsValue(small, "churn", "errors"), "volume errors");

            // SIGKILL with destage and cleaning under way: RELOCATE and SEGMENT_FREED records replay with the rest
            small.kill();
            small.start();
            readBack(small, "churn", tokens, seed);
            NbdTestSupport.await("volume churn clean after the restart", CLIENT_TIMEOUT_MS,
                () -> statsValue(small, "churn", "cacheDirtyBytes") == 0);
            readBack(small, "churn", tokens, seed);
        }
    }

    @Test
    void aWtWriteOfTheWholeVolumeWaitsForCleaningInsteadOfFailingWithEnospc() throws Exception
    {
        // one 16 MiB WT request needs 16 of the pool's ~28 segments: from the second pass on, most of the pool holds
        // the previous passes, and the write must wait for the cleaner (never fail part-way with ENOSPC)
        try (ControllerProcess small = startSmallPoolController("small-whole"))
        {
            final ControllerProcess.AfactlResult created =
                small.afactl("volume", "create", "whole", "--size", "16M", "--mode", "wt");
            assertEquals(0, created.exitCode(), created.err());
            final int length = 16 << 20;
            final byte[] data = new byte[length];
            final java.nio.ByteBuffer view = java.nio.ByteBuffer.wrap(data);
            final int passes = 8;
            try (NbdRawSocket nbd = NbdRawSocket.connect(small.nbdPort()))
            {
                nbd.go("whole");
                for (int pass = 1; pass <= passes; pass++)
                {
                    for (int lba = 0; lba < length / 4096; lba++)
                    {
                        view.putLong(lba * 4096, lba).putLong(lba * 4096 + 8, pass);
                    }
                    nbd.request(0, NbdProtocol.CMD_WRITE, pass, 0, length, data);
                    assertEquals(0, nbd.readSimpleReply(null)[0], "pass " + pass + " of the whole volume");
                }
                final byte[] block = new byte[4096];
                final java.nio.ByteBuffer blockView = java.nio.ByteBuffer.wrap(block);
                for (int lba = 0; lba < length / 4096; lba++)
                {
                    nbd.request(0, NbdProtocol.CMD_READ, passes + 1 + lba, (long)lba * 4096, 4096, null);
                    assertEquals(0, nbd.readSimpleReply(block)[0]);
                    assertEquals(lba, blockView.getLong(0), "lba " + lba);
                    assertEquals(passes, blockView.getLong(8), "lba " + lba);
                }
            }
            assertTrue(statsValue(small, "whole", "cleanedSegments") > 0, "the cleaner ran");
            assertEquals(0, statsValue(small, "whole", "errors"), "volume errors");
        }
    }

    /** A controller whose pools are as small as a volume allows (1 MiB drives grown to fit): cleaning comes early. */
    private static ControllerProcess startSmallPoolController(final String name) throws Exception
    {
        return new ControllerProcess(ControllerProcess.testContext(dir.resolve(name))
            .driveSizeBytes(1L << 20).journalSizeBytes(4L << 20)).start();
    }

    /**
     * Writes {@code writes} blocks of unique content at random LBAs of {@code volume} (32 in flight), each
     * acknowledged; returns the last write's token per block (0: never written).
     */
    private static long[] writeRandomly(
        final ControllerProcess target, final String volume, final int blocks, final int writes, final long seed)
        throws IOException
    {
        final int window = 32;
        final Random random = new Random(seed);
        final long[] tokens = new long[blocks];
        final byte[] block = new byte[4096];
        final java.nio.ByteBuffer view = java.nio.ByteBuffer.wrap(block);
        try (NbdRawSocket nbd = NbdRawSocket.connect(target.nbdPort()))
        {
            nbd.go(volume);
            int replies = 0;
            for (int i = 1; i <= writes; i++)
            {
                final int lba = random.nextInt(blocks);
                tokens[lba] = i;
                view.putLong(0, lba).putLong(8, i).putLong(4088, i);
                nbd.request(0, NbdProtocol.CMD_WRITE, i, (long)lba * block.length, block.length, block);
                if (i > window)
                {
                    assertEquals(0, nbd.readSimpleReply(null)[0], "write reply (seed " + seed + ")");
                    replies++;
                }
            }
            for (; replies < writes; replies++)
            {
                assertEquals(0, nbd.readSimpleReply(null)[0], "write reply (seed " + seed + ")");
            }
        }
        return tokens;
    }

    /** Reads every block of {@code volume}: each holds its last acknowledged write ({@link #writeRandomly}). */
    private static void readBack(final ControllerProcess target, final String volume, final long[] tokens,
        final long seed) throws IOException
    {
        final byte[] read = new byte[4096];
        final java.nio.ByteBuffer readView = java.nio.ByteBuffer.wrap(read);
        try (NbdRawSocket nbd = NbdRawSocket.connect(target.nbdPort()))
        {
            nbd.go(volume);
            for (int lba = 0; lba < tokens.length; lba++)
            {
                nbd.request(0, NbdProtocol.CMD_READ, lba + 1, (long)lba * read.length, read.length, null);
                assertEquals(0, nbd.readSimpleReply(read)[0]);
                if (tokens[lba] != 0)
                {
                    assertEquals(lba, readView.getLong(0), "lba " + lba + " (seed " + seed + ")");
                    assertEquals(tokens[lba], readView.getLong(8), "lba " + lba + " (seed " + seed + ")");
                    assertEquals(tokens[lba], readView.getLong(4088), "lba " + lba + " (seed " + seed + ")");
                }
            }
        }
    }

    /** A numeric field of the volume's {@code afactl --json stats} row. */
    private static long statsValue(final ControllerProcess target, final String volume, final String field)
    {
        try
        {
            final ControllerProcess.AfactlResult stats = target.afactl("--json", "stats", "--volume", volume);
            assertEquals(0, stats.exitCode(), stats.err());
            final Matcher value = Pattern.compile("\"" + field + "\"\\s*:\\s*\"?([0-9]+)").matcher(stats.out());
            assertTrue(value.find(), stats.out());
            return Long.parseLong(value.group(1));
        }
        catch (final IOException ex)
        {
            throw new java.io.UncheckedIOException(ex);
        }
    }

    @Test
    void aMalformedNbdRequestClosesThatConnectionAndOthersKeepWorking() throws Exception
    {
        createVolume("bad", "8M");
        try (Socket socket = new Socket("127.0.0.1", controller.nbdPort()))
        {
            socket.setSoTimeout(10_000);
            final InputStream in = socket.getInputStream();
            final OutputStream out = socket.getOutputStream();
            in.readNBytes(18); // NBDMAGIC, IHAVEOPT, handshake flags
            out.write(new byte[]{0, 0, 0, 3}); // client flags: fixed newstyle, no zeroes
            out.write("this is not an option header".getBytes());
            out.flush();
            // the server answers garbage by closing: read until EOF (bounded by the socket timeout)
            while (in.read() >= 0)
            {
                // drain whatever was sent before the close
            }
        }
        final ControllerProcess.ExternalResult info = client("nbdinfo", controller.nbdUri("bad"));
        assertOk(info, "nbdinfo after a malformed client");
        assertTrue(controller.isAlive(), controller.logTail());
    }

    @Test
    void afactlSaysWhyInOneLineAndExitsNonZero() throws Exception
    {
        ControllerProcess.AfactlResult result = controller.afactl("volume", "create", "x", "--size", "5");
        assertEquals(Afactl.EXIT_USAGE, result.exitCode());
        assertEquals(1, result.err().trim().split("\n").length, result.err());

        result = controller.afactl("volume", "delete", "no-such-volume");
        assertEquals(Afactl.EXIT_REFUSED, result.exitCode());
        assertTrue(result.err().contains("no volume no-such-volume"), result.err());
        assertEquals(1, result.err().trim().split("\n").length, result.err());

        createVolume("twice", "8M");
        result = controller.afactl("volume", "create", "twice", "--size", "8M");
        assertEquals(Afactl.EXIT_REFUSED, result.exitCode());
        assertTrue(result.err().contains("exists"), result.err());

        result = controller.afactl("fault", "link", "sideways");
        assertEquals(Afactl.EXIT_USAGE, result.exitCode());
        assertTrue(result.err().contains("is not a link fault (partition, deaf, heal)"), result.err());

        result = controller.afactl("fault", "link", "partition"); // a controller alone has no link to cut
        assertEquals(Afactl.EXIT_REFUSED, result.exitCode());
        assertTrue(result.err().contains("runs alone (no link to cut)"), result.err());
        assertEquals(1, result.err().trim().split("\n").length, result.err());
    }

    @Test
    void anOfflineVolumeAnswersWithAnErrorAndComesBackOnline() throws Exception
    {
        createVolume("off", "8M");
        assertOk(client("qemu-io", "-f", "raw", "-c", "write -P 0x11 0 64k", controller.nbdUri("off")), "write");
        assertEquals(0, controller.afactl("volume", "offline", "off").exitCode());
        final ControllerProcess.ExternalResult offline =
            client("qemu-io", "-f", "raw", "-c", "read -P 0x11 0 64k", controller.nbdUri("off"));
        assertTrue(offline.exitCode() != 0 || offline.output().toLowerCase().contains("error"),
            "a read of an offline volume must fail, got:\n" + offline.output());
        assertEquals(0, controller.afactl("volume", "online", "off").exitCode());
        assertOk(client("qemu-io", "-f", "raw", "-c", "read -P 0x11 0 64k", controller.nbdUri("off")), "read back");
    }

    @Test
    void aDeletedVolumeIsGoneAndItsNameCanBeReused() throws Exception
    {
        createVolume("gone", "8M");
        assertOk(client("qemu-io", "-f", "raw", "-c", "write -P 0x22 0 1M", controller.nbdUri("gone")), "write");
        assertEquals(0, controller.afactl("volume", "delete", "gone").exitCode());
        final ControllerProcess.ExternalResult info = client("nbdinfo", controller.nbdUri("gone"));
        assertTrue(info.exitCode() != 0, "nbdinfo of a deleted volume must fail:\n" + info.output());
        createVolume("gone", "8M");
        final ControllerProcess.ExternalResult map = client("nbdinfo", "--map", controller.nbdUri("gone"));
        assertOk(map, "nbdinfo --map");
        assertTrue(map.output().trim().split("\n").length == 1 && map.output().contains("hole"),
            "a new volume of a reused name starts empty:\n" + map.output());
    }

    /**
     * A volume deleted while a host holds a connection to it (served on the volume's thread, which stops): the
     * connection goes back to the network thread, its next request is answered ESHUTDOWN at once (no hang), and the
     * controller goes on serving another volume.
     */
    @Test
    void aVolumeDeletedUnderAnOpenConnectionAnswersItsNextRequestWithAnError() throws Exception
    {
        createVolume("doomed", "8M");
        createVolume("kept", "8M");
        final byte[] block = new byte[4096];
        java.util.Arrays.fill(block, (byte)0x5A);
        try (NbdClient doomed = NbdClient.connect("127.0.0.1", controller.nbdPort(), "doomed");
             NbdClient kept = NbdClient.connect("127.0.0.1", controller.nbdPort(), "kept"))
        {
            doomed.write(0, block, 0, block.length, 0);
            assertEquals(0, controller.afactl("volume", "delete", "doomed").exitCode());
            final NbdException refused =
                org.junit.jupiter.api.Assertions.assertThrows(NbdException.class, () -> doomed.write(0, block, 0, 4096, 0));
            assertEquals(HostRequest.ESHUTDOWN, refused.errno(), refused.getMessage());
            kept.write(4096, block, 0, block.length, NbdProtocol.CMD_FLAG_FUA);
            final byte[] back = new byte[4096];
            kept.read(4096, back, 0, back.length);
            org.junit.jupiter.api.Assertions.assertArrayEquals(block, back);
        }
    }

    static File workDir()
    {
        return dir.toFile();
    }
}
