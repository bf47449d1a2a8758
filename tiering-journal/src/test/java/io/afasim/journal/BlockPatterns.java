package io.afasim.journal;
import java.util.SplittableRandom;
import org.agrona.MutableDirectBuffer;

/** Deterministic 4 KiB block contents for segment tests: {@link #fill} writes one, {@link #matches} checks it. */
final class BlockPatterns
{
    private BlockPatterns()
    {
    }

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
