package io.afasim.mirror;

import java.nio.file.Path;
import java.util.List;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A descriptor, a page or a transaction record torn at every byte offset (partial bytes written straight
 * into the region, as a kill in the middle of the write would leave them), then scanned: the torn entry is
 * ignored and counted, and every change acknowledged before it is recovered unchanged. Every few offsets the
 * region is really closed and reopened before the scan.
 */
class TornWriteTest
{
    private static final int VOLUME = 1;

    @TempDir
    Path dir;

    private CacheContext ctx;
    private NvmeRegion region;
    private List<RecoveredChange> acknowledged;
    private int victimSlot;
    private int victimRecord;
    private long victimSequence;
    private final byte[] entryArray = new byte[ChangeEntry.LENGTH_BYTES];
    private final UnsafeBuffer entry = new UnsafeBuffer(entryArray);
    private final UnsafeBuffer page = new UnsafeBuffer(new byte[TestSupport.BLOCK]);

    @BeforeEach
    void acknowledgeSomeChanges()
    {
        ctx = TestSupport.smallContext(dir).conclude();
        try (NvmeCache nvme = NvmeCache.openOrCreate(ctx))
        {
            final WriteCache cache = nvme.newWriteCache(VOLUME);
            final UnsafeBuffer block = new UnsafeBuffer(new byte[TestSupport.BLOCK]);
            for (long lba = 0; lba < 5; lba++)
            {
                TestSupport.fill(block, 0, VOLUME, lba, lba + 1);
                assertEquals(CacheStatus.OK, cache.write(lba, block, 0));
            }
            TestSupport.fill(block, 0, VOLUME, 3, 6);
            assertEquals(CacheStatus.OK, cache.write(3, block, 0));
            assertEquals(CacheStatus.OK, cache.trim(10, 2));
            victimSlot = nvme.takeSlot();
            victimRecord = nvme.takeRecord();
            victimSequence = nvme.lastSequence() + 1;
            // the old content of the victim slot: a stale page
            nvme.region().buffer().setMemory(nvme.region().pageOffset(victimSlot), TestSupport.BLOCK, (byte)0xAA);
        }
        region = NvmeRegion.open(ctx);
        final NvmeScan scan = NvmeRecovery.scan(region);
        acknowledged = scan.volume(VOLUME).changes();
        assertEquals(6, acknowledged.size(), "5 pages (lba 3 rewritten) and a trim");
        assertEquals(0, scan.ignoredCount());
    }

    @AfterEach
    void close()
    {
        region.close();
    }

    @Test
    void tornDescriptorIsIgnored()
    {
        encodePageVictim(3);
        final int descriptor = region.descriptorOffset(victimSlot);
        region.buffer().putBytes(region.pageOffset(victimSlot), page, 0, TestSupport.BLOCK);
        for (int k = 0; k <= ChangeEntry.LENGTH_BYTES; k++)
        {
            for (final boolean prefix : new boolean[] {true, false})
            {
                region.buffer().setMemory(descriptor, ChangeEntry.LENGTH_BYTES, (byte)0);
                if (prefix)
                {
                    region.buffer().putBytes(descriptor, entry, 0, k);
                }
                else
                {
                    region.buffer().putBytes(descriptor + k, entry, k, ChangeEntry.LENGTH_BYTES - k);
                }
                reopenSometimes(k % 16 == 0);
                final NvmeScan scan = NvmeRecovery.scan(region);
                final String where = (prefix ? "prefix " : "suffix ") + k;
                if (isWhole(descriptor))
                {
                    assertRecoveredVictim(scan, where);
                }
                else
                {
                    final boolean marked = region.buffer().getLong(descriptor) != 0;
                    assertEquals(marked ? 1 : 0, scan.tornDescriptorCount(), where);
                    assertEquals(acknowledged, scan.volume(VOLUME).changes(), where);
                    assertEquals(0, scan.corruptPageCount() + scan.tornRecordCount(), where);
                }
            }
        }
    }

