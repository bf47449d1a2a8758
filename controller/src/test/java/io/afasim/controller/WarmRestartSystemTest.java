package io.afasim.controller;

import io.afasim.journal.Seeds;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.zip.CRC32C;

import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * T1 warm restart: SIGKILL a controller under a verifying write workload, start it again on the same
 * array, and check every block against a ledger of acknowledged writes: a block reads back its last
 * acknowledged version or a later one that was in flight at the kill, never an older one, never
 * garbage.
 */
class WarmRestartSystemTest
{
    static final int VOLUME_BLOCKS = 4096;
    static final int BLOCK = 4096;
    static final int IN_FLIGHT = 16;
    static final long ACKS_BEFORE_KILL = 3000;
    static final long DEADLINE_MS = 120_000;

    @TempDir
    Path dir;

    /**
     * {@code MODE[-destaging][-shared]}: the volume's write mode; with -destaging a 1wb volume destages (and
     * checkpoints) under the load until the kill; with -shared the controller's shared threading, where destage
     * commits sync the segment log on the segment writer's thread and a checkpoint can meet a batch waiting on it.
     */
    @ParameterizedTest(name = "{0}")
    @ValueSource(strings = {"wt", "1wb", "1wb-shared", "1wb-destaging-shared"})
    void everyAcknowledgedWriteSurvivesSigkillAndRestart(final String variant) throws Exception
    {
        final long seed = Seeds.seed("WarmRestartSystemTest-" + variant);
        final String mode = variant.split("-")[0];
        final boolean destaging = variant.contains("-destaging");
        // in 1wb, destage is held off until the kill (a test seam) so that the restart must recover acknowledged
        // writes from NVMe memory; the region holds every block of the volume, so nothing waits for room
        final boolean destagePaused = mode.equals("1wb") && !destaging;
        final ControllerContext ctx = ControllerProcess.testContext(dir.resolve("array-" + variant))
            .journalSizeBytes(2L << 20) // checkpoints under load, so recovery = image + replay
            .nvmeSizeBytes(96L << 20)
            .testDestagePaused(destagePaused)
            .threading(variant.endsWith("-shared") ? "shared" : "dedicated");
        try (ControllerProcess controller = new ControllerProcess(ctx).start())
        {
            assertEquals(0, controller.afactl("volume", "create", "t1", "--size", "16M", "--mode", mode).exitCode());
            final Ledger ledger = new Ledger();
            final AtomicLong acks = new AtomicLong();
            final AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            final Thread writer = startWriter(controller.nbdPort(), seed, ledger, acks, writerFailure);

            final long deadlineMs = System.currentTimeMillis() + DEADLINE_MS;
            while (acks.get() < ACKS_BEFORE_KILL && writer.isAlive())
            {
                assertTrue(System.currentTimeMillis() < deadlineMs,
                    "only " + acks.get() + " acks within " + DEADLINE_MS + " ms\n" + controller.logTail());
                writer.join(10);
            }
            // destaging: on until the journal has checkpointed twice under the load
            while (destaging && checkpoints(controller) < 2 && writer.isAlive())
            {
                assertTrue(System.currentTimeMillis() < deadlineMs,
                    "fewer than 2 checkpoints within " + DEADLINE_MS + " ms\n" + controller.logTail());
                writer.join(200);
            }
            assertTrue(writer.isAlive(), "the writer stopped before the kill: " + writerFailure.get());
            controller.kill();
            writer.join(DEADLINE_MS);
            assertTrue(writerFailure.get() instanceof IOException,
                "the writer must only see the connection drop, got: " + writerFailure.get());

            ctx.testDestagePaused(false); // the restarted controller destages what it recovers
            controller.start();
            if (destagePaused)
            {
                assertTrue(java.nio.file.Files.readString(controller.log()).contains("from NVMe memory"),
                    "a 1wb volume killed under load has acknowledged changes in NVMe memory to recover:\n" +
                    controller.logTail());
            }
            final int checked = verify(controller.nbdPort(), ledger, seed);
            assertEquals(VOLUME_BLOCKS, checked);
            System.out.println("[afasim] T1 (" + variant + "): " + acks.get() + " acknowledged writes before SIGKILL, " + ledger.sentCount +
                " sent; all " + checked + " blocks consistent with the ledger after restart");
        }
    }

