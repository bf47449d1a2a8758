package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.ArrayDeque;
import java.util.function.IntConsumer;
import java.util.function.LongSupplier;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.collections.Int2ObjectHashMap;
import org.agrona.collections.IntArrayList;
import org.agrona.collections.IntHashSet;
import org.agrona.collections.IntIntConsumer;
import org.agrona.collections.LongArrayList;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The log-structured pool of one owner (a volume): random 4 KiB block writes become sequential appends into
 * the owner's open segment. Used by the owner's single writer thread only; no locks (the shared
 * {@link ExtentAllocator} is touched once per segment).
 *
 * <h2>Data path</h2>
 * {@link #append} copies the block into an aligned staging buffer of {@link SegmentLogContext#stagingBlocks()}
 * blocks, records its crc32c in the in-memory summary image and returns its PBA at once. The staging buffer is
 * written with one pwrite when it is full, when the segment fills (seal) or on {@link #sync()}; only a sync
 * calls fdatasync. With a {@link SegmentWriter} ({@link SegmentLogContext#writer}) the pwrite of a full buffer runs
 * on the writer's thread while the next of {@value #WRITE_BEHIND_SLOTS} buffers fills (reads of its blocks are
 * served from it meanwhile), and a failed one fails the log as a failed pwrite does. Reads of staged blocks are
 * served from memory; every read is checked against the crc32c recorded at append time, so corrupted data is never
 * returned as good.
 *
 * <h2>Syncs that do not block the owner</h2>
 * With a writer, {@link #syncStart()} queues the partial staging buffer, the open segment's summary and then an
 * fdatasync of every drive written, and returns: the owner goes on appending (to the next commit group) while the
 * drive works. {@link #pollSync()} tells when that sync is done and makes the PBAs returned before
 * {@link #syncStart()} durable (those returned since wait for the next sync). {@link #sync()} is the two in one
 * call. One sync is in flight at a time; a sealed segment's summary is written only once none is, so every summary
 * header names a durable state (its previous written count) that a completed sync made durable.
 *
 * <h2>Segment summary (last {@code summaryBlocksPerSegment} blocks of every data segment)</h2>
 * <pre>
 * summary header (64 bytes, start of the first summary block), little-endian:
 *   0        8         12          16        20       24                   32           36
 *   +--------+---------+-----------+---------+--------+--------------------+------------+--------------+
 *   | magic  | version | segmentId | ownerId | flags  | allocationSequence | dataBlocks | writtenCount |
 *   | 8      | 4       | 4         | 4       | 4      | 8                  | 4          | 4            |
 *   +--------+---------+-----------+---------+--------+--------------------+------------+--------------+
 *   36             40            48                     52                    56           60          64
 *   ...------------+-------------+----------------------+---------------------+------------+-----------+
 *                  | sealTimeMs  | previousWrittenCount | previousEntriesCrc  | entriesCrc | headerCrc |
 *                  | 8           | 4                    | 4                   | 4          | 4         |
 *   ...------------+-------------+----------------------+---------------------+------------+-----------+
 *   flags: bit 0 = SEALED. magic "AFSEGSUM"; checkpoint images and other users of segments have other magics.
 *   headerCrc          = crc32c(header bytes 0..59)
 *   entriesCrc         = crc32c(entries 0 .. writtenCount-1)
 *   previousEntriesCrc = crc32c(entries 0 .. previousWrittenCount-1), the durable state before this write
 *
 * entries (16 bytes per data block, from byte 64, packed across the summary blocks):
 *   0                        4         8                 16
 *   +------------------------+---------+-----------------+
 *   | flags:8 | ownerId:24   | crc32c  | lba             |
 *   +------------------------+---------+-----------------+
 *   entry flags: 1 = host write, 2 = relocated by the cleaner, 4 = reserved (segment 0 block 0, PBA 0).
 * </pre>
 *
 * <p>Torn writes: the summary of the open segment is rewritten at every sync (the header block plus the blocks
 * whose entries changed, nothing else). Entries are append-only, so the bytes of entries that an earlier sync
 * made durable never change. If a crash leaves a new header next to an old entry block, {@code entriesCrc}
 * fails but {@code previousEntriesCrc} still matches and recovery falls back to {@code previousWrittenCount}:
 * the blocks of the interrupted sync were never reported durable. This assumes a 4 KiB write is atomic (NVMe
 * atomic write unit), as the header is one block.
 *
 * <h2>Invariants</h2>
 * <ul>
 * <li>A new segment's summary (writtenCount 0, this owner, a new allocation sequence) is written and fdatasynced
 * <em>before</em> its {@link RedoRecordTypes#SEGMENT_ALLOCATED} record is appended, and the caller commits that
 * record only after {@link #sync()}. So every segment the allocator marks allocated has a valid summary of its
 * current owner, whatever the journal commits.</li>
 * <li>After a successful {@link #sync()} every PBA returned so far is durable (data and summary entry).</li>
 * <li>PBA 0 is never handed out: segment 0's block 0 carries a reserved entry.</li>
 * <li>A segment is appended to only while open; once sealed (full, recovered after a crash, or abandoned after a
 * write error) it is never appended to again.</li>
 * </ul>
 *
 * <h2>Write errors</h2>
 * Any failed pwrite or fdatasync puts the log in the failed state: appends return {@link IoStatus#MEDIA_ERROR}
 * until the next {@link #sync()}, which returns {@link IoStatus#MEDIA_ERROR}. A {@link #sync()} that returns
 * {@link IoStatus#MEDIA_ERROR} has <em>dropped</em> every PBA returned since the last successful sync: they are
 * not durable, read as {@link IoStatus#NOT_FOUND}, are not counted live, and the caller must not commit metadata
 * that references them (it rewrites the blocks from its cache; relocations since then are void, the victims
 * keep their data). The open segment is abandoned (sealed) and the next append opens a fresh one.
 *
 * <h2>Memory</h2>
 * Per owned data block: 4 bytes of crc32c plus 1 live bit (4.125 bytes per 4 KiB block, about 0.1 %). Per owned
 * segment: one small object (~64 bytes plus the arrays). Per log: staging ({@code stagingBlocks} x 4 KiB), one
 * summary image, one read block. LBAs are not kept in memory; the cleaner reads them from the summary.
 */
public final class SegmentLog
{
    public static final long SUMMARY_MAGIC = 0x4D55_5347_4553_4641L; // "AFSEGSUM"
    public static final int SUMMARY_VERSION = 1;
    public static final int SUMMARY_VERSION_MIN_COMPATIBLE = 1;
    public static final int SUMMARY_FLAG_SEALED = 1;
    public static final int ENTRY_FLAG_HOST = 1;
    public static final int ENTRY_FLAG_RELOCATED = 2;
    public static final int ENTRY_FLAG_RESERVED = 4;
    /** Owner ids share an entry word with 8 flag bits. */
    public static final int OWNER_ID_MAX = 0xFF_FFFF;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int SEGMENT_ID_OFFSET = 12;
    static final int OWNER_ID_OFFSET = 16;
    static final int FLAGS_OFFSET = 20;
    static final int ALLOCATION_SEQUENCE_OFFSET = 24;
    static final int DATA_BLOCKS_OFFSET = 32;
    static final int WRITTEN_COUNT_OFFSET = 36;
    static final int SEAL_TIME_OFFSET = 40;
    static final int PREVIOUS_WRITTEN_COUNT_OFFSET = 48;
    static final int PREVIOUS_ENTRIES_CRC_OFFSET = 52;
    static final int ENTRIES_CRC_OFFSET = 56;
    static final int HEADER_CRC_OFFSET = 60;
    static final int ENTRY_OWNER_FLAGS_OFFSET = 0;
    static final int ENTRY_CRC_OFFSET = 4;
    static final int ENTRY_LBA_OFFSET = 8;
    static final int ENTRY_FLAGS_SHIFT = 24;

    private static final int BLOCK = ShelfLayout.BLOCK_SIZE_BYTES;
    private static final int HEADER = ShelfLayout.SUMMARY_HEADER_BYTES;
    private static final int ENTRY = ShelfLayout.SUMMARY_ENTRY_BYTES;
    private static final int STATE_ACTIVE = 0;
    private static final int STATE_FAILED = 1;
    private static final int SEGMENT_OPEN = 0;
    private static final int SEGMENT_SEALED = 1;

    /** {@link #pollSync()}: the sync in flight is not done yet (not an {@link IoStatus}, which are 0 or negative). */
    public static final int SYNC_PENDING = 1;
    /** Staging buffers of a log with a {@link SegmentWriter}: one filling, up to three written behind. */
    static final int WRITE_BEHIND_SLOTS = 4;

    private final Shelf shelf;
    private final ShelfLayout layout;
    private final ExtentAllocator allocator;
    private final RedoSink redo;
    private final int ownerId;
    private final SegmentLogContext ctx;
    private final LongSupplier clockMs;
    private final int dataBlocks;
    private final int summaryBlocks;
    private final int summaryLengthBytes;
    private final int stagingBlocks;
    /** With a {@link SegmentWriter}: the staging buffers, one filling ({@link #current}), the others written behind. */
    private final SegmentWriter writer;
    private final SegmentWriter.Slot[] slots;
    private int current;
    private ByteBuffer stagingByteBuffer;
    private UnsafeBuffer staging;
    private final ByteBuffer summaryByteBuffer;
    private final UnsafeBuffer summary;
    /** With a writer: the open segment's summary (changed blocks, then the header) as {@link #syncStart()} saw it. */
    private final SegmentWriter.Slot summarySlot;
    private final SegmentWriter.Slot headerSlot;
    /** With a writer: the fdatasync {@link #syncStart()} queued; {@link #syncInFlight} until its result is applied. */
    private final SegmentWriter.Slot syncSlot;
    private final SegmentWriter.Account account = new SegmentWriter.Account();
    /** Submissions to the writer so far: a slot submitted before {@link #syncSlot} is covered by it. */
    private long submitted;
    private boolean syncInFlight;
    private int lastSyncStatus = IoStatus.OK;
    /** The unsynced segments when the sync in flight started: id, written count, entries crc of that count. */
    private final IntArrayList syncingIds = new IntArrayList();
    private final IntArrayList syncingWritten = new IntArrayList();
    private final IntArrayList syncingEntriesCrc = new IntArrayList();
    private final LongArrayList syncingAllocation = new LongArrayList();
    private final ByteBuffer readByteBuffer;
    private final UnsafeBuffer readBlock;
    private final UnsafeBuffer payload = new UnsafeBuffer(new byte[2 * Integer.BYTES]);
    private final Int2ObjectHashMap<Segment> segments = new Int2ObjectHashMap<>();
    private final IntArrayList ownedIds = new IntArrayList();
    private final ArrayDeque<Segment> segmentPool = new ArrayDeque<>();
    /** Segments with blocks appended since the last successful sync. */
    private final IntArrayList unsynced = new IntArrayList();
    /** Segments whose summary could not be read at recovery (their owner is unknown). */
    private final IntHashSet damaged = new IntHashSet();

    private int state = STATE_ACTIVE;
    private Segment open;
    private int stagingFirstBlock;
    private int stagedCount;
    /** Drives written since the last fdatasync, bit per drive (at most {@link ShelfConfig#DRIVE_COUNT_MAX}). */
    private long dirtyDrives;
    private long nextAllocationSequence = 1;

    private long hostBlocksWritten;
    private long cleanerBlocksWritten;
    private long syncCount;
    private long syncFailureCount;
    private long writeErrorCount;
    private long readErrorCount;
    private long checksumMismatchCount;
    private long droppedBlockCount;
    private long redoErrorCount;
    private long noSpaceCount;
    private long segmentsAllocated;
    private long segmentsReleased;
    private long tornSummaryCount;
    private long lostLiveCount;

    public SegmentLog(
        final Shelf shelf,
        final ExtentAllocator allocator,
        final RedoSink redo,
        final int ownerId,
        final SegmentLogContext ctx)
    {
        if (ownerId < 0 || ownerId > OWNER_ID_MAX)
        {
            throw new IllegalArgumentException("ownerId=" + ownerId + " not in [0, " + OWNER_ID_MAX + "]");
        }
        if (allocator.segmentCount() != shelf.layout().segmentCount())
        {
            throw new IllegalArgumentException("allocator.segmentCount=" + allocator.segmentCount() +
                " differs from the shelf's " + shelf.layout().segmentCount());
        }
        this.shelf = shelf;
        this.layout = shelf.layout();
        this.allocator = allocator;
        this.redo = redo;
        this.ownerId = ownerId;
        this.ctx = ctx.conclude();
        this.clockMs = ctx.clock();
        this.dataBlocks = layout.dataBlocksPerSegment();
        this.summaryBlocks = layout.summaryBlocksPerSegment();
        this.summaryLengthBytes = summaryBlocks * BLOCK;
        if (HEADER + dataBlocks * ENTRY > summaryLengthBytes)
        {
            throw new IllegalStateException("summary of " + dataBlocks + " entries does not fit in " +
                summaryBlocks + " blocks");
        }
        this.stagingBlocks = Math.min(ctx.stagingBlocks(), dataBlocks);
        this.writer = ctx.writer();
        this.slots = new SegmentWriter.Slot[writer == null ? 1 : WRITE_BEHIND_SLOTS];
        for (int i = 0; i < slots.length; i++)
        {
            slots[i] = new SegmentWriter.Slot(stagingBlocks * BLOCK);
        }
        this.stagingByteBuffer = slots[0].buffer;
        this.staging = slots[0].view;
        this.summaryByteBuffer = Drive.allocateAligned(summaryLengthBytes);
        this.summary = new UnsafeBuffer(summaryByteBuffer);
        this.summarySlot = writer == null ? null : new SegmentWriter.Slot(summaryLengthBytes);
        this.headerSlot = writer == null ? null : new SegmentWriter.Slot(BLOCK);
        this.syncSlot = writer == null ? null : SegmentWriter.Slot.forSync(shelf.driveCount());
        if (writer != null)
        {
            for (final SegmentWriter.Slot slot : slots)
            {
                slot.account = account;
            }
            summarySlot.account = account;
            headerSlot.account = account;
            syncSlot.account = account;
        }
        this.readByteBuffer = Drive.allocateAligned(BLOCK);
        this.readBlock = new UnsafeBuffer(readByteBuffer);
    }

    // ------------------------------------------------------------------------------------------------ recovery

    /**
     * Rebuilds the log of {@code ownerId} by reading the summary of every segment the allocator marks allocated
     * (the allocator must already reflect the checkpoint plus the replayed redo records). Segments of other owners
     * and segments that are not data segments (other magic) are skipped. Live counts start at 0: the caller
     * rebuilds them with {@link #markLive(long)}. A segment that was open at the crash is sealed (never appended
     * again); the next append opens a fresh segment.
     */
    public static SegmentLog recover(
        final Shelf shelf,
        final ExtentAllocator allocator,
        final RedoSink redo,
        final int ownerId,
        final SegmentLogContext ctx)
    {
        final SegmentLog log = new SegmentLog(shelf, allocator, redo, ownerId, ctx);
        for (int id = 0; id < allocator.segmentCount(); id++)
        {
            if (allocator.isAllocated(id))
            {
                log.recoverSegment(id);
            }
        }
        return log;
    }

    /**
     * As {@link #recover(Shelf, ExtentAllocator, RedoSink, int, SegmentLogContext)} but reads only the given
     * segments (learnt with {@link #scanOwners}); each summary is still checked for owner, magic and crc.
     */
    public static SegmentLog recover(
        final Shelf shelf,
        final ExtentAllocator allocator,
        final RedoSink redo,
        final int ownerId,
        final SegmentLogContext ctx,
        final int[] ownedSegmentIds)
    {
        final SegmentLog log = new SegmentLog(shelf, allocator, redo, ownerId, ctx);
        for (final int id : ownedSegmentIds)
        {
            if (!allocator.isAllocated(id))
            {
                throw new IllegalArgumentException("segment " + id + " is not allocated");
            }
            log.recoverSegment(id);
        }
        return log;
    }

    /**
     * One pass over every allocated segment's summary: reports {@code (segmentId, ownerId)} for each valid data
     * segment, so a controller can learn all owners at once.
     *
     * @return number of data segments reported (&gt;= 0); segments whose summary cannot be read or fails its crc
     *         are skipped and not reported.
     */
    public static int scanOwners(
        final Shelf shelf, final ExtentAllocator allocator, final IntIntConsumer segmentToOwner)
    {
        final ShelfLayout layout = shelf.layout();
        final ByteBuffer bytes = Drive.allocateAligned(layout.summaryBlocksPerSegment() * BLOCK);
        final UnsafeBuffer buffer = new UnsafeBuffer(bytes);
        int found = 0;
        for (int id = 0; id < allocator.segmentCount(); id++)
        {
            if (allocator.isAllocated(id) &&
                readSummary(shelf, id, bytes, buffer) >= 0)
            {
                segmentToOwner.accept(id, buffer.getInt(OWNER_ID_OFFSET));
                found++;
            }
        }
        return found;
    }

    private void recoverSegment(final int id)
    {
        final int written = readSummary(shelf, id, summaryByteBuffer, summary);
        if (written == IoStatus.NOT_FOUND)
        {
            return; // not a data segment (e.g. a checkpoint image)
        }
        if (written < 0)
        {
            damaged.add(id);
            return;
        }
        if (summary.getInt(OWNER_ID_OFFSET) != ownerId)
        {
            return;
        }
        if (written != summary.getInt(WRITTEN_COUNT_OFFSET))
        {
            tornSummaryCount++;
        }
        final Segment segment = obtainSegment(id);
        for (int b = 0; b < written; b++)
        {
            segment.crc[b] = summary.getInt(entryOffset(b) + ENTRY_CRC_OFFSET);
        }
        segment.written = written;
        segment.durable = written;
        segment.summaryWritten = written;
        segment.allocationSequence = summary.getLong(ALLOCATION_SEQUENCE_OFFSET);
        nextAllocationSequence = Math.max(nextAllocationSequence, segment.allocationSequence + 1);
        segment.state = SEGMENT_SEALED;
        if ((summary.getInt(FLAGS_OFFSET) & SUMMARY_FLAG_SEALED) != 0 &&
            written == summary.getInt(WRITTEN_COUNT_OFFSET))
        {
            segment.sealTimeMs = summary.getLong(SEAL_TIME_OFFSET);
        }
        else
        {
            sealAfterCrash(segment);
        }
        addOwned(segment);
    }

    /** Writes the sealed summary of a segment that was open at the crash (or whose last summary was torn). */
    private void sealAfterCrash(final Segment segment)
    {
        segment.sealTimeMs = clockMs.getAsLong();
        segment.durableEntriesCrc = entriesCrc(segment.written);
        encodeHeader(segment);
        final Drive drive = shelf.drive(layout.segmentDrive(segment.id));
        int status = drive.write(layout.summaryOffsetBytes(segment.id), summaryByteBuffer, 0, BLOCK);
        if (status == IoStatus.OK)
        {
            status = drive.sync();
        }
        if (status != IoStatus.OK)
        {
            // sealed in memory all the same: the next recovery seals it again
            writeErrorCount++;
        }
        appendRedo(RedoRecordTypes.SEGMENT_SEALED, segment.id);
    }

    /**
     * Reads and verifies a segment summary into {@code buffer}.
     *
     * @return the valid written count (&gt;= 0), {@link IoStatus#NOT_FOUND} when the segment is not a data segment,
     *         {@link IoStatus#CHECKSUM_MISMATCH} when it is damaged, {@link IoStatus#MEDIA_ERROR}.
     */
    static int readSummary(final Shelf shelf, final int segmentId, final ByteBuffer bytes, final UnsafeBuffer buffer)
    {
        final ShelfLayout layout = shelf.layout();
        final int status = shelf.drive(layout.segmentDrive(segmentId)).read(
            layout.summaryOffsetBytes(segmentId), bytes, 0, layout.summaryBlocksPerSegment() * BLOCK);
        if (status != IoStatus.OK)
        {
            return status;
        }
        return verifySummary(buffer, segmentId, layout.dataBlocksPerSegment());
    }

    static int verifySummary(final UnsafeBuffer buffer, final int segmentId, final int dataBlocks)
    {
        if (buffer.getLong(MAGIC_OFFSET) != SUMMARY_MAGIC)
        {
            return IoStatus.NOT_FOUND;
        }
        if (buffer.getInt(HEADER_CRC_OFFSET) != crc32c(buffer, 0, HEADER_CRC_OFFSET))
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        final int version = buffer.getInt(VERSION_OFFSET);
        if (version < SUMMARY_VERSION_MIN_COMPATIBLE || version > SUMMARY_VERSION ||
            buffer.getInt(SEGMENT_ID_OFFSET) != segmentId || buffer.getInt(DATA_BLOCKS_OFFSET) != dataBlocks)
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        final int written = buffer.getInt(WRITTEN_COUNT_OFFSET);
        final int previous = buffer.getInt(PREVIOUS_WRITTEN_COUNT_OFFSET);
        if (written < 0 || written > dataBlocks || previous < 0 || previous > written)
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        if (buffer.getInt(ENTRIES_CRC_OFFSET) == crc32c(buffer, HEADER, written * ENTRY))
        {
            return written;
        }
        if (buffer.getInt(PREVIOUS_ENTRIES_CRC_OFFSET) == crc32c(buffer, HEADER, previous * ENTRY))
        {
            return previous; // torn: the last summary write did not fully land, fall back to the durable state
        }
        return IoStatus.CHECKSUM_MISMATCH;
    }

    // ------------------------------------------------------------------------------------------------ data path

    /**
     * Appends a host write.
     *
     * @return the new PBA (&gt; 0), or {@link IoStatus#NO_SPACE} (no free segment beyond the cleaner reserve, or
     *         the redo sink is full), or {@link IoStatus#MEDIA_ERROR} (see the class comment on write errors).
     */
    public long append(final long lba, final DirectBuffer block, final int offset)
    {
        return write(lba, block, offset, ENTRY_FLAG_HOST);
    }

    /** As {@link #append} for a block moved by the cleaner: counted as a cleaner write, may use the reserve. */
    public long relocate(final long lba, final DirectBuffer block, final int offset)
    {
        return write(lba, block, offset, ENTRY_FLAG_RELOCATED);
    }

    private long write(final long lba, final DirectBuffer block, final int offset, final int entryFlags)
    {
        if (lba < 0)
        {
            throw new IllegalArgumentException("lba=" + lba + " must be >= 0");
        }
        if (state == STATE_FAILED)
        {
            return IoStatus.MEDIA_ERROR;
        }
        if (open == null)
        {
            final int status = openSegment(entryFlags == ENTRY_FLAG_HOST);
            if (status != IoStatus.OK)
            {
                return status;
            }
        }
        final Segment segment = open;
        final int blockIndex = segment.written;
        assert blockIndex < dataBlocks : "open segment " + segment.id + " is full";
        assert stagingFirstBlock + stagedCount == blockIndex : "staging out of step";

        final int slotOffset = stagedCount * BLOCK;
        staging.putBytes(slotOffset, block, offset, BLOCK);
        final int crc = crc32c(staging, slotOffset, BLOCK);
        if (segment.written == segment.durable)
        {
            unsynced.addInt(segment.id);
        }
        segment.crc[blockIndex] = crc;
        final int entryOffset = entryOffset(blockIndex);
        summary.putInt(entryOffset + ENTRY_OWNER_FLAGS_OFFSET, (entryFlags << ENTRY_FLAGS_SHIFT) | ownerId);
        summary.putInt(entryOffset + ENTRY_CRC_OFFSET, crc);
        summary.putLong(entryOffset + ENTRY_LBA_OFFSET, lba);
        segment.written++;
        segment.setLive(blockIndex);
        stagedCount++;
        if (entryFlags == ENTRY_FLAG_HOST)
        {
            hostBlocksWritten++;
        }
        else
        {
            cleanerBlocksWritten++;
        }
        final long pba = layout.pba(segment.id, blockIndex);
        assert layout.isDataPba(pba) : "pba " + pba;

        final int status;
        if (segment.written == dataBlocks)
        {
            status = sealOpen();
        }
        else if (stagedCount == stagingBlocks)
        {
            status = flushStaging();
        }
        else
        {
            status = IoStatus.OK;
        }
        return status == IoStatus.OK ? pba : fail(status);
    }

    /**
     * Reads a block written through this log, checked against the crc32c recorded when it was appended.
     *
     * @return {@link IoStatus#OK}, {@link IoStatus#NOT_FOUND} (never written here, or dropped by a failed sync),
     *         {@link IoStatus#MEDIA_ERROR} or {@link IoStatus#CHECKSUM_MISMATCH} (dst then holds no good data).
     */
    public int read(final long pba, final MutableDirectBuffer dst, final int offset)
    {
        if (!layout.isDataPba(pba))
        {
            return IoStatus.NOT_FOUND;
        }
        final int segmentId = layout.segmentOf(pba);
        final Segment segment = segments.get(segmentId);
        final int blockIndex = layout.blockInSegment(pba);
        if (segment == null || blockIndex >= segment.written)
        {
            return IoStatus.NOT_FOUND;
        }
        final UnsafeBuffer source;
        final int sourceOffset;
        final SegmentWriter.Slot behind;
        if (segment == open && blockIndex >= stagingFirstBlock)
        {
            source = staging;
            sourceOffset = (blockIndex - stagingFirstBlock) * BLOCK;
        }
        else if ((behind = writtenBehind(segmentId, blockIndex)) != null)
        {
            source = behind.view; // its write may still be in flight: the buffer is not reused before it is done
            sourceOffset = (blockIndex - behind.firstBlock) * BLOCK;
        }
        else
        {
            final int status = shelf.drive(layout.segmentDrive(segmentId)).read(
                layout.offsetOf(pba), readByteBuffer, 0, BLOCK);
            if (status != IoStatus.OK)
            {
                readErrorCount++;
                return status;
            }
            source = readBlock;
            sourceOffset = 0;
        }
        if (crc32c(source, sourceOffset, BLOCK) != segment.crc[blockIndex])
        {
            checksumMismatchCount++;
            return IoStatus.CHECKSUM_MISMATCH;
        }
        dst.putBytes(offset, source, sourceOffset, BLOCK);
        return IoStatus.OK;
    }

    /**
     * Writes the staged blocks and the open segment's changed summary blocks, then fdatasyncs every drive written
     * since the last sync, on the caller's thread (it waits either way: through the writer it would also wait for
     * that thread to wake). On {@link IoStatus#OK} every PBA returned so far is durable; on
     * {@link IoStatus#MEDIA_ERROR} every PBA returned since the last successful sync has been dropped (see the
     * class comment). Completes a sync in flight first.
     */
    public int sync()
    {
        final int ready = prepareSync();
        if (ready != IoStatus.OK)
        {
            return ready;
        }
        // the writes behind first (a sealed segment's last blocks may still be on their way), then the open
        // segment's partial buffer on this thread: through the writer it would only wait for it
        if (awaitWritesBehind() != IoStatus.OK || account.failures != account.failuresAtReset)
        {
            writeErrorCount++;
            return failSync();
        }
        final int written = writeOpenSegment(false);
        if (written != IoStatus.OK)
        {
            return written;
        }
        for (int drive = 0; drive < shelf.driveCount(); drive++)
        {
            if ((dirtyDrives & (1L << drive)) != 0)
            {
                if (shelf.drive(drive).sync() != IoStatus.OK)
                {
                    writeErrorCount++;
                    return failSync();
                }
                dirtyDrives &= ~(1L << drive);
            }
        }
        for (int i = 0; i < unsynced.size(); i++)
        {
            final Segment segment = segments.get(unsynced.getInt(i));
            segment.durable = segment.written;
            segment.durableEntriesCrc = segment.lastSummaryEntriesCrc;
        }
        unsynced.clear();
        for (int i = 0; i < slots.length; i++)
        {
            if (i != current)
            {
                slots[i].segmentId = -1; // durable on the drive: reads go there (and are checked there) from now
            }
        }
        syncCount++;
        lastSyncStatus = IoStatus.OK;
        return IoStatus.OK;
    }

    /**
     * Starts a sync of every PBA returned so far (first completing one in flight). With a writer the writes and the
     * fdatasync are queued to it and this returns at once; {@link #pollSync()} tells when they are done (a caller that
     * would only wait calls {@link #sync()}). Without one it is {@link #sync()}.
     *
     * @return {@link IoStatus#OK} (started, or done without a writer), or {@link IoStatus#MEDIA_ERROR}: a sync
     *         failed, and every PBA returned since the last successful sync has been dropped.
     */
    public int syncStart()
    {
        if (writer == null)
        {
            return sync();
        }
        final int ready = prepareSync();
        if (ready != IoStatus.OK)
        {
            return ready;
        }
        final int written = writeOpenSegment(true);
        if (written != IoStatus.OK)
        {
            return written;
        }
        syncingIds.clear();
        syncingWritten.clear();
        syncingEntriesCrc.clear();
        syncingAllocation.clear();
        for (int i = 0; i < unsynced.size(); i++)
        {
            final Segment segment = segments.get(unsynced.getInt(i));
            syncingIds.addInt(segment.id);
            syncingWritten.addInt(segment.written);
            syncingEntriesCrc.addInt(segment.lastSummaryEntriesCrc);
            syncingAllocation.addLong(segment.allocationSequence);
        }
        syncSlot.syncDriveCount = 0;
        for (int drive = 0; drive < shelf.driveCount(); drive++)
        {
            if ((dirtyDrives & (1L << drive)) != 0)
            {
                syncSlot.syncDrive(shelf.drive(drive));
            }
        }
        dirtyDrives = 0;
        syncInFlight = true;
        if (syncSlot.syncDriveCount == 0)
        {
            syncSlot.sequence = ++submitted;
            syncSlot.status = IoStatus.OK; // nothing written since the last sync
        }
        else
        {
            submit(syncSlot);
        }
        return IoStatus.OK;
    }

    /** Completes a sync in flight, then reports a failed log: the common start of {@link #sync()} and {@link #syncStart()}. */
    private int prepareSync()
    {
        final int previous = completeSync();
        if (previous != IoStatus.OK)
        {
            return previous;
        }
        return state == STATE_FAILED ? failSync() : IoStatus.OK;
    }

    /** The open segment's partial buffer and changed summary: written here, or queued to the writer ({@code behind}). */
    private int writeOpenSegment(final boolean behind)
    {
        if (open == null)
        {
            return IoStatus.OK;
        }
        int status = flushStaging(behind);
        if (status == IoStatus.OK && open.summaryWritten != open.written)
        {
            status = writeSummary(open, behind);
        }
        if (status != IoStatus.OK)
        {
            writeErrorCount++;
            return failSync();
        }
        return IoStatus.OK;
    }

    /**
     * The sync {@link #syncStart()} started: {@link #SYNC_PENDING} while the drives work, then its result as
     * {@link #sync()} would have returned it (the result of the last sync when none is in flight).
     */
    public int pollSync()
    {
        if (syncInFlight && syncSlot.status == SegmentWriter.PENDING)
        {
            return SYNC_PENDING;
        }
        return syncInFlight ? completeSync() : lastSyncStatus;
    }

    /**
     * Listeners of the syncs the writer performs, run on its thread: {@code done} with the result before
     * {@link #pollSync()} can see it (a volume agent hands its batch to the journal from there), {@code wake} once it
     * can (the owner polls, and so applies the result to the log). Without a writer: never run.
     */
    public void syncListener(final IntConsumer done, final Runnable wake)
    {
        if (syncSlot != null)
        {
            syncSlot.done = done;
            syncSlot.wake = wake;
        }
    }

    /** True while a sync started by {@link #syncStart()} has not been completed. */
    public boolean isSyncInFlight()
    {
        return syncInFlight;
    }

    /** Waits for the sync in flight, if any, and applies its result: the PBAs it covered become durable. */
    private int completeSync()
    {
        if (!syncInFlight)
        {
            return IoStatus.OK;
        }
        syncInFlight = false;
        final int status = syncSlot.await(); // failed when a write it covers failed, too
        final long covered = syncSlot.sequence;
        if (status != IoStatus.OK)
        {
            writeErrorCount++;
            lastSyncStatus = failSync();
            return lastSyncStatus;
        }
        for (int i = 0; i < syncingIds.size(); i++)
        {
            final Segment segment = segments.get(syncingIds.getInt(i));
            if (segment != null && segment.allocationSequence == syncingAllocation.getLong(i))
            {
                segment.durable = syncingWritten.getInt(i);
                segment.durableEntriesCrc = syncingEntriesCrc.getInt(i);
            }
        }
        for (int i = unsynced.size() - 1; i >= 0; i--)
        {
            final Segment segment = segments.get(unsynced.getInt(i));
            if (segment.durable == segment.written)
            {
                unsynced.fastUnorderedRemove(i);
            }
        }
        for (int i = 0; i < slots.length; i++)
        {
            if (i != current && slots[i].sequence < covered)
            {
                slots[i].segmentId = -1; // durable on the drive: reads go there (and are checked there) from now
            }
        }
        syncCount++;
        lastSyncStatus = IoStatus.OK;
        return IoStatus.OK;
    }

    /** The PBA is no longer referenced: its segment's live count drops. */
    public void markDead(final long pba)
    {
        final Segment segment = segmentOfWritten(pba);
        final int blockIndex = layout.blockInSegment(pba);
        if (!segment.clearLive(blockIndex))
        {
            throw new IllegalStateException("markDead(pba=" + pba + "): block is already dead (owner " + ownerId +
                ", segment " + segment.id + ")");
        }
    }

    /** Recovery: the PBA is referenced by committed metadata. Idempotent. */
    public void markLive(final long pba)
    {
        if (layout.isDataPba(pba) && damaged.contains(layout.segmentOf(pba)))
        {
            lostLiveCount++; // summary unreadable: the block cannot be verified and reads as NOT_FOUND
            return;
        }
        final Segment segment = segmentOfWritten(pba);
        segment.setLive(layout.blockInSegment(pba));
    }

    /** True when the PBA is a written block of this log that has not been marked dead. */
    public boolean isLive(final long pba)
    {
        if (!layout.isDataPba(pba))
        {
            return false;
        }
        final Segment segment = segments.get(layout.segmentOf(pba));
        final int blockIndex = layout.blockInSegment(pba);
        return segment != null && blockIndex < segment.written && segment.isLive(blockIndex);
    }

    private Segment segmentOfWritten(final long pba)
    {
        final Segment segment = layout.isDataPba(pba) ? segments.get(layout.segmentOf(pba)) : null;
        if (segment == null || layout.blockInSegment(pba) >= segment.written)
        {
            throw new IllegalStateException("pba=" + pba + " is not a written block of owner " + ownerId);
        }
        return segment;
    }

    // ------------------------------------------------------------------------------------------------ segments

    /**
     * Frees a cleaned segment: appends {@link RedoRecordTypes#SEGMENT_FREED}, returns it to the allocator and
     * forgets it. Precondition: sealed, live count 0, and the relocations out of it durable and committed.
     *
     * @return {@link IoStatus#OK} or the redo sink's error (the segment is then kept).
     */
    public int release(final int segmentId)
    {
        final Segment segment = segments.get(segmentId);
        if (segment == null)
        {
            throw new IllegalArgumentException("release(" + segmentId + "): not a segment of owner " + ownerId);
        }
        if (segment == open)
        {
            throw new IllegalStateException("release(" + segmentId + "): segment is open");
        }
        if (segment.live != 0)
        {
            throw new IllegalStateException("release(" + segmentId + "): " + segment.live + " live blocks");
        }
        // a sync done on the writer's thread (its batch already committed) is applied here at the latest
        final int completed = completeSync();
        if (completed != IoStatus.OK)
        {
            return completed;
        }
        if (segment.durable != segment.written)
        {
            throw new IllegalStateException("release(" + segmentId + "): not synced");
        }
        final long lsn = appendRedo(RedoRecordTypes.SEGMENT_FREED, segmentId);
        if (lsn < 0)
        {
            return (int)lsn;
        }
        if (ctx.releaseFreesSegment())
        {
            allocator.free(segmentId);
        }
        removeOwned(segment);
        segmentsReleased++;
        return IoStatus.OK;
    }

    public int liveBlocks(final int segmentId)
    {
        final Segment segment = segments.get(segmentId);
        return segment == null ? 0 : segment.live;
    }

    public int writtenBlocks(final int segmentId)
    {
        final Segment segment = segments.get(segmentId);
        return segment == null ? 0 : segment.written;
    }

    /** Seal time in epoch ms of a sealed segment, -1 for the open segment or a segment not owned. */
    public long sealTimeMs(final int segmentId)
    {
        final Segment segment = segments.get(segmentId);
        return segment == null || segment.state != SEGMENT_SEALED ? -1 : segment.sealTimeMs;
    }

    /** The open segment, -1 if none. */
    public int openSegment()
    {
        return open == null ? -1 : open.id;
    }

    /** Calls {@code action} with every owned segment id. The action must not release segments. */
    public void forEachSegment(final IntConsumer action)
    {
        for (int i = 0; i < ownedIds.size(); i++)
        {
            action.accept(ownedIds.getInt(i));
        }
    }

    /** Number of owned segments; with {@link #ownedSegmentId(int)} an allocation-free iteration. */
    public int ownedSegmentCount()
    {
        return ownedIds.size();
    }

    public int ownedSegmentId(final int index)
    {
        return ownedIds.getInt(index);
    }

    /** Segments whose summary could not be read at recovery; their blocks read as NOT_FOUND. */
    public int damagedSegmentCount()
    {
        return damaged.size();
    }

    /**
     * Reads and verifies the summary of an owned sealed segment into {@code dst} (aligned, at least
     * {@link #summaryLengthBytes()}), for the cleaner to learn the LBAs.
     *
     * @return the written count on disk (&gt;= 0) or a negative {@link IoStatus}.
     */
    public int loadSummary(final int segmentId, final ByteBuffer dst, final UnsafeBuffer view)
    {
        if (segments.get(segmentId) == null)
        {
            throw new IllegalArgumentException("loadSummary(" + segmentId + "): not a segment of owner " + ownerId);
        }
        final int written = readSummary(shelf, segmentId, dst, view);
        if (written == IoStatus.NOT_FOUND)
        {
            return IoStatus.CHECKSUM_MISMATCH; // ours in memory, so a foreign magic is damage
        }
        if (written < 0)
        {
            if (written == IoStatus.CHECKSUM_MISMATCH)
            {
                checksumMismatchCount++;
            }
            else
            {
                readErrorCount++;
            }
        }
        return written;
    }

    /**
     * True when host writes may append {@code blocks} more blocks before {@link IoStatus#NO_SPACE}: what the open
     * segment has left, then the {@link #freeSegmentsForHost() free segments} (owner thread).
     */
    public boolean hasRoomForHostBlocks(final long blocks)
    {
        final long inOpen = open == null ? 0 : dataBlocks - open.written;
        return inOpen >= blocks || inOpen + (long)freeSegmentsForHost() * dataBlocks >= blocks;
    }

    /**
     * Free segments of this log's disk group that host writes may still take: the allocator's free count less
     * the cleaner's reserve (the reserve is for relocations only). At 0 an append needing a new segment gets
     * {@link IoStatus#NO_SPACE} until the cleaner frees some.
     */
    public int freeSegmentsForHost()
    {
        return Math.max(0, allocator.freeCount() - ctx.cleanerReserveSegments());
    }

    /** LBA of entry {@code blockIndex} of a summary read with {@link #loadSummary}. */
    public static long summaryLba(final DirectBuffer summary, final int blockIndex)
    {
        return summary.getLong(HEADER + blockIndex * ENTRY + ENTRY_LBA_OFFSET);
    }

    public int summaryLengthBytes()
    {
        return summaryLengthBytes;
    }

    public ShelfLayout layout()
    {
        return layout;
    }

    public int ownerId()
    {
        return ownerId;
    }

    public SegmentLogContext context()
    {
        return ctx;
    }

    // ------------------------------------------------------------------------------------------------ counters

    public long hostBlocksWritten()
    {
        return hostBlocksWritten;
    }

    public long cleanerBlocksWritten()
    {
        return cleanerBlocksWritten;
    }

    /** (host + cleaner) / host blocks written; 1.0 before any host write. */
    public double writeAmplification()
    {
        return hostBlocksWritten == 0 ? 1.0 :
            (double)(hostBlocksWritten + cleanerBlocksWritten) / hostBlocksWritten;
    }

    public long syncCount()
    {
        return syncCount;
    }

    /** Syncs that returned {@link IoStatus#MEDIA_ERROR} (and dropped the unsynced PBAs). */
    public long syncFailureCount()
    {
        return syncFailureCount;
    }

    /** Failed pwrites and fdatasyncs. */
    public long writeErrorCount()
    {
        return writeErrorCount;
    }

    public long readErrorCount()
    {
        return readErrorCount;
    }

    public long checksumMismatchCount()
    {
        return checksumMismatchCount;
    }

    /** Blocks dropped by failed syncs. */
    public long droppedBlockCount()
    {
        return droppedBlockCount;
    }

    /** Redo appends refused for SEGMENT_SEALED (recovery re-derives sealed state from summaries). */
    public long redoErrorCount()
    {
        return redoErrorCount;
    }

    public long noSpaceCount()
    {
        return noSpaceCount;
    }

    public long segmentsAllocated()
    {
        return segmentsAllocated;
    }

    public long segmentsReleased()
    {
        return segmentsReleased;
    }

    /** Summaries found torn at recovery (fell back to the previous durable state). */
    public long tornSummaryCount()
    {
        return tornSummaryCount;
    }

    /** {@link #markLive} calls for blocks of damaged segments. */
    public long lostLiveCount()
    {
        return lostLiveCount;
    }

    // ------------------------------------------------------------------------------------------------ internals

    private int openSegment(final boolean host)
    {
        assert open == null && stagedCount == 0 : "a segment is open";
        if (host && allocator.freeCount() <= ctx.cleanerReserveSegments())
        {
            noSpaceCount++;
            return IoStatus.NO_SPACE;
        }
        final int id = allocator.allocate();
        if (id < 0)
        {
            noSpaceCount++;
            return IoStatus.NO_SPACE;
        }
        final Segment segment = obtainSegment(id);
        segment.state = SEGMENT_OPEN;
        segment.allocationSequence = nextAllocationSequence++;
        summary.setMemory(0, summaryLengthBytes, (byte)0);
        if (layout.pba(id, 0) == 0)
        {
            // PBA 0 means "no block": give block 0 of segment 0 a reserved entry instead
            summary.putInt(entryOffset(0) + ENTRY_OWNER_FLAGS_OFFSET, (ENTRY_FLAG_RESERVED << ENTRY_FLAGS_SHIFT) | ownerId);
            summary.putLong(entryOffset(0) + ENTRY_LBA_OFFSET, -1);
            segment.written = 1;
        }
        segment.durable = 0;
        segment.durableEntriesCrc = 0;
        int status = writeSummary(segment);
        final Drive drive = shelf.drive(layout.segmentDrive(id));
        if (status == IoStatus.OK)
        {
            status = drive.sync();
        }
        if (status != IoStatus.OK)
        {
            allocator.free(id);
            recycle(segment);
            return fail(status);
        }
        segment.durable = segment.written;
        segment.durableEntriesCrc = segment.lastSummaryEntriesCrc;

        payload.putInt(0, id);
        payload.putInt(Integer.BYTES, ownerId);
        final long lsn = redo.append(RedoRecordTypes.SEGMENT_ALLOCATED, payload, 0, 2 * Integer.BYTES);
        if (lsn < 0)
        {
            allocator.free(id);
            recycle(segment);
            if (lsn == IoStatus.NO_SPACE)
            {
                noSpaceCount++;
            }
            return (int)lsn;
        }
        addOwned(segment);
        open = segment;
        stagingFirstBlock = segment.written;
        stagedCount = 0;
        segmentsAllocated++;
        return IoStatus.OK;
    }

    private int sealOpen()
    {
        // the sealed summary's header names the durable state: let a sync in flight make it current first
        final int completed = completeSync();
        if (completed != IoStatus.OK)
        {
            return completed; // the open segment was abandoned with every block since the last good sync
        }
        final Segment segment = open;
        assert segment.written == dataBlocks : "sealing a segment that is not full";
        final int status = flushStaging();
        segment.state = SEGMENT_SEALED;
        segment.sealTimeMs = clockMs.getAsLong();
        open = null;
        stagedCount = 0;
        stagingFirstBlock = 0;
        if (status != IoStatus.OK)
        {
            return status;
        }
        final int summaryStatus = writeSummary(segment);
        if (summaryStatus != IoStatus.OK)
        {
            return summaryStatus;
        }
        appendRedo(RedoRecordTypes.SEGMENT_SEALED, segment.id);
        return IoStatus.OK;
    }

    private int flushStaging()
    {
        return flushStaging(writer != null);
    }

    /** Writes the staged blocks: {@code behind}, on the writer's thread (the next buffer fills meanwhile). */
    private int flushStaging(final boolean behind)
    {
        if (stagedCount == 0)
        {
            return IoStatus.OK;
        }
        final int driveIndex = layout.segmentDrive(open.id);
        final long offsetBytes = layout.offsetOf(layout.pba(open.id, stagingFirstBlock));
        int status = IoStatus.OK;
        if (!behind)
        {
            status = shelf.drive(driveIndex).write(offsetBytes, stagingByteBuffer, 0, stagedCount * BLOCK);
            if (status != IoStatus.OK)
            {
                return status;
            }
        }
        else
        {
            final SegmentWriter.Slot slot = slots[current];
            slot.drive = shelf.drive(driveIndex);
            slot.offsetBytes = offsetBytes;
            slot.lengthBytes = stagedCount * BLOCK;
            slot.segmentId = open.id;
            slot.firstBlock = stagingFirstBlock;
            slot.blockCount = stagedCount;
            submit(slot);
            // the next buffer fills while this one is written; it is free once its earlier write is done
            current = (current + 1) % slots.length;
            final SegmentWriter.Slot next = slots[current];
            status = next.await();
            next.segmentId = -1;
            stagingByteBuffer = next.buffer;
            staging = next.view;
        }
        dirtyDrives |= 1L << driveIndex;
        stagingFirstBlock += stagedCount;
        stagedCount = 0;
        return status; // a failed earlier write fails the log now; sync() drops what was not durable
    }

    /** The staging buffer written behind that still holds this block (reads are served from it), or null. */
    private SegmentWriter.Slot writtenBehind(final int segmentId, final int blockIndex)
    {
        for (int i = 0; i < slots.length; i++)
        {
            if (i != current && slots[i].holds(segmentId, blockIndex))
            {
                return slots[i];
            }
        }
        return null;
    }

    /**
     * Waits until every write queued to the writer (staging buffers, summaries, a sync) is done (also before the
     * shelf's drives are closed); the first failure, or OK. Owner thread, or any thread once the owner has stopped.
     */
    public int awaitWritesBehind()
    {
        int result = IoStatus.OK;
        for (int i = 0; i < slots.length; i++)
        {
            result = firstStatus(result, slots[i]);
        }
        if (writer != null)
        {
            result = firstStatus(result, summarySlot);
            result = firstStatus(result, headerSlot);
            result = firstStatus(result, syncSlot);
        }
        return result;
    }

    private static int firstStatus(final int result, final SegmentWriter.Slot slot)
    {
        final int status = slot.await();
        return result == IoStatus.OK ? status : result;
    }

    private void submit(final SegmentWriter.Slot slot)
    {
        slot.sequence = ++submitted;
        writer.submit(slot);
    }

    /**
     * Writes the header block and the summary blocks whose entries changed since the last summary write of the
     * segment (the summary image in memory is the segment's): the changed entry blocks, then the header block.
     * No fdatasync.
     */
    private int writeSummary(final Segment segment)
    {
        return writeSummary(segment, false);
    }

    /**
     * {@link #writeSummary}, here or queued to the writer ({@code behind}: from a copy of the blocks, as the image
     * goes on changing). Only {@link #syncStart()} queues, with no sync in flight, so both slots are free then.
     */
    private int writeSummary(final Segment segment, final boolean behind)
    {
        if (writer != null && !behind)
        {
            // one queued by syncStart must not land after this newer one
            summarySlot.await();
            headerSlot.await();
        }
        encodeHeader(segment);
        final int firstChanged = firstChangedSummaryBlock(segment);
        final int driveIndex = layout.segmentDrive(segment.id);
        final Drive drive = shelf.drive(driveIndex);
        final long base = layout.summaryOffsetBytes(segment.id);
        final int from = firstChanged <= 1 ? 0 : firstChanged;
        int status = writeSummaryBlocks(summarySlot, behind, drive, base, from, lastChangedSummaryBlock(segment));
        if (status == IoStatus.OK && from > 0)
        {
            status = writeSummaryBlocks(headerSlot, behind, drive, base, 0, 0);
        }
        if (status != IoStatus.OK)
        {
            return status;
        }
        dirtyDrives |= 1L << driveIndex;
        segment.summaryWritten = segment.written;
        return IoStatus.OK;
    }

    /** The first summary block with entries written since the segment's last summary write (0: the header alone). */
    private static int firstChangedSummaryBlock(final Segment segment)
    {
        return segment.written > segment.summaryWritten ? (HEADER + segment.summaryWritten * ENTRY) / BLOCK : 0;
    }

    private static int lastChangedSummaryBlock(final Segment segment)
    {
        return segment.written > segment.summaryWritten ? (HEADER + segment.written * ENTRY - 1) / BLOCK : 0;
    }

    private int writeSummaryBlocks(
        final SegmentWriter.Slot slot,
        final boolean behind,
        final Drive drive,
        final long base,
        final int firstBlock,
        final int lastBlock)
    {
        final int length = (lastBlock - firstBlock + 1) * BLOCK;
        if (!behind)
        {
            return drive.write(base + (long)firstBlock * BLOCK, summaryByteBuffer, firstBlock * BLOCK, length);
        }
        final int status = slot.await();
        if (status != IoStatus.OK)
        {
            return status;
        }
        slot.view.putBytes(0, summary, firstBlock * BLOCK, length);
        slot.drive = drive;
        slot.offsetBytes = base + (long)firstBlock * BLOCK;
        slot.lengthBytes = length;
        submit(slot);
        return IoStatus.OK;
    }

    private void encodeHeader(final Segment segment)
    {
        summary.putLong(MAGIC_OFFSET, SUMMARY_MAGIC);
        summary.putInt(VERSION_OFFSET, SUMMARY_VERSION);
        summary.putInt(SEGMENT_ID_OFFSET, segment.id);
        summary.putInt(OWNER_ID_OFFSET, ownerId);
        summary.putInt(FLAGS_OFFSET, segment.state == SEGMENT_SEALED ? SUMMARY_FLAG_SEALED : 0);
        summary.putLong(ALLOCATION_SEQUENCE_OFFSET, segment.allocationSequence);
        summary.putInt(DATA_BLOCKS_OFFSET, dataBlocks);
        summary.putInt(WRITTEN_COUNT_OFFSET, segment.written);
        summary.putLong(SEAL_TIME_OFFSET, segment.state == SEGMENT_SEALED ? segment.sealTimeMs : 0);
        summary.putInt(PREVIOUS_WRITTEN_COUNT_OFFSET, segment.durable);
        summary.putInt(PREVIOUS_ENTRIES_CRC_OFFSET, segment.durableEntriesCrc);
        final int entriesCrc = entriesCrc(segment.written);
        summary.putInt(ENTRIES_CRC_OFFSET, entriesCrc);
        summary.putInt(HEADER_CRC_OFFSET, crc32c(summary, 0, HEADER_CRC_OFFSET));
        segment.lastSummaryEntriesCrc = entriesCrc;
        assert segment.durableEntriesCrc == entriesCrc(segment.durable) : "durable entries of " + segment.id + " changed";
    }

    private int entriesCrc(final int written)
    {
        return crc32c(summary, HEADER, written * ENTRY);
    }

    private int fail(final int status)
    {
        writeErrorCount++;
        state = STATE_FAILED;
        return status;
    }

    /** Drops every block appended since the last successful sync and reports the failure. */
    private int failSync()
    {
        awaitWritesBehind(); // no buffer is reused, and no dropped block read back, while its write runs
        account.failuresAtReset = account.failures; // those failures are reported now
        for (final SegmentWriter.Slot slot : slots)
        {
            slot.segmentId = -1;
            slot.status = IoStatus.OK;
        }
        if (writer != null)
        {
            summarySlot.status = IoStatus.OK;
            headerSlot.status = IoStatus.OK;
            syncSlot.status = IoStatus.OK;
        }
        syncInFlight = false;
        for (int i = 0; i < unsynced.size(); i++)
        {
            final Segment segment = segments.get(unsynced.getInt(i));
            for (int b = segment.durable; b < segment.written; b++)
            {
                segment.clearLive(b);
                segment.crc[b] = 0;
            }
            droppedBlockCount += segment.written - segment.durable;
            segment.written = segment.durable;
            if (segment == open)
            {
                segment.state = SEGMENT_SEALED;
                segment.sealTimeMs = clockMs.getAsLong();
                open = null;
                appendRedo(RedoRecordTypes.SEGMENT_SEALED, segment.id);
            }
        }
        unsynced.clear();
        if (open != null)
        {
            // open but without unsynced blocks: its summary write or fdatasync may have failed, abandon it too
            open.state = SEGMENT_SEALED;
            open.sealTimeMs = clockMs.getAsLong();
            appendRedo(RedoRecordTypes.SEGMENT_SEALED, open.id);
            open = null;
        }
        stagedCount = 0;
        stagingFirstBlock = 0;
        dirtyDrives = 0;
        state = STATE_ACTIVE;
        syncFailureCount++;
        return IoStatus.MEDIA_ERROR;
    }

    private long appendRedo(final int type, final int segmentId)
    {
        payload.putInt(0, segmentId);
        final long lsn = redo.append(type, payload, 0, Integer.BYTES);
        if (lsn < 0)
        {
            redoErrorCount++;
        }
        return lsn;
    }

    private Segment obtainSegment(final int id)
    {
        final Segment pooled = segmentPool.pollFirst();
        final Segment segment = pooled != null ? pooled : new Segment(dataBlocks);
        segment.reset(id);
        return segment;
    }

    private void recycle(final Segment segment)
    {
        segment.reset(-1);
        segmentPool.addFirst(segment);
    }

    private void addOwned(final Segment segment)
    {
        segments.put(segment.id, segment);
        ownedIds.addInt(segment.id);
    }

    private void removeOwned(final Segment segment)
    {
        segments.remove(segment.id);
        ownedIds.removeInt(segment.id);
        recycle(segment);
    }

    private static int entryOffset(final int blockIndex)
    {
        return HEADER + blockIndex * ENTRY;
    }

    /** crc32c of a range of a direct (off-heap) buffer. */
    static int crc32c(final DirectBuffer buffer, final int offset, final int length)
    {
        assert buffer.byteArray() == null : "crc32c by address needs a direct buffer";
        return length == 0 ? 0 : Crc32c.INSTANCE.compute(buffer.addressOffset(), offset, length);
    }

    /** In-memory state of one owned segment. */
    private static final class Segment
    {
        final int[] crc;
        final long[] liveBits;
        int id;
        int state;
        int live;
        int written;
        /** Blocks made durable by the last successful sync. */
        int durable;
        int durableEntriesCrc;
        /** Written count recorded by the last summary write. */
        int summaryWritten;
        int lastSummaryEntriesCrc;
        long sealTimeMs;
        long allocationSequence;

        Segment(final int dataBlocks)
        {
            crc = new int[dataBlocks];
            liveBits = new long[(dataBlocks + 63) >>> 6];
        }

        void reset(final int id)
        {
            this.id = id;
            state = SEGMENT_SEALED;
            live = 0;
            written = 0;
            durable = 0;
            durableEntriesCrc = 0;
            summaryWritten = 0;
            lastSummaryEntriesCrc = 0;
            sealTimeMs = 0;
            allocationSequence = 0;
            java.util.Arrays.fill(crc, 0);
            java.util.Arrays.fill(liveBits, 0);
        }

        boolean isLive(final int blockIndex)
        {
            return (liveBits[blockIndex >>> 6] & (1L << blockIndex)) != 0;
        }

        void setLive(final int blockIndex)
        {
            if (!isLive(blockIndex))
            {
                liveBits[blockIndex >>> 6] |= 1L << blockIndex;
                live++;
            }
        }

        boolean clearLive(final int blockIndex)
        {
            if (!isLive(blockIndex))
            {
                return false;
            }
            liveBits[blockIndex >>> 6] &= ~(1L << blockIndex);
            live--;
            assert live >= 0 : "segment " + id + " live count " + live;
            return true;
        }
    }
}
