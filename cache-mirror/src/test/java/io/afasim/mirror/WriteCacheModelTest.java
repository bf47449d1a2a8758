package io.afasim.mirror;

import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Model-based randomized test: writes, overwrites, TRIM/WRITE_ZEROES, reads, destage (completed, failed,
 * in flight) and T1 restarts interleaved across three volumes that share one small region, checked against
 * a model of what every read must return. Back-pressured requests are parked and re-driven in order, as the
 * controller does; at the end every one of them has been acknowledged and reads back.
 */
class WriteCacheModelTest
{
    private static final int VOLUMES = 3;
    private static final int LBAS = 160;
    private static final int OPERATIONS = 30_000;
    private static final long ZERO = 0;

    @TempDir
    Path dir;

    private Random random;
    private CacheContext ctx;
    private NvmeCache nvme;
    private final WriteCache[] caches = new WriteCache[VOLUMES];
    /** What a host read must return: lba -> token (0 = zeroes). */
    private final List<Map<Long, Long>> expected = new ArrayList<>();
    /** What the layer below returns (changes handed to it). */
    private final List<Map<Long, Long>> shelf = new ArrayList<>();
    /** What the layer below has made durable (batches completed): survives a restart. */
    private final List<Map<Long, Long>> durable = new ArrayList<>();
    private final List<List<long[]>> inFlight = new ArrayList<>();
    private final long[] batchIds = new long[VOLUMES];
    private final List<ArrayDeque<long[]>> parked = new ArrayList<>();
    private final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private final UnsafeBuffer scratch = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
    private long nextToken = 1;
    private long backPressureSeen;
    private long restarts;
    private int destageWeight = 20;
    private long globalPressureSeen;

    @Test
    void cacheAgreesWithModel()
    {
        final long seed = TestSupport.seed("WriteCacheModelTest");
        random = new Random(seed);
        ctx = TestSupport.smallContext(dir).globalHighWatermarkPercent(60).globalLowWatermarkPercent(40).conclude();
        for (int v = 0; v < VOLUMES; v++)
        {
            expected.add(new HashMap<>());
            shelf.add(new HashMap<>());
            durable.add(new HashMap<>());
            inFlight.add(new ArrayList<>());
            parked.add(new ArrayDeque<>());
        }
        open();
        try
        {
            for (int op = 0; op < OPERATIONS; op++)
            {
                step(op);
            }
            drain();
            for (int v = 0; v < VOLUMES; v++)
            {
                assertTrue(caches[v].isClean(), "volume " + v + " clean after drain");
                for (long lba = 0; lba < LBAS; lba++)
                {
                    assertEquals(CacheStatus.MISS, caches[v].read(lba, block, 0));
                    assertEquals(expected.get(v).getOrDefault(lba, ZERO), shelf.get(v).getOrDefault(lba, ZERO),
                        "volume " + v + " lba " + lba + " on the shelf");
                }
            }
            assertEquals(0, nvme.slotsInUse());
            assertEquals(0, nvme.recordsInUse());
            assertTrue(backPressureSeen > 0, "the run reached back-pressure");
            assertTrue(globalPressureSeen > 0, "the run reached the global high watermark");
            System.out.println("[afasim] model: backPressure=" + backPressureSeen + " globalPressure=" + globalPressureSeen + " restarts=" + restarts +
                " tokens=" + nextToken);
        }
        finally
        {
            nvme.close();
        }
    }

    private void open()
    {
        final NvmeRegion region = NvmeRegion.openOrCreate(ctx);
        final NvmeScan scan = NvmeRecovery.scan(region);
        nvme = new NvmeCache(ctx, region, scan);
        for (int v = 0; v < VOLUMES; v++)
        {
            caches[v] = nvme.newWriteCache(v);
            caches[v].adopt(scan.volume(v));
        }
        assertEquals(0, scan.ignoredCount(), "no torn entries without a kill");
    }

