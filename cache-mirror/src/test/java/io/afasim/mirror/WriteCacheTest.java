package io.afasim.mirror;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The write cache driven by hand, one behaviour per test. */
class WriteCacheTest
{
    @TempDir
    Path dir;

    private CacheContext ctx;
    private NvmeCache nvme;
    private WriteCache cache;
    private final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private final List<String> handed = new ArrayList<>();
    private final DestageConsumer recorder = new DestageConsumer()
    {
        public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer page,
            final int offset)
        {
            handed.add("page " + lba + " token " + page.getLong(offset));
        }

        public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
            final boolean zeroes)
        {
            handed.add((zeroes ? "zeroes " : "trim ") + lba + "+" + blockCount);
        }

        public void onCorruptPage(final int volumeId, final long lba, final long sequence)
        {
            handed.add("corrupt " + lba);
        }
    };

    @BeforeEach
    void open()
    {
        ctx = TestSupport.smallContext(dir).conclude();
        nvme = NvmeCache.openOrCreate(ctx);
        cache = nvme.newWriteCache(0);
    }

    @AfterEach
    void close()
    {
        nvme.close();
    }

    private int write(final WriteCache target, final long lba, final long token)
    {
        TestSupport.fill(block, 0, target.volumeId(), lba, token);
        return target.write(lba, block, 0);
    }

    @Test
    void overwriteIsServedNewestAndFreesTheOlderSlot()
    {
        assertEquals(CacheStatus.MISS, cache.read(7, block, 0));
        assertEquals(CacheStatus.OK, write(cache, 7, 1));
        assertEquals(CacheStatus.OK, write(cache, 7, 2));
        assertEquals(CacheStatus.HIT, cache.read(7, block, 0));
        assertTrue(TestSupport.matches(block, 0, 0, 7, 2, scratch));
        assertEquals(1, cache.dirtyPageCount());
        assertEquals(1, nvme.slotsInUse());
        assertEquals(TestSupport.BLOCK, cache.dirtyBytes());
        assertEquals(1, cache.hitCount());
        assertEquals(1, cache.missCount());
        assertEquals(nvme.lastSequence(), cache.lastSequence());
    }

    @Test
    void trimAndWriteZeroesReadAsZeroesUntilRewritten()
    {
        for (long lba = 0; lba < 4; lba++)
        {
            assertEquals(CacheStatus.OK, write(cache, lba, 10 + lba));
        }
        assertEquals(CacheStatus.OK, cache.trim(1, 2));
        assertEquals(2, cache.dirtyPageCount(), "pages 1 and 2 superseded and freed");
        assertEquals(CacheStatus.OK, cache.writeZeroes(100, 1_000_000));
        assertEquals(2, cache.dirtyRecordCount());
        for (final long lba : new long[] {1, 2, 100, 1_000_099})
        {
            block.setMemory(0, TestSupport.BLOCK, (byte)1);
            assertEquals(CacheStatus.HIT, cache.read(lba, block, 0), "lba " + lba);
            assertTrue(TestSupport.isZero(block, 0));
        }
        assertEquals(CacheStatus.MISS, cache.read(1_000_100, block, 0));
        assertEquals(CacheStatus.OK, write(cache, 2, 42));
        assertEquals(CacheStatus.HIT, cache.read(2, block, 0));
        assertTrue(TestSupport.matches(block, 0, 0, 2, 42, scratch));

        assertNotEquals(WriteCache.NO_BATCH, cache.destageBatch(100, recorder));
        assertEquals(List.of("page 0 token 10", "page 3 token 13", "trim 1+2", "zeroes 100+1000000", "page 2 token 42"),
            handed);
    }

    @Test
    void destageHandsOldestFirstKeepsServingAndFreesOnCompletion()
    {
        for (long lba = 0; lba < 5; lba++)
        {
            assertEquals(CacheStatus.OK, write(cache, lba, lba + 1));
        }
        final long batch = cache.destageBatch(3, recorder);
        assertEquals(List.of("page 0 token 1", "page 1 token 2", "page 2 token 3"), handed);
        assertEquals(WriteCache.NO_BATCH, cache.destageBatch(3, recorder), "one batch in flight");
        assertEquals(CacheStatus.HIT, cache.read(1, block, 0), "in flight still served");
        assertEquals(CacheStatus.OK, write(cache, 1, 99)); // supersedes a page the layer below is reading
        assertEquals(6, nvme.slotsInUse(), "the superseded page stays until the batch completes");
        cache.onDestaged(batch);
        assertEquals(3, nvme.slotsInUse());
        assertEquals(CacheStatus.MISS, cache.read(0, block, 0), "destaged: read the layer below");
        assertEquals(CacheStatus.HIT, cache.read(1, block, 0));
        assertTrue(TestSupport.matches(block, 0, 0, 1, 99, scratch));
        assertThrows(IllegalStateException.class, () -> cache.onDestaged(batch), "completed once");

        handed.clear();
        final long failing = cache.destageBatch(10, recorder);
        assertEquals(List.of("page 3 token 4", "page 4 token 5", "page 1 token 99"), handed);
        cache.onDestageFailed(failing);
        assertEquals(3, cache.changeCount(), "kept for a retry");
        handed.clear();
        cache.onDestaged(cache.destageBatch(10, recorder));
        assertEquals(3, handed.size());
        assertTrue(cache.isClean());
        assertEquals(0, nvme.slotsInUse());
        assertEquals(6, cache.destagedCount());
    }

    @Test
    void pipelinedDestageHasTwoBatchesInFlightCompletedOldestFirstFailedNewestFirst()
    {
        cache.destageBatchesInFlightMax(2);
        for (long lba = 0; lba < 6; lba++)
        {
            assertEquals(CacheStatus.OK, write(cache, lba, lba + 1));
        }
        final long first = cache.destageBatch(2, recorder);
        final long second = cache.destageBatch(2, recorder);
        assertNotEquals(WriteCache.NO_BATCH, second);
        assertEquals(WriteCache.NO_BATCH, cache.destageBatch(2, recorder), "two batches in flight at most");
        assertEquals(List.of("page 0 token 1", "page 1 token 2", "page 2 token 3", "page 3 token 4"), handed);
        assertEquals(4, cache.inFlightCount());
        assertThrows(IllegalStateException.class, () -> cache.onDestaged(second), "the oldest completes first");
        assertThrows(IllegalStateException.class, () -> cache.onDestageFailed(first), "the newest fails first");
        assertEquals(CacheStatus.OK, write(cache, 3, 99)); // supersedes a page of the second batch

        cache.onDestaged(first);
        assertEquals(CacheStatus.MISS, cache.read(0, block, 0), "destaged: read the layer below");
        assertEquals(CacheStatus.HIT, cache.read(2, block, 0), "still in flight: still served");
        handed.clear();
        final long third = cache.destageBatch(10, recorder);
        assertEquals(List.of("page 4 token 5", "page 5 token 6", "page 3 token 99"), handed, "after the second batch");
        cache.onDestageFailed(third);
        cache.onDestaged(second);
        assertEquals(CacheStatus.HIT, cache.read(3, block, 0));
        assertTrue(TestSupport.matches(block, 0, 0, 3, 99, scratch));
        assertEquals(3, cache.changeCount(), "the failed batch is kept for a retry; the superseded page is freed");
        assertEquals(3, nvme.slotsInUse());
        handed.clear();
        cache.onDestaged(cache.destageBatch(10, recorder));
        assertEquals(List.of("page 4 token 5", "page 5 token 6", "page 3 token 99"), handed);
        assertTrue(cache.isClean());
        assertEquals(0, nvme.slotsInUse());
    }

    @Test
    void manyBatchesInFlightCompleteOldestFirstAndFailNewestFirst()
    {
        nvme.close(); // a region with room for two changes per batch of the whole ring
        ctx = TestSupport.smallContext(dir.resolve("large")).regionSizeBytes(8L << 20).conclude();
        nvme = NvmeCache.openOrCreate(ctx);
        cache = nvme.newWriteCache(0);
        final int batches = WriteCache.DESTAGE_BATCHES_IN_FLIGHT_LIMIT;
        cache.destageBatchesInFlightMax(batches);
        for (long lba = 0; lba < 2L * batches + 3; lba++)
        {
            assertEquals(CacheStatus.OK, write(cache, lba, lba + 1));
        }
        final long[] ids = new long[batches];
        for (int i = 0; i < batches; i++)
        {
            ids[i] = cache.destageBatch(2, recorder);
            assertNotEquals(WriteCache.NO_BATCH, ids[i]);
            assertEquals(i + 1, cache.destageBatchesInFlight());
            assertEquals(ids[0], cache.oldestBatchInFlight());
            assertEquals(ids[i], cache.newestBatchInFlight());
        }
        assertEquals(WriteCache.NO_BATCH, cache.destageBatch(2, recorder), "the ring is full");
        assertEquals(2 * batches, cache.inFlightCount());
        assertEquals(2 * batches, handed.size());
        assertEquals("page 0 token 1", handed.get(0));
        assertEquals("page " + (2 * batches - 1) + " token " + (2 * batches), handed.get(2 * batches - 1));
        assertThrows(IllegalStateException.class, () -> cache.onDestaged(ids[1]), "the oldest completes first");
        assertThrows(IllegalStateException.class, () -> cache.onDestageFailed(ids[batches - 2]),
            "the newest fails first");

        // complete the older half, fail the newer half: the ring wraps and the failed changes are handed again
        for (int i = 0; i < batches / 2; i++)
        {
            cache.onDestaged(cache.oldestBatchInFlight());
        }
        for (int i = batches - 1; i >= batches / 2; i--)
        {
            assertEquals(ids[i], cache.newestBatchInFlight());
            cache.onDestageFailed(ids[i]);
        }
        assertEquals(0, cache.destageBatchesInFlight());
        assertEquals(WriteCache.NO_BATCH, cache.oldestBatchInFlight());
        assertEquals(CacheStatus.MISS, cache.read(batches - 1, block, 0), "destaged");
        assertEquals(CacheStatus.HIT, cache.read(batches, block, 0), "failed: still cached");
        assertEquals(batches + 3, cache.changeCount());
        handed.clear();
        while (!cache.isClean())
        {
            while (cache.destageBatch(3, recorder) != WriteCache.NO_BATCH)
            {
                assertTrue(cache.destageBatchesInFlight() <= batches);
            }
            cache.onDestaged(cache.oldestBatchInFlight());
        }
        assertEquals(batches + 3, handed.size(), "each failed or never handed change once more, in order");
        assertEquals("page " + batches + " token " + (batches + 1), handed.get(0));
        assertEquals(0, nvme.slotsInUse());
    }

    @Test
    void pagesSupersededInFlightAreFreedWithTheirBatchAndNeverHandedTwice()
    {
        cache.destageBatchesInFlightMax(8);
        for (long lba = 0; lba < 8; lba++)
        {
            assertEquals(CacheStatus.OK, write(cache, lba, 1));
        }
        final long first = cache.destageBatch(2, recorder);
        final long second = cache.destageBatch(2, recorder);
        final long third = cache.destageBatch(2, recorder);
        assertEquals(CacheStatus.OK, write(cache, 2, 2)); // the head of the second batch
        assertEquals(CacheStatus.OK, write(cache, 5, 2)); // the tail of the third batch
        assertEquals(CacheStatus.OK, cache.trim(0, 1));   // a page of the first batch
        assertEquals(CacheStatus.OK, write(cache, 7, 2)); // not in flight: freed at once
        assertEquals(11, nvme.slotsInUse() + nvme.recordsInUse(), "6 in flight, 1 cached, 3 new, 1 trim");

        // the third batch fails: its superseded page is freed, the other one is handed again after the rest
        cache.onDestageFailed(third);
        assertEquals(10, nvme.slotsInUse() + nvme.recordsInUse());
        handed.clear();
        final long fourth = cache.destageBatch(10, recorder);
        assertEquals(List.of("page 4 token 1", "page 6 token 1", "page 2 token 2", "page 5 token 2", "trim 0+1",
            "page 7 token 2"), handed);
        cache.onDestaged(first);
        cache.onDestaged(second);
        assertEquals(CacheStatus.HIT, cache.read(2, block, 0), "the newer page is still cached");
        assertTrue(TestSupport.matches(block, 0, 0, 2, 2, scratch));
        assertEquals(CacheStatus.HIT, cache.read(0, block, 0), "the trim is still cached");
        assertTrue(TestSupport.isZero(block, 0));
        cache.onDestaged(fourth);
        assertTrue(cache.isClean());
        assertEquals(0, nvme.slotsInUse() + nvme.recordsInUse());
    }

    @Test
    void corruptCachedPageIsAChecksumMismatchNeverData()
    {
        assertEquals(CacheStatus.OK, write(cache, 5, 1));
        final NvmeScan scan = NvmeRecovery.scan(nvme.region());
        final int slot = scan.volume(0).changes().get(0).index();
        final int offset = nvme.region().pageOffset(slot) + 100;
        nvme.region().buffer().putByte(offset, (byte)(nvme.region().buffer().getByte(offset) ^ 1));
        block.setMemory(0, TestSupport.BLOCK, (byte)7);
        assertEquals(CacheStatus.CHECKSUM_MISMATCH, cache.read(5, block, 0));
        assertEquals(7, block.getByte(0), "nothing copied");
        assertEquals(1, cache.checksumMismatchCount());
        cache.onDestaged(cache.destageBatch(1, recorder));
        assertEquals(List.of("corrupt 5"), handed);
        assertEquals(1, cache.destageCorruptCount());
    }

    @Test
    void volumeCapLatchesBackPressureUntilTheLowWatermark()
    {
        long lba = 0;
        while (cache.dirtyPageCount() < ctx.volumeSlotsMax())
        {
            assertEquals(CacheStatus.OK, write(cache, lba, lba + 1));
            lba++;
        }
        assertTrue(cache.isDestageUrgent());
        assertEquals(CacheStatus.BACK_PRESSURE, write(cache, lba, 1));
        assertEquals(1, cache.backPressureCount());
        cache.onDestaged(cache.destageBatch(1, recorder));
        assertEquals(CacheStatus.BACK_PRESSURE, write(cache, lba, 1), "latched until the low watermark");
        while (cache.dirtyPageCount() > ctx.volumeLowSlots())
        {
            cache.onDestaged(cache.destageBatch(ctx.destageBatchMax(), recorder));
        }
        assertEquals(CacheStatus.OK, write(cache, lba, 1));
        assertFalse(cache.isDestageUrgent());
    }

    @Test
    void globalPressureRefusesOnlyVolumesAboveTheirFairShare()
    {
        nvme.close();
        ctx = TestSupport.smallContext(dir.resolve("global")).globalHighWatermarkPercent(60)
            .globalLowWatermarkPercent(40).conclude();
        nvme = NvmeCache.openOrCreate(ctx);
        cache = nvme.newWriteCache(0);
        final WriteCache busy1 = nvme.newWriteCache(1);
        final WriteCache busy2 = nvme.newWriteCache(2);
        long lba = 0;
        while (!nvme.isGlobalPressure())
        {
            final WriteCache target = lba % 2 == 0 ? busy1 : busy2;
            assertEquals(CacheStatus.OK, write(target, lba, 1));
            lba++;
        }
        assertEquals(CacheStatus.BACK_PRESSURE, write(busy1, lba, 1));
        assertTrue(busy1.isDestageUrgent());
        for (int i = 0; i < ctx.volumeFairSlots(); i++)
        {
            assertEquals(CacheStatus.OK, write(cache, i, 1), "a quiet volume is not starved");
        }
        assertEquals(CacheStatus.BACK_PRESSURE, write(cache, 1_000, 1), "beyond its fair share it waits too");
        while (nvme.isGlobalPressure())
        {
            busy1.onDestaged(busy1.destageBatch(ctx.destageBatchMax(), recorder));
            busy2.onDestaged(busy2.destageBatch(ctx.destageBatchMax(), recorder));
        }
        assertTrue(nvme.slotsInUse() <= ctx.globalLowSlots());
        assertEquals(CacheStatus.OK, write(cache, 1_000, 1), "global pressure over");
    }

    @Test
    void recordCapPushesBack()
    {
        for (int i = 0; i < ctx.volumeRecordsMax(); i++)
        {
            assertEquals(CacheStatus.OK, cache.trim(i * 10L, 1));
        }
        assertEquals(CacheStatus.BACK_PRESSURE, cache.trim(1_000, 1));
        assertTrue(cache.isDestageUrgent());
    }

    @Test
    void writeThroughBypassesTheCacheAndNeedsItClean()
    {
        assertEquals(CacheStatus.OK, write(cache, 1, 1));
        assertThrows(IllegalStateException.class, () -> cache.writeMode(WriteMode.WT));
        cache.onDestaged(cache.destageBatch(10, recorder));
        cache.writeMode(WriteMode.WT);
        assertThrows(IllegalStateException.class, () -> write(cache, 1, 2));
        assertThrows(IllegalStateException.class, () -> cache.trim(1, 1));
        assertEquals(CacheStatus.MISS, cache.read(1, block, 0));
        cache.writeMode(WriteMode.ONE_WAY_WB);
        assertEquals(CacheStatus.OK, write(cache, 1, 3));
        assertEquals(cache.lastSequence(), cache.forceUnitAccess());
        assertTrue(WriteMode.WB.needsPeerAcknowledgement() && !WriteMode.ONE_WAY_WB.needsPeerAcknowledgement());
        assertFalse(WriteMode.WT.usesCache());
    }

    @Test
    void mirroredBytesApplyOnThePeerRegion()
    {
        final CacheContext peerCtx = TestSupport.smallContext(dir.resolve("peer")).nodeId(1).conclude();
        final NvmeCache peer = NvmeCache.openOrCreate(peerCtx);
        try
        {
            final java.util.Map<Long, Integer> peerSlotBySequence = new java.util.HashMap<>();
            cache.mirrorSink(new MirrorSink()
            {
                public void onPageWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                    final int entryOffset, final DirectBuffer page, final int pageOffset)
                {
                    final int slot = peer.takeSlot();
                    peer.region().writeSlot(slot, entry, entryOffset, page, pageOffset);
                    peerSlotBySequence.put(sequence, slot);
                }

                public void onRecordWritten(final int volumeId, final long sequence, final DirectBuffer entry,
                    final int entryOffset)
                {
                    final int record = peer.takeRecord();
                    peer.region().writeRecord(record, entry, entryOffset);
                    peerSlotBySequence.put(sequence, -1 - record);
                }

                public void onReleased(final int volumeId, final long sequence)
                {
                    final int index = peerSlotBySequence.remove(sequence);
                    if (index >= 0)
                    {
                        peer.releaseSlot(index);
                    }
                    else
                    {
                        peer.releaseRecord(-1 - index);
                    }
                }
            });
            assertEquals(CacheStatus.OK, write(cache, 1, 1));
            assertEquals(CacheStatus.OK, write(cache, 2, 2));
            assertEquals(CacheStatus.OK, write(cache, 1, 3)); // the peer drops its copy of the first write
            assertEquals(CacheStatus.OK, cache.trim(2, 1));   // and of lba 2
            final NvmeScan local = NvmeRecovery.scan(nvme.region());
            final NvmeScan mirror = NvmeRecovery.scan(peer.region());
            assertEquals(sequencesAndLbas(local.volume(0)), sequencesAndLbas(mirror.volume(0)));
            assertEquals(2, mirror.volume(0).changes().size());

            // The peer can serve the mirrored pages after a failover: reopen its region, adopt, read.
            peer.close();
            try (NvmeCache reopened = NvmeCache.openOrCreate(peerCtx))
            {
                final WriteCache adopted = reopened.newWriteCache(0);
                adopted.adopt(reopened.recovered(0));
                assertEquals(CacheStatus.HIT, adopted.read(1, block, 0));
                assertTrue(TestSupport.matches(block, 0, 0, 1, 3, scratch));
                assertEquals(CacheStatus.HIT, adopted.read(2, block, 0));
                assertTrue(TestSupport.isZero(block, 0));
            }
        }
        finally
        {
            peer.close();
        }
    }

    private static List<String> sequencesAndLbas(final RecoveredVolume volume)
    {
        final List<String> result = new ArrayList<>();
        for (final RecoveredChange change : volume.changes())
        {
            result.add(change.sequence() + ":" + ChangeEntry.kindName(change.kind()) + ":" + change.lba());
        }
        return result;
    }

    @Test
    void restartAdoptsOrDiscardsRecoveredChangesAndSequencesKeepIncreasing()
    {
        assertEquals(CacheStatus.OK, write(cache, 1, 1));
        assertEquals(CacheStatus.OK, write(cache, 2, 2));
        final WriteCache deleted = nvme.newWriteCache(2);
        assertEquals(CacheStatus.OK, write(deleted, 5, 5));
        final long before = nvme.lastSequence();
        nvme.close();

        nvme = NvmeCache.openOrCreate(ctx);
        assertEquals(java.util.Set.of(0, 2), nvme.recoveredPending().keySet());
        assertEquals(3, nvme.slotsInUse());
        cache = nvme.newWriteCache(0);
        cache.adopt(nvme.recovered(0));
        assertEquals(2, cache.dirtyPageCount());
        assertEquals(before - 1, cache.lastSequence());
        assertEquals(CacheStatus.HIT, cache.read(2, block, 0));
        assertTrue(TestSupport.matches(block, 0, 0, 2, 2, scratch));
        assertThrows(IllegalStateException.class, () -> cache.adopt(nvme.recovered(0)), "adopted once");
        nvme.discardRecovered(2); // volume 2 was deleted while the controller was down
        assertEquals(2, nvme.slotsInUse());
        assertEquals(CacheStatus.OK, write(cache, 3, 3));
        assertTrue(cache.lastSequence() > before);

        while (!cache.isClean())
        {
            cache.onDestaged(cache.destageBatch(10, recorder));
        }
        nvme.closeWriteCache(cache);
        final long beforeEmpty = nvme.lastSequence();
        nvme.close();
        nvme = NvmeCache.openOrCreate(ctx);
        assertTrue(nvme.recoveredPending().isEmpty());
        cache = nvme.newWriteCache(0);
        assertEquals(CacheStatus.OK, write(cache, 1, 9));
        assertTrue(cache.lastSequence() > beforeEmpty, "no sequence reuse after an empty restart");
    }

    @Test
    void dataPathAllocatesNothing()
    {
        final com.sun.management.ThreadMXBean threads =
            (com.sun.management.ThreadMXBean)ManagementFactory.getThreadMXBean();
        final DestageConsumer quiet = new DestageConsumer()
        {
            public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer page,
                final int offset)
            {
            }

            public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
                final boolean zeroes)
            {
            }
        };
        long allocatedMin = Long.MAX_VALUE;
        for (int round = 0; round < 5; round++)
        {
            final long before = threads.getCurrentThreadAllocatedBytes();
            for (int i = 0; i < 20_000; i++)
            {
                final long lba = i % 50;
                cache.write(lba, block, 0);
                cache.read(lba, block, 0);
                if (i % 97 == 0)
                {
                    cache.trim(lba, 3);
                }
                if (i % 16 == 0)
                {
                    final long batch = cache.destageBatch(16, quiet);
                    if (batch != WriteCache.NO_BATCH)
                    {
                        cache.onDestaged(batch);
                    }
                }
            }
            allocatedMin = Math.min(allocatedMin, threads.getCurrentThreadAllocatedBytes() - before);
        }
        // the first rounds may allocate in class loading and JIT transitions; a warm round allocates nothing
        assertEquals(0, allocatedMin, "bytes allocated by 20k writes, reads, trims and destages");
    }
}
