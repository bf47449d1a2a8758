package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;

import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The metadata redo journal: a circular log of checksummed records in the journal region of drive 0,
 * with two alternating {@link JournalSuperblock superblocks} that name the last checkpoint and where
 * replay starts. Used by ONE writer thread (no locks): appends buffer in memory, {@link #commit()}
 * writes them and fdatasyncs once, {@link #doWork(long)} applies the group commit policy.
 *
 * <h2>Record format (version 1)</h2>
 * <pre>
 *   0          4          8        10       12               16                      24             28       32
 *   +----------+----------+--------+--------+----------------+-----------------------+--------------+--------+
 *   | crc32c   | magic    | version| type   | payload length | LSN                   | prev crc32c  | zero   |
 *   |          | "AFRJ"   |        |        |                |                       |              |        |
 *   +----------+----------+--------+--------+----------------+-----------------------+--------------+--------+
 *   32                                                      32 + length        aligned to 8
 *   | payload                                              | zero              |
 *   +------------------------------------------------------+-------------------+
 * </pre>
 * <ul>
 *   <li>crc32c covers bytes 4 .. 32 + length (header after the checksum, then the payload); for a pad
 *       record (type {@link #TYPE_PAD}) it covers only the header and the length is the bytes to skip.</li>
 *   <li>LSNs are consecutive; a pad carries the LSN of the record that follows it.</li>
 *   <li>"prev crc32c" is the checksum of the previous record (the chain): a record left over from an
 *       earlier lap or from a torn commit that was later overwritten has a valid checksum but does not
 *       chain to its predecessor, so replay stops there. The chain starts from a random seed chosen at
 *       format time.</li>
 *   <li>Records are 8-byte aligned and packed into 4 KiB blocks; a record may span blocks but a header
 *       never straddles a block boundary (fewer than 32 bytes left in a block are zero and skipped).</li>
 *   <li>Each commit starts on a fresh block and ends with a pad (or a zero tail) up to the block end, so
 *       committed bytes are never rewritten. A record never straddles the region end: a pad covers the
 *       rest of the region and the record starts again at offset 0.</li>
 *   <li>A reader accepts versions {@link #RECORD_MIN_COMPATIBLE_VERSION} .. {@link #RECORD_VERSION}.</li>
 * </ul>
 *
 * <h2>Space</h2>
 * Positions are logical (they only grow; offset = position mod region size). Everything from the replay
 * start of the last checkpoint up to the append position is needed; an append that would overrun it
 * returns {@link IoStatus#NO_SPACE} and the caller must checkpoint.
 *
 * <h2>Recovery</h2>
 * {@link #open} picks the newest valid superblock (falling back to the other slot when it is damaged)
 * and loads the allocation bitmap it names; {@link #replay} walks the chain from the replay start,
 * hands every record above the checkpoint LSN to the handler, and stops at the first zero, torn,
 * corrupt or stale record. Appends continue exactly there, overwriting the garbage.
 */
public final class MetadataJournal implements RedoSink, AutoCloseable
{
    public static final int RECORD_MAGIC = 0x4A52_4641; // "AFRJ" little-endian
    public static final short RECORD_VERSION = 1;
    public static final short RECORD_MIN_COMPATIBLE_VERSION = 1;
    public static final int HEADER_BYTES = 32;
    public static final int RECORD_ALIGNMENT_BYTES = 8;
    /** Largest payload of one record; larger is a programming error. */
    public static final int PAYLOAD_BYTES_MAX = 64 << 10;
    /** Largest record on disk: header + payload, aligned. */
    public static final int RECORD_BYTES_MAX = align(HEADER_BYTES + PAYLOAD_BYTES_MAX);
    /** Largest opaque checkpoint descriptor stored in a superblock. */
    public static final int DESCRIPTOR_BYTES_MAX = 3072;
    /** Journal-internal record type: skip {@code length} bytes. */
    public static final int TYPE_PAD = RedoRecordTypes.JOURNAL_FIRST;
    /** Smallest type a caller may append (1..15 belong to the journal). */
    public static final int TYPE_USER_MIN = 16;
    /** Bytes replay reads per drive read. */
    public static final int REPLAY_WINDOW_BYTES = 1 << 20;

    static final int CHECKSUM_OFFSET = 0;
    static final int MAGIC_OFFSET = 4;
    static final int VERSION_OFFSET = 8;
    static final int TYPE_OFFSET = 10;
    static final int LENGTH_OFFSET = 12;
    static final int LSN_OFFSET = 16;
    static final int PREV_CHECKSUM_OFFSET = 24;
    static final int RESERVED_OFFSET = 28;

    private static final int BLOCK = Drive.BLOCK_SIZE_BYTES;
    private static final long BLOCK_MASK = BLOCK - 1;

    private final Shelf shelf;
    private final Drive drive;
    private final ShelfLayout layout;
    private final ExtentAllocator allocator;
    private final NanoClock nanoClock;
    private final int batchBytesMax;
    private final long batchDelayNsMax;
    private final long regionOffsetBytes;
    private final long regionBytes;

    // write buffer: index 0 is logical position bufferBasePosition (block aligned)
    private final ByteBuffer writeBuffer;
    private final UnsafeBuffer writeView;
    private final int writeCapacityBytes;
    private long bufferBasePosition;
    private long appendPosition;

    private int pendingCount;
    private long pendingStartPosition;
    private long pendingFirstLsn;
    private int pendingPrevChecksum;
    private long oldestPendingNs;

    private long lastLsn;
    private long durableLsn;
    private int lastChecksum;

    // commits since the replay start: where each starts, its first LSN and the checksum it chains to
    private final long[] commitStartPosition;
    private final long[] commitFirstLsn;
    private final int[] commitPrevChecksum;
    private int commitHead;
    private int commitSize;

    private final JournalSuperblock superblock = new JournalSuperblock();
    private final JournalSuperblock nextSuperblock = new JournalSuperblock();
    private final ByteBuffer metaBlock = Drive.allocateAligned(JournalSuperblock.SLOT_BYTES);
    private final UnsafeBuffer metaView = new UnsafeBuffer(metaBlock);
    private final ByteBuffer bitmapBuffer;

    private boolean ready;
    private boolean closed;
    private long commitCount;
    private long recordCount;
    private long commitErrorCount;
    private long noSpaceCount;

    private MetadataJournal(final Shelf shelf, final ExtentAllocator allocator, final JournalContext ctx)
    {
        ctx.conclude();
        this.shelf = shelf;
        this.drive = shelf.metadataDrive();
        this.layout = shelf.layout();
        this.allocator = allocator;
        this.nanoClock = ctx.nanoClock();
        this.batchBytesMax = ctx.batchBytesMax();
        this.batchDelayNsMax = ctx.batchDelayNsMax();
        this.regionOffsetBytes = layout.journalOffsetBytes();
        this.regionBytes = layout.journalSizeBytes();
        if (allocator.segmentCount() != layout.segmentCount())
        {
            throw new IllegalArgumentException("allocator has " + allocator.segmentCount() + " segments, shelf has " +
                layout.segmentCount());
        }
        if (regionBytes < REPLAY_WINDOW_BYTES || regionBytes % BLOCK != 0)
        {
            throw new IllegalArgumentException("journalSizeBytes=" + regionBytes + " must be a block multiple >= " +
                REPLAY_WINDOW_BYTES);
        }
        // write buffer: one batch + a wrap pad + the record that triggers the commit + a resumed partial block
        writeCapacityBytes = (int)ShelfLayout.roundUp(
            (long)batchBytesMax + // pending records of one batch
            RECORD_BYTES_MAX +    // the wrap pad before a record (shorter than the record)
            RECORD_BYTES_MAX +    // the record itself
            2L * BLOCK,           // resumed block prefix after replay + commit tail pad
            BLOCK);
        writeBuffer = Drive.allocateAligned(writeCapacityBytes);
        writeView = new UnsafeBuffer(writeBuffer);
        // every commit but the first after a resume starts a fresh block, so this many commits fit the region
        final int commitsMax = (int)(regionBytes / BLOCK) + 2;
        commitStartPosition = new long[commitsMax];
        commitFirstLsn = new long[commitsMax];
        commitPrevChecksum = new int[commitsMax];
        final int bitmapBytes = (int)ShelfLayout.roundUp(allocator.encodedLengthBytes(), BLOCK);
        if (bitmapBytes > layout.bitmapSlotBytes())
        {
            throw new IllegalStateException("bitmap " + bitmapBytes + " bytes exceeds its slot " + layout.bitmapSlotBytes());
        }
        bitmapBuffer = Drive.allocateAligned(layout.bitmapSlotBytes());
    }

    /**
     * Formats an empty journal: zeroes the first journal block, writes the allocator bitmap into both
     * bitmap slots and both superblock slots (generations 0 and 1), and syncs.
     *
     * @throws ShelfException on a media error.
     */
    public static MetadataJournal format(final Shelf shelf, final ExtentAllocator allocator, final JournalContext ctx)
    {
        final MetadataJournal journal = new MetadataJournal(shelf, allocator, ctx);
        journal.formatRegion();
        return journal;
    }

    /**
     * Opens a formatted journal: picks the newest valid superblock whose bitmap loads into
     * {@code allocator}. Does not replay: call {@link #replay(RedoHandler)} before appending.
     *
     * @throws ShelfException when no superblock is usable or on a media error.
     */
    public static MetadataJournal open(final Shelf shelf, final ExtentAllocator allocator, final JournalContext ctx)
    {
        final MetadataJournal journal = new MetadataJournal(shelf, allocator, ctx);
        journal.load();
        return journal;
    }

    private void formatRegion()
    {
        final int seed = ThreadLocalRandom.current().nextInt() | 1;
        writeView.setMemory(0, BLOCK, (byte)0);
        checkFormat(drive.write(regionOffsetBytes, writeBuffer, 0, BLOCK), "zero journal block");
        for (int slot = 0; slot < ShelfLayout.SUPERBLOCK_SLOT_COUNT; slot++)
        {
            checkFormat(writeBitmap(slot, slot), "bitmap slot " + slot);
        }
        checkFormat(drive.sync(), "sync");
        for (int generation = 0; generation <= 1; generation++)
        {
            nextSuperblock.generation = generation;
            nextSuperblock.checkpointLsn = 0;
            nextSuperblock.replayStartPosition = 0;
            nextSuperblock.replayStartLsn = 1;
            nextSuperblock.replayPrevChecksum = seed;
            nextSuperblock.bitmapSlot = generation;
            nextSuperblock.bitmapGeneration = generation;
            nextSuperblock.journalSizeBytes = regionBytes;
            nextSuperblock.descriptorLength = 0;
            nextSuperblock.encode(metaView);
            checkFormat(drive.write(layout.superblockOffsetBytes(generation), metaBlock, 0, BLOCK), "superblock");
        }
        checkFormat(drive.sync(), "sync");
        superblock.copyFrom(nextSuperblock);
        startAt(0, 0, seed);
        resetCommits(0, 1, seed);
        ready = true;
    }

    private void checkFormat(final int status, final String what)
    {
        if (status != IoStatus.OK)
        {
            throw new ShelfException("journal format on drive " + drive.name() + ": " + what + ": " + IoStatus.name(status));
        }
    }

    private void load()
    {
        final JournalSuperblock[] slots = { new JournalSuperblock(), new JournalSuperblock() };
        final String[] problems = new String[2];
        for (int slot = 0; slot < 2; slot++)
        {
            final int status = drive.read(layout.superblockOffsetBytes(slot), metaBlock, 0, BLOCK);
            problems[slot] = status != IoStatus.OK ? IoStatus.name(status) : slots[slot].decode(metaView, regionBytes);
        }
        // newest first
        final int first = problems[0] == null && (problems[1] != null || slots[0].generation > slots[1].generation) ? 0 : 1;
        for (int i = 0; i < 2; i++)
        {
            final int slot = i == 0 ? first : 1 - first;
            if (problems[slot] != null)
            {
                continue;
            }
            final JournalSuperblock candidate = slots[slot];
            final int status = readBitmap(candidate.bitmapSlot, candidate.bitmapGeneration);
            if (status != IoStatus.OK)
            {
                problems[slot] = "bitmap slot " + candidate.bitmapSlot + " generation " + candidate.bitmapGeneration +
                    ": " + IoStatus.name(status);
                continue;
            }
            superblock.copyFrom(candidate);
            startAt(candidate.replayStartPosition, candidate.replayStartLsn - 1, candidate.replayPrevChecksum);
            resetCommits(candidate.replayStartPosition, candidate.replayStartLsn, candidate.replayPrevChecksum);
            return;
        }
        throw new ShelfException("journal on drive " + drive.name() + ": no usable superblock (slot 0: " + problems[0] +
            "; slot 1: " + problems[1] + ")");
    }

    private int readBitmap(final int slot, final long generation)
    {
        final int status = drive.read(layout.bitmapOffsetBytes(slot), bitmapBuffer, 0, layout.bitmapSlotBytes());
        return status != IoStatus.OK ? status : allocator.decode(bitmapBuffer, generation);
    }

    private int writeBitmap(final int slot, final long generation)
    {
        allocator.encode(bitmapBuffer, generation);
        final int lengthBytes = (int)ShelfLayout.roundUp(allocator.encodedLengthBytes(), BLOCK);
        return drive.write(layout.bitmapOffsetBytes(slot), bitmapBuffer, 0, lengthBytes);
    }

    private void startAt(final long position, final long lsn, final int checksum)
    {
        bufferBasePosition = position & ~BLOCK_MASK;
        appendPosition = position;
        pendingCount = 0;
        lastLsn = lsn;
        durableLsn = lsn;
        lastChecksum = checksum;
    }

    private void resetCommits(final long startPosition, final long firstLsn, final int prevChecksum)
    {
        commitHead = 0;
        commitSize = 0;
        pushCommit(startPosition, firstLsn, prevChecksum);
    }

    private void pushCommit(final long startPosition, final long firstLsn, final int prevChecksum)
    {
        if (commitSize == commitStartPosition.length)
        {
            throw new IllegalStateException("commit index full: " + commitSize + " commits since the replay start");
        }
        final int index = (commitHead + commitSize) % commitStartPosition.length;
        commitStartPosition[index] = startPosition;
        commitFirstLsn[index] = firstLsn;
        commitPrevChecksum[index] = prevChecksum;
        commitSize++;
    }

    /** Records with an LSN at or below this are covered by the checkpoint image. */
    public long checkpointLsn()
    {
        return superblock.checkpointLsn;
    }

    /** Copies the opaque descriptor stored with the last checkpoint into {@code dst}; returns its length (0 if none). */
    public int checkpointDescriptor(final MutableDirectBuffer dst, final int offset)
    {
        return superblock.copyDescriptor(dst, offset);
    }

    /**
     * Hands every record above the checkpoint LSN to {@code handler}, in order, and stops at the first
     * zero, torn, corrupt or stale record. Appends then continue right after the last good record.
     * Called once, after {@link #open}.
     */
    public ReplayResult replay(final RedoHandler handler)
    {
        if (ready || closed)
        {
            throw new IllegalStateException("replay() runs once, after open()");
        }
        final ByteBuffer window = Drive.allocateAligned(REPLAY_WINDOW_BYTES);
        final UnsafeBuffer windowView = new UnsafeBuffer(window);
        final RecordScanner scanner = new RecordScanner(window, windowView);
        final long checkpointLsn = superblock.checkpointLsn;
        long position = superblock.replayStartPosition;
        long expectedLsn = superblock.replayStartLsn;
        int prevChecksum = superblock.replayPrevChecksum;
        final long limitPosition = position + regionBytes;
        long delivered = 0;
        String stopReason;
        while (true)
        {
            position = skipBlockTail(position);
            if (position + HEADER_BYTES > limitPosition)
            {
                stopReason = "end of region at offset " + offsetOf(position) + ": a full lap was replayed";
                break;
            }
            final long offset = offsetOf(position);
            stopReason = scanner.check(offset, expectedLsn, prevChecksum);
            if (stopReason != null)
            {
                break;
            }
            final int at = scanner.recordIndex;
            final int type = windowView.getShort(at + TYPE_OFFSET) & 0xFFFF;
            final int length = windowView.getInt(at + LENGTH_OFFSET);
            if (type == TYPE_PAD)
            {
                position += HEADER_BYTES + length;
                continue;
            }
            if (expectedLsn > checkpointLsn)
            {
                handler.onRecord(expectedLsn, type, windowView, at + HEADER_BYTES, length);
                delivered++;
            }
            prevChecksum = windowView.getInt(at + CHECKSUM_OFFSET);
            expectedLsn++;
            position += align(HEADER_BYTES + length);
        }

        startAt(position, expectedLsn - 1, prevChecksum);
        resumePartialBlock(position);
        ready = true;
        if (lastLsn < checkpointLsn)
        {
            repairLostTail(checkpointLsn);
            stopReason += " (records up to checkpoint lsn " + checkpointLsn + " lost; new superblock written)";
        }
        return new ReplayResult(delivered, lastLsn, offsetOf(position), stopReason);
    }

    /** Replay stopped mid-block: the next commit rewrites that block, so load its good prefix. */
    private void resumePartialBlock(final long position)
    {
        final int prefixBytes = (int)(position - bufferBasePosition);
        if (prefixBytes == 0)
        {
            return;
        }
        final int status = drive.read(regionOffsetBytes + offsetOf(bufferBasePosition), writeBuffer, 0, BLOCK);
        if (status != IoStatus.OK)
        {
            throw new ShelfException("journal on drive " + drive.name() + ": cannot re-read block at offset " +
                offsetOf(bufferBasePosition) + ": " + IoStatus.name(status));
        }
        writeView.setMemory(prefixBytes, BLOCK - prefixBytes, (byte)0);
    }

    /** The log ended before the checkpoint LSN (damage in records the image covers): restart the log after it. */
    private void repairLostTail(final long checkpointLsn)
    {
        lastLsn = checkpointLsn;
        durableLsn = checkpointLsn;
        final int status = checkpoint(checkpointLsn, superblock.descriptor, 0, superblock.descriptorLength);
        if (status != IoStatus.OK)
        {
            throw new ShelfException("journal on drive " + drive.name() + ": cannot write superblock after damaged log: " +
                IoStatus.name(status));
        }
    }

    /** Reads and validates records during replay. */
    private final class RecordScanner
    {
        private final ByteBuffer window;
        private final UnsafeBuffer view;
        private final long windowAddress;
        private final int windowCapacity;
        private long windowStart = -1;
        private long windowEnd = -1;
        int recordIndex;

        RecordScanner(final ByteBuffer window, final UnsafeBuffer view)
        {
            this.window = window;
            this.view = view;
            this.windowAddress = BufferUtil.address(window);
            this.windowCapacity = (int)Math.min(window.capacity(), regionBytes);
        }

        /** Validates the record at region {@code offset}; returns null when good, else why replay stops there. */
        String check(final long offset, final long expectedLsn, final int prevChecksum)
        {
            if (!ensure(offset, HEADER_BYTES))
            {
                return "media error reading offset " + offset;
            }
            int at = (int)(offset - windowStart);
            if (view.getLong(at) == 0 && view.getLong(at + 8) == 0 && view.getLong(at + 16) == 0 &&
                view.getLong(at + 24) == 0)
            {
                return "end of log at offset " + offset + ": zero fill";
            }
            if (view.getInt(at + MAGIC_OFFSET) != RECORD_MAGIC)
            {
                return "torn record at offset " + offset + ": bad magic";
            }
            final int version = view.getShort(at + VERSION_OFFSET);
            if (version < RECORD_MIN_COMPATIBLE_VERSION || version > RECORD_VERSION)
            {
                return "torn record at offset " + offset + ": unsupported version " + version;
            }
            final int type = view.getShort(at + TYPE_OFFSET) & 0xFFFF;
            final int length = view.getInt(at + LENGTH_OFFSET);
            final boolean pad = type == TYPE_PAD;
            final long endOffset = offset + (pad ? (long)HEADER_BYTES + length : align(HEADER_BYTES + length));
            if (length < 0 || (!pad && length > PAYLOAD_BYTES_MAX) || (pad && length % RECORD_ALIGNMENT_BYTES != 0) ||
                endOffset > regionBytes)
            {
                return "torn record at offset " + offset + ": bad length " + length;
            }
            if (!pad && type < TYPE_USER_MIN)
            {
                return "torn record at offset " + offset + ": bad type " + type;
            }
            final int coveredBytes = pad ? HEADER_BYTES : HEADER_BYTES + length;
            if (!ensure(offset, coveredBytes))
            {
                return "media error reading offset " + offset;
            }
            at = (int)(offset - windowStart);
            final int computed = Crc32c.INSTANCE.compute(windowAddress, at + MAGIC_OFFSET, coveredBytes - MAGIC_OFFSET);
            if (computed != view.getInt(at + CHECKSUM_OFFSET))
            {
                return "torn record at offset " + offset + ": checksum mismatch";
            }
            final long lsn = view.getLong(at + LSN_OFFSET);
            if (lsn != expectedLsn)
            {
                return "stale record at offset " + offset + " (lsn " + lsn + ", expected " + expectedLsn + ")";
            }
            if (view.getInt(at + PREV_CHECKSUM_OFFSET) != prevChecksum)
            {
                return "stale record at offset " + offset + " (lsn " + lsn + " does not chain to its predecessor)";
            }
            recordIndex = at;
            return null;
        }

        private boolean ensure(final long offset, final int lengthBytes)
        {
            if (offset >= windowStart && offset + lengthBytes <= windowEnd)
            {
                return true;
            }
            final long start = offset & ~BLOCK_MASK;
            final int readBytes = (int)Math.min(windowCapacity, regionBytes - start);
            assert offset + lengthBytes <= start + readBytes : "record beyond window";
            final int status = drive.read(regionOffsetBytes + start, window, 0, readBytes);
            if (status != IoStatus.OK)
            {
                windowStart = -1;
                windowEnd = -1;
                return false;
            }
            windowStart = start;
            windowEnd = start + readBytes;
            return true;
        }
    }

    /**
     * Buffers one record.
     *
     * @return its LSN (&gt; 0, consecutive), {@link IoStatus#NO_SPACE} when the region would overrun the
     *         oldest needed byte (checkpoint first), or a negative status of the commit forced by a full buffer.
     * @throws IllegalArgumentException for a journal-internal type or a payload above {@link #PAYLOAD_BYTES_MAX}.
     */
    @Override
    public long append(final int type, final DirectBuffer payload, final int offset, final int length)
    {
        if (type < TYPE_USER_MIN || type > RedoRecordTypes.TYPE_MAX)
        {
            throw new IllegalArgumentException("type=" + type + " not in [" + TYPE_USER_MIN + ", " +
                RedoRecordTypes.TYPE_MAX + "]");
        }
        if (length < 0 || length > PAYLOAD_BYTES_MAX)
        {
            throw new IllegalArgumentException("length=" + length + " not in [0, " + PAYLOAD_BYTES_MAX + "]");
        }
        checkReady();
        final int recordBytes = align(HEADER_BYTES + length);
        long start = placeRecord(appendPosition, recordBytes);
        if (blockCeil(start + recordBytes) - bufferBasePosition > writeCapacityBytes)
        {
            final long status = commit();
            if (status < 0)
            {
                return status;
            }
            start = placeRecord(appendPosition, recordBytes);
            assert blockCeil(start + recordBytes) - bufferBasePosition <= writeCapacityBytes : "record exceeds buffer";
        }
        if (blockCeil(start + recordBytes) - superblock.replayStartPosition > regionBytes)
        {
            noSpaceCount++;
            return IoStatus.NO_SPACE;
        }

        final long lsn = lastLsn + 1;
        if (pendingCount == 0)
        {
            pendingStartPosition = appendPosition;
            pendingFirstLsn = lsn;
            pendingPrevChecksum = lastChecksum;
            oldestPendingNs = nanoClock.nanoTime();
        }
        fillGap(appendPosition, start, lsn);
        final int at = (int)(start - bufferBasePosition);
        putHeader(at, type, length, lsn);
        if (length > 0)
        {
            writeView.putBytes(at + HEADER_BYTES, payload, offset, length);
        }
        final int tailBytes = recordBytes - HEADER_BYTES - length;
        if (tailBytes > 0)
        {
            writeView.setMemory(at + HEADER_BYTES + length, tailBytes, (byte)0);
        }
        final int checksum = Crc32c.INSTANCE.compute(
            writeView.addressOffset(), at + MAGIC_OFFSET, HEADER_BYTES + length - MAGIC_OFFSET);
        writeView.putInt(at + CHECKSUM_OFFSET, checksum);

        lastChecksum = checksum;
        lastLsn = lsn;
        appendPosition = start + recordBytes;
        pendingCount++;
        recordCount++;
        assert appendPosition - bufferBasePosition <= writeCapacityBytes;
        return lsn;
    }

    /** Where a record of {@code recordBytes} appended at {@code position} starts (after a block tail or wrap). */
    private long placeRecord(final long position, final int recordBytes)
    {
        final long start = skipBlockTail(position);
        final long offset = offsetOf(start);
        return offset + recordBytes > regionBytes ? start + (regionBytes - offset) : start;
    }

    /** Zero-fills a short block tail and writes a wrap pad between {@code from} and the record start {@code to}. */
    private void fillGap(final long from, final long to, final long nextLsn)
    {
        final long afterTail = skipBlockTail(from);
        if (afterTail > from)
        {
            writeView.setMemory((int)(from - bufferBasePosition), (int)(afterTail - from), (byte)0);
        }
        if (to > afterTail)
        {
            assert offsetOf(to) == 0 : "gap other than a block tail must end at the region end";
            putPad(afterTail, (int)(to - afterTail), nextLsn);
        }
    }

    private void putPad(final long position, final int padBytes, final long nextLsn)
    {
        assert padBytes >= HEADER_BYTES && padBytes % RECORD_ALIGNMENT_BYTES == 0 : "pad of " + padBytes;
        final int at = (int)(position - bufferBasePosition);
        putHeader(at, TYPE_PAD, padBytes - HEADER_BYTES, nextLsn);
        writeView.setMemory(at + HEADER_BYTES, padBytes - HEADER_BYTES, (byte)0);
        writeView.putInt(at + CHECKSUM_OFFSET,
            Crc32c.INSTANCE.compute(writeView.addressOffset(), at + MAGIC_OFFSET, HEADER_BYTES - MAGIC_OFFSET));
    }

    private void putHeader(final int at, final int type, final int length, final long lsn)
    {
        writeView.putInt(at + CHECKSUM_OFFSET, 0);
        writeView.putInt(at + MAGIC_OFFSET, RECORD_MAGIC);
        writeView.putShort(at + VERSION_OFFSET, RECORD_VERSION);
        writeView.putShort(at + TYPE_OFFSET, (short)type);
        writeView.putInt(at + LENGTH_OFFSET, length);
        writeView.putLong(at + LSN_OFFSET, lsn);
        writeView.putInt(at + PREV_CHECKSUM_OFFSET, lastChecksum);
        writeView.putInt(at + RESERVED_OFFSET, 0);
    }

    /**
     * Writes every pending record, padded to a block boundary, and fdatasyncs once.
     *
     * @return the durable LSN, or a negative {@link IoStatus} on a media error (the records stay pending
     *         and nothing after the previous durable LSN may be assumed durable).
     */
    public long commit()
    {
        checkReady();
        if (pendingCount == 0)
        {
            return durableLsn;
        }
        final long end = appendPosition;
        final long endCeil = blockCeil(end);
        if (endCeil - end >= HEADER_BYTES)
        {
            putPad(end, (int)(endCeil - end), lastLsn + 1);
        }
        else if (endCeil > end)
        {
            writeView.setMemory((int)(end - bufferBasePosition), (int)(endCeil - end), (byte)0);
        }
        int status = writeRange(bufferBasePosition, endCeil);
        if (status == IoStatus.OK)
        {
            status = drive.sync();
        }
        if (status != IoStatus.OK)
        {
            commitErrorCount++;
            return status;
        }
        pushCommit(pendingStartPosition, pendingFirstLsn, pendingPrevChecksum);
        durableLsn = lastLsn;
        commitCount++;
        bufferBasePosition = endCeil;
        appendPosition = endCeil;
        pendingCount = 0;
        return durableLsn;
    }

    /** Writes the buffer from logical {@code from} (its index 0) to {@code to}, in two pieces across the region end. */
    private int writeRange(final long from, final long to)
    {
        assert from == bufferBasePosition && (from & BLOCK_MASK) == 0 && (to & BLOCK_MASK) == 0;
        final long offset = offsetOf(from);
        final int lengthBytes = (int)(to - from);
        final int firstBytes = (int)Math.min(lengthBytes, regionBytes - offset);
        int status = drive.write(regionOffsetBytes + offset, writeBuffer, 0, firstBytes);
        if (status == IoStatus.OK && firstBytes < lengthBytes)
        {
            status = drive.write(regionOffsetBytes, writeBuffer, firstBytes, lengthBytes - firstBytes);
        }
        return status;
    }

    /**
     * Group commit policy: commits when the pending bytes reach {@code batchBytesMax} or the oldest pending
     * record has waited {@code batchDelayNsMax}.
     *
     * @return 1 when a commit was attempted, else 0.
     */
    public int doWork(final long nowNs)
    {
        if (pendingCount == 0)
        {
            return 0;
        }
        if (appendPosition - pendingStartPosition >= batchBytesMax || oldestPendingNs + batchDelayNsMax - nowNs <= 0)
        {
            commit();
            return 1;
        }
        return 0;
    }

    public long durableLsn()
    {
        return durableLsn;
    }

    /** LSN of the last appended record. */
    public long lastLsn()
    {
        return lastLsn;
    }

    /** Bytes of the region that appends may still use before a checkpoint is needed. */
    public long freeBytes()
    {
        return regionBytes - (blockCeil(appendPosition) - superblock.replayStartPosition);
    }

    /**
     * Records a checkpoint: the caller has durably written an image covering every record up to
     * {@code lsn}. Commits pending records, writes the allocator bitmap into the inactive bitmap slot,
     * syncs, writes the next superblock (naming the checkpoint LSN, the replay start, the bitmap slot and
     * the descriptor), syncs. Journal space before the new replay start becomes reusable.
     *
     * @return {@link IoStatus#OK} or a negative status (the previous checkpoint then stays in force).
     */
    public int checkpoint(final long lsn, final DirectBuffer descriptor, final int offset, final int length)
    {
        if (length < 0 || length > DESCRIPTOR_BYTES_MAX)
        {
            throw new IllegalArgumentException("descriptor length=" + length + " not in [0, " + DESCRIPTOR_BYTES_MAX + "]");
        }
        if (lsn < superblock.checkpointLsn || lsn > lastLsn)
        {
            throw new IllegalArgumentException("checkpoint lsn=" + lsn + " not in [" + superblock.checkpointLsn + ", " +
                lastLsn + "]");
        }
        checkReady();
        final long committed = commit();
        if (committed < 0)
        {
            return (int)committed;
        }
        // the commit holding record lsn + 1 (or the append position when every record is covered)
        int keep = -1;
        for (int i = commitSize - 1; i >= 0; i--)
        {
            if (commitFirstLsn[(commitHead + i) % commitFirstLsn.length] <= lsn + 1)
            {
                keep = i;
                break;
            }
        }
        assert keep >= 0 : "the replay start is always in the commit index";
        final long startPosition;
        final long startLsn;
        final int startPrevChecksum;
        if (lsn == lastLsn)
        {
            startPosition = appendPosition;
            startLsn = lsn + 1;
            startPrevChecksum = lastChecksum;
        }
        else
        {
            final int index = (commitHead + keep) % commitFirstLsn.length;
            startPosition = commitStartPosition[index];
            startLsn = commitFirstLsn[index];
            startPrevChecksum = commitPrevChecksum[index];
        }
        assert startPosition >= superblock.replayStartPosition && startLsn <= lsn + 1;

        final long generation = superblock.generation + 1;
        final int slot = (int)(generation & 1);
        int status = writeBitmap(slot, generation);
        if (status == IoStatus.OK)
        {
            status = drive.sync();
        }
        if (status != IoStatus.OK)
        {
            return status;
        }
        nextSuperblock.generation = generation;
        nextSuperblock.checkpointLsn = lsn;
        nextSuperblock.replayStartPosition = startPosition;
        nextSuperblock.replayStartLsn = startLsn;
        nextSuperblock.replayPrevChecksum = startPrevChecksum;
        nextSuperblock.bitmapSlot = slot;
        nextSuperblock.bitmapGeneration = generation;
        nextSuperblock.journalSizeBytes = regionBytes;
        nextSuperblock.descriptor(descriptor, offset, length);
        nextSuperblock.encode(metaView);
        status = drive.write(layout.superblockOffsetBytes(slot), metaBlock, 0, BLOCK);
        if (status == IoStatus.OK)
        {
            status = drive.sync();
        }
        if (status != IoStatus.OK)
        {
            return status;
        }
        superblock.copyFrom(nextSuperblock);
        if (lsn == lastLsn)
        {
            resetCommits(startPosition, startLsn, startPrevChecksum);
        }
        else
        {
            commitHead = (commitHead + keep) % commitFirstLsn.length;
            commitSize -= keep;
        }
        return IoStatus.OK;
    }

    public long commitCount()
    {
        return commitCount;
    }

    public long recordCount()
    {
        return recordCount;
    }

    /** Commits that failed with a media error. */
    public long commitErrorCount()
    {
        return commitErrorCount;
    }

    /** Appends refused with {@link IoStatus#NO_SPACE}. */
    public long noSpaceCount()
    {
        return noSpaceCount;
    }

    public Shelf shelf()
    {
        return shelf;
    }

    /** Region offset where the next commit writes its first record (tests use it to find records on disk). */
    long appendOffsetBytes()
    {
        return offsetOf(appendPosition);
    }

    long superblockGeneration()
    {
        return superblock.generation;
    }

    /** Commits pending records (when replayed or formatted). The shelf stays open: its owner closes it. */
    @Override
    public void close()
    {
        if (!closed)
        {
            if (ready)
            {
                commit();
            }
            closed = true;
        }
    }

    private void checkReady()
    {
        if (!ready || closed)
        {
            throw new IllegalStateException(closed ? "journal closed" : "journal opened but not replayed");
        }
    }

    private long skipBlockTail(final long position)
    {
        final int remaining = BLOCK - (int)(position & BLOCK_MASK);
        return remaining < HEADER_BYTES ? position + remaining : position;
    }

    private long offsetOf(final long position)
    {
        return position % regionBytes;
    }

    private static long blockCeil(final long position)
    {
        return (position + BLOCK_MASK) & ~BLOCK_MASK;
    }

    private static int align(final int lengthBytes)
    {
        return (lengthBytes + RECORD_ALIGNMENT_BYTES - 1) & -RECORD_ALIGNMENT_BYTES;
    }
}
