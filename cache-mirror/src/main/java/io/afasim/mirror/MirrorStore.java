package io.afasim.mirror;

import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.collections.IntArrayQueue;
import org.agrona.collections.Long2LongHashMap;

/**
 * The peer's half of mirrored write-back: copies of the owner's not-yet-destaged pages and transaction records,
 * kept in this controller's own NVMe memory (a second {@link NvmeRegion}, {@code node-X/mirror}, same format as
 * the owner's, so a failover can scan it like a T1 recovery). Written only by the link thread, as the owner's
 * messages arrive, in order: a copy is in place before the link acknowledges it; an invalidate (the owner
 * destaged or superseded the change) frees it; a discard (resync, delete) frees every copy of a volume.
 *
 * <p>Copies are keyed by the owner's cache sequence, which is unique within the owner's region. The region is
 * formatted fresh at every start: copies from before a restart are stale by definition (the owner resynchronises
 * every WB volume when the link comes up in a new epoch).
 */
public final class MirrorStore implements AutoCloseable
{
    private static final long MISSING = -1;

    private final NvmeRegion region;
    private final Long2LongHashMap pageSlots = new Long2LongHashMap(MISSING);
    private final Long2LongHashMap recordSlots = new Long2LongHashMap(MISSING);
    private final IntArrayQueue freePages;
    private final IntArrayQueue freeRecords;
    private final int[] pageVolume;
    private final long[] pageSequence;
    private final int[] recordVolume;
    private final long[] recordSequence;
    private volatile long pageCount;
    private volatile long recordCount;
    private volatile long overflowCount;
    private volatile long invalidateMissCount;

    /** Formats a fresh mirror region at {@code ctx.regionPath()} (a previous one is replaced). */
    public MirrorStore(final CacheContext ctx)
    {
        this.region = NvmeRegion.create(ctx);
        this.freePages = new IntArrayQueue(region.slotCount(), IntArrayQueue.DEFAULT_NULL_VALUE);
        this.freeRecords = new IntArrayQueue(region.recordCount(), IntArrayQueue.DEFAULT_NULL_VALUE);
        for (int i = 0; i < region.slotCount(); i++)
        {
            freePages.addInt(i);
        }
        for (int i = 0; i < region.recordCount(); i++)
        {
            freeRecords.addInt(i);
        }
        this.pageVolume = new int[region.slotCount()];
        this.pageSequence = new long[region.slotCount()];
        this.recordVolume = new int[region.recordCount()];
        this.recordSequence = new long[region.recordCount()];
    }

    /** A mirrored page: false when there is no free slot (counted; the owner's region is never larger). */
    public boolean putPage(
        final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset,
        final DirectBuffer page, final int pageOffset)
    {
        if (freePages.isEmpty())
        {
            overflowCount++;
            return false;
        }
        final int slot = freePages.pollInt();
        region.writeSlot(slot, entry, entryOffset, page, pageOffset);
        pageVolume[slot] = volumeId;
        pageSequence[slot] = cacheSequence;
        pageSlots.put(cacheSequence, slot);
        pageCount++;
        return true;
    }

    /** A mirrored TRIM / WRITE_ZEROES record. */
    public boolean putRecord(final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset)
    {
        if (freeRecords.isEmpty())
        {
            overflowCount++;
            return false;
        }
        final int record = freeRecords.pollInt();
        region.writeRecord(record, entry, entryOffset);
        recordVolume[record] = volumeId;
        recordSequence[record] = cacheSequence;
        recordSlots.put(cacheSequence, record);
        recordCount++;
        return true;
    }

    /** The owner destaged (or superseded) the change with this sequence. */
    public void invalidate(final int volumeId, final long cacheSequence)
    {
        final long slot = pageSlots.remove(cacheSequence);
        if (slot != MISSING)
        {
            freePage((int)slot);
            return;
        }
        final long record = recordSlots.remove(cacheSequence);
        if (record != MISSING)
        {
            freeRecord((int)record);
            return;
        }
        invalidateMissCount++; // e.g. a copy discarded by a resync that overtook it: harmless, counted
    }

    /** Drops every copy of {@code volumeId} (before a resync, or after a delete). */
    public int discardVolume(final int volumeId)
    {
        int dropped = 0;
        for (int slot = 0; slot < pageVolume.length; slot++)
        {
            if (pageSequence[slot] != 0 && pageVolume[slot] == volumeId)
            {
                pageSlots.remove(pageSequence[slot]);
                freePage(slot);
                dropped++;
            }
        }
        for (int record = 0; record < recordVolume.length; record++)
        {
            if (recordSequence[record] != 0 && recordVolume[record] == volumeId)
            {
                recordSlots.remove(recordSequence[record]);
                freeRecord(record);
                dropped++;
            }
        }
        return dropped;
    }

    private void freePage(final int slot)
    {
        region.freeSlot(slot);
        pageSequence[slot] = 0;
        freePages.addInt(slot);
        pageCount--;
    }

    private void freeRecord(final int record)
    {
        region.freeRecord(record);
        recordSequence[record] = 0;
        freeRecords.addInt(record);
        recordCount--;
    }

    /** Pages held (any thread). */
    public long pageCount()
    {
        return pageCount;
    }

    public long recordCount()
    {
        return recordCount;
    }

    /** Copies refused for lack of room (should stay 0). */
    public long overflowCount()
    {
        return overflowCount;
    }

    public long invalidateMissCount()
    {
        return invalidateMissCount;
    }

    public NvmeRegion region()
    {
        return region;
    }

    @Override
    public void close()
    {
        CloseHelper.quietClose(region);
    }
}
