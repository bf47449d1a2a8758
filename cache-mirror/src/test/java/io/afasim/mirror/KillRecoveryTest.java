package io.afasim.mirror;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * T1 with a real SIGKILL: a child JVM writes pages into a region under /dev/shm and is killed with SIGKILL
 * in the middle of its writes; the parent reopens the region, scans and adopts it, and every acknowledged
 * write or TRIM (the newest per LBA) reads back (content, or zeroes), unless the child reported it durable
 * on the shelf (destaged) before the kill.
 *
 * <p>The parent's notion of "acknowledged" and "durable" is exactly the lines the child wrote before it
 * died, so every one of them must be read: the child runs ahead of the parent by up to a pipe's worth of
 * lines, and the kill is sent with {@link ProcessHandle#destroyForcibly()}, which only signals, never with
 * {@link Process#destroyForcibly()}, which on Linux also closes the parent's end of the child's stdout and
 * so throws away what is still in the pipe (destage reports included, after which the child freed those
 * slots: the check then wrongly expected them cached). The reader takes newline-terminated lines up to EOF
 * and fails the test on a read error; the scan may hold at most one change (the one being written at the
 * kill) above the newest the child reported.
 */
class KillRecoveryTest
{
    private static final int ACKS_BEFORE_KILL = 4_000;
    private static final long WAIT_MS_MAX = 60_000;
    private static final int KILL_ROUNDS = 2;
    private static final int LINE_LENGTH_MAX = 256;
    private static final String END_OF_OUTPUT = "EOF";
    private static final String READ_ERROR = "read error: ";

    private Path dir;

    @AfterEach
    void deleteRegion()
    {
        TestSupport.deleteRecursively(dir);
    }

    @Test
    void everyAcknowledgedWriteSurvivesSigkill() throws Exception
    {
        final long seed = TestSupport.seed("KillRecoveryTest");
        dir = TestSupport.shmDirectory();
        final CacheContext ctx = new CacheContext()
            .regionPath(dir.resolve("nvme"))
            .regionSizeBytes(2L << 20)
            .recordCount(64)
            .arrayId(UUID.randomUUID())
            .nodeId(1)
            .volumeCountMax(KillChildMain.VOLUMES)
            .volumeRecordsMax(8)
            .volumeDirtyPercentMax(30)
            .conclude();
        NvmeRegion.create(ctx).close();

        final Reports reports = new Reports();
        for (int round = 0; round < KILL_ROUNDS; round++)
        {
            runAndKill(ctx, seed + round, reports, dir.resolve("child-" + round + ".stderr"));
            verify(ctx, reports);
        }
    }

    /** What the children reported, over all rounds. */
    private static final class Reports
    {
        /** (volume, lba) -> newest acknowledged change: {@code sequence << 1 | trimmed}. */
        final Map<Long, Long> acked = new HashMap<>();
        /** (volume, lba) -> newest change reported durable on the shelf: {@code sequence << 1 | trimmed}. */
        final Map<Long, Long> durable = new HashMap<>();
        /** Highest sequence acknowledged (write or TRIM). */
        long ackedSequenceMax;
    }

    private static void runAndKill(final CacheContext ctx, final long seed, final Reports reports, final Path stderr)
        throws Exception
    {
        final List<String> command = new ArrayList<>();
        command.add(ProcessHandle.current().info().command().orElse("java"));
        command.add("--add-opens");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("--add-opens");
        command.add("java.base/java.util.zip=ALL-UNNAMED");
        command.add("-Xmx128m");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.addAll(List.of(ctx.toSystemPropertyArguments()));
        command.add(KillChildMain.class.getName());
        command.add(Long.toString(seed));
        final Process child = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        final LinkedBlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final Thread reader = new Thread(() -> readLines(child, lines), "child-stdout");
        reader.setDaemon(true);
        reader.start();
        try
        {
            int ackCount = 0;
            final long deadlineMs = System.currentTimeMillis() + WAIT_MS_MAX;
            while (ackCount < ACKS_BEFORE_KILL)
            {
                final String line = lines.poll(Math.max(1, deadlineMs - System.currentTimeMillis()), TimeUnit.MILLISECONDS);
                if (line == null)
                {
                    fail("child gave " + ackCount + " acks within " + WAIT_MS_MAX + " ms (alive=" + child.isAlive() + ")");
                }
                if (line.equals(END_OF_OUTPUT) || line.equals("done") || line.startsWith(READ_ERROR))
                {
                    fail("child output ended before the kill: " + line);
                }
                ackCount += apply(line, reports);
            }
            // Not child.destroyForcibly(): that also closes our end of the child's stdout (lines lost).
            assertTrue(child.toHandle().destroyForcibly(), "kill not sent");
            assertTrue(child.waitFor(WAIT_MS_MAX, TimeUnit.MILLISECONDS), "child did not die");
            reader.join(WAIT_MS_MAX);
            assertFalse(reader.isAlive(), "child stdout not at EOF " + WAIT_MS_MAX + " ms after the kill");
            String line;
            int ackCountAfterKill = 0;
            while (!(line = lines.remove()).equals(END_OF_OUTPUT))
            {
                assertFalse(line.startsWith(READ_ERROR), "child stdout: " + line);
                ackCountAfterKill += apply(line, reports); // written before the kill, read after it
            }
            System.out.println("[afasim] killed child (exit " + child.exitValue() + ") after " + ackCount + " + " +
                ackCountAfterKill + " acks");
        }
        catch (final Throwable ex)
        {
            child.toHandle().destroyForcibly();
            System.err.println("[afasim] child stderr:\n" + Files.readString(stderr));
            throw ex;
        }
    }

    /**
     * Queues every newline-terminated line of the child's stdout, then {@link #END_OF_OUTPUT}; a last line
     * without its newline was cut by the kill and is not a report. A read error is queued as
     * {@link #READ_ERROR} (lines may be lost: the test fails).
     */
    private static void readLines(final Process child, final LinkedBlockingQueue<String> lines)
    {
        final StringBuilder line = new StringBuilder(LINE_LENGTH_MAX);
        final byte[] chunk = new byte[8192];
        try (InputStream in = child.getInputStream())
        {
            int length;
            while ((length = in.read(chunk)) != -1)
            {
                for (int i = 0; i < length; i++)
                {
                    if (chunk[i] == '\n')
                    {
                        lines.add(line.toString());
                        line.setLength(0);
                    }
                    else if (line.length() < LINE_LENGTH_MAX)
                    {
                        line.append((char)chunk[i]);
                    }
                }
            }
            lines.add(END_OF_OUTPUT);
        }
        catch (final IOException ex)
        {
            lines.add(READ_ERROR + ex);
        }
    }

    /**
     * Folds one child line into the reports: the newest change of each block, acknowledged or durable, as
     * {@code sequence << 1 | trimmed}. Returns 1 for an acknowledgement.
     */
    private static int apply(final String line, final Reports reports)
    {
        final String[] words = line.split(" ");
        final boolean trim = words[0].equals("trim") || words[0].equals("durable-trim");
        final boolean isDurable = words[0].startsWith("durable");
        if (!(trim || isDurable || words[0].equals("acked")))
        {
            return 0; // "ready <generation>"
        }
        assertEquals(trim ? 5 : 4, words.length, "child line: " + line);
        final int volumeId = Integer.parseInt(words[1]);
        final long lba = Long.parseLong(words[2]);
        final int count = trim ? Integer.parseInt(words[3]) : 1;
        final long sequence = Long.parseLong(words[words.length - 1]);
        final long change = sequence << 1 | (trim ? 1 : 0);
        final Map<Long, Long> target = isDurable ? reports.durable : reports.acked;
        for (long block = lba; block < lba + count; block++)
        {
            target.merge(key(volumeId, block), change, Math::max);
        }
        if (isDurable)
        {
            return 0;
        }
        reports.ackedSequenceMax = Math.max(reports.ackedSequenceMax, sequence);
        return 1;
    }

    private static String describe(final Long change)
    {
        return change == null || change == 0 ? "-" : ((change & 1) == 1 ? "trim@" : "page@") + (change >> 1);
    }

    private static long key(final int volumeId, final long lba)
    {
        return (long)volumeId << 32 | lba;
    }

    /** Reopen, scan, adopt, read back every acknowledged LBA; then leave the region as the child will find it. */
    private static void verify(final CacheContext ctx, final Reports reports)
    {
        final Map<Long, Long> acked = reports.acked;
        final Map<Long, Long> durable = reports.durable;
        final NvmeRegion region = NvmeRegion.open(ctx);
        final NvmeScan scan = NvmeRecovery.scan(region);
        System.out.println("[afasim] after kill: " + scan);
        assertTrue(scan.ignoredCount() <= 1, "at most the one entry being written at the kill is torn: " + scan);
        // The child reports each change right after writing it: only the one being written at the kill is
        // on NVMe unreported. More means the parent lost lines and its notion of durable is stale.
        assertTrue(scan.maxSequence() <= reports.ackedSequenceMax + 1, "the children acknowledged up to sequence " +
            reports.ackedSequenceMax + " but the region holds " + scan.maxSequence() + " (child output lost?)");
        try (NvmeCache nvme = new NvmeCache(ctx, region, scan))
        {
            final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
            final UnsafeBuffer scratch = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
            for (int v = 0; v < KillChildMain.VOLUMES; v++)
            {
                final RecoveredVolume volume = scan.volume(v);
                final Map<Long, Long> recovered = new HashMap<>(); // lba -> sequence << 1 | trimmed
                for (final RecoveredChange change : volume.changes())
                {
                    for (long lba = change.lba(); lba < change.lba() + change.blockCount(); lba++)
                    {
                        recovered.merge(lba, change.sequence() << 1 | (change.isPage() ? 0 : 1), Math::max);
                    }
                }
                final WriteCache cache = nvme.newWriteCache(v);
                cache.adopt(volume);
                for (long lba = 0; lba < KillChildMain.LBAS + 8; lba++)
                {
                    final Long ackedChange = acked.get(key(v, lba));
                    if (ackedChange == null)
                    {
                        continue;
                    }
                    final long durableChange = durable.getOrDefault(key(v, lba), 0L);
                    final Long cachedChange = recovered.get(lba);
                    final String where = "volume " + v + " lba " + lba + " acknowledged " + describe(ackedChange) +
                        " durable " + describe(durableChange) + " cached " + describe(cachedChange);
                    final int status = cache.read(lba, block, 0);
                    if (cachedChange != null && cachedChange >= durableChange)
                    {
                        assertEquals(CacheStatus.HIT, status, where);
                        assertTrue(cachedChange >= ackedChange, where);
                        assertTrue((cachedChange & 1) == 1 ? TestSupport.isZero(block, 0) :
                            TestSupport.matches(block, 0, v, lba, cachedChange >> 1, scratch), where);
                    }
                    else
                    {
                        assertEquals(CacheStatus.MISS, status, where);
                        assertTrue(durableChange >= ackedChange, where);
                    }
                }
                assertNotNull(cache); // closing without destage: the next child adopts these changes again
            }
        }
    }
}
