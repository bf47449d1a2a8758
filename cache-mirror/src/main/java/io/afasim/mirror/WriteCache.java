package io.afasim.mirror;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * One volume's write cache in NVMe memory. Single-threaded: only the volume's agent calls it (no locks,
 * no allocation per I/O). Slots and records come from the shared {@link NvmeCache}.
 *
 * <p>State: a list of cached changes in sequence order (oldest first; a node per page slot or record,
 * pre-allocated arrays, O(1) unlink), an index LBA -> node of the newest cached page of each LBA, and the
 * set of cached TRIM/WRITE_ZEROES nodes (at most {@code volumeRecordsMax}, scanned on an index miss).
 * A page superseded by a newer write or a TRIM is freed at once, unless a destage batch holds it: then it
 * is freed when the batch completes.
 *
 * <pre>
 *   write:   limits -> take slot -> copy page -> crc32c -> encode descriptor -> descriptor body ->
 *            sequence (valid marker) last -> index/list -> free superseded slot -> mirror sink -> OK
 *   destage: destageBatch(max) hands the oldest changes not yet in flight -> layer below durable ->
 *            onDestaged(batch) frees them (or onDestageFailed(batch) keeps them for a retry)
 * </pre>
 *
 * <p>Batches in flight: one by default; up to {@link #DESTAGE_BATCHES_IN_FLIGHT_LIMIT} when the owner pipelines
 * destage and commits several batches together ({@link #destageBatchesInFlightMax(int)}: small batches are applied
 * below one after the other and made durable as a group, while the previous group is being made durable). Batches
 * are consecutive runs of the list from its head, in sequence order, kept in a bounded ring (id, change count and
 * first node of each): they complete oldest first ({@link #onDestaged}) and fail newest first
 * ({@link #onDestageFailed}), so the changes in flight are always a prefix of the list, and the last of them
 * ({@code lastInFlightNode}) marks where the next batch starts.
 */
public final class WriteCache
{
    /** No batch (nothing dirty or a batch already in flight). */
    public static final long NO_BATCH = 0;

    private static final int NONE = -1;
    private static final long INDEX_MISSING = -1;
    private static final byte FLAG_IN_FLIGHT = 1;
    private static final byte FLAG_SUPERSEDED = 2;
    private static final float INDEX_LOAD_FACTOR = 0.6f;

    private final NvmeCache shared;
    private final NvmeRegion region;
    private final UnsafeBuffer buffer;
    private final int volumeId;
    private final boolean forceOnFua;
    private final int volumeSlotsMax;
    private final int volumeLowSlots;
    private final int volumeFairSlots;
    private final int volumeRecordsMax;
    private final int destageBatchMax;
    private final Crc32cCalculator crc;
    private final byte[] entryArray = new byte[ChangeEntry.LENGTH_BYTES];
    private final UnsafeBuffer entry = new UnsafeBuffer(entryArray);

    // Change list: node arrays sized nodeCapacity = volumeSlotsMax + volumeRecordsMax (the caps bound them).
    private final short[] nodeKind;
    private final int[] nodeIndex;
    private final long[] nodeSequence;
    private final long[] nodeLba;
    private final int[] nodeBlockCount;
    private final byte[] nodeFlags;
    private final int[] nodePrev;
    private final int[] nodeNext;
    private final int[] freeNodes;
    private int freeNodeCount;
    private int head = NONE;
    private int tail = NONE;
    private int changeCount;

    private final Long2LongHashMap index;
    private final int[] unmapNodes;
    private int unmapNodeCount;

    private int heldSlots;
    private int heldRecords;
    private boolean volumeBackPressure;
    /** Batches that may be in flight at once (destage pipelining and group commit); a power of two (ring). */
    public static final int DESTAGE_BATCHES_IN_FLIGHT_LIMIT = 128;
    private static final int BATCH_RING_MASK = DESTAGE_BATCHES_IN_FLIGHT_LIMIT - 1;

    private int inFlightCount;
    private long batchId;
    private int destageBatchesInFlightMax = 1;
    /** Batches in flight, a ring from {@link #inFlightBatchHead} (the oldest): id, change count, first node. */
    private final long[] inFlightBatchIds = new long[DESTAGE_BATCHES_IN_FLIGHT_LIMIT];
    private final int[] inFlightBatchCounts = new int[DESTAGE_BATCHES_IN_FLIGHT_LIMIT];
    private final int[] inFlightBatchFirstNodes = new int[DESTAGE_BATCHES_IN_FLIGHT_LIMIT];
    private int inFlightBatchHead;
    private int inFlightBatches;
    /**
     * The last node of the in-flight prefix ({@code NONE} when nothing is in flight). A node in flight is never
     * unlinked before its batch ends (a superseded one is only flagged), so this stays valid.
     */
    private int lastInFlightNode = NONE;
    private long lastSequence;
    private WriteMode writeMode = WriteMode.ONE_WAY_WB;
    private MirrorSink mirrorSink = MirrorSink.NONE;

    private long writeCount;
    private long unmapCount;
    private long hitCount;
    private long missCount;
    private long backPressureCount;
    private long checksumMismatchCount;
    private long destagedCount;
    private long destageCorruptCount;
    private long destageFailedCount;

    WriteCache(final NvmeCache shared, final int volumeId)
    {
        final CacheContext ctx = shared.context();
        this.shared = shared;
        this.region = shared.region();
        this.buffer = region.buffer();
        this.volumeId = volumeId;
        this.forceOnFua = ctx.forceOnFua();
        this.volumeSlotsMax = ctx.volumeSlotsMax();
        this.volumeLowSlots = ctx.volumeLowSlots();
        this.volumeFairSlots = ctx.volumeFairSlots();
        this.volumeRecordsMax = ctx.volumeRecordsMax();
        this.destageBatchMax = ctx.destageBatchMax();
        this.crc = new Crc32cCalculator(region.mapped());

        final int nodeCapacity = volumeSlotsMax + volumeRecordsMax; // every held slot and record has one node
        nodeKind = new short[nodeCapacity];
        nodeIndex = new int[nodeCapacity];
        nodeSequence = new long[nodeCapacity];
        nodeLba = new long[nodeCapacity];
        nodeBlockCount = new int[nodeCapacity];
        nodeFlags = new byte[nodeCapacity];
        nodePrev = new int[nodeCapacity];
        nodeNext = new int[nodeCapacity];
        freeNodes = new int[nodeCapacity];
        for (int i = 0; i < nodeCapacity; i++)
        {
            freeNodes[i] = nodeCapacity - 1 - i;
        }
        freeNodeCount = nodeCapacity;
        // Sized so that volumeSlotsMax entries never trigger a resize (no allocation on the data path).
        index = new Long2LongHashMap((int)(volumeSlotsMax / INDEX_LOAD_FACTOR) + 2, INDEX_LOAD_FACTOR, INDEX_MISSING);
        unmapNodes = new int[volumeRecordsMax];
    }

    // ------------------------------------------------------------------------------------------------ writes

    /**
     * Caches one 4 KiB block. {@link CacheStatus#OK}: the page and its descriptor are in NVMe memory (and were
     * handed to the mirror sink): acknowledge according to {@link #writeMode()}.
     * {@link CacheStatus#BACK_PRESSURE}: nothing was written; park the request, destage, re-drive.
     */
    public int write(final long lba, final DirectBuffer src, final int srcOffset)
    {
        requireCacheMode();
        if (lba < 0)
        {
            throw new IllegalArgumentException("lba=" + lba);
        }
        if (isSlotBackPressure())
        {
            backPressureCount++;
            return CacheStatus.BACK_PRESSURE;
        }
        final int slot = shared.takeSlot();
        if (slot < 0)
        {
            backPressureCount++;
            return CacheStatus.BACK_PRESSURE;
        }
        final int pageOffset = region.pageOffset(slot);
        region.writeSlotPage(slot, src, srcOffset);
        final int dataCrc = crc.region(pageOffset, NvmeRegion.BLOCK_SIZE_BYTES);
        final long sequence = shared.nextSequence();
        ChangeEntry.encode(entry, entryArray, crc, sequence, volumeId, ChangeEntry.KIND_PAGE, lba, 1, dataCrc);
        region.commitSlotDescriptor(slot, entry, 0);
        heldSlots++;

        final int node = appendNode(ChangeEntry.KIND_PAGE, slot, sequence, lba, 1);
        final long previous = index.put(lba, node);
        if (previous != INDEX_MISSING)
        {
            supersede((int)previous);
        }
        lastSequence = sequence;
        writeCount++;
        mirrorSink.onPageWritten(volumeId, sequence, entry, 0, buffer, pageOffset);
        return CacheStatus.OK;
    }

    /** Caches a TRIM of {@code blockCount} blocks from {@code lba}: a transaction record. */
    public int trim(final long lba, final int blockCount)
    {
        return unmap(lba, blockCount, ChangeEntry.KIND_TRIM);
    }

    /** Caches a WRITE_ZEROES of {@code blockCount} blocks from {@code lba}: a transaction record. */
    public int writeZeroes(final long lba, final int blockCount)
    {
        return unmap(lba, blockCount, ChangeEntry.KIND_WRITE_ZEROES);
    }

    private int unmap(final long lba, final int blockCount, final short kind)
    {
        requireCacheMode();
        if (lba < 0 || blockCount < 1 || lba + blockCount < lba)
        {
            throw new IllegalArgumentException("lba=" + lba + " blockCount=" + blockCount);
        }
        if (heldRecords >= volumeRecordsMax)
        {
            backPressureCount++;
            return CacheStatus.BACK_PRESSURE;
        }
        final int record = shared.takeRecord();
        if (record < 0)
        {
            backPressureCount++;
            return CacheStatus.BACK_PRESSURE;
        }
        final long sequence = shared.nextSequence();
        ChangeEntry.encode(entry, entryArray, crc, sequence, volumeId, kind, lba, blockCount, 0);
        region.writeRecord(record, entry, 0);
        heldRecords++;
        final int node = appendNode(kind, record, sequence, lba, blockCount);
        unmapNodes[unmapNodeCount++] = node;
        supersedePages(lba, blockCount);
        lastSequence = sequence;
        unmapCount++;
        mirrorSink.onRecordWritten(volumeId, sequence, entry, 0);
        return CacheStatus.OK;
    }

    private void supersedePages(final long lba, final int blockCount)
    {
        if (blockCount <= index.size())
        {
            for (long block = lba, end = lba + blockCount; block < end; block++)
            {
                final long node = index.remove(block);
                if (node != INDEX_MISSING)
                {
                    supersede((int)node);
                }
            }
        }
        else
        {
            int node = head;
            while (node != NONE)
            {
                final int next = nodeNext[node];
                final long block = nodeLba[node];
                if (nodeKind[node] == ChangeEntry.KIND_PAGE && block >= lba && block - lba < blockCount &&
                    index.get(block) == node)
                {
                    index.remove(block);
                    supersede(node);
                }
                node = next;
            }
        }
    }

    /** The page node is no longer the newest for its LBA (already out of the index). */
    private void supersede(final int node)
    {
        assert nodeKind[node] == ChangeEntry.KIND_PAGE;
        if ((nodeFlags[node] & FLAG_IN_FLIGHT) != 0)
        {
            nodeFlags[node] |= FLAG_SUPERSEDED; // the layer below is reading it: freed with the batch
        }
        else
        {
            releaseNode(node);
        }
    }

    private boolean isSlotBackPressure()
    {
        if (volumeBackPressure)
        {
            if (heldSlots > volumeLowSlots)
            {
                return true;
            }
            volumeBackPressure = false;
        }
        if (heldSlots >= volumeSlotsMax)
        {
            volumeBackPressure = true;
            return true;
        }
        return shared.isGlobalPressure() && heldSlots >= volumeFairSlots;
    }

    private void requireCacheMode()
    {
        if (!writeMode.usesCache())
        {
            throw new IllegalStateException("volume " + volumeId + ": write mode " + writeMode +
                " bypasses the write cache");
        }
    }

    // ------------------------------------------------------------------------------------------------ reads

    /**
     * Reads one block from the cache into {@code dst}: {@link CacheStatus#HIT} (a cached page, or zeroes of a
     * cached TRIM/WRITE_ZEROES), {@link CacheStatus#MISS} (read the layer below), or
     * {@link CacheStatus#CHECKSUM_MISMATCH} (the cached page is corrupt: {@code dst} is not filled).
     */
    public int read(final long lba, final MutableDirectBuffer dst, final int dstOffset)
    {
        final long node = index.get(lba);
        if (node != INDEX_MISSING)
        {
            final int slot = nodeIndex[(int)node];
            final int pageOffset = region.pageOffset(slot);
            final int expectedCrc = ChangeEntry.dataCrc(buffer, region.descriptorOffset(slot));
            if (crc.region(pageOffset, NvmeRegion.BLOCK_SIZE_BYTES) != expectedCrc)
            {
                checksumMismatchCount++;
                return CacheStatus.CHECKSUM_MISMATCH;
            }
            dst.putBytes(dstOffset, buffer, pageOffset, NvmeRegion.BLOCK_SIZE_BYTES);
            hitCount++;
            return CacheStatus.HIT;
        }
        for (int i = 0; i < unmapNodeCount; i++)
        {
            final int unmap = unmapNodes[i];
            if (lba >= nodeLba[unmap] && lba - nodeLba[unmap] < nodeBlockCount[unmap])
            {
                dst.setMemory(dstOffset, NvmeRegion.BLOCK_SIZE_BYTES, (byte)0);
                hitCount++;
                return CacheStatus.HIT;
            }
        }
        missCount++;
        return CacheStatus.MISS;
    }

    // ------------------------------------------------------------------------------------------------ destage

    /**
     * Hands the oldest cached changes not yet in flight (at most {@code changeCountMax}, capped by
     * {@code destageBatchMax}) to {@code consumer} in sequence order and returns the batch id, or
     * {@link #NO_BATCH} when nothing more is dirty or {@link #destageBatchesInFlightMax(int)} batches are in
     * flight (batches follow each other in sequence order). The changes stay cached (reads hit them) until
     * {@link #onDestaged}.
     */
    public long destageBatch(final int changeCountMax, final DestageConsumer consumer)
    {
        if (inFlightBatches >= destageBatchesInFlightMax || changeCountMax < 1)
        {
            return NO_BATCH;
        }
        final int first = lastInFlightNode == NONE ? head : nodeNext[lastInFlightNode]; // past the in-flight prefix
        if (first == NONE)
        {
            return NO_BATCH;
        }
        final int limit = Math.min(changeCountMax, destageBatchMax);
        int node = first;
        int count = 0;
        while (node != NONE && count < limit)
        {
            assert (nodeFlags[node] & FLAG_IN_FLIGHT) == 0 : "in flight past the prefix";
            nodeFlags[node] |= FLAG_IN_FLIGHT;
            handOver(node, consumer);
            lastInFlightNode = node;
            count++;
            node = nodeNext[node];
        }
        inFlightCount += count;
        final int position = (inFlightBatchHead + inFlightBatches) & BATCH_RING_MASK;
        inFlightBatchIds[position] = ++batchId;
        inFlightBatchCounts[position] = count;
        inFlightBatchFirstNodes[position] = first;
        inFlightBatches++;
        return batchId;
    }

    /** Destage batches in flight (0 when none). */
    public int destageBatchesInFlight()
    {
        return inFlightBatches;
    }

    /** The oldest batch in flight (the next {@link #onDestaged}), or {@link #NO_BATCH}. */
    public long oldestBatchInFlight()
    {
        return inFlightBatches == 0 ? NO_BATCH : inFlightBatchIds[inFlightBatchHead];
    }

    /** The newest batch in flight (the next {@link #onDestageFailed}), or {@link #NO_BATCH}. */
    public long newestBatchInFlight()
    {
        return inFlightBatches == 0 ? NO_BATCH :
            inFlightBatchIds[(inFlightBatchHead + inFlightBatches - 1) & BATCH_RING_MASK];
    }

    /**
     * A mirror resync: hands every cached change to {@code sink} in sequence order, as {@link #write} and
     * {@link #trim} handed them when they were made: each page that is still the newest of its LBA (with its
     * descriptor as stored in NVMe memory) and every transaction record. Superseded pages are skipped (their
     * newer change follows; a release of theirs may reach the peer later and finds no copy, which is harmless).
     * Owner thread; the caller quiesces the volume first, so nothing changes meanwhile.
     *
     * @return the changes handed over.
     */
    public int replayTo(final MirrorSink sink)
    {
        int count = 0;
        for (int node = head; node != NONE; node = nodeNext[node])
        {
            if ((nodeFlags[node] & FLAG_SUPERSEDED) != 0)
            {
                continue;
            }
            if (nodeKind[node] == ChangeEntry.KIND_PAGE)
            {
                final int slot = nodeIndex[node];
                sink.onPageWritten(volumeId, nodeSequence[node], buffer, region.descriptorOffset(slot), buffer,
                    region.pageOffset(slot));
            }
            else
            {
                sink.onRecordWritten(volumeId, nodeSequence[node], buffer, region.recordOffset(nodeIndex[node]));
            }
            count++;
        }
        return count;
    }

    /**
     * How many destage batches may be in flight at once: 1 (default) up to {@link #DESTAGE_BATCHES_IN_FLIGHT_LIMIT}
     * (the owner applies further batches while earlier ones are being made durable). Owner thread.
     */
    public void destageBatchesInFlightMax(final int batches)
    {
        if (batches < 1 || batches > DESTAGE_BATCHES_IN_FLIGHT_LIMIT)
        {
            throw new IllegalArgumentException("volume " + volumeId + ": destageBatchesInFlightMax=" + batches +
                " not in [1, " + DESTAGE_BATCHES_IN_FLIGHT_LIMIT + "]");
        }
        destageBatchesInFlightMax = batches;
    }

    private void handOver(final int node, final DestageConsumer consumer)
    {
        final long lba = nodeLba[node];
        final long sequence = nodeSequence[node];
        if (nodeKind[node] == ChangeEntry.KIND_PAGE)
        {
            final int slot = nodeIndex[node];
            final int pageOffset = region.pageOffset(slot);
            if (crc.region(pageOffset, NvmeRegion.BLOCK_SIZE_BYTES) !=
                ChangeEntry.dataCrc(buffer, region.descriptorOffset(slot)))
            {
                destageCorruptCount++;
                consumer.onCorruptPage(volumeId, lba, sequence);
            }
            else
            {
                consumer.onPage(volumeId, lba, sequence, buffer, pageOffset);
            }
        }
        else
        {
            consumer.onUnmap(volumeId, lba, nodeBlockCount[node], sequence,
                nodeKind[node] == ChangeEntry.KIND_WRITE_ZEROES);
        }
    }

    /** The layer below has made batch {@code batch}, the oldest in flight, durable: its slots and records are freed. */
    public void onDestaged(final long batch)
    {
        requireInFlight(batch, 0, "the oldest");
        final int count = inFlightBatchCounts[inFlightBatchHead];
        assert inFlightBatchFirstNodes[inFlightBatchHead] == head : "the oldest batch starts the list";
        for (int i = count; i > 0; i--)
        {
            final int node = head;
            assert (nodeFlags[node] & FLAG_IN_FLIGHT) != 0;
            if (nodeKind[node] == ChangeEntry.KIND_PAGE && (nodeFlags[node] & FLAG_SUPERSEDED) == 0)
            {
                final long removed = index.remove(nodeLba[node]);
                if (removed != node)
                {
                    throw new IllegalStateException("volume " + volumeId + ": index of lba " + nodeLba[node] +
                        " points to " + removed + ", expected node " + node);
                }
            }
            releaseNode(node);
            destagedCount++;
        }
        inFlightCount -= count;
        inFlightBatches--;
        inFlightBatchHead = (inFlightBatchHead + 1) & BATCH_RING_MASK;
        if (inFlightBatches == 0)
        {
            lastInFlightNode = NONE;
        }
        assert (inFlightCount == 0) == (lastInFlightNode == NONE);
    }

    /**
     * The layer below could not make batch {@code batch}, the newest in flight, durable (an operating error): the
     * changes stay cached and will be handed over again; pages superseded meanwhile are freed now.
     */
    public void onDestageFailed(final long batch)
    {
        requireInFlight(batch, inFlightBatches - 1, "the newest");
        final int position = (inFlightBatchHead + inFlightBatches - 1) & BATCH_RING_MASK;
        final int count = inFlightBatchCounts[position];
        int node = inFlightBatchFirstNodes[position];
        lastInFlightNode = nodePrev[node]; // the last node of the previous batch (in flight), or NONE
        for (int i = count; i > 0; i--)
        {
            final int next = nodeNext[node];
            nodeFlags[node] &= ~FLAG_IN_FLIGHT;
            if ((nodeFlags[node] & FLAG_SUPERSEDED) != 0)
            {
                releaseNode(node);
            }
            node = next;
        }
        inFlightCount -= count;
        inFlightBatches--;
        destageFailedCount++;
        assert (inFlightCount == 0) == (lastInFlightNode == NONE);
    }

    private void requireInFlight(final long batch, final int position, final String which)
    {
        if (inFlightBatches == 0 || position < 0 ||
            inFlightBatchIds[(inFlightBatchHead + position) & BATCH_RING_MASK] != batch)
        {
            throw new IllegalStateException("volume " + volumeId + ": batch " + batch + " is not " + which +
                " batch in flight (last " + batchId + ", batches in flight " + inFlightBatches + ", changes " +
                inFlightCount + ")");
        }
    }

    // ------------------------------------------------------------------------------------------------ modes

    /**
     * FUA / FLUSH hook: makes every change cached so far meet the NVMe side of the mode's rule (msync when
     * {@code forceOnFua}) and returns the highest sequence this volume has written. 1-way-WB: acknowledge now.
     * WB: acknowledge once the peer has acknowledged this sequence. WT: the cache is bypassed and clean.
     */
    public long forceUnitAccess()
    {
        if (forceOnFua && changeCount > 0)
        {
            region.force();
        }
        return lastSequence;
    }

    /** FLUSH: same rule as {@link #forceUnitAccess()} for every earlier write. */
    public long flush()
    {
        return forceUnitAccess();
    }

    public WriteMode writeMode()
    {
        return writeMode;
    }

    /**
     * Changes the write mode (under quiesce). Entering {@link WriteMode#WT} needs a clean cache: destage first.
     */
    public void writeMode(final WriteMode mode)
    {
        if (mode == WriteMode.WT && !isClean())
        {
            throw new IllegalStateException("volume " + volumeId + ": cannot enter WT with " + changeCount +
                " cached changes; destage first");
        }
        this.writeMode = mode;
    }

    public void mirrorSink(final MirrorSink sink)
    {
        this.mirrorSink = sink != null ? sink : MirrorSink.NONE;
    }

    // ------------------------------------------------------------------------------------------------ recovery

    /**
     * Takes over the volume's changes recovered from NVMe memory (T1): reads hit them and destage replays them
     * in sequence order. Superseded entries are freed. The cache must be empty.
     */
    public void adopt(final RecoveredVolume volume)
    {
        if (volume.volumeId() != volumeId)
        {
            throw new IllegalArgumentException("recovered volume " + volume.volumeId() + " adopted by " + volumeId);
        }
        if (!isClean())
        {
            throw new IllegalStateException("volume " + volumeId + ": adopt needs an empty cache");
        }
        final RecoveredVolume pending = shared.takeRecovered(volumeId);
        if (pending == null && volume.changes().isEmpty() && volume.superseded().isEmpty())
        {
            return;
        }
        if (pending != volume)
        {
            throw new IllegalStateException("volume " + volumeId + ": recovered changes not pending (adopted twice?)");
        }
        if (volume.pageCount() > volumeSlotsMax || volume.recordCount() > volumeRecordsMax)
        {
            shared.takeRecoveredBack(volume);
            throw new IllegalStateException("volume " + volumeId + ": recovered " + volume.pageCount() + " pages and " +
                volume.recordCount() + " records exceed volumeSlotsMax=" + volumeSlotsMax + " / volumeRecordsMax=" +
                volumeRecordsMax + "; restart with the limits it was written with");
        }
        for (final RecoveredChange change : volume.superseded())
        {
            shared.release(change);
        }
        for (final RecoveredChange change : volume.changes())
        {
            final int node = appendNode(change.kind(), change.index(), change.sequence(), change.lba(),
                change.blockCount());
            if (change.isPage())
            {
                heldSlots++;
                final long previous = index.put(change.lba(), node);
                if (previous != INDEX_MISSING)
                {
                    throw new IllegalStateException("volume " + volumeId + ": recovered two pages for lba " + change.lba());
                }
            }
            else
            {
                heldRecords++;
                unmapNodes[unmapNodeCount++] = node;
            }
            lastSequence = Math.max(lastSequence, change.sequence());
        }
    }

    /** Volume delete: drops every cached change without destage. No batch may be in flight. */
    public void discardAll()
    {
        if (inFlightCount > 0)
        {
            throw new IllegalStateException("volume " + volumeId + ": discard with a destage batch in flight");
        }
        while (head != NONE)
        {
            final int node = head;
            if (nodeKind[node] == ChangeEntry.KIND_PAGE && index.get(nodeLba[node]) == node)
            {
                index.remove(nodeLba[node]);
            }
            releaseNode(node);
        }
        assert index.isEmpty() && heldSlots == 0 && heldRecords == 0;
    }

    // ------------------------------------------------------------------------------------------------ nodes

    private int appendNode(final short kind, final int slotOrRecord, final long sequence, final long lba,
        final int blockCount)
    {
        if (freeNodeCount == 0)
        {
            throw new IllegalStateException("volume " + volumeId + ": change list full (limits broken)");
        }
        final int node = freeNodes[--freeNodeCount];
        assert tail == NONE || nodeSequence[tail] < sequence : "sequence order";
        nodeKind[node] = kind;
        nodeIndex[node] = slotOrRecord;
        nodeSequence[node] = sequence;
        nodeLba[node] = lba;
        nodeBlockCount[node] = blockCount;
        nodeFlags[node] = 0;
        nodePrev[node] = tail;
        nodeNext[node] = NONE;
        if (tail == NONE)
        {
            head = node;
        }
        else
        {
            nodeNext[tail] = node;
        }
        tail = node;
        changeCount++;
        return node;
    }

    /** Unlinks the node, frees its slot or record in the region and returns both to their pools. */
    private void releaseNode(final int node)
    {
        final int prev = nodePrev[node];
        final int next = nodeNext[node];
        if (prev == NONE)
        {
            head = next;
        }
        else
        {
            nodeNext[prev] = next;
        }
        if (next == NONE)
        {
            tail = prev;
        }
        else
        {
            nodePrev[next] = prev;
        }
        if (nodeKind[node] == ChangeEntry.KIND_PAGE)
        {
            shared.releaseSlot(nodeIndex[node]);
            heldSlots--;
        }
        else
        {
            removeUnmapNode(node);
            shared.releaseRecord(nodeIndex[node]);
            heldRecords--;
        }
        changeCount--;
        freeNodes[freeNodeCount++] = node;
        mirrorSink.onReleased(volumeId, nodeSequence[node]);
    }

    private void removeUnmapNode(final int node)
    {
        for (int i = 0; i < unmapNodeCount; i++)
        {
            if (unmapNodes[i] == node)
            {
                unmapNodes[i] = unmapNodes[--unmapNodeCount];
                return;
            }
        }
        throw new IllegalStateException("volume " + volumeId + ": unmap node " + node + " not tracked");
    }

    // ------------------------------------------------------------------------------------------------ state

    public int volumeId()
    {
        return volumeId;
    }

    /** Nothing cached: no page, no record. */
    public boolean isClean()
    {
        return changeCount == 0;
    }

    /** Cached changes (pages and records, including a batch in flight). */
    public int changeCount()
    {
        return changeCount;
    }

    /** Page slots this volume holds in NVMe memory (dirty pages, in flight or not). */
    public int dirtyPageCount()
    {
        return heldSlots;
    }

    /** Transaction records this volume holds. */
    public int dirtyRecordCount()
    {
        return heldRecords;
    }

    /** Dirty page bytes: {@code dirtyPageCount() x 4096}. */
    public long dirtyBytes()
    {
        return (long)heldSlots * NvmeRegion.BLOCK_SIZE_BYTES;
    }

    /** Changes in the batches in flight (0 when none). */
    public int inFlightCount()
    {
        return inFlightCount;
    }

    /**
     * Destage should run now, ahead of other work: the volume is at its cap (back-pressure latched), its
     * records are at their cap, or the region is under global pressure while this volume holds pages.
     */
    public boolean isDestageUrgent()
    {
        return volumeBackPressure || heldSlots >= volumeSlotsMax || heldRecords >= volumeRecordsMax ||
            (shared.isGlobalPressure() && heldSlots > 0);
    }

    /** The highest sequence this volume has written (FUA/FLUSH and the WB peer acknowledgement). */
    public long lastSequence()
    {
        return lastSequence;
    }

    public long writeCount()
    {
        return writeCount;
    }

    public long unmapCount()
    {
        return unmapCount;
    }

    public long hitCount()
    {
        return hitCount;
    }

    public long missCount()
    {
        return missCount;
    }

    public long backPressureCount()
    {
        return backPressureCount;
    }

    public long checksumMismatchCount()
    {
        return checksumMismatchCount;
    }

    public long destagedCount()
    {
        return destagedCount;
    }

    public long destageCorruptCount()
    {
        return destageCorruptCount;
    }

    public long destageFailedCount()
    {
        return destageFailedCount;
    }

    @Override
    public String toString()
    {
        return "WriteCache{volume=" + volumeId + ", mode=" + writeMode + ", changes=" + changeCount + ", pages=" +
            heldSlots + ", records=" + heldRecords + ", inFlight=" + inFlightCount + ", hits=" + hitCount +
            ", misses=" + missCount + ", backPressure=" + backPressureCount + '}';
    }
}