    private void step(final int op)
    {
        if (op % 1_000 == 0)
        {
            destageWeight = new int[] {0, 3, 20, 20}[random.nextInt(4)]; // phases where destage lags behind, or keeps up
        }
        final int v = random.nextInt(VOLUMES);
        final int choice = random.nextInt(100);
        if (choice < 40)
        {
            submit(v, new long[] {ChangeEntry.KIND_PAGE, random.nextInt(LBAS), 1, nextToken++});
        }
        else if (choice < 45)
        {
            final short kind = random.nextBoolean() ? ChangeEntry.KIND_TRIM : ChangeEntry.KIND_WRITE_ZEROES;
            final int count = random.nextInt(50) == 0 ? 1 + random.nextInt(2 * LBAS) : 1 + random.nextInt(8);
            submit(v, new long[] {kind, random.nextInt(LBAS), count, 0});
        }
        else if (choice < 70)
        {
            checkRead(v, random.nextInt(LBAS));
        }
        else if (choice < 70 + destageWeight)
        {
            destageStep(v);
        }
        else if (choice < 98)
        {
            redrive(v);
        }
        else
        {
            checkAccountingAndRecovery();
        }
        if (op % 7_000 == 6_999)
        {
            restart();
        }
    }

    /** A host request: parked behind earlier parked ones of the same volume, else sent to the cache. */
    private void submit(final int v, final long[] request)
    {
        if (!parked.get(v).isEmpty() || apply(v, request) == CacheStatus.BACK_PRESSURE)
        {
            parked.get(v).addLast(request);
        }
    }

    private int apply(final int v, final long[] request)
    {
        final WriteCache cache = caches[v];
        final int pagesBefore = cache.dirtyPageCount();
        globalPressureSeen += nvme.isGlobalPressure() ? 1 : 0;
        final int status;
        final long lba = request[1];
        if (request[0] == ChangeEntry.KIND_PAGE)
        {
            TestSupport.fill(block, 0, v, lba, request[3]);
            status = cache.write(lba, block, 0);
            if (pagesBefore >= ctx.volumeSlotsMax())
            {
                assertEquals(CacheStatus.BACK_PRESSURE, status, "volume at its cap must push back");
            }
        }
        else
        {
            final int recordsBefore = cache.dirtyRecordCount();
            status = request[0] == ChangeEntry.KIND_TRIM ?
                cache.trim(lba, (int)request[2]) : cache.writeZeroes(lba, (int)request[2]);
            if (status == CacheStatus.BACK_PRESSURE)
            {
                assertTrue(recordsBefore >= ctx.volumeRecordsMax(), "records refused below the volume cap");
            }
        }
        if (status == CacheStatus.BACK_PRESSURE)
        {
            backPressureSeen++;
            if (request[0] == ChangeEntry.KIND_PAGE)
            {
                assertTrue(pagesBefore >= ctx.volumeFairSlots(),
                    "volume " + v + " refused below its fair share: " + pagesBefore + " < " + ctx.volumeFairSlots());
            }
            assertEquals(pagesBefore, cache.dirtyPageCount());
            return status;
        }
        assertEquals(CacheStatus.OK, status);
        for (long b = lba; b < lba + request[2]; b++)
        {
            expected.get(v).put(b, request[3]);
        }
        return status;
    }

    private void redrive(final int v)
    {
        final ArrayDeque<long[]> queue = parked.get(v);
        while (!queue.isEmpty() && apply(v, queue.peekFirst()) == CacheStatus.OK)
        {
            queue.removeFirst();
        }
    }

    private void checkRead(final int v, final long lba)
    {
        final long want = expected.get(v).getOrDefault(lba, ZERO);
        block.setMemory(0, TestSupport.BLOCK, (byte)0x5A);
        final int status = caches[v].read(lba, block, 0);
        final long have;
        if (status == CacheStatus.HIT)
        {
            have = want == ZERO ? (TestSupport.isZero(block, 0) ? ZERO : -1) :
                (TestSupport.matches(block, 0, v, lba, want, scratch) ? want : -1);
        }
        else if (status == CacheStatus.MISS)
        {
            have = shelf.get(v).getOrDefault(lba, ZERO);
        }
        else
        {
            fail("read volume " + v + " lba " + lba + ": " + CacheStatus.name(status));
            return;
        }
        assertEquals(want, have, "read volume " + v + " lba " + lba + " (" + CacheStatus.name(status) + ")");
    }

