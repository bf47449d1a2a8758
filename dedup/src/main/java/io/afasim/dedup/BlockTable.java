package io.afasim.dedup;

import java.nio.ByteBuffer;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * Reference count and fingerprint prefix of every block of a volume's segments, dense by PBA:
 * one off-heap table per segment, created when the volume starts using the segment.
 *
 * <pre>
 * per segment (blocksPerSegment entries):
 *   +--------------------------------+------------------------------------------+
 *   | count, int x blocksPerSegment  | fingerprint prefix, long x blocksPerSegment |
 *   +--------------------------------+------------------------------------------+
 * </pre>
 *
 * 12 bytes per block. The prefix (first 8 bytes of the SHA-256) lets a block whose count drops to
 * zero find its fingerprint index entry by a short range scan, without a full 32-byte reverse map.
 * Owned by the volume's single writer thread.
 */
final class BlockTable
{
    static final int COUNT_BYTES = Integer.BYTES;
    static final int PREFIX_BYTES = Long.BYTES;
    /** A count above this means a broken invariant (more references than LBAs a volume can have). */
    static final int COUNT_MAX = Integer.MAX_VALUE - 1;

    private final int blocksPerSegment;
    private final UnsafeBuffer[] segments;
    private int segmentsInUse;

    BlockTable(final int segmentCount, final int blocksPerSegment)
    {
        this.blocksPerSegment = blocksPerSegment;
        this.segments = new UnsafeBuffer[segmentCount];
    }

    int count(final long pba)
    {
        final UnsafeBuffer table = segments[segmentOf(pba)];
        return table == null ? 0 : table.getInt(countOffset(pba));
    }

    long prefix(final long pba)
    {
        return table(pba).getLong(prefixOffset(pba));
    }

    /** A new block: count 1 and its fingerprint prefix. */
    void init(final long pba, final long prefix)
    {
        final UnsafeBuffer table = tableOrCreate(pba);
        if (table.getInt(countOffset(pba)) != 0)
        {
            throw new IllegalStateException("pba " + pba + " handed out again while referenced " +
                table.getInt(countOffset(pba)) + " times");
        }
        table.putInt(countOffset(pba), 1);
        table.putLong(prefixOffset(pba), prefix);
    }

    int increment(final long pba)
    {
        final UnsafeBuffer table = table(pba);
        final int count = table.getInt(countOffset(pba));
        if (count <= 0 || count >= COUNT_MAX)
        {
            throw new IllegalStateException("increment of pba " + pba + " with count " + count);
        }
        table.putInt(countOffset(pba), count + 1);
        return count + 1;
    }

    int decrement(final long pba)
    {
        final UnsafeBuffer table = table(pba);
        final int count = table.getInt(countOffset(pba));
        if (count <= 0)
        {
            throw new IllegalStateException("decrement of pba " + pba + " with count " + count);
        }
        table.putInt(countOffset(pba), count - 1);
        return count - 1;
    }

    /** Recovery: sets a count directly (rebuilt from the mapping). */
    void setCount(final long pba, final int count)
    {
        tableOrCreate(pba).putInt(countOffset(pba), count);
    }

    /** Recovery: sets a prefix directly (rebuilt from the fingerprint index). */
    void setPrefix(final long pba, final long prefix)
    {
        tableOrCreate(pba).putLong(prefixOffset(pba), prefix);
    }

    /** Moves count and prefix of a relocated block. */
    void move(final long fromPba, final long toPba)
    {
        final int count = count(fromPba);
        final long prefix = prefix(fromPba);
        final UnsafeBuffer to = tableOrCreate(toPba);
        to.putInt(countOffset(toPba), count);
        to.putLong(prefixOffset(toPba), prefix);
        table(fromPba).putInt(countOffset(fromPba), 0);
    }

    /** Forgets a segment that was freed. */
    void drop(final int segmentId)
    {
        if (segments[segmentId] != null)
        {
            segments[segmentId] = null;
            segmentsInUse--;
        }
    }

    boolean hasSegment(final int segmentId)
    {
        return segments[segmentId] != null;
    }

    int segmentCount()
    {
        return segments.length;
    }

    int blocksPerSegment()
    {
        return blocksPerSegment;
    }

    long bytesReserved()
    {
        return (long)segmentsInUse * blocksPerSegment * (COUNT_BYTES + PREFIX_BYTES);
    }

    private int segmentOf(final long pba)
    {
        return (int)(pba / blocksPerSegment);
    }

    private int countOffset(final long pba)
    {
        return (int)(pba % blocksPerSegment) * COUNT_BYTES;
    }

    private int prefixOffset(final long pba)
    {
        return blocksPerSegment * COUNT_BYTES + (int)(pba % blocksPerSegment) * PREFIX_BYTES;
    }

    private UnsafeBuffer table(final long pba)
    {
        final UnsafeBuffer table = segments[segmentOf(pba)];
        if (table == null)
        {
            throw new IllegalStateException("pba " + pba + " is in segment " + segmentOf(pba) + " which this volume does not use");
        }
        return table;
    }

    private UnsafeBuffer tableOrCreate(final long pba)
    {
        final int segmentId = segmentOf(pba);
        UnsafeBuffer table = segments[segmentId];
        if (table == null)
        {
            table = new UnsafeBuffer(ByteBuffer.allocateDirect(blocksPerSegment * (COUNT_BYTES + PREFIX_BYTES)));
            segments[segmentId] = table;
            segmentsInUse++;
        }
        return table;
    }
}