    @org.junit.jupiter.api.Test
    void writeModeChangesUnderLoadPauseButNeverFailHostIo() throws Exception
    {
        final long seed = Seeds.seed("WarmRestartSystemTest-modeSwitch");
        try (ControllerProcess controller =
            new ControllerProcess(ControllerProcess.testContext(dir.resolve("array-switch"))).start())
        {
            assertEquals(0, controller.afactl("volume", "create", "t1", "--size", "16M", "--mode", "1wb").exitCode());
            final Ledger ledger = new Ledger();
            final AtomicLong acks = new AtomicLong();
            final AtomicReference<Throwable> writerFailure = new AtomicReference<>();
            final Thread writer = startWriter(controller.nbdPort(), seed, ledger, acks, writerFailure);
            final String[] modes = {"wt", "1wb", "wt", "1wb", "wt"};
            for (final String mode : modes)
            {
                final long before = acks.get();
                final long deadlineMs = System.currentTimeMillis() + DEADLINE_MS;
                while (acks.get() < before + 500)
                {
                    assertTrue(writer.isAlive(), "writer failed: " + writerFailure.get() + "\n" + controller.logTail());
                    assertTrue(System.currentTimeMillis() < deadlineMs, "writes stalled\n" + controller.logTail());
                    writer.join(5);
                }
                final ControllerProcess.AfactlResult result = controller.afactl("volume", "set-mode", "t1", mode);
                assertEquals(0, result.exitCode(), result.err() + "\n" + controller.logTail());
                assertTrue(controller.afactl("volume", "show", "t1").out().contains(mode));
            }
            assertTrue(writer.isAlive(), "writer failed: " + writerFailure.get());
            writer.interrupt();
            controller.kill(); // stop the writer's connection; the kill is also one more crash to recover from
            writer.join(DEADLINE_MS);
            assertTrue(writerFailure.get() instanceof IOException,
                "host I/O must never fail across mode changes, got: " + writerFailure.get());
            controller.start();
            assertEquals(VOLUME_BLOCKS, verify(controller.nbdPort(), ledger, seed));
            System.out.println("[afasim] mode switch: " + acks.get() + " acknowledged writes across " + modes.length +
                " write-mode changes, no host error, all blocks consistent");
        }
    }

    /** The journal's checkpoints so far ({@code afactl stats --json}). */
    private static long checkpoints(final ControllerProcess controller) throws Exception
    {
        final ControllerProcess.AfactlResult stats = controller.afactl("stats", "--json");
        assertEquals(0, stats.exitCode(), stats.err());
        final Matcher matcher =
            Pattern.compile("\"checkpoints\":\\s*\"?(\\d+)").matcher(stats.out());
        assertTrue(matcher.find(), "no checkpoint count in: " + stats.out());
        return Long.parseLong(matcher.group(1));
    }

    /** Per block: last acknowledged version and last sent version (versions grow per block). */
    static final class Ledger
    {
        final long[] acked = new long[VOLUME_BLOCKS];
        final long[] sent = new long[VOLUME_BLOCKS];
        final int[] cookieBlock = new int[1 << 16];
        final long[] cookieVersion = new long[1 << 16];
        long sentCount;
    }

    /** A thread writing pipelined, ledgered blocks until its connection fails (which it records). */
    private static Thread startWriter(
        final int port, final long seed, final Ledger ledger, final AtomicLong acks,
        final AtomicReference<Throwable> failure)
    {
        final Thread writer = new Thread(() ->
        {
            try
            {
                runWriter(port, seed, ledger, acks);
            }
            catch (final Throwable ex)
            {
                failure.set(ex);
            }
        }, "ledger-writer");
        writer.start();
        return writer;
    }

