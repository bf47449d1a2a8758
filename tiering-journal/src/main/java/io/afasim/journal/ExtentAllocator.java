package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

import org.agrona.concurrent.UnsafeBuffer;

/**
 * Hands out segments of the shelf, tracked by a bitmap (1 = allocated).
 *
 * <p>Persistence: the bitmap is written into one of two bitmap slots on drive 0 at each checkpoint
 * (the superblock names the slot); allocations and frees after the checkpoint are redo records
 * ({@link RedoRecordTypes#SEGMENT_ALLOCATED}, {@link RedoRecordTypes#SEGMENT_FREED}) replayed with
 * {@link #markAllocated(int)} and {@link #free(int)}.
 *
 * <pre>
 * bitmap slot:
 *   0         8          12            16           24         28     64
 *   +---------+----------+-------------+------------+----------+------+--------------------+
 *   | magic   | version  | segmentCount| generation | crc32c   | zero | bits, LSB first    |
 *   +---------+----------+-------------+------------+----------+------+--------------------+
 *   crc32c covers bytes 0..23 and the bits.
 * </pre>
 *
 * <p>Shared by every volume of the shelf but used once per segment (thousands of blocks), so its
 * methods are synchronized; nothing per I/O takes this lock.
 */
public final class ExtentAllocator
{
    public static final long MAGIC = 0x5041_4D54_4942_4641L; // "AFBITMAP"
    public static final int VERSION = 1;
    public static final int HEADER_BYTES = 64;
    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int SEGMENT_COUNT_OFFSET = 12;
    static final int GENERATION_OFFSET = 16;
    static final int CHECKSUM_OFFSET = 24;

    private final int segmentCount;
    private final long[] words;
    private int allocatedCount;
    private int cursor;

    public ExtentAllocator(final int segmentCount)
    {
        if (segmentCount < 1)
        {
            throw new IllegalArgumentException("segmentCount=" + segmentCount + " must be >= 1");
        }
        this.segmentCount = segmentCount;
        this.words = new long[(segmentCount + 63) >>> 6];
    }

    public int segmentCount()
    {
        return segmentCount;
    }

    public synchronized int allocatedCount()
    {
        return allocatedCount;
    }

    public synchronized int freeCount()
    {
        return segmentCount - allocatedCount;
    }

    /**
     * Allocates the next free segment after the last one handed out (next fit, so freed segments
     * are not reused at once).
     *
     * @return a segment id, or {@link IoStatus#NO_SPACE}.
     */
    public synchronized int allocate()
    {
        if (allocatedCount == segmentCount)
        {
            return IoStatus.NO_SPACE;
        }
        for (int i = 0; i < segmentCount; i++)
        {
            final int id = (cursor + i) % segmentCount;
            if (!isSet(id))
            {
                set(id);
                cursor = id + 1;
                return id;
            }
        }
        throw new IllegalStateException("allocatedCount=" + allocatedCount + " but no clear bit found");
    }

    /** Marks a segment allocated (replay of {@link RedoRecordTypes#SEGMENT_ALLOCATED}); idempotent. */
    public synchronized void markAllocated(final int segmentId)
    {
        checkId(segmentId);
        if (!isSet(segmentId))
        {
            set(segmentId);
        }
    }

    /** Frees a segment; idempotent so that replay can apply a free twice. */
    public synchronized void free(final int segmentId)
    {
        checkId(segmentId);
        if (isSet(segmentId))
        {
            words[segmentId >>> 6] &= ~(1L << segmentId);
            allocatedCount--;
        }
    }

    public synchronized boolean isAllocated(final int segmentId)
    {
        checkId(segmentId);
        return isSet(segmentId);
    }

    /** Bytes {@link #encode} writes. */
    public int encodedLengthBytes()
    {
        return HEADER_BYTES + words.length * Long.BYTES;
    }

    /** Writes the bitmap with a header and checksum into {@code slot} (direct, at least {@link #encodedLengthBytes()}). */
    public synchronized void encode(final ByteBuffer slot, final long generation)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(slot, 0, encodedLengthBytes());
        buffer.setMemory(0, HEADER_BYTES, (byte)0);
        buffer.putLong(MAGIC_OFFSET, MAGIC);
        buffer.putInt(VERSION_OFFSET, VERSION);
        buffer.putInt(SEGMENT_COUNT_OFFSET, segmentCount);
        buffer.putLong(GENERATION_OFFSET, generation);
        for (int i = 0; i < words.length; i++)
        {
            buffer.putLong(HEADER_BYTES + i * Long.BYTES, words[i]);
        }
        buffer.putInt(CHECKSUM_OFFSET, checksum(slot, encodedLengthBytes()));
    }

    /**
     * Replaces the bitmap with one read from a slot.
     *
     * @return {@link IoStatus#OK}, or {@link IoStatus#CHECKSUM_MISMATCH} when the slot is damaged, is
     *         of another generation or another geometry (the allocator is then unchanged).
     */
    public synchronized int decode(final ByteBuffer slot, final long expectedGeneration)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(slot, 0, encodedLengthBytes());
        if (buffer.getLong(MAGIC_OFFSET) != MAGIC ||
            buffer.getInt(VERSION_OFFSET) != VERSION ||
            buffer.getInt(SEGMENT_COUNT_OFFSET) != segmentCount ||
            buffer.getLong(GENERATION_OFFSET) != expectedGeneration ||
            buffer.getInt(CHECKSUM_OFFSET) != checksum(slot, encodedLengthBytes()))
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        int count = 0;
        for (int i = 0; i < words.length; i++)
        {
            words[i] = buffer.getLong(HEADER_BYTES + i * Long.BYTES);
            count += Long.bitCount(words[i]);
        }
        allocatedCount = count;
        cursor = 0;
        return IoStatus.OK;
    }

    private static int checksum(final ByteBuffer slot, final int lengthBytes)
    {
        final CRC32C crc = new CRC32C();
        crc.update(slot.duplicate().clear().limit(CHECKSUM_OFFSET));
        crc.update(slot.duplicate().clear().position(CHECKSUM_OFFSET + 4).limit(lengthBytes));
        return (int)crc.getValue();
    }

    private boolean isSet(final int id)
    {
        return (words[id >>> 6] & (1L << id)) != 0;
    }

    private void set(final int id)
    {
        words[id >>> 6] |= 1L << id;
        allocatedCount++;
    }

    private void checkId(final int segmentId)
    {
        if (segmentId < 0 || segmentId >= segmentCount)
        {
            throw new IllegalArgumentException("segmentId=" + segmentId + " not in [0, " + segmentCount + ")");
        }
    }
}