    @Test
    void tornPageIsIgnored()
    {
        encodePageVictim(3);
        final int descriptor = region.descriptorOffset(victimSlot);
        final int pageOffset = region.pageOffset(victimSlot);
        for (int k = 0; k <= TestSupport.BLOCK; k++)
        {
            region.buffer().setMemory(pageOffset, TestSupport.BLOCK, (byte)0xAA);
            region.buffer().putBytes(pageOffset, page, 0, k);
            region.buffer().putBytes(descriptor, entry, 0, ChangeEntry.LENGTH_BYTES);
            reopenSometimes(k % 512 == 0);
            final NvmeScan scan = NvmeRecovery.scan(region);
            if (k == TestSupport.BLOCK)
            {
                assertRecoveredVictim(scan, "whole page");
            }
            else
            {
                assertEquals(1, scan.corruptPageCount(), "page torn at " + k);
                assertEquals(0, scan.tornDescriptorCount() + scan.tornRecordCount());
                assertEquals(acknowledged, scan.volume(VOLUME).changes(), "page torn at " + k);
            }
            region.buffer().putLong(descriptor, 0);
        }
    }

    @Test
    void tornRecordIsIgnored()
    {
        // A TRIM over lba 0..1: accepted by mistake, it would supersede the acknowledged pages 0 and 1.
        final Crc32cCalculator crc = new Crc32cCalculator(region.mapped());
        ChangeEntry.encode(entry, entryArray, crc, victimSequence, VOLUME, ChangeEntry.KIND_TRIM, 0, 2, 0);
        final int record = region.recordOffset(victimRecord);
        for (int k = 0; k <= ChangeEntry.LENGTH_BYTES; k++)
        {
            for (final boolean prefix : new boolean[] {true, false})
            {
                region.buffer().setMemory(record, ChangeEntry.LENGTH_BYTES, (byte)0);
                if (prefix)
                {
                    region.buffer().putBytes(record, entry, 0, k);
                }
                else
                {
                    region.buffer().putBytes(record + k, entry, k, ChangeEntry.LENGTH_BYTES - k);
                }
                reopenSometimes(k % 16 == 0);
                final NvmeScan scan = NvmeRecovery.scan(region);
                final String where = (prefix ? "prefix " : "suffix ") + k;
                if (isWhole(record))
                {
                    final List<RecoveredChange> changes = scan.volume(VOLUME).changes();
                    assertEquals(victimSequence, changes.get(changes.size() - 1).sequence(), where);
                    assertEquals(2, scan.supersededCount(), where);
                }
                else
                {
                    final boolean marked = region.buffer().getLong(record) != 0;
                    assertEquals(marked ? 1 : 0, scan.tornRecordCount(), where);
                    assertEquals(acknowledged, scan.volume(VOLUME).changes(), where);
                    assertEquals(0, scan.supersededCount(), where);
                }
            }
        }
    }

    private void encodePageVictim(final long lba)
    {
        TestSupport.fill(page, 0, VOLUME, lba, 99);
        final Crc32cCalculator crc = new Crc32cCalculator(region.mapped());
        final int dataCrc = crc.bytes(page.byteArray(), 0, TestSupport.BLOCK);
        ChangeEntry.encode(entry, entryArray, crc, victimSequence, VOLUME, ChangeEntry.KIND_PAGE, lba, 1, dataCrc);
    }

    private boolean isWhole(final int offset)
    {
        for (int i = 0; i < ChangeEntry.LENGTH_BYTES; i++)
        {
            if (region.buffer().getByte(offset + i) != entryArray[i])
            {
                return false;
            }
        }
        return true;
    }

    /** The whole victim page (a rewrite of lba 3) is recovered and supersedes the acknowledged lba 3. */
    private void assertRecoveredVictim(final NvmeScan scan, final String where)
    {
        final List<RecoveredChange> changes = scan.volume(VOLUME).changes();
        final RecoveredChange last = changes.get(changes.size() - 1);
        assertEquals(victimSequence, last.sequence(), where);
        assertEquals(3, last.lba(), where);
        assertEquals(1, scan.supersededCount(), where);
        assertEquals(0, scan.ignoredCount(), where);
        assertTrue(changes.containsAll(acknowledged.stream().filter(c -> c.lba() != 3).toList()), where);
    }

    private void reopenSometimes(final boolean reopen)
    {
        if (reopen)
        {
            region.close();
            region = NvmeRegion.open(ctx);
        }
    }
}
