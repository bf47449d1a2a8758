package io.afasim.journal;

import java.util.SplittableRandom;

import org.agrona.MutableDirectBuffer;

/**
 * Seeds for the randomized segment tests: {@code -Dafasim.seed=N} replays a run (Maven passes an empty string
 * when the property is unset, so blank means "pick one"). Every test prints the seed it used.
 */
final class SegmentSeeds
{
    static final String SEED_PROP_NAME = "afasim.seed";

    private SegmentSeeds()
    {
    }

    static long seed(final String testName)
    {
        final String value = System.getProperty(SEED_PROP_NAME, "").trim();
        final long seed = value.isEmpty() ? System.nanoTime() ^ Double.doubleToLongBits(Math.random()) :
            Long.parseLong(value);
        System.out.println("[afasim] " + testName + " seed=" + seed + " (replay with -D" + SEED_PROP_NAME + "=" +
            seed + ")");
        return seed;
    }

    /** Fills one 4 KiB block at {@code offset} with bytes derived from {@code contentSeed}. */
    static void fill(final MutableDirectBuffer buffer, final int offset, final long contentSeed)
    {
        final SplittableRandom random = new SplittableRandom(contentSeed);
        for (int i = 0; i < ShelfLayout.BLOCK_SIZE_BYTES; i += Long.BYTES)
        {
            buffer.putLong(offset + i, random.nextLong());
        }
    }

    /** True when the block at {@code offset} holds exactly what {@link #fill} wrote for {@code contentSeed}. */
    static boolean matches(final MutableDirectBuffer buffer, final int offset, final long contentSeed)
    {
        final SplittableRandom random = new SplittableRandom(contentSeed);
        for (int i = 0; i < ShelfLayout.BLOCK_SIZE_BYTES; i += Long.BYTES)
        {
            if (buffer.getLong(offset + i) != random.nextLong())
            {
                return false;
            }
        }
        return true;
    }
}
