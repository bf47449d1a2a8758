package io.afasim.journal;

import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A volume's redo records gathered on its own thread until its agent hands them to the journal's
 * owner, which appends them in order ({@link #drainTo}) and commits them with other volumes' batches
 * in one group commit. Lets many single-writer volumes share one journal without locks: a batch is
 * filled by one thread, handed over through a queue, drained by another, then handed back.
 *
 * <pre>
 * per record, 8-byte aligned:
 *   | type i32 | length i32 | payload (length bytes) | pad to 8 |
 * </pre>
 *
 * <p>Draining applies {@link RedoRecordTypes#SEGMENT_FREED} records to the allocator as they enter
 * the journal: with {@link SegmentLogContext#releaseFreesSegment()} false, a freed segment becomes
 * reusable only once its free is ordered in the journal before any later allocation of it.
 */
public final class RedoBatch implements RedoSink
{
    public static final int HEADER_BYTES = 8;
    public static final int CAPACITY_BYTES_DEFAULT = 1 << 20;

    private final UnsafeBuffer buffer;
    private int positionBytes;
    private int recordCount;
    private volatile long durableLsn;
    private Runnable durableListener;

    public RedoBatch(final int capacityBytes)
    {
        if (capacityBytes < 4096)
        {
            throw new IllegalArgumentException("capacityBytes=" + capacityBytes + " must be >= 4096");
        }
        buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(capacityBytes));
    }

    /**
     * Buffers a record.
     *
     * @return the record's position in this batch (&gt; 0), or {@link IoStatus#NO_SPACE} when the batch is
     *         full: the owner must hand it over (commit) and retry with an empty one.
     */
    @Override
    public long append(final int type, final DirectBuffer payload, final int offset, final int length)
    {
        final int alignedLength = (HEADER_BYTES + length + 7) & ~7;
        if (positionBytes + alignedLength > buffer.capacity())
        {
            return IoStatus.NO_SPACE;
        }
        buffer.putInt(positionBytes, type);
        buffer.putInt(positionBytes + Integer.BYTES, length);
        buffer.putBytes(positionBytes + HEADER_BYTES, payload, offset, length);
        positionBytes += alignedLength;
        return ++recordCount;
    }

    /**
     * Appends every record to the journal in order, applying segment frees to the allocator as they
     * enter it. Runs on the journal owner's thread.
     *
     * @return the journal LSN of the last record (0 when empty), or a negative {@link IoStatus}: the
     *         records before the failing one are in the journal and the batch keeps only the rest.
     */
    public long drainTo(final MetadataJournal journal, final ExtentAllocator allocator)
    {
        long lastLsn = 0;
        int at = 0;
        while (at < positionBytes)
        {
            final int type = buffer.getInt(at);
            final int length = buffer.getInt(at + Integer.BYTES);
            final long lsn = journal.append(type, buffer, at + HEADER_BYTES, length);
            if (lsn < 0)
            {
                compactFrom(at);
                return lsn;
            }
            if (type == RedoRecordTypes.SEGMENT_FREED)
            {
                AllocatorRedo.apply(allocator, type, buffer, at + HEADER_BYTES, length);
            }
            lastLsn = lsn;
            at += (HEADER_BYTES + length + 7) & ~7;
        }
        clear();
        return lastLsn;
    }

    /**
     * Drops the records without journaling them because a checkpoint image now covers their effects;
     * segment frees among them are applied to the allocator (whose bitmap the checkpoint saves).
     */
    public void absorbIntoCheckpoint(final ExtentAllocator allocator)
    {
        for (int at = 0; at < positionBytes; at += (HEADER_BYTES + buffer.getInt(at + Integer.BYTES) + 7) & ~7)
        {
            final int type = buffer.getInt(at);
            if (type == RedoRecordTypes.SEGMENT_FREED)
            {
                AllocatorRedo.apply(allocator, type, buffer, at + HEADER_BYTES, buffer.getInt(at + Integer.BYTES));
            }
        }
        clear();
    }

    /**
     * Journal bytes the batch can take at most once drained: a journal record header per record, block
     * padding of the commit and a wrap pad (see {@link MetadataJournal}).
     */
    public long journalBytesNeeded()
    {
        final long records = positionBytes + (long)recordCount * MetadataJournal.HEADER_BYTES;
        final long headerPadPerBlock = (records / Drive.BLOCK_SIZE_BYTES + 2) * MetadataJournal.HEADER_BYTES;
        return records + headerPadPerBlock + 2L * Drive.BLOCK_SIZE_BYTES + MetadataJournal.RECORD_BYTES_MAX;
    }

    public boolean isEmpty()
    {
        return recordCount == 0;
    }

    public int recordCount()
    {
        return recordCount;
    }

    public int sizeBytes()
    {
        return positionBytes;
    }

    public int remainingBytes()
    {
        return buffer.capacity() - positionBytes;
    }

    public void clear()
    {
        positionBytes = 0;
        recordCount = 0;
    }

    /** Set by the journal owner when the batch's records are committed; read by the volume. */
    public void durableLsn(final long lsn)
    {
        durableLsn = lsn;
        if (lsn != 0 && durableListener != null)
        {
            durableListener.run();
        }
    }

    /**
     * Called on the journal owner's thread each time the batch is marked durable or failed (e.g. to wake the
     * volume's agent); preallocated, must not block. Set once by the batch's owner.
     */
    public void durableListener(final Runnable listener)
    {
        durableListener = listener;
    }

    public long durableLsn()
    {
        return durableLsn;
    }

    private void compactFrom(final int at)
    {
        int count = 0;
        for (int p = at; p < positionBytes; p += (HEADER_BYTES + buffer.getInt(p + Integer.BYTES) + 7) & ~7)
        {
            count++;
        }
        buffer.putBytes(0, buffer, at, positionBytes - at);
        positionBytes -= at;
        recordCount = count;
    }
}