    private static void runWriter(final int port, final long seed, final Ledger ledger, final AtomicLong acks)
        throws IOException
    {
        final Random random = new Random(seed);
        final byte[] block = new byte[BLOCK];
        try (NbdClient client = NbdClient.connect("127.0.0.1", port, "t1",
            new NbdClient.Options().inFlightMax(IN_FLIGHT)))
        {
            client.listener((cookie, command, offsetBytes, lengthBytes, errno) ->
            {
                if (errno != 0)
                {
                    throw new IllegalStateException("write at " + offsetBytes + " failed: errno " + errno);
                }
                final int slot = (int)(cookie & 0xFFFF);
                final int lba = ledger.cookieBlock[slot];
                ledger.acked[lba] = Math.max(ledger.acked[lba], ledger.cookieVersion[slot]);
                acks.incrementAndGet();
            });
            while (true)
            {
                final int lba = random.nextInt(VOLUME_BLOCKS);
                final long version = ++ledger.sent[lba];
                fill(block, lba, version, seed);
                final long cookie = client.submitWrite((long)lba * BLOCK, block, 0, BLOCK, 0);
                ledger.cookieBlock[(int)(cookie & 0xFFFF)] = lba;
                ledger.cookieVersion[(int)(cookie & 0xFFFF)] = version;
                ledger.sentCount++;
            }
        }
    }

    private static int verify(final int port, final Ledger ledger, final long seed) throws IOException
    {
        final byte[] block = new byte[BLOCK];
        final byte[] expected = new byte[BLOCK];
        int checked = 0;
        try (NbdClient client = NbdClient.connect("127.0.0.1", port, "t1"))
        {
            for (int lba = 0; lba < VOLUME_BLOCKS; lba++)
            {
                client.read((long)lba * BLOCK, block, 0, BLOCK);
                final ByteBuffer header = ByteBuffer.wrap(block);
                final long version = header.getLong(8);
                if (version == 0 && isZero(block))
                {
                    assertEquals(0, ledger.acked[lba], "lba " + lba + " lost acknowledged version " + ledger.acked[lba] +
                        " (reads as never written; seed " + seed + ")");
                }
                else
                {
                    assertEquals(lba, header.getLong(0), "lba " + lba + " holds another block's data (seed " + seed + ")");
                    assertTrue(version >= ledger.acked[lba] && version <= ledger.sent[lba],
                        "lba " + lba + " reads version " + version + ", acknowledged " + ledger.acked[lba] +
                        ", sent up to " + ledger.sent[lba] + " (seed " + seed + ")");
                    fill(expected, lba, version, seed);
                    assertTrue(java.util.Arrays.equals(expected, block),
                        "lba " + lba + " version " + version + " content is damaged (seed " + seed + ")");
                }
                checked++;
            }
        }
        return checked;
    }

    /** lba (8) | version (8) | pseudo-random body derived from both | crc32c (last 4). */
    static void fill(final byte[] block, final int lba, final long version, final long seed)
    {
        final ByteBuffer buffer = ByteBuffer.wrap(block);
        buffer.putLong(0, lba);
        buffer.putLong(8, version);
        long x = seed ^ (lba * 0x9E3779B97F4A7C15L) ^ (version * 0xC2B2AE3D27D4EB4FL);
        for (int i = 16; i < BLOCK - 8; i += 8)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            buffer.putLong(i, x);
        }
        final CRC32C crc = new CRC32C();
        crc.update(block, 0, BLOCK - 4);
        buffer.putInt(BLOCK - 4, (int)crc.getValue());
    }

    static boolean isZero(final byte[] block)
    {
        for (final byte b : block)
        {
            if (b != 0)
            {
                return false;
            }
        }
        return true;
    }
}
