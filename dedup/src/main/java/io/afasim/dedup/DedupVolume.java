package io.afasim.dedup;

import java.nio.ByteBuffer;

import io.afasim.journal.IoStatus;
import io.afasim.journal.RedoSink;
import io.afasim.journal.SegmentCleaner;
import io.afasim.journal.SegmentLog;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.collections.IntArrayList;
import org.agrona.collections.Long2LongHashMap;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Inline dedup engine of one volume. Owned by the volume's single writer thread: no locks.
 *
 * <p>A write fingerprints the 4 KiB block (SHA-256), looks the fingerprint up, and either maps the
 * LBA to the existing block (a dedup hit: count + 1) or appends the block to the volume's
 * {@link SegmentLog} and indexes it (count 1). An all-zero block unmaps the LBA (thin). An overwrite
 * or trim drops the old reference; a block whose count reaches zero leaves the fingerprint index
 * and is handed to segment cleaning ({@link SegmentLog#markDead(long)}).
 *
 * <p>Every change is first appended as one redo record to the {@link RedoSink} and only then applied,
 * so a refused record (journal full) leaves the state untouched. Replay ({@link #apply}) re-executes
 * the same transitions from the records. Records and blocks become durable when the owner syncs the
 * segment log and then commits the journal ({@link DedupStore#commit()}).
 */
public final class DedupVolume
{
    /** Returned by {@link #read(long)} for an LBA that maps no block. PBA 0 is never handed out. */
    public static final long HOLE = 0;

    private final int volumeId;
    private final VolumeMap map;
    private final FingerprintIndex fingerprints;
    private final BlockTable blocks;
    private final PagePool pool;
    private final Fingerprinter hasher = new Fingerprinter();
    private final RedoSink redo;
    private final UnsafeBuffer record = new UnsafeBuffer(ByteBuffer.allocateDirect(DedupRecords.RELOCATE_LENGTH_MAX));
    private final LongArrayList trimLbas = new LongArrayList();
    private final LongArrayList trimPbas = new LongArrayList();
    private final Long2LongHashMap relocations = new Long2LongHashMap(HOLE);
    private final LongArrayList relocationOrder = new LongArrayList();
    private final Long2LongHashMap relocationBatch = new Long2LongHashMap(HOLE);
    private final IntArrayList victims = new IntArrayList();
    private final IntArrayList cleanedSegments = new IntArrayList();
    private final SegmentCleaner.LivenessOracle liveness = this::isLive;
    private final SegmentCleaner.RelocationListener relocationListener = this::onRelocated;
    private final UnsafeBuffer cleanScratch = new UnsafeBuffer(ByteBuffer.allocateDirect(Fingerprinter.BLOCK_SIZE_BYTES));
    private SegmentLog log;
    private SegmentCleaner cleaner;
    private boolean replaying;

    private long writeCount;
    private long dedupHitCount;
    private long zeroWriteCount;
    private long trimCount;
    private long relocatedCount;

    DedupVolume(
        final int volumeId,
        final long sizeBlocks,
        final int rangeBlocks,
        final int pageCountMax,
        final int segmentCount,
        final int blocksPerSegment,
        final RedoSink redo)
    {
        this.volumeId = volumeId;
        this.pool = new PagePool(pageCountMax);
        this.map = new VolumeMap(pool, sizeBlocks, rangeBlocks);
        this.fingerprints = new FingerprintIndex(pool);
        this.blocks = new BlockTable(segmentCount, blocksPerSegment);
        this.redo = redo;
    }

    /** Attaches the volume's segment log and cleaner (after recovery has rebuilt them). */
    void attach(final SegmentLog log, final SegmentCleaner cleaner)
    {
        this.log = log;
        this.cleaner = cleaner;
    }

    public int volumeId()
    {
        return volumeId;
    }

    public long sizeBlocks()
    {
        return map.sizeBlocks();
    }

    public int rangeBlocks()
    {
        return map.rangeBlocks();
    }

    /**
     * Writes one 4 KiB block at {@code lba}.
     *
     * @return {@link IoStatus#OK} or a negative {@link IoStatus} (the volume is then unchanged).
     */
    public int write(final long lba, final DirectBuffer block, final int offset)
    {
        checkLba(lba, 1);
        writeCount++;
        if (Fingerprinter.isZero(block, offset))
        {
            zeroWriteCount++;
            return unmap(lba, 1);
        }

        final DirectBuffer fingerprint = hasher.digest(block, offset);
        final long existing = fingerprints.get(fingerprint, 0);
        if (existing != FingerprintIndex.MISSING)
        {
            dedupHitCount++;
            if (map.get(lba) == existing)
            {
                return IoStatus.OK;
            }
            record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
            record.putLong(DedupRecords.LBA_OFFSET, lba);
            record.putLong(DedupRecords.PBA_OFFSET, existing);
            final long lsn = redo.append(DedupRecords.WRITE_DEDUP, record, 0, DedupRecords.WRITE_DEDUP_LENGTH);
            if (lsn < 0)
            {
                return (int)lsn;
            }
            applyWriteDedup(lba, existing);
            return IoStatus.OK;
        }

        final long pba = log.append(lba, block, offset);
        if (pba < 0)
        {
            return (int)pba;
        }
        record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
        record.putLong(DedupRecords.LBA_OFFSET, lba);
        record.putLong(DedupRecords.PBA_OFFSET, pba);
        record.putBytes(DedupRecords.FINGERPRINT_OFFSET, fingerprint, 0, Fingerprinter.FINGERPRINT_BYTES);
        final long lsn = redo.append(DedupRecords.WRITE_NEW, record, 0, DedupRecords.WRITE_NEW_LENGTH);
        if (lsn < 0)
        {
            log.markDead(pba);
            return (int)lsn;
        }
        applyWriteNew(lba, pba, record, DedupRecords.FINGERPRINT_OFFSET);
        return IoStatus.OK;
    }

    /**
     * Unmaps {@code blockCount} blocks from {@code lba} (TRIM, WRITE_ZEROES without NO_HOLE).
     *
     * @return {@link IoStatus#OK} or a negative {@link IoStatus} (the volume is then unchanged).
     */
    public int trim(final long lba, final long blockCount)
    {
        checkLba(lba, blockCount);
        trimCount++;
        return unmap(lba, blockCount);
    }

    /** The PBA an LBA maps, or {@link #HOLE}. */
    public long read(final long lba)
    {
        checkLba(lba, 1);
        final long pba = map.get(lba);
        return pba == VolumeMap.MISSING ? HOLE : pba;
    }

    /**
     * Reads the block an LBA maps into {@code dst} (zeros for a hole), verified against its checksum.
     *
     * @return {@link IoStatus#OK}, {@link IoStatus#CHECKSUM_MISMATCH} or {@link IoStatus#MEDIA_ERROR}.
     */
    public int readBlock(final long lba, final MutableDirectBuffer dst, final int offset)
    {
        final long pba = read(lba);
        if (pba == HOLE)
        {
            dst.setMemory(offset, Fingerprinter.BLOCK_SIZE_BYTES, (byte)0);
            return IoStatus.OK;
        }
        return log.read(pba, dst, offset);
    }

    /**
     * Runs one cleaning pass: picks up to {@code segmentsMax} victims by cost-benefit, moves their
     * live blocks and re-points mapping and fingerprints (one RELOCATE record per batch). The victims
     * are freed by {@link #releaseCleaned()} once the owner has made the relocations durable.
     *
     * @return blocks moved, or a negative {@link IoStatus}.
     */
    public int clean(final int segmentsMax)
    {
        victims.clear();
        cleaner.selectVictims(segmentsMax, victims);
        int movedTotal = 0;
        for (int i = 0; i < victims.size(); i++)
        {
            final int segmentId = victims.getInt(i);
            relocations.clear();
            relocationOrder.clear();
            final int moved = cleaner.clean(segmentId, liveness, relocationListener, cleanScratch);
            if (moved < 0)
            {
                return moved;
            }
            final int status = logRelocations();
            if (status != IoStatus.OK)
            {
                return status;
            }
            cleanedSegments.addInt(segmentId);
            movedTotal += moved;
        }
        return movedTotal;
    }

    /** Frees the segments emptied by {@link #clean(int)}; call after the relocations are durable. */
    public int releaseCleaned()
    {
        int released = 0;
        for (int i = 0; i < cleanedSegments.size(); i++)
        {
            final int segmentId = cleanedSegments.getInt(i);
            final int status = log.release(segmentId);
            if (status != IoStatus.OK)
            {
                return status;
            }
            blocks.drop(segmentId);
            released++;
        }
        cleanedSegments.clear();
        return released;
    }

    /** Segments cleaned and waiting for {@link #releaseCleaned()}. */
    public int cleanedSegmentCount()
    {
        return cleanedSegments.size();
    }

    // ---------------------------------------------------------------- replay

    /** Re-executes a redo record of this volume (recovery). */
    void apply(final int type, final DirectBuffer payload, final int offset, final int length)
    {
        replaying = true;
        try
        {
            switch (type)
            {
                case DedupRecords.WRITE_NEW:
                    applyWriteNew(
                        payload.getLong(offset + DedupRecords.LBA_OFFSET),
                        payload.getLong(offset + DedupRecords.PBA_OFFSET),
                        payload, offset + DedupRecords.FINGERPRINT_OFFSET);
                    break;

                case DedupRecords.WRITE_DEDUP:
                    applyWriteDedup(
                        payload.getLong(offset + DedupRecords.LBA_OFFSET),
                        payload.getLong(offset + DedupRecords.PBA_OFFSET));
                    break;

                case DedupRecords.UNMAP:
                    applyUnmap(
                        payload.getLong(offset + DedupRecords.LBA_OFFSET),
                        payload.getLong(offset + DedupRecords.BLOCK_COUNT_OFFSET));
                    break;

                case DedupRecords.RELOCATE:
                    applyRelocate(payload, offset);
                    break;

                default:
                    throw new IllegalStateException("volume " + volumeId + ": unknown dedup record type " + type);
            }
        }
        finally
        {
            replaying = false;
        }
    }

    /** After recovery: tells the segment log which blocks are live (count &gt; 0). */
    void rebuildLiveness()
    {
        fingerprints.forEach((fingerprint, fingerprintOffset, pba) -> log.markLive(pba));
    }

    // ---------------------------------------------------------------- transitions (live and replay)

    private void applyWriteNew(final long lba, final long pba, final DirectBuffer fingerprint, final int offset)
    {
        fingerprints.put(fingerprint, offset, pba);
        blocks.init(pba, Fingerprinter.prefix(fingerprint, offset));
        final long old = map.put(lba, pba);
        if (old != VolumeMap.MISSING)
        {
            release(old);
        }
    }

    private void applyWriteDedup(final long lba, final long pba)
    {
        blocks.increment(pba);
        final long old = map.put(lba, pba);
        if (old != VolumeMap.MISSING)
        {
            release(old);
        }
    }

    private int unmap(final long lba, final long blockCount)
    {
        map.collect(lba, blockCount, trimLbas, trimPbas);
        if (trimLbas.isEmpty())
        {
            return IoStatus.OK;
        }
        record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
        record.putLong(DedupRecords.LBA_OFFSET, lba);
        record.putLong(DedupRecords.BLOCK_COUNT_OFFSET, blockCount);
        final long lsn = redo.append(DedupRecords.UNMAP, record, 0, DedupRecords.UNMAP_LENGTH);
        if (lsn < 0)
        {
            return (int)lsn;
        }
        removeCollected();
        return IoStatus.OK;
    }

    private void applyUnmap(final long lba, final long blockCount)
    {
        map.collect(lba, blockCount, trimLbas, trimPbas);
        removeCollected();
    }

    private void removeCollected()
    {
        for (int i = 0; i < trimLbas.size(); i++)
        {
            map.remove(trimLbas.getLong(i));
            release(trimPbas.getLong(i));
        }
    }

    /** Drops one reference; the last one removes the fingerprint and hands the block to cleaning. */
    private void release(final long pba)
    {
        if (blocks.decrement(pba) == 0)
        {
            fingerprints.remove(blocks.prefix(pba), pba);
            if (!replaying)
            {
                log.markDead(pba);
            }
        }
    }

    // ---------------------------------------------------------------- cleaning

    private boolean isLive(final long pba)
    {
        return blocks.count(pba) > 0;
    }

    private void onRelocated(final long oldPba, final long newPba, final DirectBuffer block, final int offset)
    {
        relocations.put(oldPba, newPba);
        relocationOrder.addLong(oldPba);
        relocatedCount++;
    }

    private int logRelocations()
    {
        final int pairCount = relocationOrder.size();
        for (int first = 0; first < pairCount; first += DedupRecords.RELOCATE_PAIRS_MAX)
        {
            final int count = Math.min(DedupRecords.RELOCATE_PAIRS_MAX, pairCount - first);
            record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
            record.putInt(DedupRecords.PAIR_COUNT_OFFSET, count);
            for (int i = 0; i < count; i++)
            {
                final long oldPba = relocationOrder.getLong(first + i);
                final int at = DedupRecords.PAIRS_OFFSET + i * DedupRecords.PAIR_BYTES;
                record.putLong(at, oldPba);
                record.putLong(at + Long.BYTES, relocations.get(oldPba));
            }
            final long lsn = redo.append(
                DedupRecords.RELOCATE, record, 0, DedupRecords.PAIRS_OFFSET + count * DedupRecords.PAIR_BYTES);
            if (lsn < 0)
            {
                return (int)lsn;
            }
            applyRelocate(record, 0);
        }
        return IoStatus.OK;
    }

    private void applyRelocate(final DirectBuffer payload, final int offset)
    {
        final int count = payload.getInt(offset + DedupRecords.PAIR_COUNT_OFFSET);
        final Long2LongHashMap batch = relocationBatch;
        batch.clear();
        for (int i = 0; i < count; i++)
        {
            final int at = offset + DedupRecords.PAIRS_OFFSET + i * DedupRecords.PAIR_BYTES;
            final long oldPba = payload.getLong(at);
            final long newPba = payload.getLong(at + Long.BYTES);
            fingerprints.repoint(blocks.prefix(oldPba), oldPba, newPba);
            blocks.move(oldPba, newPba);
            batch.put(oldPba, newPba);
            if (!replaying)
            {
                log.markDead(oldPba);
            }
        }
        map.remap(batch);
    }

    // ---------------------------------------------------------------- checkpoint

    void encode(final ImageOutput out)
    {
        out.writeInt(volumeId);
        out.writeLong(map.sizeBlocks());
        out.writeInt(map.rangeBlocks());
        out.writeLong(map.mappedCount());
        for (int range = 0; range < map.rangeCount(); range++)
        {
            final LongBTree tree = map.range(range);
            if (tree != null)
            {
                out.writeInt(range);
                out.writeLong(tree.size());
                tree.forEach(out::writeLongPair);
            }
        }
        out.writeInt(-1);
        out.writeLong(fingerprints.size());
        fingerprints.forEach(out::writeFingerprint);
    }

    /** Loads mapping and fingerprints written by {@link #encode}; counts and prefixes are derived. */
    void decode(final ImageInput in)
    {
        final long mappedCount = in.readLong();
        while (true)
        {
            final int range = in.readInt();
            if (range < 0)
            {
                break;
            }
            final long entries = in.readLong();
            for (long i = 0; i < entries; i++)
            {
                final long lba = in.readLong();
                final long pba = in.readLong();
                if (lba / map.rangeBlocks() != range)
                {
                    throw new IllegalStateException("checkpoint: lba " + lba + " in section of range " + range);
                }
                map.put(lba, pba);
            }
        }
        if (map.mappedCount() != mappedCount)
        {
            throw new IllegalStateException("checkpoint: " + map.mappedCount() + " mappings, header says " + mappedCount);
        }
        final long fingerprintCount = in.readLong();
        final UnsafeBuffer key = new UnsafeBuffer(new byte[Fingerprinter.FINGERPRINT_BYTES]);
        for (long i = 0; i < fingerprintCount; i++)
        {
            in.readBytes(key, 0, Fingerprinter.FINGERPRINT_BYTES);
            final long pba = in.readLong();
            fingerprints.put(key, 0, pba);
            blocks.setPrefix(pba, Fingerprinter.prefix(key, 0));
        }
        map.forEach((lba, pba) -> blocks.setCount(pba, blocks.count(pba) + 1));
    }

    // ---------------------------------------------------------------- checks and stats

    /**
     * Checks every invariant: tree invariants; every mapped PBA's count equals the number of LBAs
     * mapping it; every fingerprint entry points to a block with a count and the right prefix; every
     * counted block has a fingerprint entry. With {@code verifyContent}, also reads every indexed
     * block and checks that its content hashes to its fingerprint.
     *
     * @throws IllegalStateException naming the first broken invariant.
     */
    public void check(final boolean verifyContent)
    {
        map.check();
        fingerprints.check();
        final Long2LongHashMap referrers = new Long2LongHashMap(0);
        map.forEach((lba, pba) -> referrers.put(pba, referrers.get(pba) + 1));
        referrers.forEach((pba, count) ->
        {
            if (blocks.count(pba) != count)
            {
                throw new IllegalStateException("volume " + volumeId + ": pba " + pba + " has count " +
                    blocks.count(pba) + " but " + count + " LBAs map it");
            }
        });
        final long[] indexed = new long[1];
        final UnsafeBuffer content = new UnsafeBuffer(ByteBuffer.allocateDirect(Fingerprinter.BLOCK_SIZE_BYTES));
        final Fingerprinter verifier = new Fingerprinter();
        fingerprints.forEach((fingerprint, fingerprintOffset, pba) ->
        {
            indexed[0]++;
            if (referrers.get(pba) == 0)
            {
                throw new IllegalStateException("volume " + volumeId + ": fingerprint entry points to pba " + pba +
                    " which no LBA maps");
            }
            if (blocks.prefix(pba) != Fingerprinter.prefix(fingerprint, fingerprintOffset))
            {
                throw new IllegalStateException("volume " + volumeId + ": pba " + pba + " prefix mismatch");
            }
            if (verifyContent)
            {
                final int status = log.read(pba, content, 0);
                if (status != IoStatus.OK)
                {
                    throw new IllegalStateException("volume " + volumeId + ": pba " + pba + " unreadable: " +
                        IoStatus.name(status));
                }
                final DirectBuffer actual = verifier.digest(content, 0);
                for (int i = 0; i < Fingerprinter.FINGERPRINT_BYTES; i++)
                {
                    if (actual.getByte(i) != fingerprint.getByte(fingerprintOffset + i))
                    {
                        throw new IllegalStateException("volume " + volumeId + ": pba " + pba +
                            " content does not hash to its fingerprint");
                    }
                }
            }
        });
        if (indexed[0] != referrers.size())
        {
            throw new IllegalStateException("volume " + volumeId + ": " + referrers.size() + " referenced blocks but " +
                indexed[0] + " fingerprint entries");
        }
    }

    /** LBAs that map a block. */
    public long mappedBlocks()
    {
        return map.mappedCount();
    }

    /** Distinct blocks stored (fingerprint entries). */
    public long uniqueBlocks()
    {
        return fingerprints.size();
    }

    /** Mapped LBAs per stored block; 1.0 when nothing is shared, 0 when empty. */
    public double dedupRatio()
    {
        final long unique = uniqueBlocks();
        return unique == 0 ? 0 : (double)mappedBlocks() / unique;
    }

    /** Off-heap bytes of mapping trees, fingerprint index and block table. */
    public long metadataBytes()
    {
        return (long)pool.pagesInUse() * PagePool.PAGE_SIZE_BYTES + blocks.bytesReserved();
    }

    public long writeCount()
    {
        return writeCount;
    }

    public long dedupHitCount()
    {
        return dedupHitCount;
    }

    public long zeroWriteCount()
    {
        return zeroWriteCount;
    }

    public long trimCount()
    {
        return trimCount;
    }

    public long relocatedCount()
    {
        return relocatedCount;
    }

    public SegmentLog segmentLog()
    {
        return log;
    }

    private void checkLba(final long lba, final long blockCount)
    {
        if (lba < 0 || blockCount < 1 || lba > map.sizeBlocks() - blockCount)
        {
            throw new IllegalArgumentException("volume " + volumeId + ": blocks [" + lba + ", " + (lba + blockCount) +
                ") outside its " + map.sizeBlocks() + " blocks");
        }
    }
}
