package io.afasim.controller;

import io.afasim.journal.Seeds;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Reads see the latest completed write, trim or zeroing, whichever cache holds the block (NVMe write
 * cache, DRAM read cache) or the pool, across destage and write-mode changes: rounds of pipelined
 * mutations against a real controller, then reads checked against a model. Few distinct contents,
 * so blocks also dedup.
 */
class CoherenceSystemTest
{
    static final int BLOCKS = 2048;
    static final int BLOCK = 4096;
    static final int ROUNDS = 24;
    static final int MUTATIONS_PER_ROUND = 400;
    static final int READS_PER_ROUND = 400;

    @TempDir
    Path dir;

    @ParameterizedTest(name = "starting in {0}")
    @ValueSource(strings = {"1wb", "wt"})
    void readsReturnTheLatestCompletedChange(final String mode) throws Exception
    {
        final long seed = Seeds.seed("CoherenceSystemTest-" + mode);
        final Random random = new Random(seed);
        final int[] model = new int[BLOCKS]; // content id per block, 0 = zeroes
        // a small journal: checkpoints (every volume agent paused between requests) happen during the rounds
        try (ControllerProcess controller = new ControllerProcess(
            ControllerProcess.testContext(dir.resolve("array")).journalSizeBytes(2L << 20)).start())
        {
            assertEquals(0, controller.afactl("volume", "create", "c", "--size", "8M", "--mode", mode).exitCode());
            try (NbdClient client = NbdClient.connect("127.0.0.1", controller.nbdPort(), "c",
                new NbdClient.Options().inFlightMax(32)))
            {
                client.listener((cookie, command, offsetBytes, lengthBytes, errno) -> assertEquals(0, errno,
                    HostRequest.commandName(command) + " at " + offsetBytes + " failed (seed " + seed + ")"));
                final byte[] block = new byte[BLOCK];
                final byte[][] reads = new byte[READS_PER_ROUND][BLOCK];
                final int[] readLbas = new int[READS_PER_ROUND];
                for (int round = 0; round < ROUNDS; round++)
                {
                    if (round == ROUNDS / 3 || round == 2 * ROUNDS / 3)
                    {
                        final String next = controller.afactl("volume", "show", "c").out().contains("1wb") ? "wt" : "1wb";
                        assertEquals(0, controller.afactl("volume", "set-mode", "c", next).exitCode());
                    }
                    for (int i = 0; i < MUTATIONS_PER_ROUND; i++)
                    {
                        final int lba = random.nextInt(BLOCKS);
                        final int kind = random.nextInt(20);
                        if (kind == 0)
                        {
                            final int count = 1 + random.nextInt(Math.min(64, BLOCKS - lba));
                            client.submitTrim((long)lba * BLOCK, (long)count * BLOCK, 0);
                            Arrays.fill(model, lba, lba + count, 0);
                        }
                        else if (kind == 1)
                        {
                            final int count = 1 + random.nextInt(Math.min(16, BLOCKS - lba));
                            client.submitWriteZeroes((long)lba * BLOCK, (long)count * BLOCK, 0);
                            Arrays.fill(model, lba, lba + count, 0);
                        }
                        else
                        {
                            final int content = 1 + random.nextInt(kind < 10 ? 8 : 100_000);
                            fill(block, content);
                            client.submitWrite((long)lba * BLOCK, block, 0, BLOCK, 0);
                            model[lba] = content;
                        }
                    }
                    client.awaitAll();
                    for (int i = 0; i < READS_PER_ROUND; i++)
                    {
                        readLbas[i] = random.nextInt(BLOCKS);
                        client.submitRead((long)readLbas[i] * BLOCK, reads[i], 0, BLOCK, 0);
                    }
                    client.awaitAll();
                    for (int i = 0; i < READS_PER_ROUND; i++)
                    {
                        fill(block, model[readLbas[i]]);
                        assertArrayEquals(block, reads[i], "round " + round + " lba " + readLbas[i] + " expected content " +
                            model[readLbas[i]] + " (seed " + seed + ")");
                    }
                }
            }
            final ControllerProcess.AfactlResult status = controller.afactl("--json", "status");
            final java.util.regex.Matcher checkpoints =
                java.util.regex.Pattern.compile("\"checkpoints\":(\\d+)").matcher(status.out());
            org.junit.jupiter.api.Assertions.assertTrue(checkpoints.find() && Long.parseLong(checkpoints.group(1)) > 0,
                "the journal must have checkpointed under load: " + status.out());
        }
    }

    static void fill(final byte[] block, final int content)
    {
        if (content == 0)
        {
            Arrays.fill(block, (byte)0);
            return;
        }
        final ByteBuffer buffer = ByteBuffer.wrap(block);
        long x = 0x9E3779B97F4A7C15L * content;
        for (int i = 0; i < BLOCK; i += 8)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            buffer.putLong(i, x);
        }
    }
}
