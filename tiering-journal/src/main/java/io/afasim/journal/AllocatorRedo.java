package io.afasim.journal;

import org.agrona.DirectBuffer;

/**
 * Replays the allocator's redo records onto an {@link ExtentAllocator}. The journal itself never
 * interprets record types.
 *
 * <pre>
 * SEGMENT_ALLOCATED | segmentId i32 | ownerId i32 |   (written by SegmentLog)
 * SEGMENT_FREED     | segmentId i32 |                 (SegmentLog.release, CheckpointStore.release)
 * </pre>
 */
public final class AllocatorRedo
{
    /** Payload of a SEGMENT_FREED record: the segment id. */
    public static final int PAYLOAD_BYTES = Integer.BYTES;
    /** Payload of a SEGMENT_ALLOCATED record: the segment id and its owner. */
    public static final int ALLOCATED_PAYLOAD_BYTES = 2 * Integer.BYTES;

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
        final int expected = type == RedoRecordTypes.SEGMENT_ALLOCATED ? ALLOCATED_PAYLOAD_BYTES : PAYLOAD_BYTES;
        if (length != expected)
        {
            throw new IllegalStateException("allocator record type " + type + " has length " + length + ", expected " +
                expected);
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
