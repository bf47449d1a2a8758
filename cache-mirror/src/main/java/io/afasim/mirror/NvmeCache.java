package io.afasim.mirror;

import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

import org.agrona.collections.IntArrayList;
import org.agrona.concurrent.ManyToManyConcurrentArrayQueue;

/**
 * The controller-wide part of the write cache: one per NVMe region, shared by the volume agents.
 *
 * <p>Concurrency. Each {@link WriteCache} is single-threaded (its volume agent); what they share is here
 * and lock-free on the fast path:
 * <ul>
 *   <li>free page slots and free records: two {@link ManyToManyConcurrentArrayQueue}s of pre-boxed slot
 *   numbers (allocated once, so take/release allocate nothing). One CAS per take and per release, which is
 *   negligible next to the 4 KiB copy and crc32c of a write. A shared pool rather than a partition per
 *   volume, because volumes come and go and are unevenly busy: a partition strands free space in idle
 *   volumes; per-volume caps and the fair share (see {@link CacheContext}) give the isolation instead. A
 *   per-volume reserve refilled in batches could be layered on top if the CAS ever shows in a profile.</li>
 *   <li>slots/records in use: {@link AtomicInteger}s; the global pressure latch (high/low watermark) is a
 *   volatile flag set by takers and cleared by releasers (a benign race: the next take/release corrects
 *   it).</li>
 *   <li>the sequence: an {@link AtomicLong} continuing above the highest sequence recovered and above
 *   {@code generation << }{@link #SEQUENCE_GENERATION_SHIFT}.</li>
 *   <li>the region buffer: position-free, every writer touches only the slots/records it holds.</li>
 * </ul>
 * Opening/closing volumes and adopting recovered changes are setup operations (synchronized, off the
 * data path).
 */
public final class NvmeCache implements AutoCloseable
{
    /**
     * Sequences of a generation start at {@code generation << 40}, so they keep increasing across restarts even
     * when every entry had been freed (2^40 writes per generation before the ranges overlap; recovery still
     * continues above the highest sequence it found).
     */
    public static final int SEQUENCE_GENERATION_SHIFT = 40;

    private final CacheContext ctx;
    private final NvmeRegion region;
    private final ManyToManyConcurrentArrayQueue<Integer> freeSlots;
    private final ManyToManyConcurrentArrayQueue<Integer> freeRecords;
    private final Integer[] slotRefs;
    private final Integer[] recordRefs;
    private final AtomicInteger slotsInUse = new AtomicInteger();
    private final AtomicInteger recordsInUse = new AtomicInteger();
    private final AtomicLong sequence;
    private final Map<Integer, RecoveredVolume> recoveredPending = new HashMap<>();
    private final Map<Integer, WriteCache> volumes = new HashMap<>();
    private volatile boolean globalPressure;

    /**
     * @param scan the scan of this region ({@link NvmeRecovery#scan}); torn/corrupt entries are reclaimed,
     *             recovered changes stay held until a volume adopts or discards them.
     */
    public NvmeCache(final CacheContext ctx, final NvmeRegion region, final NvmeScan scan)
    {
        ctx.conclude();
        if (region.slotCount() != ctx.slotCount() || region.recordCount() != ctx.recordCount())
        {
            throw new IllegalArgumentException("region " + region + " does not match context " + ctx);
        }
        this.ctx = ctx;
        this.region = region;
        this.freeSlots = new ManyToManyConcurrentArrayQueue<>(Math.max(2, region.slotCount()));
        this.freeRecords = new ManyToManyConcurrentArrayQueue<>(Math.max(2, region.recordCount()));
        this.slotRefs = new Integer[region.slotCount()];
        this.recordRefs = new Integer[region.recordCount()];
        for (int i = 0; i < slotRefs.length; i++)
        {
            slotRefs[i] = i; // boxed once here, never on the data path
        }
        for (int i = 0; i < recordRefs.length; i++)
        {
            recordRefs[i] = i;
        }
        seed(scan.freeSlots(), freeSlots, slotRefs, true);
        seed(scan.freeRecords(), freeRecords, recordRefs, false);
        slotsInUse.set(region.slotCount() - scan.freeSlots().size());
        recordsInUse.set(region.recordCount() - scan.freeRecords().size());
        globalPressure = slotsInUse.get() >= ctx.globalHighSlots();
        sequence = new AtomicLong(Math.max(scan.maxSequence(), region.generation() << SEQUENCE_GENERATION_SHIFT));
        recoveredPending.putAll(scan.volumes());
    }

    private void seed(
        final IntArrayList free, final ManyToManyConcurrentArrayQueue<Integer> queue, final Integer[] refs,
        final boolean slots)
    {
        for (int i = 0; i < free.size(); i++)
        {
            final int index = free.getInt(i);
            if (slots)
            {
                region.freeSlot(index); // reclaims torn/corrupt entries; a no-op store on free ones
            }
            else
            {
                region.freeRecord(index);
            }
            if (!queue.offer(refs[index]))
            {
                throw new IllegalStateException("free pool overflow at " + index);
            }
        }
    }