    private void destageStep(final int v)
    {
        final WriteCache cache = caches[v];
        if (cache.inFlightCount() == 0)
        {
            final List<long[]> batch = inFlight.get(v);
            final long batchId = cache.destageBatch(1 + random.nextInt(40), new DestageConsumer()
            {
                public void onPage(final int volumeId, final long lba, final long sequence, final DirectBuffer page,
                    final int offset)
                {
                    assertEquals(v, volumeId);
                    final long token = page.getLong(offset);
                    assertTrue(TestSupport.matches(page, offset, v, lba, token, scratch), "destaged page content");
                    batch.add(new long[] {lba, 1, token, sequence});
                    shelf.get(v).put(lba, token);
                }

                public void onUnmap(final int volumeId, final long lba, final int blockCount, final long sequence,
                    final boolean zeroes)
                {
                    batch.add(new long[] {lba, blockCount, ZERO, sequence});
                    for (long b = lba; b < lba + blockCount; b++)
                    {
                        shelf.get(v).put(b, ZERO);
                    }
                }
            });
            if (batchId != WriteCache.NO_BATCH)
            {
                for (int i = 1; i < batch.size(); i++)
                {
                    assertTrue(batch.get(i - 1)[3] < batch.get(i)[3], "destage in sequence order");
                }
                assertEquals(batch.size(), cache.inFlightCount());
            }
            batchIds[v] = batchId;
        }
        else if (random.nextInt(10) == 0)
        {
            caches[v].onDestageFailed(batchIds[v]);
            inFlight.get(v).clear(); // handed again by the next batch; the shelf keeps what it applied
        }
        else
        {
            caches[v].onDestaged(batchIds[v]);
            for (final long[] change : inFlight.get(v))
            {
                for (long b = change[0]; b < change[0] + change[1]; b++)
                {
                    durable.get(v).put(b, change[2]);
                }
            }
            inFlight.get(v).clear();
        }
    }

    /**
     * The region itself agrees with the caches' accounting, and a restart now (durable shelf + recovered
     * changes replayed in order) would give back exactly the model.
     */
    private void checkAccountingAndRecovery()
    {
        final NvmeScan scan = NvmeRecovery.scan(nvme.region());
        assertEquals(0, scan.ignoredCount());
        int pages = 0;
        int records = 0;
        for (int v = 0; v < VOLUMES; v++)
        {
            final RecoveredVolume volume = scan.volume(v);
            final int volumePages = volume.pageCount() + volume.superseded().size();
            assertEquals(caches[v].dirtyPageCount(), volumePages, "volume " + v + " dirty pages vs region");
            assertEquals(caches[v].dirtyRecordCount(), volume.recordCount(), "volume " + v + " records vs region");
            assertEquals((long)volumePages * TestSupport.BLOCK, caches[v].dirtyBytes());
            assertEquals(caches[v].changeCount(), volume.changes().size() + volume.superseded().size());
            pages += volumePages;
            records += volume.recordCount();

            final Map<Long, Long> replayed = new HashMap<>(durable.get(v));
            for (final RecoveredChange change : volume.changes())
            {
                if (change.isPage())
                {
                    final int offset = nvme.region().pageOffset(change.index());
                    final long token = nvme.region().buffer().getLong(offset);
                    assertTrue(TestSupport.matches(nvme.region().buffer(), offset, v, change.lba(), token, scratch));
                    replayed.put(change.lba(), token);
                }
                else
                {
                    for (long b = change.lba(); b < change.lba() + change.blockCount(); b++)
                    {
                        replayed.put(b, ZERO);
                    }
                }
            }
            for (long lba = 0; lba < LBAS; lba++)
            {
                assertEquals(expected.get(v).getOrDefault(lba, ZERO), replayed.getOrDefault(lba, ZERO),
                    "recovery of volume " + v + " lba " + lba);
            }
        }
        assertEquals(nvme.slotsInUse(), pages, "slots in use");
        assertEquals(nvme.recordsInUse(), records, "records in use");
    }

    /** T1: drop every in-memory structure (batches in flight are lost), reopen the region, adopt. */
    private void restart()
    {
        checkAccountingAndRecovery();
        nvme.close();
        for (int v = 0; v < VOLUMES; v++)
        {
            inFlight.get(v).clear();
            shelf.set(v, new HashMap<>(durable.get(v)));
        }
        open();
        restarts++;
        for (int v = 0; v < VOLUMES; v++)
        {
            for (long lba = 0; lba < LBAS; lba++)
            {
                checkRead(v, lba);
            }
        }
    }

    private void drain()
    {
        for (int round = 0; round < 100_000; round++)
        {
            boolean busy = false;
            for (int v = 0; v < VOLUMES; v++)
            {
                redrive(v);
                if (!caches[v].isClean() || !parked.get(v).isEmpty())
                {
                    busy = true;
                    destageStep(v);
                }
            }
            if (!busy)
            {
                return;
            }
        }
        fail("drain did not finish");
    }
}
