package io.afasim.dedup;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.UUID;
import java.util.function.LongSupplier;

import io.afasim.journal.AllocatorRedo;
import io.afasim.journal.CheckpointStore;
import io.afasim.journal.CheckpointWriter;
import io.afasim.journal.Drive;
import io.afasim.journal.ExtentAllocator;
import io.afasim.journal.IoStatus;
import io.afasim.journal.MetadataJournal;
import io.afasim.journal.RedoBatch;
import io.afasim.journal.RedoRecordTypes;
import io.afasim.journal.ReplayResult;
import io.afasim.journal.SegmentCleaner;
import io.afasim.journal.SegmentLog;
import io.afasim.journal.Shelf;
import io.afasim.journal.ShelfConfig;
import io.afasim.journal.ShelfLayout;
import org.agrona.DirectBuffer;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.IntHashSet;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The storage core of one shelf: drives, extent allocator, metadata redo journal, checkpoint
 * images and the dedup volumes that live on them. Used by one thread (the controller will give
 * each volume its own agent and put the cache layer between volumes and the journal).
 *
 * <p>Each volume (and its segment log) appends redo records to its own {@link RedoBatch} through a
 * {@link VolumeRedo}; nothing reaches the journal outside {@link #commit()}.
 *
 * <p>Durability: {@link #commit()} syncs every volume's segment log (data blocks and summaries),
 * drains the batches into the journal in volume order and commits it with one fdatasync, so no
 * durable record ever references a block that is not. When the journal has no room for the batches,
 * the commit becomes a checkpoint: the image covers the batches' effects and they are dropped. When a
 * sync fails the store is fenced ({@link #isFailed()}): nothing after the last commit becomes
 * durable, and reopening recovers exactly the committed state.
 *
 * <p>Recovery ({@link #open}): load the allocator bitmap named by the newest superblock, load the
 * checkpoint image (mapping trees and fingerprint index; reference counts are derived), replay the
 * redo records after the checkpoint, rebuild each volume's segment log from the segment summaries,
 * and mark live blocks. The result is the state of the last committed record.
 *
 * <pre>
 * checkpoint image:
 *   | magic i64 | version i32 | volumeCount i32 | volume section x volumeCount |
 * volume section:
 *   | volumeId i32 | sizeBlocks i64 | rangeBlocks i32 | mappedCount i64 |
 *   | (range i32 | entryCount i64 | (lba i64, pba i64) x entryCount) per non-empty range | -1 i32 |
 *   | fingerprintCount i64 | (fingerprint 32 bytes, pba i64) x fingerprintCount |
 * </pre>
 */
public final class DedupStore implements AutoCloseable
{
    public static final long IMAGE_MAGIC = 0x4547_414D_4944_4641L; // "AFDIMAGE"
    public static final int IMAGE_VERSION = 1;
    public static final int VOLUMES_MAX = 4096;
    private static final RedoBatch[] NO_BATCHES = new RedoBatch[0];
    private final RedoBatch[] singleBatch = new RedoBatch[1];

    private final Shelf shelf;
    private final ExtentAllocator allocator;
    private final MetadataJournal journal;
    private final CheckpointStore checkpoints;
    private final DedupContext ctx;
    private final Int2ObjectHashMap<DedupVolume> volumes = new Int2ObjectHashMap<>();
    private final Int2ObjectHashMap<VolumeRedo> redos = new Int2ObjectHashMap<>();
    private final LongSupplier commitWhenFull = this::commit;
    private final UnsafeBuffer record = new UnsafeBuffer(ByteBuffer.allocateDirect(64));
    private UnsafeBuffer descriptor = new UnsafeBuffer(ByteBuffer.allocateDirect(MetadataJournal.DESCRIPTOR_BYTES_MAX));
    private UnsafeBuffer nextDescriptor = new UnsafeBuffer(ByteBuffer.allocateDirect(MetadataJournal.DESCRIPTOR_BYTES_MAX));
    private int descriptorLength;
    private boolean checkpointing;
    /** A segment log failed to sync: pending records may name dropped blocks, so nothing more is committed. */
    private boolean failed;
    private long checkpointCount;
    private long autoCheckpointCount;
    private long commitCount;
    private RecoveryReport recovery;

    private DedupStore(
        final Shelf shelf, final ExtentAllocator allocator, final MetadataJournal journal, final DedupContext ctx)
    {
        this.shelf = shelf;
        this.allocator = allocator;
        this.journal = journal;
        this.checkpoints = new CheckpointStore(shelf, allocator);
        this.ctx = ctx;
    }

    /** Formats a new shelf in {@code directory} with an empty journal. */
    public static DedupStore format(
        final Path directory, final UUID arrayId, final ShelfConfig config, final DedupContext ctx)
    {
        ctx.conclude();
        ctx.segmentLogContext().releaseFreesSegment(false);
        final Shelf shelf = Shelf.format(directory, arrayId, config, "zeroed".equals(ctx.shelfProvision()));
        final ExtentAllocator allocator = new ExtentAllocator(shelf.layout().segmentCount());
        final MetadataJournal journal = MetadataJournal.format(shelf, allocator, ctx.journalContext());
        final DedupStore store = new DedupStore(shelf, allocator, journal, ctx);
        store.recovery = new RecoveryReport(0, 0, 0, "formatted", 0, 0);
        return store;
    }

    /** Opens the shelf in {@code directory} and recovers to the last committed record. */
    public static DedupStore open(final Path directory, final DedupContext ctx)
    {
        ctx.conclude();
        ctx.segmentLogContext().releaseFreesSegment(false);
        final Shelf shelf = Shelf.open(directory);
        try
        {
            final ExtentAllocator allocator = new ExtentAllocator(shelf.layout().segmentCount());
            final MetadataJournal journal = MetadataJournal.open(shelf, allocator, ctx.journalContext());
            final DedupStore store = new DedupStore(shelf, allocator, journal, ctx);
            store.recover();
            return store;
        }
        catch (final RuntimeException ex)
        {
            shelf.close();
            throw ex;
        }
    }

    private void recover()
    {
        descriptorLength = journal.checkpointDescriptor(descriptor, 0);
        if (descriptorLength > 0)
        {
            loadImage();
        }
        final ReplayResult replay = journal.replay(this::onReplayedRecord);
        for (final DedupVolume volume : volumes.values())
        {
            attachLog(volume, SegmentLog.recover(
                shelf, allocator, redos.get(volume.volumeId()), volume.volumeId(), ctx.segmentLogContext()));
            volume.rebuildLiveness();
        }
        final int orphans = freeOrphanedImageSegments();
        recovery = new RecoveryReport(
            journal.checkpointLsn(), replay.recordCount(), replay.lastLsn(), replay.stopReason(), volumes.size(), orphans);
    }

    /**
     * A crash after a new checkpoint became current but before the previous image was released leaves
     * that image's segments allocated with nothing pointing at them. They still carry their image
     * header, so they are found and freed here (with SEGMENT_FREED records). Data segments with a
     * damaged summary are never freed: they are counted by their segment log instead.
     */
    private int freeOrphanedImageSegments()
    {
        final IntHashSet current = new IntHashSet();
        if (descriptorLength > 0)
        {
            CheckpointStore.forEachSegment(descriptor, 0, descriptorLength, current::add);
        }
        final ShelfLayout layout = shelf.layout();
        final ByteBuffer block = Drive.allocateAligned(Drive.BLOCK_SIZE_BYTES);
        final UnsafeBuffer view = new UnsafeBuffer(block);
        int freed = 0;
        for (int segmentId = 0; segmentId < layout.segmentCount(); segmentId++)
        {
            if (!allocator.isAllocated(segmentId) || current.contains(segmentId))
            {
                continue;
            }
            final Drive drive = shelf.drive(layout.segmentDrive(segmentId));
            if (drive.read(layout.summaryOffsetBytes(segmentId), block, 0, Drive.BLOCK_SIZE_BYTES) == IoStatus.OK &&
                CheckpointStore.isImageSegmentHeader(view))
            {
                record.putInt(0, segmentId);
                final long lsn = journal.append(RedoRecordTypes.SEGMENT_FREED, record, 0, Integer.BYTES);
                if (lsn < 0)
                {
                    break;
                }
                allocator.free(segmentId);
                freed++;
            }
        }
        if (freed > 0 && journal.commit() < 0)
        {
            failed = true;
        }
        return freed;
    }

    private void loadImage()
    {
        final ImageInput in = new ImageInput(checkpoints.open(descriptor, 0, descriptorLength));
        final long magic = in.readLong();
        final int version = in.readInt();
        if (magic != IMAGE_MAGIC || version != IMAGE_VERSION)
        {
            throw new CheckpointCorruptException("checkpoint image: magic 0x" + Long.toHexString(magic) +
                " version " + version + ", expected 0x" + Long.toHexString(IMAGE_MAGIC) + " version " + IMAGE_VERSION);
        }
        final int volumeCount = in.readInt();
        if (volumeCount < 0 || volumeCount > VOLUMES_MAX)
        {
            throw new CheckpointCorruptException("checkpoint image: volumeCount " + volumeCount);
        }
        for (int i = 0; i < volumeCount; i++)
        {
            final int volumeId = in.readInt();
            final long sizeBlocks = in.readLong();
            final int rangeBlocks = in.readInt();
            newVolume(volumeId, sizeBlocks, rangeBlocks).decode(in);
        }
        if (!in.atEnd())
        {
            throw new CheckpointCorruptException("checkpoint image: bytes after the last volume");
        }
    }

    private void onReplayedRecord(
        final long lsn, final int type, final DirectBuffer payload, final int offset, final int length)
    {
        if (AllocatorRedo.apply(allocator, type, payload, offset, length))
        {
            return;
        }
        switch (type)
        {
            case RedoRecordTypes.SEGMENT_SEALED:
                return; // the segment summary carries the seal

            case DedupRecords.VOLUME_DELETED:
            {
                final int volumeId = payload.getInt(offset + DedupRecords.VOLUME_ID_OFFSET);
                if (volumes.remove(volumeId) == null)
                {
                    throw new IllegalStateException("replay: record " + lsn + " deletes unknown volume " + volumeId);
                }
                redos.remove(volumeId);
                return;
            }

            case DedupRecords.VOLUME_CREATED:
                newVolume(
                    payload.getInt(offset + DedupRecords.VOLUME_ID_OFFSET),
                    payload.getLong(offset + DedupRecords.SIZE_BLOCKS_OFFSET),
                    payload.getInt(offset + DedupRecords.RANGE_BLOCKS_OFFSET));
                return;

            default:
                if (!DedupRecords.isDedupType(type))
                {
                    throw new IllegalStateException("replay: record " + lsn + " has unknown type " + type);
                }
                final int volumeId = payload.getInt(offset + DedupRecords.VOLUME_ID_OFFSET);
                final DedupVolume volume = volumes.get(volumeId);
                if (volume == null)
                {
                    throw new IllegalStateException("replay: record " + lsn + " for unknown volume " + volumeId);
                }
                volume.apply(type, payload, offset, length);
        }
    }

    /**
     * Creates a volume of {@code sizeBlocks} 4 KiB blocks (one VOLUME_CREATED record).
     *
     * @throws IllegalArgumentException if the id is taken or out of range.
     */
    public DedupVolume createVolume(final int volumeId, final long sizeBlocks)
    {
        if (volumeId < 0 || volumes.containsKey(volumeId) || volumes.size() >= VOLUMES_MAX)
        {
            throw new IllegalArgumentException("volume " + volumeId + ": id taken, negative or too many volumes");
        }
        final int rangeBlocks = ctx.rangeBlocks();
        record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
        record.putLong(DedupRecords.SIZE_BLOCKS_OFFSET, sizeBlocks);
        record.putInt(DedupRecords.RANGE_BLOCKS_OFFSET, rangeBlocks);
        final DedupVolume volume = newVolume(volumeId, sizeBlocks, rangeBlocks);
        final VolumeRedo redo = redos.get(volumeId);
        final long position = redo.append(
            DedupRecords.VOLUME_CREATED, record, 0, DedupRecords.VOLUME_CREATED_LENGTH);
        if (position < 0)
        {
            volumes.remove(volumeId);
            redos.remove(volumeId);
            throw new IllegalStateException("volume " + volumeId + ": cannot log its creation: " + IoStatus.name(position));
        }
        attachLog(volume, new SegmentLog(shelf, allocator, redo, volumeId, ctx.segmentLogContext()));
        return volume;
    }

    private DedupVolume newVolume(final int volumeId, final long sizeBlocks, final int rangeBlocks)
    {
        final ShelfLayout layout = shelf.layout();
        final VolumeRedo redo = new VolumeRedo(new RedoBatch(ctx.redoBatchBytes()), commitWhenFull);
        final DedupVolume volume = new DedupVolume(
            volumeId, sizeBlocks, rangeBlocks, ctx.pageCountMax(), layout.segmentCount(), layout.blocksPerSegment(), redo);
        if (volumes.put(volumeId, volume) != null)
        {
            throw new IllegalStateException("volume " + volumeId + " exists twice");
        }
        redos.put(volumeId, redo);
        return volume;
    }

    private void attachLog(final DedupVolume volume, final SegmentLog log)
    {
        volume.attach(log, new SegmentCleaner(log, ctx.segmentLogContext().clock()));
    }

    public DedupVolume volume(final int volumeId)
    {
        return volumes.get(volumeId);
    }

    /**
     * Makes everything written so far durable: syncs each volume's segment log, then commits the
     * journal with one fdatasync.
     *
     * @return the durable LSN, or a negative {@link IoStatus} (nothing new is then known durable).
     */
    public long commit()
    {
        if (failed)
        {
            return IoStatus.MEDIA_ERROR;
        }
        commitCount++;
        final int synced = syncLogs();
        if (synced != IoStatus.OK)
        {
            return synced;
        }
        long needed = 0;
        for (final VolumeRedo redo : redos.values())
        {
            needed += redo.batch().journalBytesNeeded();
        }
        if (needed > journal.freeBytes() && !checkpointing)
        {
            autoCheckpointCount++;
            final int status = checkpoint();
            return status < 0 ? status : journal.durableLsn();
        }
        for (final VolumeRedo redo : redos.values())
        {
            final long lsn = redo.batch().drainTo(journal, allocator);
            if (lsn < 0)
            {
                failed = true;
                return lsn;
            }
        }
        return journal.commit();
    }

    /**
     * Syncs every volume's segment log (waiting for a sync in flight first); a failure fences the store (see
     * {@link #isFailed()}). A controller's journal agent calls it before a checkpoint, with the volume agents paused,
     * so no sync of theirs is still in flight when it collects their batches.
     */
    public int syncLogs()
    {
        int result = IoStatus.OK;
        for (final DedupVolume volume : volumes.values())
        {
            // every log, even after a failure: each sync in flight is finished (and its listener has run) on return
            final int status = volume.segmentLog().sync();
            if (status != IoStatus.OK && result == IoStatus.OK)
            {
                // The log dropped every block since its last good sync, and redo records not yet committed
                // may reference them: committing them would make a durable record point at a lost block.
                // Fence the store; reopening recovers the last committed state.
                failed = true;
                result = status;
            }
        }
        return result;
    }

    /**
     * For a controller's journal agent: drains the batches that volume agents handed over (each agent
     * synced its own segment log first) and commits them with one fdatasync.
     *
     * @return the durable LSN; {@link IoStatus#NO_SPACE} when the journal has no room for them (nothing
     *         was drained: pause the volumes and {@link #checkpoint(RedoBatch[], int)}), or another
     *         negative {@link IoStatus} (the store is then fenced).
     */
    public long commitBatches(final RedoBatch[] batches, final int count)
    {
        if (failed)
        {
            return IoStatus.MEDIA_ERROR;
        }
        long needed = 0;
        for (int i = 0; i < count; i++)
        {
            needed += batches[i].journalBytesNeeded();
        }
        if (needed > journal.freeBytes())
        {
            return IoStatus.NO_SPACE;
        }
        commitCount++;
        for (int i = 0; i < count; i++)
        {
            final long lsn = batches[i].drainTo(journal, allocator);
            if (lsn < 0)
            {
                failed = true;
                return lsn;
            }
        }
        final long durable = journal.commit();
        if (durable < 0)
        {
            failed = true;
        }
        return durable;
    }

    /**
     * Syncs one volume's segment log and commits its batch alone (volume create and delete, where the
     * caller owns that volume and nothing else). Falls back to a checkpoint when the journal is full.
     */
    public long commitVolume(final int volumeId)
    {
        if (failed)
        {
            return IoStatus.MEDIA_ERROR;
        }
        final DedupVolume volume = volumes.get(volumeId);
        final int status = volume.segmentLog().sync();
        if (status != IoStatus.OK)
        {
            failed = true;
            return status;
        }
        singleBatch[0] = redos.get(volumeId).batch();
        final long durable = commitBatches(singleBatch, 1);
        singleBatch[0] = null;
        if (durable == IoStatus.NO_SPACE)
        {
            final int checkpointed = checkpoint();
            return checkpointed < 0 ? checkpointed : journal.durableLsn();
        }
        return durable;
    }

    /**
     * Deletes a volume: frees all its segments and forgets it, durably (SEGMENT_FREED records, then
     * VOLUME_DELETED, committed). Its blocks are gone; other volumes are untouched.
     *
     * @return {@link IoStatus#OK} or a negative {@link IoStatus} (the volume then still exists).
     */
    public int deleteVolume(final int volumeId)
    {
        final DedupVolume volume = volumes.get(volumeId);
        if (volume == null)
        {
            throw new IllegalArgumentException("volume " + volumeId + " does not exist");
        }
        final VolumeRedo redo = redos.get(volumeId);
        final SegmentLog log = volume.segmentLog();
        final org.agrona.collections.IntArrayList segments = new org.agrona.collections.IntArrayList();
        log.forEachSegment(segments::addInt);
        for (int i = 0; i < segments.size(); i++)
        {
            record.putInt(0, segments.getInt(i));
            final long position = redo.append(RedoRecordTypes.SEGMENT_FREED, record, 0, Integer.BYTES);
            if (position < 0)
            {
                return (int)position;
            }
        }
        record.putInt(DedupRecords.VOLUME_ID_OFFSET, volumeId);
        final long position = redo.append(DedupRecords.VOLUME_DELETED, record, 0, DedupRecords.VOLUME_DELETED_LENGTH);
        if (position < 0)
        {
            return (int)position;
        }
        final long durable = commitVolume(volumeId);
        if (durable < 0)
        {
            return (int)durable;
        }
        volumes.remove(volumeId);
        redos.remove(volumeId);
        return IoStatus.OK;
    }

    /** The redo sink of a volume, so that its agent can swap batches. */
    public VolumeRedo redo(final int volumeId)
    {
        return redos.get(volumeId);
    }

    /** Ids of the volumes, in no particular order. */
    public int[] volumeIds()
    {
        final int[] ids = new int[volumes.size()];
        int i = 0;
        for (final DedupVolume volume : volumes.values())
        {
            ids[i++] = volume.volumeId();
        }
        return ids;
    }

    /** True after a failed segment sync: the store commits nothing more; reopen it to recover. */
    public boolean isFailed()
    {
        return failed;
    }

    /**
     * Writes a checkpoint image of every volume and makes it the journal's replay start, then frees
     * the previous image. Bounds replay time and frees journal space.
     *
     * @return {@link IoStatus#OK} or a negative {@link IoStatus} (the previous checkpoint then stays).
     */
    public int checkpoint()
    {
        return checkpoint(true, NO_BATCHES, 0);
    }

    /**
     * Checkpoint for a controller whose volume agents are paused: like {@link #checkpoint()}, and also
     * absorbs the batches that were handed to the journal's owner but not drained yet (their owners
     * may treat them as durable once this returns OK).
     */
    public int checkpoint(final RedoBatch[] inFlight, final int inFlightCount)
    {
        return checkpoint(true, inFlight, inFlightCount);
    }

    /** {@code releasePrevious=false} simulates a crash between the new superblock and the release (tests). */
    int checkpoint(final boolean releasePrevious)
    {
        return checkpoint(releasePrevious, NO_BATCHES, 0);
    }

    private int checkpoint(final boolean releasePrevious, final RedoBatch[] inFlight, final int inFlightCount)
    {
        if (checkpointing)
        {
            throw new IllegalStateException("checkpoint while checkpointing");
        }
        if (failed)
        {
            return IoStatus.MEDIA_ERROR;
        }
        checkpointing = true;
        try
        {
            final int synced = syncLogs();
            if (synced != IoStatus.OK)
            {
                return synced;
            }
            // the image is taken from memory, which already holds the effects of every batch: the batches
            // are dropped rather than journaled after the image (replay would apply them twice)
            for (int i = 0; i < inFlightCount; i++)
            {
                inFlight[i].absorbIntoCheckpoint(allocator);
            }
            for (final VolumeRedo redo : redos.values())
            {
                redo.batch().absorbIntoCheckpoint(allocator);
            }
            // from here on the records of the absorbed batches exist only in memory: any failure fences the store
            final int status = writeCheckpoint(releasePrevious);
            if (status != IoStatus.OK)
            {
                failed = true;
            }
            return status;
        }
        finally
        {
            checkpointing = false;
        }
    }

    private int writeCheckpoint(final boolean releasePrevious)
    {
        final long lsn = journal.lastLsn();
        final CheckpointWriter writer = checkpoints.begin();
        final ImageOutput out = new ImageOutput(writer);
        out.writeLong(IMAGE_MAGIC);
        out.writeInt(IMAGE_VERSION);
        out.writeInt(volumes.size());
        for (final DedupVolume volume : volumes.values())
        {
            volume.encode(out);
        }
        int status = out.flush();
        if (status != IoStatus.OK)
        {
            writer.abort();
            return status;
        }
        final int length = writer.finish(nextDescriptor, 0);
        if (length < 0)
        {
            writer.abort();
            return length;
        }
        status = journal.checkpoint(lsn, nextDescriptor, 0, length);
        if (status != IoStatus.OK)
        {
            writer.abort();
            return status;
        }
        if (descriptorLength > 0 && releasePrevious)
        {
            status = checkpoints.release(descriptor, 0, descriptorLength, journal);
        }
        final UnsafeBuffer previous = descriptor;
        descriptor = nextDescriptor;
        nextDescriptor = previous;
        descriptorLength = length;
        checkpointCount++;
        if (status != IoStatus.OK)
        {
            return status;
        }
        final long released = journal.commit();
        return released < 0 ? (int)released : IoStatus.OK;
    }

    /**
     * One round of segment cleaning on every volume: move live blocks out of the best victims,
     * make the moves durable, free the victims.
     *
     * @return blocks moved, or a negative {@link IoStatus}.
     */
    public long clean()
    {
        long moved = 0;
        for (final DedupVolume volume : volumes.values())
        {
            final int result = volume.clean(ctx.cleanSegmentsMax());
            if (result < 0)
            {
                return result;
            }
            moved += result;
        }
        long status = commit();
        if (status < 0)
        {
            return status;
        }
        for (final DedupVolume volume : volumes.values())
        {
            final int released = volume.releaseCleaned();
            if (released < 0)
            {
                return released;
            }
        }
        status = commit();
        return status < 0 ? status : moved;
    }

    public Shelf shelf()
    {
        return shelf;
    }

    public ExtentAllocator allocator()
    {
        return allocator;
    }

    public MetadataJournal journal()
    {
        return journal;
    }

    public long checkpointCount()
    {
        return checkpointCount;
    }

    /** Checkpoints taken by {@link #commit()} because the journal had no room for the batches. */
    public long autoCheckpointCount()
    {
        return autoCheckpointCount;
    }

    public long commitCount()
    {
        return commitCount;
    }

    /** What the last {@link #open} found, or "formatted". */
    public RecoveryReport recovery()
    {
        return recovery;
    }

    /** Checks every volume's invariants (see {@link DedupVolume#check(boolean)}). */
    public void check(final boolean verifyContent)
    {
        for (final DedupVolume volume : volumes.values())
        {
            volume.check(verifyContent);
        }
    }

    /** Closes the drives without committing anything: what was not committed is lost, as in a crash. */
    @Override
    public void close()
    {
        for (final DedupVolume volume : volumes.values())
        {
            volume.segmentLog().awaitWritesBehind(); // no write behind may reach a closed (or reused) descriptor
        }
        shelf.close();
    }

    /**
     * What recovery found.
     *
     * @param checkpointLsn     records up to here came from the checkpoint image.
     * @param replayedRecords   records replayed after it.
     * @param lastLsn           last good record.
     * @param stopReason        why replay stopped (end of log, or a torn record and where).
     * @param volumeCount       volumes recovered.
     * @param orphanedSegmentsFreed segments of a previous checkpoint image left behind by a crash, now freed.
     */
    public record RecoveryReport(
        long checkpointLsn, long replayedRecords, long lastLsn, String stopReason, int volumeCount,
        int orphanedSegmentsFreed)
    {
    }
}
