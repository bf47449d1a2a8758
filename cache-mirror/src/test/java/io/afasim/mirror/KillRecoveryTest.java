package io.afasim.mirror;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
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
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * T1 with a real SIGKILL: a child JVM writes pages into a region under /dev/shm and is killed with
 * {@code destroyForcibly()} in the middle of its writes; the parent reopens the region, scans and adopts
 * it, and every acknowledged write or TRIM (the newest per LBA) reads back (content, or zeroes), unless the
 * child reported it durable on the shelf (destaged) before the kill.
 */
class KillRecoveryTest
{
    private static final int ACKS_BEFORE_KILL = 4_000;
    private static final long WAIT_MS_MAX = 60_000;
    private static final int KILL_ROUNDS = 2;

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

        // (volume, lba) -> newest acknowledged / durable change: sequence << 1 | trimmed
        final Map<Long, Long> acked = new HashMap<>();
        final Map<Long, Long> durable = new HashMap<>();
        for (int round = 0; round < KILL_ROUNDS; round++)
        {
            runAndKill(ctx, seed + round, acked, durable, dir.resolve("child-" + round + ".stderr"));
            verify(ctx, acked, durable);
        }
    }

    private static void runAndKill(
        final CacheContext ctx, final long seed, final Map<Long, Long> acked, final Map<Long, Long> durable,
        final Path stderr) throws Exception
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
                if (line.equals("EOF") || line.equals("done"))
                {
                    fail("child ended before the kill: " + line);
                }
                ackCount += apply(line, acked, durable);
            }
            child.destroyForcibly();
            assertTrue(child.waitFor(WAIT_MS_MAX, TimeUnit.MILLISECONDS), "child did not die");
            reader.join(WAIT_MS_MAX);
            String line;
            while ((line = lines.poll()) != null)
            {
                apply(line, acked, durable); // acknowledged before the kill, read after it
            }
            System.out.println("[afasim] killed child (exit " + child.exitValue() + ") after " + ackCount + "+ acks");
        }
        catch (final Throwable ex)
        {
            child.destroyForcibly();
            System.err.println("[afasim] child stderr:\n" + Files.readString(stderr));
            throw ex;
        }
    }

    private static void readLines(final Process child, final LinkedBlockingQueue<String> lines)
    {
        try (BufferedReader in = new BufferedReader(
            new InputStreamReader(child.getInputStream(), StandardCharsets.US_ASCII)))
        {
            String line;
            while ((line = in.readLine()) != null)
            {
                lines.add(line);
            }
        }
        catch (final IOException ignore)
        {
            // the child was killed mid-line: the partial line is not an acknowledgement
        }
        lines.add("EOF");
    }

    /**
     * Folds one child line into the maps (volume, lba) -> {@code sequence << 1 | trimmed}: the newest change of
     * each block, acknowledged or durable. Returns 1 for an acknowledgement.
     */
    private static int apply(final String line, final Map<Long, Long> acked, final Map<Long, Long> durable)
    {
        final String[] words = line.split(" ");
        final boolean trim = words[0].equals("trim") || words[0].equals("durable-trim");
        if (words.length != (trim ? 5 : 4))
        {
            return 0; // "ready", "EOF", or a line cut by the kill
        }
        final int volumeId = Integer.parseInt(words[1]);
        final long lba = Long.parseLong(words[2]);
        final int count = trim ? Integer.parseInt(words[3]) : 1;
        final long change = Long.parseLong(words[words.length - 1]) << 1 | (trim ? 1 : 0);
        final Map<Long, Long> target = words[0].startsWith("durable") ? durable : acked;
        for (long block = lba; block < lba + count; block++)
        {
            target.merge(key(volumeId, block), change, Math::max);
        }
        return target == acked ? 1 : 0;
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
    private static void verify(final CacheContext ctx, final Map<Long, Long> acked, final Map<Long, Long> durable)
    {
        final NvmeRegion region = NvmeRegion.open(ctx);
        final NvmeScan scan = NvmeRecovery.scan(region);
        System.out.println("[afasim] after kill: " + scan);
        assertTrue(scan.ignoredCount() <= 1, "at most the one entry being written at the kill is torn: " + scan);
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
