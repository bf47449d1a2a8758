package io.afasim.journal;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;
import java.util.UUID;

import org.agrona.collections.IntArrayList;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegmentLogTest
{
    /** 256 KiB segments: 63 data blocks + 1 summary block; about 240 segments. */
    static final ShelfConfig SMALL_SEGMENTS = new ShelfConfig(2, 32L << 20, 256 << 10, 1L << 20);
    /** 4 MiB segments: 1020 data blocks + 4 summary blocks, so a sync can touch several summary blocks. */
    static final ShelfConfig LARGE_SEGMENTS = new ShelfConfig(2, 64L << 20, 4 << 20, 1L << 20);
    static final int OWNER = 7;
    static final int BLOCK = ShelfLayout.BLOCK_SIZE_BYTES;

    @TempDir
    Path dir;

    final long[] nowMs = {1_700_000_000_000L};
    final SegmentRedoRecorder redo = new SegmentRedoRecorder();
    final UnsafeBuffer block = new UnsafeBuffer(new byte[BLOCK]);
    final UnsafeBuffer readBack = new UnsafeBuffer(new byte[BLOCK + 64]);
    Shelf shelf;
    ExtentAllocator allocator;

    SegmentLogContext context(final int stagingBlocks)
    {
        return new SegmentLogContext().stagingBlocks(stagingBlocks).clock(() -> nowMs[0]);
    }

    SegmentLog format(final ShelfConfig config, final int stagingBlocks)
    {
        shelf = Shelf.format(dir, UUID.randomUUID(), config);
        allocator = new ExtentAllocator(shelf.layout().segmentCount());
        return new SegmentLog(shelf, allocator, redo, OWNER, context(stagingBlocks));
    }

    @AfterEach
    void closeShelf()
    {
        if (shelf != null)
        {
            shelf.close();
        }
    }

    long append(final SegmentLog log, final long lba, final long contentSeed)
    {
        BlockPatterns.fill(block, 0, contentSeed);
        return log.append(lba, block, 0);
    }

    void assertReads(final SegmentLog log, final long pba, final long contentSeed)
    {
        readBack.setMemory(0, readBack.capacity(), (byte)0);
        assertEquals(IoStatus.OK, log.read(pba, readBack, 64), "read pba " + pba);
        assertTrue(BlockPatterns.matches(readBack, 64, contentSeed), "content of pba " + pba);
    }

    @Test
    void appendedBlocksReadBackAcrossSegmentsAndStagingFlushesBeforeAndAfterSync()
    {
        final long seed = Seeds.seed("appendedBlocksReadBack");
        final SplittableRandom random = new SplittableRandom(seed);
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final int dataBlocks = shelf.layout().dataBlocksPerSegment();
        final int count = dataBlocks * 5 + 17;
        final long[] pbas = new long[count];
        final long[] contents = new long[count];
        final Set<Long> seen = new HashSet<>();
        for (int i = 0; i < count; i++)
        {
            contents[i] = random.nextLong();
            pbas[i] = append(log, random.nextLong(1L << 40), contents[i]);
            assertTrue(pbas[i] > 0, "append " + i + ": " + IoStatus.name(pbas[i]));
            assertTrue(seen.add(pbas[i]), "pba handed out twice: " + pbas[i]);
            if (random.nextInt(10) == 0)
            {
                final int j = random.nextInt(i + 1);
                assertReads(log, pbas[j], contents[j]); // staged or already flushed
            }
        }
        for (int i = 0; i < count; i++)
        {
            assertReads(log, pbas[i], contents[i]);
        }
        assertEquals(IoStatus.OK, log.sync());
        for (int i = 0; i < count; i++)
        {
            assertReads(log, pbas[i], contents[i]);
        }

        assertEquals(count, log.hostBlocksWritten());
        assertEquals(0, log.cleanerBlocksWritten());
        assertEquals(1.0, log.writeAmplification());
        final int[] totals = new int[3];
        log.forEachSegment(id ->
        {
            totals[0] += log.writtenBlocks(id);
            totals[1] += log.liveBlocks(id);
            totals[2]++;
        });
        final int reserved = allocator.isAllocated(0) ? 1 : 0; // segment 0 block 0 is never handed out
        assertEquals(count + reserved, totals[0]);
        assertEquals(count, totals[1]);
        assertEquals(6, totals[2]);
        assertEquals(6, redo.count(RedoRecordTypes.SEGMENT_ALLOCATED));
        assertEquals(5, redo.count(RedoRecordTypes.SEGMENT_SEALED));
        assertEquals(0, log.checksumMismatchCount());

        assertEquals(IoStatus.NOT_FOUND, log.read(0, readBack, 0));
        final int open = log.openSegment();
        assertEquals(IoStatus.NOT_FOUND, log.read(shelf.layout().pba(open, log.writtenBlocks(open)), readBack, 0));
        final int notOwned = firstFreeSegment();
        assertEquals(IoStatus.NOT_FOUND, log.read(shelf.layout().pba(notOwned, 5), readBack, 0));
    }

    @Test
    void segmentZeroNeverHandsOutPbaZero()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 4);
        final long pba = append(log, 1, 11);
        assertEquals(0, log.openSegment(), "the allocator hands out segment 0 first");
        assertEquals(1, pba);
        assertEquals(2, log.writtenBlocks(0));
        assertEquals(1, log.liveBlocks(0));
        assertThrows(IllegalStateException.class, () -> log.markLive(0));
    }

    @Test
    void syncedBlocksSurviveACrashAndTheOpenSegmentIsSealed()
    {
        final long seed = Seeds.seed("syncedBlocksSurviveACrash");
        final SplittableRandom random = new SplittableRandom(seed);
        SegmentLog log = format(SMALL_SEGMENTS, 8);
        final int dataBlocks = shelf.layout().dataBlocksPerSegment();
        final List<long[]> synced = new ArrayList<>(); // {pba, lba, content}
        for (int i = 0; i < dataBlocks * 3 + 20; i++)
        {
            final long lba = random.nextLong(1L << 30);
            final long content = random.nextLong();
            final long pba = append(log, lba, content);
            assertTrue(pba > 0);
            synced.add(new long[] {pba, lba, content});
        }
        assertEquals(IoStatus.OK, log.sync());
        redo.commit();
        final int openAtCrash = log.openSegment();
        for (int i = 0; i < 30; i++)
        {
            assertTrue(append(log, random.nextLong(1L << 30), random.nextLong()) > 0); // never synced
        }
        log = null;
        shelf.close();

        shelf = Shelf.open(dir);
        allocator = redo.replayAllocator(shelf.layout().segmentCount());
        final long sealedBefore = redo.count(RedoRecordTypes.SEGMENT_SEALED);
        final SegmentLog recovered = SegmentLog.recover(shelf, allocator, redo, OWNER, context(8));
        assertEquals(-1, recovered.openSegment());
        assertTrue(recovered.sealTimeMs(openAtCrash) >= 0, "segment open at the crash is sealed");
        assertEquals(sealedBefore + 1, redo.count(RedoRecordTypes.SEGMENT_SEALED));
        assertEquals(0, recovered.damagedSegmentCount());
        for (final long[] b : synced)
        {
            assertReads(recovered, b[0], b[2]);
            recovered.markLive(b[0]);
        }
        int live = 0;
        for (int i = 0; i < recovered.ownedSegmentCount(); i++)
        {
            live += recovered.liveBlocks(recovered.ownedSegmentId(i));
        }
        assertEquals(synced.size(), live);

        // the summary on disk records the LBAs
        final ByteBuffer summaryBytes = Drive.allocateAligned(recovered.summaryLengthBytes());
        final UnsafeBuffer summary = new UnsafeBuffer(summaryBytes);
        final long[] first = synced.get(5);
        final int segmentOfFirst = shelf.layout().segmentOf(first[0]);
        assertTrue(recovered.loadSummary(segmentOfFirst, summaryBytes, summary) > 0);
        assertEquals(first[1], SegmentLog.summaryLba(summary, shelf.layout().blockInSegment(first[0])));

        final long pba = append(recovered, 42, 4242);
        assertTrue(pba > 0);
        final int fresh = recovered.openSegment();
        assertNotEquals(openAtCrash, fresh);
        assertFalse(containsSegment(synced, fresh), "new writes go to a fresh segment");

        // one pass learns owners; recovery from that list matches the scan
        final IntArrayList owned = new IntArrayList();
        final int found = SegmentLog.scanOwners(shelf, allocator, (segment, owner) ->
        {
            assertEquals(OWNER, owner);
            owned.addInt(segment);
        });
        assertEquals(found, owned.size());
        assertEquals(recovered.ownedSegmentCount(), found);
        final SegmentLog fromList = SegmentLog.recover(shelf, allocator, redo, OWNER, context(8), owned.toIntArray());
        assertEquals(recovered.ownedSegmentCount(), fromList.ownedSegmentCount());
        assertReads(fromList, first[0], first[2]);

        final SegmentLog other = SegmentLog.recover(shelf, allocator, redo, OWNER + 1, context(8));
        assertEquals(0, other.ownedSegmentCount());
        assertEquals(IoStatus.NOT_FOUND, other.read(first[0], readBack, 0));
    }

    @Test
    void tornSummaryFallsBackToThePreviousDurableState()
    {
        SegmentLog log = format(LARGE_SEGMENTS, 64);
        final ShelfLayout layout = shelf.layout();
        final long[] pbas = new long[350];
        for (int i = 0; i < 300; i++)
        {
            pbas[i] = append(log, i, 1000 + i);
        }
        assertEquals(IoStatus.OK, log.sync());
        final int segment = log.openSegment();
        final Drive drive = shelf.drive(layout.segmentDrive(segment));
        final long secondSummaryBlock = layout.summaryOffsetBytes(segment) + BLOCK;
        final ByteBuffer oldEntries = Drive.allocateAligned(BLOCK);
        assertEquals(IoStatus.OK, drive.read(secondSummaryBlock, oldEntries, 0, BLOCK));
        for (int i = 300; i < 350; i++)
        {
            pbas[i] = append(log, i, 1000 + i);
        }
        assertEquals(IoStatus.OK, log.sync());
        redo.commit();
        // crash during a later sync: the new header landed, the entry block after it did not
        assertEquals(IoStatus.OK, drive.write(secondSummaryBlock, oldEntries, 0, BLOCK));
        log = null;
        shelf.close();

        shelf = Shelf.open(dir);
        allocator = redo.replayAllocator(shelf.layout().segmentCount());
        final SegmentLog recovered = SegmentLog.recover(shelf, allocator, redo, OWNER, context(64));
        assertEquals(1, recovered.tornSummaryCount());
        assertEquals(0, recovered.damagedSegmentCount());
        final int reserved = segment == 0 ? 1 : 0;
        assertEquals(300 + reserved, recovered.writtenBlocks(segment));
        for (int i = 0; i < 300; i++)
        {
            assertReads(recovered, pbas[i], 1000 + i);
        }
        assertEquals(IoStatus.NOT_FOUND, recovered.read(pbas[300], readBack, 0));
    }

    @Test
    void recoverySkipsForeignSegmentsAndCountsDamagedSummaries()
    {
        SegmentLog log = format(SMALL_SEGMENTS, 8);
        final ShelfLayout layout = shelf.layout();
        final long kept = append(log, 1, 1);
        assertEquals(IoStatus.OK, log.sync());
        while (log.openSegment() == shelf.layout().segmentOf(kept))
        {
            assertTrue(append(log, 2, 2) > 0);
        }
        final long damagedPba = append(log, 3, 3);
        assertEquals(IoStatus.OK, log.sync());
        redo.commit();
        final int damagedSegment = layout.segmentOf(damagedPba);

        // a checkpoint image segment: allocated, with a summary area of another magic
        final int image = allocator.allocate();
        final ByteBuffer foreign = Drive.allocateAligned(BLOCK);
        foreign.putLong(0, 0x1234_5678_9ABC_DEF0L);
        assertEquals(IoStatus.OK, shelf.drive(layout.segmentDrive(image)).write(
            layout.summaryOffsetBytes(image), foreign, 0, BLOCK));
        // flip a byte of the damaged segment's summary header (its owner id)
        final ByteBuffer header = Drive.allocateAligned(BLOCK);
        final Drive drive = shelf.drive(layout.segmentDrive(damagedSegment));
        assertEquals(IoStatus.OK, drive.read(layout.summaryOffsetBytes(damagedSegment), header, 0, BLOCK));
        header.put(SegmentLog.OWNER_ID_OFFSET, (byte)(header.get(SegmentLog.OWNER_ID_OFFSET) ^ 1));
        assertEquals(IoStatus.OK, drive.write(layout.summaryOffsetBytes(damagedSegment), header, 0, BLOCK));
        assertEquals(IoStatus.OK, shelf.syncAll());
        log = null;

        final SegmentLog recovered = SegmentLog.recover(shelf, allocator, redo, OWNER, context(8));
        assertEquals(1, recovered.ownedSegmentCount());
        assertEquals(1, recovered.damagedSegmentCount());
        assertEquals(-1, recovered.sealTimeMs(image));
        assertReads(recovered, kept, 1);
        recovered.markLive(kept);
        recovered.markLive(damagedPba);
        assertEquals(1, recovered.lostLiveCount());
        assertEquals(IoStatus.NOT_FOUND, recovered.read(damagedPba, readBack, 0));
        assertThrows(IllegalStateException.class, () -> recovered.markLive(layout.pba(image, 1)));
    }

    @Test
    void corruptedOrFailedReadsAreStatusesNeverData()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long pba = append(log, 5, 55);
        assertEquals(IoStatus.OK, log.sync());
        final Drive drive = shelf.drive(shelf.layout().driveOf(pba));

        drive.faults().corruptNextReads(1);
        readBack.setMemory(0, readBack.capacity(), (byte)0x5A);
        assertEquals(IoStatus.CHECKSUM_MISMATCH, log.read(pba, readBack, 0));
        for (int i = 0; i < BLOCK; i++)
        {
            assertEquals((byte)0x5A, readBack.getByte(i), "corrupted data must not reach the caller");
        }
        assertEquals(1, log.checksumMismatchCount());
        assertReads(log, pba, 55);

        drive.faults().failNextReads(1);
        assertEquals(IoStatus.MEDIA_ERROR, log.read(pba, readBack, 0));
        assertEquals(1, log.readErrorCount());
        assertReads(log, pba, 55);
    }

    @Test
    void corruptedWriteIsCaughtOnRead()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long first = append(log, 1, 1);
        final long second = append(log, 2, 2);
        shelf.drive(shelf.layout().driveOf(second)).faults().corruptNextWrites(1); // the staging flush at sync
        assertEquals(IoStatus.OK, log.sync());
        assertEquals(IoStatus.CHECKSUM_MISMATCH, log.read(first, readBack, 0));
        assertEquals(IoStatus.CHECKSUM_MISMATCH, log.read(second, readBack, 0));
        final long third = append(log, 3, 3);
        assertEquals(IoStatus.OK, log.sync());
        assertReads(log, third, 3);
    }

    @Test
    void failedSyncDropsEveryBlockSinceTheLastGoodSync()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 8);
        final long durable = append(log, 1, 1);
        assertEquals(IoStatus.OK, log.sync());
        final int segment = log.openSegment();
        final long lost1 = append(log, 2, 2);
        final long lost2 = append(log, 3, 3);
        final int liveBefore = log.liveBlocks(segment);

        shelf.drive(shelf.layout().driveOf(lost1)).faults().failNextWrites(1);
        assertEquals(IoStatus.MEDIA_ERROR, log.sync());
        assertEquals(1, log.syncFailureCount());
        assertEquals(1, log.writeErrorCount());
        assertEquals(2, log.droppedBlockCount());
        assertEquals(liveBefore - 2, log.liveBlocks(segment));
        assertEquals(IoStatus.NOT_FOUND, log.read(lost1, readBack, 0));
        assertEquals(IoStatus.NOT_FOUND, log.read(lost2, readBack, 0));
        assertReads(log, durable, 1);
        assertEquals(-1, log.openSegment(), "the segment that saw the error is abandoned");
        assertTrue(log.sealTimeMs(segment) >= 0);

        final long again = append(log, 2, 2);
        assertNotEquals(segment, log.openSegment());
        assertEquals(IoStatus.OK, log.sync());
        assertReads(log, again, 2);
    }

    /**
     * In a log staging 4 blocks: lba 1 made durable, lbas 2-4 staged behind it, and the drive's next write armed to
     * fail (the flush the next append triggers); returns lba 1's PBA.
     */
    long durableThenThreeStagedWithTheNextWriteFailing(final SegmentLog log)
    {
        final long durable = append(log, 1, 1);
        assertEquals(IoStatus.OK, log.sync());
        assertTrue(append(log, 2, 2) > 0);
        assertTrue(append(log, 3, 3) > 0);
        assertTrue(append(log, 4, 4) > 0);
        shelf.drive(shelf.layout().driveOf(durable)).faults().failNextWrites(1);
        return durable;
    }

    @Test
    void failedStagingFlushFailsAppendsUntilSyncReportsIt()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 4);
        final long durable = durableThenThreeStagedWithTheNextWriteFailing(log);
        assertEquals(IoStatus.MEDIA_ERROR, append(log, 5, 5), "the fourth staged block triggers the flush");
        assertEquals(IoStatus.MEDIA_ERROR, append(log, 6, 6), "failed until sync");
        assertEquals(IoStatus.MEDIA_ERROR, log.sync());
        assertEquals(4, log.droppedBlockCount());
        final long after = append(log, 7, 7);
        assertTrue(after > 0);
        assertEquals(IoStatus.OK, log.sync());
        assertReads(log, after, 7);
        assertReads(log, durable, 1);
    }

    @Test
    void redoRefusalAtSegmentAllocationIsNoSpaceAndLeavesNoSegment()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 4);
        redo.refuseWith(IoStatus.NO_SPACE);
        assertEquals(IoStatus.NO_SPACE, append(log, 1, 1));
        assertEquals(0, allocator.allocatedCount());
        assertEquals(0, log.ownedSegmentCount());
        redo.refuseWith(0);
        assertTrue(append(log, 1, 1) > 0);
    }

    @Test
    void markDeadTwiceIsABrokenInvariant()
    {
        final SegmentLog log = format(SMALL_SEGMENTS, 4);
        final long pba = append(log, 1, 1);
        log.markDead(pba);
        assertThrows(IllegalStateException.class, () -> log.markDead(pba));
        log.markLive(pba);
        log.markLive(pba);
        assertEquals(1, log.liveBlocks(shelf.layout().segmentOf(pba)));
    }

    @Test
    void contextNamesTheBadValue()
    {
        final IllegalArgumentException staging =
            assertThrows(IllegalArgumentException.class, () -> new SegmentLogContext().stagingBlocks(0).conclude());
        assertTrue(staging.getMessage().contains("stagingBlocks=0"), staging.getMessage());
        final IllegalArgumentException reserve = assertThrows(IllegalArgumentException.class,
            () -> new SegmentLogContext().cleanerReserveSegments(-1).conclude());
        assertTrue(reserve.getMessage().contains("cleanerReserveSegments=-1"), reserve.getMessage());
        assertEquals(SegmentLogContext.STAGING_BLOCKS_DEFAULT, new SegmentLogContext().conclude().stagingBlocks());
    }

    private int firstFreeSegment()
    {
        for (int id = 0; id < allocator.segmentCount(); id++)
        {
            if (!allocator.isAllocated(id))
            {
                return id;
            }
        }
        throw new AssertionError("no free segment");
    }

    private boolean containsSegment(final List<long[]> blocks, final int segment)
    {
        for (final long[] b : blocks)
        {
            if (shelf.layout().segmentOf(b[0]) == segment)
            {
                return true;
            }
        }
        return false;
    }
}
