package io.afasim.controller;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * {@code bin/compare-summary}, the end of {@code bin/afasim compare}: the medians over rounds of the tables
 * {@code fio-profiles/run.sh} printed, and the performance targets of issues 3 and 5 computed from them.
 */
class CompareSummaryTest
{
    private static final long RUN_TIMEOUT_MS = 30_000;
    private static final String HEADER =
        "profile            op       IOPS  MiB/s  clat_p50_us  clat_p99_us  clat_p99.9_us  errors\n";

    @TempDir
    Path dir;

    private record Run(int exitCode, String out, String err)
    {
    }

    @Test
    void printsMediansOverRoundsAndTheTargetsFromThem() throws Exception
    {
        // three rounds; the medians are the middle values whatever the order they came in
        table(1, "afasim-wb", 13_000, 56, 60_000, 110_000, "0");
        table(2, "afasim-wb", 14_000, 58, 50_000, 100_000, "0");
        table(3, "afasim-wb", 12_000, 60, 70_000, 120_000, "0");
        table(1, "afasim-1wb", 20_000, 30, 90_000, 110_000, "0");
        table(2, "afasim-1wb", 21_000, 31, 99_000, 110_000, "0");
        table(3, "afasim-1wb", 22_000, 32, 80_000, 110_000, "0");
        table(1, "afasim-wt", 1_800, 500, 30_000, 110_000, "0");
        table(1, "nbdkit-memory", 20_000, 34, 120_000, 100_000, "0");
        table(2, "nbdkit-memory", 20_000, 34, 100_000, 100_000, "0");
        table(3, "nbdkit-memory", 20_000, 34, 130_000, 100_000, "0");
        table(1, "qemu-nbd-cache-none", 8_000, 100, 25_000, 30_000, "0");
        Files.writeString(dir.resolve("rtt.txt"), "LinkRoundTrip mode=two-process pages=50000 parkNsMax=1000000: " +
            "4 KiB MirrorPage->ack round trip p50=20.0 us p99=90.0 us p99.9=400.0 us max=5000.0 us\n");

        final Run run = summary(dir.toString());
        assertEquals(0, run.exitCode(), run.err());
        final String out = run.out().replaceAll(" +", " "); // column widths aside
        assertTrue(run.out().startsWith("median of 3 rounds (min-max), IOPS; p50 latency in us at iodepth 1\n"),
            run.out());
        assertTrue(out.contains("afasim-wb 13000 (12000-14000) p50 58 60000 (50000-70000)"),
            run.out());
        assertTrue(out.contains("(5) WB randwrite qd32 / nbdkit memory 0.50x (goal >= 0.7x: missed)"),
            run.out());
        assertTrue(out.contains("(3) 1WB randwrite qd32 / nbdkit memory 0.75x (goal >= 0.8x: missed)"),
            run.out());
        assertTrue(out.contains("(3) WT randwrite qd32 / qemu-nbd --cache=none 1.20x (goal >= 1.0x: met)"),
            run.out());
        assertTrue(out.contains("(3) WB randread qd32 / nbdkit memory 1.10x (goal >= 1.0x: met)"),
            run.out());
        // 58 <= 31 + 1.5 x 20 = 61
        assertTrue(out.contains("58 us <= 31 + 1.5 x 20.0 = 61 us: met"), run.out());
    }

    @Test
    void rowsWithErrorsAreLeftOutAndCounted() throws Exception
    {
        table(1, "afasim-wb", 13_000, 56, 60_000, 110_000, "0");
        table(2, "afasim-wb", 13_000, 56, 1_000, 110_000, "3 I/O errors");
        table(1, "nbdkit-memory", 20_000, 34, 120_000, 100_000, "0");

        final Run run = summary(dir.toString());
        assertEquals(0, run.exitCode(), run.err());
        assertTrue(run.out().contains("60000 "), "the failed round's 1000 IOPS is not a median: " + run.out());
        assertTrue(run.out().contains("rows with errors, left out of the medians: 1"), run.out());
    }

    @Test
    void noResultsOrWrongUsageExitNonZeroWithOneLine() throws Exception
    {
        final Run empty = summary(dir.toString());
        assertEquals(1, empty.exitCode());
        assertEquals("compare-summary: no results in " + dir + "\n", empty.err());

        final Run missing = summary(dir.resolve("nope").toString());
        assertEquals(2, missing.exitCode());
        assertTrue(missing.err().startsWith("compare-summary: expected one directory\n"), missing.err());
    }

    /** One round's run.sh table of a target: qd1 and qd32 writes, qd32 reads. */
    private void table(
        final int round, final String target, final int qd1, final int qd1P50, final int qd32, final int read,
        final String qd32Errors) throws Exception
    {
        Files.writeString(dir.resolve(round + "-" + target + ".txt"), HEADER +
            String.format("randwrite-4k-qd1   write  %6d   40.0  %11d          100            200  0%n", qd1, qd1P50) +
            String.format("randwrite-4k-qd32  write  %6d  300.0          300         1000           2000  %s%n",
                qd32, qd32Errors) +
            String.format("randread-4k-qd32   read   %6d  400.0          250          400           1000  0%n", read));
    }

    private static Run summary(final String directory) throws Exception
    {
        assumeTrue(AfactlFioProfilesTest.onPath("python3"), "python3 is not installed: skipping the compare-summary test");
        final Path script = AfactlFioProfilesTest.projectRoot("bin/compare-summary").resolve("bin/compare-summary");
        final Process process = new ProcessBuilder(script.toString(), directory).start();
        if (!process.waitFor(RUN_TIMEOUT_MS, TimeUnit.MILLISECONDS))
        {
            process.destroyForcibly();
            fail("compare-summary did not finish within " + RUN_TIMEOUT_MS + " ms");
        }
        return new Run(process.exitValue(), new String(process.getInputStream().readAllBytes()),
            new String(process.getErrorStream().readAllBytes()));
    }
}
