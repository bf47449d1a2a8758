package io.afasim.journal;

import java.util.ArrayList;
import java.util.List;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A {@link RedoSink} for segment tests: keeps every record in a list, can refuse appends, and models the
 * journal's commit point so a test can replay only what a crash would have kept.
 */
final class SegmentRedoRecorder implements RedoSink
{
    record Entry(int type, byte[] payload)
    {
        int intAt(final int index)
        {
            return new UnsafeBuffer(payload).getInt(index * Integer.BYTES);
        }
    }

    final List<Entry> entries = new ArrayList<>();
    private int committed;
    private long refuseWith;

    @Override
    public long append(final int type, final DirectBuffer payload, final int offset, final int length)
    {
        if (refuseWith < 0)
        {
            return refuseWith;
        }
        final byte[] copy = new byte[length];
        payload.getBytes(offset, copy);
        entries.add(new Entry(type, copy));
        return entries.size();
    }

    /** Following appends return {@code status} (negative) until called with 0. */
    void refuseWith(final long status)
    {
        refuseWith = status;
    }

    /** Everything appended so far survives a crash (the caller committed after a sync). */
    void commit()
    {
        committed = entries.size();
    }

    long count(final int type)
    {
        return entries.stream().filter(e -> e.type() == type).count();
    }

    /** The allocator a restarted controller would have: replay of committed SEGMENT_ALLOCATED / SEGMENT_FREED. */
    ExtentAllocator replayAllocator(final int segmentCount)
    {
        final ExtentAllocator allocator = new ExtentAllocator(segmentCount);
        for (int i = 0; i < committed; i++)
        {
            final Entry entry = entries.get(i);
            if (entry.type() == RedoRecordTypes.SEGMENT_ALLOCATED)
            {
                allocator.markAllocated(entry.intAt(0));
            }
            else if (entry.type() == RedoRecordTypes.SEGMENT_FREED)
            {
                allocator.free(entry.intAt(0));
            }
        }
        return allocator;
    }
}
