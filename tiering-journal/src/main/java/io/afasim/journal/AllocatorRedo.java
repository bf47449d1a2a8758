package io.afasim.journal;

import org.agrona.DirectBuffer;

/**
 * Replays the allocator's redo records ({@link RedoRecordTypes#SEGMENT_ALLOCATED},
 * {@link RedoRecordTypes#SEGMENT_FREED}; payload: one little-endian int segment id) onto an
 * {@link ExtentAllocator}. The journal itself never interprets record types.
 */
public final class AllocatorRedo
{
    /** Payload of a segment record: the segment id. */
    public static final int PAYLOAD_BYTES = Integer.BYTES;

    private AllocatorRedo()
    {
    }

    /**
     * @return true when the record was an allocator record and has been applied, false for other types.
     * @throws IllegalStateException when an allocator record has the wrong length (it passed its checksum,
     *         so the writer was broken).
     */
    public static boolean apply(
        final ExtentAllocator allocator, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        if (type != RedoRecordTypes.SEGMENT_ALLOCATED && type != RedoRecordTypes.SEGMENT_FREED)
        {
            return false;
        }
        if (length != PAYLOAD_BYTES)
        {
            throw new IllegalStateException("allocator record type " + type + " has length " + length + ", expected " +
                PAYLOAD_BYTES);
        }
        final int segmentId = payload.getInt(offset);
        if (type == RedoRecordTypes.SEGMENT_ALLOCATED)
        {
            allocator.markAllocated(segmentId);
        }
        else
        {
            allocator.free(segmentId);
        }
        return true;
    }
}
