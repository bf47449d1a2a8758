package io.afasim.journal;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Every {@link SegmentLogTest} again with full staging buffers written behind by a {@link SegmentWriter} thread, as
 * the controller runs them: appends, reads of blocks whose write may still be in flight, seals, syncs, media
 * errors, recovery. One test differs: a failed write behind is seen by the next sync, not by the append whose
 * buffer it was (the append returned long before the drive answered).
 */
class SegmentLogWriteBehindTest extends SegmentLogTest
{
    @Override
    SegmentLogContext context(final int stagingBlocks)
    {
        return super.context(stagingBlocks).writer(SegmentWriter.shared());
    }

    @Test
    @Override
    void failedStagingFlushFailsAppendsUntilSyncReportsIt()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 4);
        final long durable = durableThenThreeStagedWithTheNextWriteFailing(log);
        final long fifth = append(log, 5, 5);
        assertTrue(fifth > 0, "the fourth staged block hands its buffer to the writer and returns at once");
        assertReads(log, fifth, 5); // from the buffer, while (or after) its write fails
        assertEquals(IoStatus.MEDIA_ERROR, log.sync(), "the failed write behind fails the sync");
        assertEquals(4, log.droppedBlockCount());
        assertEquals(IoStatus.NOT_FOUND, log.read(fifth, readBack, 0));
        final long after = append(log, 7, 7);
        assertTrue(after > 0);
        assertEquals(IoStatus.OK, log.sync());
        assertReads(log, after, 7);
        assertReads(log, durable, 1);
    }
}
