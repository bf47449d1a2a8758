package io.afasim.controller;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.SplittableRandom;

import org.HdrHistogram.Histogram;

/**
 * The project's own load generator for {@code bin/afasim demo}: a verified, mixed 4 KiB workload over
 * one NBD connection with requests in flight. Writes carry (LBA, version) and a pattern; half of them
 * reuse a small set of contents so the volume dedups. Every read of a block this run wrote is checked
 * against the last version acknowledged (or one in flight); a mismatch ends the run with exit 1.
 *
 * <pre>java io.afasim.controller.DemoLoad HOST PORT EXPORT SECONDS [READ_PERCENT] [IN_FLIGHT]</pre>
 */
public final class DemoLoad
{
    static final int BLOCK = 4096;
    static final int SHARED_CONTENTS = 64;

    private DemoLoad()
    {
    }

    public static void main(final String[] args) throws IOException
    {
        if (args.length < 4)
        {
            System.err.println("usage: DemoLoad HOST PORT EXPORT SECONDS [READ_PERCENT] [IN_FLIGHT]");
            System.exit(2);
        }
        final String host = args[0];
        final int port = Integer.parseInt(args[1]);
        final String export = args[2];
        final long seconds = Long.parseLong(args[3]);
        final int readPercent = args.length > 4 ? Integer.parseInt(args[4]) : 30;
        final int inFlight = args.length > 5 ? Integer.parseInt(args[5]) : 16;
        final long seed = System.nanoTime();
        final SplittableRandom random = new SplittableRandom(seed);

        try (NbdClient client = NbdClient.connect(host, port, export, new NbdClient.Options().inFlightMax(inFlight)))
        {
            final int blocks = (int)Math.min(client.sizeBytes() / BLOCK, 1 << 20);
            final long[] acked = new long[blocks];
            final long[] sent = new long[blocks];
            final int slots = 1 << 16;
            final int[] slotBlock = new int[slots];
            final long[] slotVersion = new long[slots];
            final long[] slotStartNs = new long[slots];
            final boolean[] slotIsRead = new boolean[slots];
            final byte[][] readBuffers = new byte[slots][];
            final Histogram writeLatency = new Histogram(60_000_000_000L, 3);
            final Histogram readLatency = new Histogram(60_000_000_000L, 3);
            final long[] counts = new long[4]; // writes, reads, verified reads, errors
            final byte[] expected = new byte[BLOCK];

            client.listener((cookie, command, offsetBytes, lengthBytes, errno) ->
            {
                final int slot = (int)(cookie & 0xFFFF);
                final long latencyNs = System.nanoTime() - slotStartNs[slot];
                final int lba = slotBlock[slot];
                if (errno != 0)
                {
                    counts[3]++;
                    return;
                }
                if (slotIsRead[slot])
                {
                    readLatency.recordValue(latencyNs);
                    counts[1]++;
                    final byte[] block = readBuffers[slot];
                    final long version = ByteBuffer.wrap(block).getLong(8);
                    if (acked[lba] == 0 && sent[lba] == 0)
                    {
                        return; // not written by this run
                    }
                    fill(expected, lba, version);
                    if (version < acked[lba] || version > sent[lba] || !Arrays.equals(expected, block))
                    {
                        throw new IllegalStateException("VERIFY FAILED: lba " + lba + " read version " + version +
                            ", acknowledged " + acked[lba] + ", sent " + sent[lba] + " (seed " + seed + ")");
                    }
                    counts[2]++;
                }
                else
                {
                    writeLatency.recordValue(latencyNs);
                    counts[0]++;
                    acked[lba] = Math.max(acked[lba], slotVersion[slot]);
                }
            });

            final byte[] block = new byte[BLOCK];
            final long endNs = System.nanoTime() + seconds * 1_000_000_000L;
            final long startNs = System.nanoTime();
            while (System.nanoTime() - endNs < 0)
            {
                final int lba = random.nextInt(blocks);
                final boolean read = random.nextInt(100) < readPercent && sent[lba] > 0;
                final long cookie;
                final long nowNs = System.nanoTime();
                if (read)
                {
                    final byte[] destination = new byte[BLOCK];
                    cookie = client.submitRead((long)lba * BLOCK, destination, 0, BLOCK, 0);
                    readBuffers[(int)(cookie & 0xFFFF)] = destination;
                }
                else
                {
                    // half the writes reuse one of a few contents of another "address": dedup material
                    final long version = ++sent[lba];
                    fill(block, lba, version);
                    cookie = client.submitWrite((long)lba * BLOCK, block, 0, BLOCK, 0);
                    slotVersion[(int)(cookie & 0xFFFF)] = version;
                }
                final int slot = (int)(cookie & 0xFFFF);
                slotBlock[slot] = lba;
                slotIsRead[slot] = read;
                slotStartNs[slot] = nowNs;
            }
            client.awaitAll();
            client.flush();
            final double elapsedS = (System.nanoTime() - startNs) / 1e9;
            System.out.printf("[afasim] own NBD client, %d s, %d%% reads, %d in flight, seed %d%n",
                seconds, readPercent, inFlight, seed);
            System.out.printf("  writes %,9d  %,8.0f IOPS  latency p50 %6.0f us  p99 %7.0f us  p99.9 %7.0f us%n",
                counts[0], counts[0] / elapsedS, writeLatency.getValueAtPercentile(50) / 1e3,
                writeLatency.getValueAtPercentile(99) / 1e3, writeLatency.getValueAtPercentile(99.9) / 1e3);
            System.out.printf("  reads  %,9d  %,8.0f IOPS  latency p50 %6.0f us  p99 %7.0f us  p99.9 %7.0f us%n",
                counts[1], counts[1] / elapsedS, readLatency.getValueAtPercentile(50) / 1e3,
                readLatency.getValueAtPercentile(99) / 1e3, readLatency.getValueAtPercentile(99.9) / 1e3);
            System.out.printf("  verified %,d reads against acknowledged writes; errors %d%n", counts[2], counts[3]);
            if (counts[3] > 0)
            {
                System.exit(1);
            }
        }
    }

    /**
     * Content of version {@code version} of block {@code lba}: odd versions are unique to the block,
     * even versions one of {@link #SHARED_CONTENTS} shared patterns (dedup), both stamped with LBA and
     * version so a read can be checked.
     */
    static void fill(final byte[] block, final int lba, final long version)
    {
        final ByteBuffer buffer = ByteBuffer.wrap(block);
        final long pattern = (version & 1) == 0 ? (version / 2) % SHARED_CONTENTS : ((long)lba << 32) ^ version;
        long x = 0x9E3779B97F4A7C15L * (pattern + 1);
        for (int i = 0; i < BLOCK; i += 8)
        {
            x ^= x << 13;
            x ^= x >>> 7;
            x ^= x << 17;
            buffer.putLong(i, x);
        }
        if ((version & 1) == 1)
        {
            buffer.putLong(0, lba);
            buffer.putLong(8, version);
        }
        else
        {
            buffer.putLong(0, -1);
            buffer.putLong(8, version);
        }
    }
}
