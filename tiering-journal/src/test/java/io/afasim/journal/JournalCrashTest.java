package io.afasim.journal;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Kills a writer process with SIGKILL while it commits, then checks that every record it reported durable
 * replays intact, that whatever follows is a correct prefix, and that a second process continues the log.
 */
class JournalCrashTest
{
    static final int COMMITS_BEFORE_KILL = 200;
    static final long CHILD_SECONDS_MAX = 120;
    static final long WAIT_NS_MAX = 90_000_000_000L;
    static final String END_OF_STREAM = "<eof>";

    @TempDir
    Path dir;

    @Test
    void recordsReportedDurableSurviveSigkill() throws Exception
    {
        final long seed = Seeds.seed("recordsReportedDurableSurviveSigkill");
        final Path shelfDir = dir.resolve("shelf");
        long totalRecords = 0;
        for (int round = 0; round < 3; round++)
        {
            final long lastDurable = runAndKill(shelfDir, seed + round, round);
            totalRecords = verify(shelfDir, lastDurable);
        }
        System.out.println("[afasim] crash test: " + totalRecords + " records after 3 kills");
    }

    private long runAndKill(final Path shelfDir, final long seed, final int round) throws Exception
    {
        final Path stderr = dir.resolve("child-" + round + ".err");
        final String java = ProcessHandle.current().info().command().orElse("java");
        final List<String> command = new ArrayList<>(List.of(java,
            "--add-opens", "java.base/jdk.internal.misc=ALL-UNNAMED",
            "--add-opens", "java.base/java.util.zip=ALL-UNNAMED",
            "-Xmx256m", "-XX:+UseSerialGC", "-ea",
            "-cp", System.getProperty("java.class.path"),
            JournalWriterProcess.class.getName(), shelfDir.toString(), Long.toString(seed),
            Long.toString(CHILD_SECONDS_MAX)));
        final Process process = new ProcessBuilder(command).redirectError(stderr.toFile()).start();
        final BlockingQueue<String> lines = new LinkedBlockingQueue<>();
        final Thread pump = new Thread(() -> pumpLines(process, lines), "child-stdout");
        pump.setDaemon(true);
        pump.start();

        long lastDurable = -1;
        int commits = 0;
        try
        {
            final long deadlineNs = System.nanoTime() + WAIT_NS_MAX;
            while (commits < COMMITS_BEFORE_KILL)
            {
                final long remainingNs = deadlineNs - System.nanoTime();
                final String line = remainingNs > 0 ? lines.poll(remainingNs, TimeUnit.NANOSECONDS) : null;
                if (line == null || line.equals(END_OF_STREAM))
                {
                    fail("round " + round + ": child " + (line == null ? "too slow" : "ended") + " after " + commits +
                        " commits; stderr:\n" + Files.readString(stderr));
                }
                if (line.startsWith("durable "))
                {
                    final long durable = Long.parseLong(line.substring("durable ".length()));
                    assertTrue(durable > lastDurable, "durable lsn grows: " + line);
                    lastDurable = durable;
                    commits++;
                }
            }
        }
        finally
        {
            process.destroyForcibly();
            if (!process.waitFor(30, TimeUnit.SECONDS))
            {
                fail("child did not exit after SIGKILL");
            }
        }
        pump.join(TimeUnit.SECONDS.toMillis(30));
        for (String line; (line = lines.poll()) != null; )
        {
            if (line.startsWith("durable "))
            {
                lastDurable = Math.max(lastDurable, Long.parseLong(line.substring("durable ".length())));
            }
        }
        assertEquals(137, process.exitValue(), "killed by SIGKILL; stderr:\n" + Files.readString(stderr));
        return lastDurable;
    }

    private static void pumpLines(final Process process, final BlockingQueue<String> lines)
    {
        try (BufferedReader reader = new BufferedReader(
            new InputStreamReader(process.getInputStream(), StandardCharsets.US_ASCII)))
        {
            for (String line; (line = reader.readLine()) != null; )
            {
                lines.add(line);
            }
        }
        catch (final IOException ignored)
        {
            // the child was killed mid-line
        }
        lines.add(END_OF_STREAM);
    }

    private static long verify(final Path shelfDir, final long lastDurable)
    {
        try (Shelf shelf = Shelf.open(shelfDir))
        {
            final MetadataJournal journal = MetadataJournal.open(shelf, new ExtentAllocator(shelf.layout().segmentCount()),
                new JournalContext());
            final long[] expectedLsn = { journal.checkpointLsn() + 1 };
            final ReplayResult result = journal.replay((lsn, type, payload, offset, length) ->
            {
                assertEquals(expectedLsn[0], lsn, "consecutive lsn");
                final String problem = JournalWriterProcess.check(lsn, type, payload, offset, length);
                if (problem != null)
                {
                    fail(problem);
                }
                expectedLsn[0]++;
            });
            assertTrue(result.lastLsn() >= lastDurable, "every record reported durable replays: last durable " +
                lastDurable + ", " + result);
            System.out.println("[afasim] after kill: last durable " + lastDurable + ", checkpoint lsn " +
                journal.checkpointLsn() + ", " + result);
            return result.lastLsn();
        }
    }
}
