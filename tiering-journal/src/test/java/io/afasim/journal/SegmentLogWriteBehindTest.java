package io.afasim.journal;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every {@link SegmentLogTest} again with full staging buffers written behind by a {@link SegmentWriter} thread, as
 * the controller runs them: appends, reads of blocks whose write may still be in flight, seals, syncs, media
 * errors, recovery. One test differs: a failed write behind is seen by the next sync, not by the append whose
 * buffer it was (the append returned long before the drive answered). And the syncs a volume agent starts without
 * waiting ({@link SegmentLog#syncStart()}, {@link SegmentLog#pollSync()}) are tested here.
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

    @Test
    void syncStartReturnsWhileTheDriveFlushesAndAppendsGoOn()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long first = append(log, 1, 1);
        appendWhileTheDriveHoldsTheSync(log, 2);
        assertReads(log, first, 1);
        assertEquals(IoStatus.OK, awaitSync(log));
        assertFalse(log.isSyncInFlight());
        assertEquals(1, log.syncCount());
    }

    @Test
    void blocksAppendedDuringASyncWaitForTheNextOne()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long covered = append(log, 1, 1);
        final long after = appendWhileTheDriveHoldsTheSync(log, 2);
        assertEquals(IoStatus.OK, awaitSync(log));
        shelf.drive(shelf.layout().driveOf(covered)).faults().failNextSyncs(1);
        assertEquals(IoStatus.MEDIA_ERROR, log.sync(), "the next sync fails");
        assertEquals(1, log.droppedBlockCount(), "it drops the block appended during the first sync, alone");
        assertEquals(IoStatus.NOT_FOUND, log.read(after, readBack, 0));
        assertReads(log, covered, 1);
    }

    /**
     * Starts a sync of the log's open segment while its drive holds every fdatasync, appends {@code lba} (content
     * seed = lba) meanwhile and reads it back, then lets the drive flush. Returns the PBA appended.
     */
    private long appendWhileTheDriveHoldsTheSync(final SegmentLog log, final long lba)
    {
        final DriveFaults faults = shelf.drive(shelf.layout().segmentDrive(log.openSegment())).faults();
        faults.holdSyncs();
        try
        {
            assertEquals(IoStatus.OK, log.syncStart(), "queued, not waited for");
            assertTrue(log.isSyncInFlight());
            assertEquals(SegmentLog.SYNC_PENDING, log.pollSync(), "the drive has not flushed");
            final long pba = append(log, lba, lba);
            assertTrue(pba > 0, "appends go on while the sync is in flight");
            assertReads(log, pba, lba);
            return pba;
        }
        finally
        {
            faults.releaseSyncs();
        }
    }

    @Test
    void failedSyncInFlightDropsEveryBlockSinceTheLastGoodSync()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long durable = append(log, 1, 1);
        assertEquals(IoStatus.OK, log.sync());
        final long lost1 = append(log, 2, 2);
        shelf.drive(shelf.layout().driveOf(lost1)).faults().failNextSyncs(1);
        assertEquals(IoStatus.OK, log.syncStart());
        final long lost2 = append(log, 3, 3);
        assertEquals(IoStatus.MEDIA_ERROR, awaitSync(log));
        assertEquals(IoStatus.MEDIA_ERROR, log.pollSync(), "the result stays until the next sync");
        assertEquals(2, log.droppedBlockCount());
        assertEquals(IoStatus.NOT_FOUND, log.read(lost1, readBack, 0));
        assertEquals(IoStatus.NOT_FOUND, log.read(lost2, readBack, 0));
        assertReads(log, durable, 1);
        final long again = append(log, 2, 2);
        assertEquals(IoStatus.OK, log.sync());
        assertReads(log, again, 2);
    }

    @Test
    void releaseAppliesASyncTheWriterFinishedUnpolled()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long[] pbas = new long[shelf.layout().dataBlocksPerSegment()];
        pbas[0] = append(log, 0, 0);
        assertTrue(pbas[0] > 0);
        final int victim = log.openSegment();
        int count = 1;
        while (log.openSegment() == victim) // until it fills and seals
        {
            pbas[count] = append(log, count, count);
            assertTrue(pbas[count] > 0);
            count++;
        }
        assertEquals(-1, log.openSegment());
        assertEquals(IoStatus.OK, log.syncStart());
        assertEquals(IoStatus.OK, log.awaitWritesBehind(), "the writer synced; the owner has not polled");
        for (int i = 0; i < count; i++)
        {
            log.markDead(pbas[i]);
        }
        assertEquals(0, log.liveBlocks(victim));
        assertEquals(IoStatus.OK, log.release(victim), "its blocks are durable: the sealed, dead victim is released");
    }

    /** Polls the sync in flight until it is done (bounded): its result. */
    private static int awaitSync(final SegmentLog log)
    {
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
        int status;
        while ((status = log.pollSync()) == SegmentLog.SYNC_PENDING)
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                fail("the sync did not finish within 30 s");
            }
            Thread.onSpinWait();
        }
        return status;
    }
}
