package io.afasim.journal;

import java.nio.file.Path;
import java.util.SplittableRandom;
import java.util.UUID;

import org.agrona.collections.IntArrayList;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SegmentCleanerTest
{
    /** 1 drive, 256 KiB segments: 23 segments of 63 data blocks. */
    static final ShelfConfig TINY = new ShelfConfig(1, 8L << 20, 256 << 10, 1L << 20);
    /** 2 drives, 256 KiB segments: about 50 segments. */
    static final ShelfConfig SMALL = new ShelfConfig(2, 8L << 20, 256 << 10, 1L << 20);
    static final int OWNER = 3;
    static final int BLOCK = ShelfLayout.BLOCK_SIZE_BYTES;

    @TempDir
    Path dir;

    final long[] nowMs = {1_700_000_000_000L};
    final SegmentRedoRecorder redo = new SegmentRedoRecorder();
    final UnsafeBuffer block = new UnsafeBuffer(new byte[BLOCK]);
    final UnsafeBuffer scratch = new UnsafeBuffer(new byte[BLOCK]);
    Shelf shelf;
    ExtentAllocator allocator;
    SegmentLog log;
    SegmentCleaner cleaner;

    /** The volume's view: lba -> pba, pba -> lba, lba -> content seed. */
    final Long2LongHashMap lbaToPba = new Long2LongHashMap(-1);
    final Long2LongHashMap pbaToLba = new Long2LongHashMap(-1);
    final Long2LongHashMap lbaContent = new Long2LongHashMap(-1);

    void format(final ShelfConfig config)
    {
        shelf = Shelf.format(dir, UUID.randomUUID(), config);
        allocator = new ExtentAllocator(shelf.layout().segmentCount());
        log = new SegmentLog(shelf, allocator, redo, OWNER,
            new SegmentLogContext().stagingBlocks(16).clock(() -> nowMs[0]));
        cleaner = new SegmentCleaner(log, () -> nowMs[0]);
    }

    @AfterEach
    void closeShelf()
    {
        if (shelf != null)
        {
            shelf.close();
        }
    }

    /** Host write of {@code lba} through the model; returns the status of the append. */
    long write(final long lba, final long contentSeed)
    {
        BlockPatterns.fill(block, 0, contentSeed);
        final long pba = log.append(lba, block, 0);
        if (pba > 0)
        {
            final long old = lbaToPba.put(lba, pba);
            if (old != -1)
            {
                pbaToLba.remove(old);
                log.markDead(old);
            }
            pbaToLba.put(pba, lba);
            lbaContent.put(lba, contentSeed);
        }
        return pba;
    }

    void kill(final long lba)
    {
        final long pba = lbaToPba.remove(lba);
        pbaToLba.remove(pba);
        lbaContent.remove(lba);
        log.markDead(pba);
    }

    final SegmentCleaner.LivenessOracle oracle = pba -> pbaToLba.containsKey(pba);
    final SegmentCleaner.RelocationListener listener = (oldPba, newPba, data, offset) ->
    {
        final long lba = pbaToLba.remove(oldPba);
        assertTrue(lba != -1, "relocated a dead block " + oldPba);
        assertTrue(BlockPatterns.matches(new UnsafeBuffer(data, offset, BLOCK), 0, lbaContent.get(lba)),
            "relocated data of lba " + lba);
        lbaToPba.put(lba, newPba);
        pbaToLba.put(newPba, lba);
        log.markDead(oldPba);
    };

    /** One cleaning round: select, clean, sync, commit, release. Returns segments released. */
    int cleanRound(final int victimsMax)
    {
        final IntArrayList victims = new IntArrayList();
        cleaner.selectVictims(victimsMax, victims);
        for (int i = 0; i < victims.size(); i++)
        {
            if (cleaner.clean(victims.getInt(i), oracle, listener, scratch) < 0)
            {
                break; // out of room for relocations: release what was emptied
            }
        }
        assertEquals(IoStatus.OK, log.sync());
        redo.commit();
        int released = 0;
        for (int i = 0; i < victims.size(); i++)
        {
            final int id = victims.getInt(i);
            if (log.liveBlocks(id) == 0)
            {
                assertEquals(IoStatus.OK, log.release(id));
                assertTrue(!allocator.isAllocated(id), "released segment " + id + " is free again");
                released++;
            }
        }
        return released;
    }

    void assertModelReadsBack()
    {
        final UnsafeBuffer readBack = new UnsafeBuffer(new byte[BLOCK]);
        lbaToPba.forEach((lba, pba) ->
        {
            assertEquals(IoStatus.OK, log.read(pba, readBack, 0), "lba " + lba + " at pba " + pba);
            assertTrue(BlockPatterns.matches(readBack, 0, lbaContent.get(lba)), "lba " + lba + " content");
        });
        long live = 0;
        for (int i = 0; i < log.ownedSegmentCount(); i++)
        {
            live += log.liveBlocks(log.ownedSegmentId(i));
        }
        assertEquals(lbaToPba.size(), live, "live counts agree with the model");
    }

    @Test
    void scoreFollowsTheCostBenefitFormula()
    {
        assertEquals(Double.POSITIVE_INFINITY, SegmentCleaner.score(0, 100, 0));
        assertEquals(0.0, SegmentCleaner.score(100, 100, 5000));
        assertEquals(0.0, SegmentCleaner.score(10, 100, 0));
        assertEquals((1 - 0.25) * 1000 / (1 + 0.25), SegmentCleaner.score(25, 100, 1000), 1e-9);
        assertTrue(SegmentCleaner.score(10, 100, 1000) > SegmentCleaner.score(50, 100, 1000), "emptier wins");
        assertTrue(SegmentCleaner.score(10, 100, 2000) > SegmentCleaner.score(10, 100, 1000), "older wins");
    }

    @Test
    void victimsAreEmptyFirstThenByCostBenefitNeverOpenOrFull()
    {
        format(SMALL);
        final int dataBlocks = shelf.layout().dataBlocksPerSegment();
        // five full segments sealed at t0, t0+2000, t0+4000, t0+6000, t0+8000 (segment 0 has one block less)
        final int[] segment = new int[5];
        long lba = 0;
        for (int s = 0; s < 5; s++)
        {
            do
            {
                assertTrue(write(lba, lba) > 0);
                lba++;
            }
            while (log.openSegment() != -1);
            segment[s] = shelf.layout().segmentOf(lbaToPba.get(lba - 1));
            nowMs[0] += 2000;
        }
        assertTrue(write(lba, lba) > 0); // an open segment with one live block
        final int open = log.openSegment();
        nowMs[0] += 2000;

        // segment[0]: oldest, 50 live; segment[1]: 10 live; segment[2]: 10 live, younger; segment[3]: empty;
        // segment[4]: full (nothing to gain)
        keepLive(segment[0], 50);
        keepLive(segment[1], 10);
        keepLive(segment[2], 10);
        keepLive(segment[3], 0);
        assertEquals(dataBlocks, log.liveBlocks(segment[4]));

        final IntArrayList victims = new IntArrayList();
        assertEquals(4, cleaner.selectVictims(10, victims));
        assertEquals(segment[3], victims.getInt(0), "u = 0 first");
        assertEquals(segment[1], victims.getInt(1), "emptier and older");
        assertEquals(segment[2], victims.getInt(2), "same u, younger");
        assertEquals(segment[0], victims.getInt(3), "oldest but fullest");
        assertTrue(!victims.containsInt(open) && !victims.containsInt(segment[4]));

        assertEquals(2, cleaner.selectVictims(2, victims));
        assertEquals(segment[3], victims.getInt(0));
        assertEquals(segment[1], victims.getInt(1));
        assertThrows(IllegalArgumentException.class, () -> cleaner.clean(open, oracle, listener, scratch));
    }

    /** Kills blocks of a segment until {@code keep} live blocks remain. */
    private void keepLive(final int segmentId, final int keep)
    {
        final ShelfLayout layout = shelf.layout();
        for (int b = 0; b < log.writtenBlocks(segmentId) && log.liveBlocks(segmentId) > keep; b++)
        {
            final long lba = pbaToLba.get(layout.pba(segmentId, b));
            if (lba != -1)
            {
                kill(lba);
            }
        }
        assertEquals(keep, log.liveBlocks(segmentId));
    }

    @Test
    void cleaningKeepsEveryLiveBlockAndFreesSegments()
    {
        final long seed = Seeds.seed("cleaningKeepsEveryLiveBlock");
        final SplittableRandom random = new SplittableRandom(seed);
        format(SMALL);
        final int dataBlocks = shelf.layout().dataBlocksPerSegment();
        final int capacity = shelf.layout().segmentCount() * dataBlocks;
        final int lbaCount = capacity * 3 / 5;
        final int writes = capacity * 3;
        int rounds = 0;
        for (int i = 0; i < writes; i++)
        {
            nowMs[0] += random.nextInt(5);
            final long lba = random.nextInt(lbaCount);
            long pba = write(lba, random.nextLong());
            if (pba == IoStatus.NO_SPACE)
            {
                final int released = cleanRound(4);
                assertTrue(released > 0, "a cleaning round at " + i + " freed nothing");
                rounds++;
                pba = write(lba, random.nextLong());
            }
            assertTrue(pba > 0, "write " + i + ": " + IoStatus.name(pba));
            if (random.nextInt(50) == 0)
            {
                kill(lbaToPba.keySet().iterator().next()); // a trim now and then
            }
            if (random.nextInt(200) == 0)
            {
                assertEquals(IoStatus.OK, log.sync());
                redo.commit();
            }
        }
        assertEquals(IoStatus.OK, log.sync());
        assertTrue(rounds > 0, "the workload must have needed cleaning");
        assertTrue(cleaner.blocksMoved() > 0);
        assertModelReadsBack();

        assertEquals(cleaner.blocksMoved(), log.cleanerBlocksWritten());
        assertEquals(writes, log.hostBlocksWritten());
        assertEquals((double)(log.hostBlocksWritten() + cleaner.blocksMoved()) / log.hostBlocksWritten(),
            log.writeAmplification(), 1e-12);
        assertTrue(log.writeAmplification() > 1.0);
        assertEquals(log.ownedSegmentCount(), allocator.allocatedCount(), "freed segments went back");
        assertEquals(log.segmentsReleased(), redo.count(RedoRecordTypes.SEGMENT_FREED));
        assertEquals(log.segmentsAllocated(), redo.count(RedoRecordTypes.SEGMENT_ALLOCATED));
        System.out.println("[afasim] cleaning: rounds=" + rounds + " segmentsCleaned=" + cleaner.segmentsCleaned() +
            " moved=" + cleaner.blocksMoved() + " WA=" + log.writeAmplification());
    }

    @Test
    void fullShelfIsNoSpaceAndCleaningMakesRoom()
    {
        format(TINY);
        long lba = 0;
        long pba;
        while ((pba = write(lba, lba)) > 0)
        {
            lba++;
        }
        assertEquals(IoStatus.NO_SPACE, pba);
        assertEquals(SegmentLogContext.CLEANER_RESERVE_SEGMENTS_DEFAULT, allocator.freeCount(),
            "host writes leave the cleaner's reserve");
        assertEquals(IoStatus.OK, log.sync());
        redo.commit();

        // overwrite-free workload: trim every other block
        for (long l = 0; l < lba; l += 2)
        {
            kill(l);
        }
        nowMs[0] += 1000;
        assertEquals(IoStatus.NO_SPACE, write(lba, lba), "still full before cleaning");
        int released = 0;
        for (int round = 0; round < 4; round++)
        {
            released += cleanRound(1);
        }
        assertTrue(released >= 2, "released " + released);
        assertTrue(write(lba, lba) > 0, "cleaning made room");
        assertEquals(IoStatus.OK, log.sync());
        assertModelReadsBack();
    }

    @Test
    void aReadErrorStopsCleaningAndLeavesTheSegment()
    {
        format(TINY);
        long lba = 0;
        while (log.openSegment() == -1 || log.ownedSegmentCount() < 2)
        {
            assertTrue(write(lba, lba) > 0);
            lba++;
        }
        assertEquals(IoStatus.OK, log.sync());
        final int victim = shelf.layout().segmentOf(lbaToPba.get(0));
        keepLive(victim, 5);
        nowMs[0] += 1000;
        // the summary read flips a bit outside the entries; the first data block read is caught by its crc32c
        final DriveFaults faults = shelf.drive(shelf.layout().segmentDrive(victim)).faults();
        faults.corruptNextReads(2);
        final int status = cleaner.clean(victim, oracle, listener, scratch);
        assertEquals(IoStatus.CHECKSUM_MISMATCH, status);
        assertEquals(1, cleaner.cleanErrorCount());
        assertEquals(0, cleaner.segmentsCleaned());
        assertEquals(5, log.liveBlocks(victim), "segment left in place");
        faults.clear();
        assertEquals(5, cleaner.clean(victim, oracle, listener, scratch));
        assertEquals(0, log.liveBlocks(victim));
        assertEquals(IoStatus.OK, log.sync());
        assertEquals(IoStatus.OK, log.release(victim));
        assertModelReadsBack();
    }
}