    /** Opens (or formats) the context's region, scans it and builds the shared cache. */
    public static NvmeCache openOrCreate(final CacheContext ctx)
    {
        final NvmeRegion region = NvmeRegion.openOrCreate(ctx);
        try
        {
            return new NvmeCache(ctx, region, NvmeRecovery.scan(region));
        }
        catch (final RuntimeException ex)
        {
            region.close();
            throw ex;
        }
    }

    /**
     * A new, empty write cache for a volume; recovered changes of the volume (if any) are then taken over
     * with {@link WriteCache#adopt}.
     */
    public synchronized WriteCache newWriteCache(final int volumeId)
    {
        if (volumes.containsKey(volumeId))
        {
            throw new IllegalStateException("volume " + volumeId + " already has a write cache");
        }
        if (volumes.size() >= ctx.volumeCountMax())
        {
            throw new IllegalStateException("volumeCountMax=" + ctx.volumeCountMax() + " write caches already open");
        }
        final WriteCache cache = new WriteCache(this, volumeId);
        volumes.put(volumeId, cache);
        return cache;
    }

    /** Forgets a volume's write cache; it must be clean (destaged or discarded). */
    public synchronized void closeWriteCache(final WriteCache cache)
    {
        if (!cache.isClean())
        {
            throw new IllegalStateException("volume " + cache.volumeId() + ": write cache is not clean");
        }
        volumes.remove(cache.volumeId());
    }

    /** Recovered changes not yet adopted, by volume id. */
    public synchronized Map<Integer, RecoveredVolume> recoveredPending()
    {
        return Map.copyOf(recoveredPending);
    }

    /** The volume's recovered changes not yet adopted (empty when none): pass to {@link WriteCache#adopt}. */
    public synchronized RecoveredVolume recovered(final int volumeId)
    {
        final RecoveredVolume volume = recoveredPending.get(volumeId);
        return volume != null ? volume : RecoveredVolume.empty(volumeId);
    }

    synchronized RecoveredVolume takeRecovered(final int volumeId)
    {
        return recoveredPending.remove(volumeId);
    }

    synchronized void takeRecoveredBack(final RecoveredVolume volume)
    {
        recoveredPending.put(volume.volumeId(), volume);
    }

    /** Frees the recovered changes of a volume that no longer exists (its data is dropped). */
    public synchronized void discardRecovered(final int volumeId)
    {
        final RecoveredVolume volume = recoveredPending.remove(volumeId);
        if (volume != null)
        {
            releaseAll(volume);
        }
    }

    void releaseAll(final RecoveredVolume volume)
    {
        for (final RecoveredChange change : volume.superseded())
        {
            release(change);
        }
        for (final RecoveredChange change : volume.changes())
        {
            release(change);
        }
    }

    void release(final RecoveredChange change)
    {
        if (change.isPage())
        {
            releaseSlot(change.index());
        }
        else
        {
            releaseRecord(change.index());
        }
    }

    /** A free slot, or -1 when none is free. Any thread. */
    int takeSlot()
    {
        final Integer slot = freeSlots.poll();
        if (slot == null)
        {
            return -1;
        }
        if (slotsInUse.incrementAndGet() >= ctx.globalHighSlots() && !globalPressure)
        {
            globalPressure = true;
        }
        return slot;
    }

    /** Frees the slot in the region (sequence 0) and then returns it to the pool. Any thread. */
    void releaseSlot(final int slot)
    {
        region.freeSlot(slot);
        if (!freeSlots.offer(slotRefs[slot]))
        {
            throw new IllegalStateException("slot " + slot + " released twice (pool full)");
        }
        if (slotsInUse.decrementAndGet() <= ctx.globalLowSlots() && globalPressure)
        {
            globalPressure = false;
        }
    }

    int takeRecord()
    {
        final Integer record = freeRecords.poll();
        if (record == null)
        {
            return -1;
        }
        recordsInUse.incrementAndGet();
        return record;
    }

    void releaseRecord(final int record)
    {
        region.freeRecord(record);
        if (!freeRecords.offer(recordRefs[record]))
        {
            throw new IllegalStateException("record " + record + " released twice (pool full)");
        }
        recordsInUse.decrementAndGet();
    }

    long nextSequence()
    {
        return sequence.incrementAndGet();
    }

    /** The highest sequence handed out so far (mirroring handshake: "last sequence"). */
    public long lastSequence()
    {
        return sequence.get();
    }

    /** True between the global high watermark and the global low watermark. */
    public boolean isGlobalPressure()
    {
        return globalPressure;
    }

    public int slotsInUse()
    {
        return slotsInUse.get();
    }

    public int recordsInUse()
    {
        return recordsInUse.get();
    }

    public long dirtyBytes()
    {
        return (long)slotsInUse.get() * NvmeRegion.BLOCK_SIZE_BYTES;
    }

    public CacheContext context()
    {
        return ctx;
    }

    public NvmeRegion region()
    {
        return region;
    }

    @Override
    public void close()
    {
        region.close();
    }
}
