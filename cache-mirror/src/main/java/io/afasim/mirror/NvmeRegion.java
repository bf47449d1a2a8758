package io.afasim.mirror;

import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.UUID;
import java.util.zip.CRC32C;

import org.agrona.DirectBuffer;
import org.agrona.IoUtil;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * A controller's NVMe (battery-backed) memory: one file-backed {@link MappedByteBuffer} (under
 * {@code /dev/shm}, it survives {@code kill -9} of the process), shared by the controller's volumes.
 *
 * <pre>
 *   offset                                   contents
 *   0            +--------------------------+
 *                | header copy 0   (4 KiB)  |  even generations (format writes 0 here, 1 in copy 1)
 *   4096         +--------------------------+
 *                | header copy 1   (4 KiB)  |  odd generations; the valid copy with the highest wins
 *   8192         +--------------------------+
 *                | descriptor area          |  slotCount x 64-byte {@link ChangeEntry} (kind PAGE),
 *                |                          |  descriptor i describes page slot i; padded to 4 KiB
 *   recordArea   +--------------------------+
 *                | transaction record area  |  recordCount x 64-byte {@link ChangeEntry} (TRIM,
 *                |                          |  WRITE_ZEROES); padded to 4 KiB
 *   pageArea     +--------------------------+
 *                | page slots               |  slotCount x 4 KiB, page i at pageArea + i * 4096
 *   regionSize   +--------------------------+
 * </pre>
 *
 * Header block (little-endian; crc32c of bytes 0..4091 at 4092):
 * <pre>
 *   0                   8            12           16                          32
 *   +-------------------+------------+------------+---------------------------+
 *   | magic "AFANVM01"  | version    | minCompat  | array id (msb, lsb)       |
 *   +------------+------------+-------------------+------------+--------------+
 *   32           36           40                  48           52             56
 *   | node id    | block size | region size bytes | slot count | record count |
 *   +------------+------------+-------------------+------------+--------------+
 *   56                     64                     72                     80
 *   | descriptor area off  | record area offset   | page area offset     |
 *   +----------------------+----------------------+----------------------+
 *   80                     88                     96               4092    4096
 *   | generation           | format time (ms)     | zero ...       | crc32c |
 *   +----------------------+----------------------+----------------+--------+
 * </pre>
 *
 * A region is opened only by the array and node that formatted it and with the same geometry; anything
 * else is refused with an {@link NvmeRegionException} naming the difference. Two header copies make the
 * generation bump on open safe against a torn header write. Slots and records are written by
 * {@link #writeSlot} / {@link #writeRecord}: body first, the sequence (valid marker) last with a release
 * store; freed by storing sequence 0. Any thread may call these for distinct slots/records: the buffer has
 * no position state.
 */
public final class NvmeRegion implements AutoCloseable
{
    public static final long MAGIC = 0x3130_4D56_4E41_4641L; // "AFANVM01" little-endian
    public static final int VERSION = 1;
    public static final int MIN_COMPATIBLE_VERSION = 1;
    public static final int BLOCK_SIZE_BYTES = 4096;
    public static final int HEADER_COPY_COUNT = 2;
    /** Smallest region: two headers, one record sector and a few slots. */
    public static final long REGION_SIZE_BYTES_MIN = 64L << 10;
    /** One mapping is at most 2 GiB (int-indexed buffers); stay one block below. */
    public static final long REGION_SIZE_BYTES_MAX = (1L << 31) - BLOCK_SIZE_BYTES;

    static final int MAGIC_OFFSET = 0;
    static final int VERSION_OFFSET = 8;
    static final int MIN_COMPATIBLE_OFFSET = 12;
    static final int ARRAY_ID_MSB_OFFSET = 16;
    static final int ARRAY_ID_LSB_OFFSET = 24;
    static final int NODE_ID_OFFSET = 32;
    static final int BLOCK_SIZE_OFFSET = 36;
    static final int REGION_SIZE_OFFSET = 40;
    static final int SLOT_COUNT_OFFSET = 48;
    static final int RECORD_COUNT_OFFSET = 52;
    static final int DESCRIPTOR_AREA_OFFSET = 56;
    static final int RECORD_AREA_OFFSET = 64;
    static final int PAGE_AREA_OFFSET = 72;
    static final int GENERATION_OFFSET = 80;
    static final int FORMAT_TIME_OFFSET = 88;
    static final int HEADER_CHECKSUM_OFFSET = BLOCK_SIZE_BYTES - 4;

    private final Path path;
    private final MappedByteBuffer mapped;
    private final UnsafeBuffer buffer;
    private final UUID arrayId;
    private final int nodeId;
    private final long regionSizeBytes;
    private final int slotCount;
    private final int recordCount;
    private final int descriptorAreaOffset;
    private final int recordAreaOffset;
    private final int pageAreaOffset;
    private final long generation;
    private boolean closed;

    private NvmeRegion(
        final Path path, final MappedByteBuffer mapped, final UUID arrayId, final int nodeId,
        final int recordCount, final long generation)
    {
        this.path = path;
        this.mapped = mapped;
        this.buffer = new UnsafeBuffer(mapped);
        this.arrayId = arrayId;
        this.nodeId = nodeId;
        this.regionSizeBytes = mapped.capacity();
        this.recordCount = recordCount;
        this.slotCount = slotCountFor(regionSizeBytes, recordCount);
        this.descriptorAreaOffset = HEADER_COPY_COUNT * BLOCK_SIZE_BYTES;
        this.recordAreaOffset = descriptorAreaOffset + alignToBlock((long)slotCount * ChangeEntry.LENGTH_BYTES);
        this.pageAreaOffset = recordAreaOffset + alignToBlock((long)recordCount * ChangeEntry.LENGTH_BYTES);
        this.generation = generation;
        if (slotCount < 1 || (long)pageAreaOffset + (long)slotCount * BLOCK_SIZE_BYTES > regionSizeBytes)
        {
            throw new IllegalStateException("geometry does not fit: slotCount=" + slotCount + " size=" +
                regionSizeBytes);
        }
    }

    /** Page slots that fit a region of this size with this many transaction records (0 if none fit). */
    public static int slotCountFor(final long regionSizeBytes, final int recordCount)
    {
        final long available = regionSizeBytes - (long)HEADER_COPY_COUNT * BLOCK_SIZE_BYTES -
            alignToBlock((long)recordCount * ChangeEntry.LENGTH_BYTES);
        if (available <= 0)
        {
            return 0;
        }
        long slots = available / (BLOCK_SIZE_BYTES + ChangeEntry.LENGTH_BYTES);
        while (slots > 0 && alignToBlock(slots * ChangeEntry.LENGTH_BYTES) + slots * BLOCK_SIZE_BYTES > available)
        {
            slots--;
        }
        return (int)Math.min(slots, Integer.MAX_VALUE);
    }

    private static int alignToBlock(final long bytes)
    {
        return (int)((bytes + BLOCK_SIZE_BYTES - 1) & -BLOCK_SIZE_BYTES);
    }

    /** Opens the region at the context's path if it exists (validating it), else formats a new one. */
    public static NvmeRegion openOrCreate(final CacheContext ctx)
    {
        ctx.conclude();
        return Files.exists(ctx.regionPath()) ? open(ctx) : create(ctx);
    }

    /** Formats a new, empty region at the context's path (replacing any file there). */
    public static NvmeRegion create(final CacheContext ctx)
    {
        ctx.conclude();
        final Path path = ctx.regionPath();
        final long sizeBytes = ctx.regionSizeBytes();
        try
        {
            if (path.getParent() != null)
            {
                Files.createDirectories(path.getParent());
            }
            Files.deleteIfExists(path);
            final MappedByteBuffer mapped = map(path, sizeBytes, true);
            final NvmeRegion region =
                new NvmeRegion(path, mapped, ctx.arrayId(), ctx.nodeId(), ctx.recordCount(), 1);
            final long formatTimeMs = System.currentTimeMillis();
            region.writeHeader(0, 0, formatTimeMs); // copy c always holds a generation of parity c
            region.writeHeader(1, 1, formatTimeMs);
            region.force();
            return region;
        }
        catch (final IOException ex)
        {
            throw new NvmeRegionException("NVMe region " + path + ": cannot create (" + ex + ")", ex);
        }
    }

    /**
     * Opens an existing region, validates its header against the context (array, node, geometry) and starts
     * a new generation.
     *
     * @throws NvmeRegionException naming the path and the first thing that is wrong.
     */
    public static NvmeRegion open(final CacheContext ctx)
    {
        ctx.conclude();
        final Path path = ctx.regionPath();
        if (!Files.exists(path))
        {
            throw new NvmeRegionException("NVMe region " + path + ": does not exist");
        }
        final MappedByteBuffer mapped;
        try
        {
            final long fileSize = Files.size(path);
            if (fileSize != ctx.regionSizeBytes())
            {
                throw new NvmeRegionException("NVMe region " + path + ": file is " + fileSize +
                    " bytes, expected regionSizeBytes=" + ctx.regionSizeBytes() + " (refusing another geometry)");
            }
            mapped = map(path, fileSize, false);
        }
        catch (final IOException ex)
        {
            throw new NvmeRegionException("NVMe region " + path + ": cannot open (" + ex + ")", ex);
        }
        try
        {
            final UnsafeBuffer buffer = new UnsafeBuffer(mapped);
            final int copy = validHeaderCopy(path, buffer);
            final int headerOffset = copy * BLOCK_SIZE_BYTES;
            validateHeader(path, buffer, headerOffset, ctx);
            final long generation = buffer.getLong(headerOffset + GENERATION_OFFSET) + 1;
            final long formatTimeMs = buffer.getLong(headerOffset + FORMAT_TIME_OFFSET);
            final NvmeRegion region =
                new NvmeRegion(path, mapped, ctx.arrayId(), ctx.nodeId(), ctx.recordCount(), generation);
            region.writeHeader((int)(generation % HEADER_COPY_COUNT), generation, formatTimeMs);
            region.force();
            return region;
        }
        catch (final RuntimeException ex)
        {
            IoUtil.unmap(mapped);
            throw ex;
        }
    }

    private static MappedByteBuffer map(final Path path, final long sizeBytes, final boolean create)
        throws IOException
    {
        try (RandomAccessFile file = new RandomAccessFile(path.toFile(), "rw");
            FileChannel channel = file.getChannel())
        {
            if (create)
            {
                file.setLength(sizeBytes);
            }
            return channel.map(FileChannel.MapMode.READ_WRITE, 0, sizeBytes);
        }
    }

    /** The header copy to use: the valid one with the highest generation. */
    private static int validHeaderCopy(final Path path, final UnsafeBuffer buffer)
    {
        int best = -1;
        long bestGeneration = Long.MIN_VALUE;
        int foreignMagicCount = 0;
        long magicSeen = 0;
        for (int copy = 0; copy < HEADER_COPY_COUNT; copy++)
        {
            final int offset = copy * BLOCK_SIZE_BYTES;
            final long magic = buffer.getLong(offset + MAGIC_OFFSET);
            if (magic != MAGIC)
            {
                foreignMagicCount++;
                magicSeen = magic;
                continue;
            }
            if (headerChecksum(buffer, offset) != buffer.getInt(offset + HEADER_CHECKSUM_OFFSET))
            {
                continue;
            }
            final long generation = buffer.getLong(offset + GENERATION_OFFSET);
            if (generation > bestGeneration)
            {
                bestGeneration = generation;
                best = copy;
            }
        }
        if (best < 0)
        {
            if (foreignMagicCount == HEADER_COPY_COUNT)
            {
                throw new NvmeRegionException("NVMe region " + path + ": not an afasim NVMe region (magic 0x" +
                    Long.toHexString(magicSeen) + ", expected 0x" + Long.toHexString(MAGIC) + ")");
            }
            throw new NvmeRegionException("NVMe region " + path +
                ": damaged header (no header copy passes its crc32c); refusing to recover from it");
        }
        return best;
    }

    private static void validateHeader(
        final Path path, final UnsafeBuffer buffer, final int offset, final CacheContext ctx)
    {
        final int version = buffer.getInt(offset + VERSION_OFFSET);
        final int minCompatible = buffer.getInt(offset + MIN_COMPATIBLE_OFFSET);
        if (minCompatible > VERSION)
        {
            throw new NvmeRegionException("NVMe region " + path + ": format version " + version +
                " needs a reader of version >= " + minCompatible + ", this is version " + VERSION);
        }
        final UUID arrayId = new UUID(
            buffer.getLong(offset + ARRAY_ID_MSB_OFFSET), buffer.getLong(offset + ARRAY_ID_LSB_OFFSET));
        final int nodeId = buffer.getInt(offset + NODE_ID_OFFSET);
        if (!arrayId.equals(ctx.arrayId()) || nodeId != ctx.nodeId())
        {
            throw new NvmeRegionException("NVMe region " + path + ": belongs to array " + arrayId + " node " +
                nodeId + ", expected array " + ctx.arrayId() + " node " + ctx.nodeId() + " (refusing a foreign region)");
        }
        final int blockSize = buffer.getInt(offset + BLOCK_SIZE_OFFSET);
        final long regionSize = buffer.getLong(offset + REGION_SIZE_OFFSET);
        final int recordCount = buffer.getInt(offset + RECORD_COUNT_OFFSET);
        final int slotCount = buffer.getInt(offset + SLOT_COUNT_OFFSET);
        final int expectedSlotCount = slotCountFor(ctx.regionSizeBytes(), ctx.recordCount());
        if (blockSize != BLOCK_SIZE_BYTES || regionSize != ctx.regionSizeBytes() ||
            recordCount != ctx.recordCount() || slotCount != expectedSlotCount)
        {
            throw new NvmeRegionException("NVMe region " + path + ": geometry blockSize=" + blockSize +
                " regionSizeBytes=" + regionSize + " recordCount=" + recordCount + " slotCount=" + slotCount +
                ", expected blockSize=" + BLOCK_SIZE_BYTES + " regionSizeBytes=" + ctx.regionSizeBytes() +
                " recordCount=" + ctx.recordCount() + " slotCount=" + expectedSlotCount +
                " (refusing another geometry)");
        }
    }

    static int headerChecksum(final UnsafeBuffer buffer, final int offset)
    {
        final CRC32C crc = new CRC32C();
        final byte[] bytes = new byte[HEADER_CHECKSUM_OFFSET];
        buffer.getBytes(offset, bytes);
        crc.update(bytes, 0, bytes.length);
        return (int)crc.getValue();
    }

    /** Writes one header copy; the other copy (the previous generation) stays intact if this one tears. */
    private void writeHeader(final int copy, final long headerGeneration, final long formatTimeMs)
    {
        final int offset = copy * BLOCK_SIZE_BYTES;
        buffer.setMemory(offset, BLOCK_SIZE_BYTES, (byte)0);
        buffer.putLong(offset + MAGIC_OFFSET, MAGIC);
        buffer.putInt(offset + VERSION_OFFSET, VERSION);
        buffer.putInt(offset + MIN_COMPATIBLE_OFFSET, MIN_COMPATIBLE_VERSION);
        buffer.putLong(offset + ARRAY_ID_MSB_OFFSET, arrayId.getMostSignificantBits());
        buffer.putLong(offset + ARRAY_ID_LSB_OFFSET, arrayId.getLeastSignificantBits());
        buffer.putInt(offset + NODE_ID_OFFSET, nodeId);
        buffer.putInt(offset + BLOCK_SIZE_OFFSET, BLOCK_SIZE_BYTES);
        buffer.putLong(offset + REGION_SIZE_OFFSET, regionSizeBytes);
        buffer.putInt(offset + SLOT_COUNT_OFFSET, slotCount);
        buffer.putInt(offset + RECORD_COUNT_OFFSET, recordCount);
        buffer.putLong(offset + DESCRIPTOR_AREA_OFFSET, descriptorAreaOffset);
        buffer.putLong(offset + RECORD_AREA_OFFSET, recordAreaOffset);
        buffer.putLong(offset + PAGE_AREA_OFFSET, pageAreaOffset);
        buffer.putLong(offset + GENERATION_OFFSET, headerGeneration);
        buffer.putLong(offset + FORMAT_TIME_OFFSET, formatTimeMs);
        buffer.putIntVolatile(offset + HEADER_CHECKSUM_OFFSET, headerChecksum(buffer, offset));
    }

    /**
     * Writes a page and its descriptor into a free slot: page first, descriptor bytes 8..63 next, the sequence
     * last (release store). Also the mirroring seam: the peer applies a received copy with this method.
     *
     * @param entry an encoded {@link ChangeEntry} of kind PAGE whose data crc32c matches {@code page}.
     */
    public void writeSlot(
        final int slot, final DirectBuffer entry, final int entryOffset, final DirectBuffer page, final int pageOffset)
    {
        writeSlotPage(slot, page, pageOffset);
        commitSlotDescriptor(slot, entry, entryOffset);
    }

    /** First half of {@link #writeSlot}: copies the page into a free slot (not yet valid). */
    public void writeSlotPage(final int slot, final DirectBuffer page, final int pageOffset)
    {
        if (buffer.getLongVolatile(descriptorOffset(slot)) != 0)
        {
            throw new IllegalStateException("slot " + slot + " is not free");
        }
        buffer.putBytes(pageOffset(slot), page, pageOffset, BLOCK_SIZE_BYTES);
    }

    /** Second half of {@link #writeSlot}: descriptor bytes 8..63, then the sequence (valid marker) last. */
    public void commitSlotDescriptor(final int slot, final DirectBuffer entry, final int entryOffset)
    {
        final int descriptor = descriptorOffset(slot);
        if (buffer.getLongVolatile(descriptor) != 0)
        {
            throw new IllegalStateException("slot " + slot + " is not free");
        }
        if (ChangeEntry.kind(entry, entryOffset) != ChangeEntry.KIND_PAGE)
        {
            throw new IllegalArgumentException("slot " + slot + ": entry kind " +
                ChangeEntry.kindName(ChangeEntry.kind(entry, entryOffset)) + " is not PAGE");
        }
        buffer.putBytes(descriptor + ChangeEntry.BODY_OFFSET, entry, entryOffset + ChangeEntry.BODY_OFFSET,
            ChangeEntry.LENGTH_BYTES - ChangeEntry.BODY_OFFSET);
        buffer.putLongRelease(descriptor + ChangeEntry.SEQUENCE_OFFSET, ChangeEntry.sequence(entry, entryOffset));
    }

    /** Writes a transaction record into a free record: bytes 8..63 first, the sequence last (release store). */
    public void writeRecord(final int record, final DirectBuffer entry, final int entryOffset)
    {
        final int offset = recordOffset(record);
        if (buffer.getLongVolatile(offset) != 0)
        {
            throw new IllegalStateException("record " + record + " is not free");
        }
        if (ChangeEntry.kind(entry, entryOffset) == ChangeEntry.KIND_PAGE)
        {
            throw new IllegalArgumentException("record " + record + ": entry kind PAGE is not a record");
        }
        buffer.putBytes(offset + ChangeEntry.BODY_OFFSET, entry, entryOffset + ChangeEntry.BODY_OFFSET,
            ChangeEntry.LENGTH_BYTES - ChangeEntry.BODY_OFFSET);
        buffer.putLongRelease(offset + ChangeEntry.SEQUENCE_OFFSET, ChangeEntry.sequence(entry, entryOffset));
    }

    /** Frees a slot: one aligned 8-byte store of sequence 0 (cannot tear). */
    public void freeSlot(final int slot)
    {
        buffer.putLongRelease(descriptorOffset(slot) + ChangeEntry.SEQUENCE_OFFSET, 0);
    }

    /** Frees a record: one aligned 8-byte store of sequence 0 (cannot tear). */
    public void freeRecord(final int record)
    {
        buffer.putLongRelease(recordOffset(record) + ChangeEntry.SEQUENCE_OFFSET, 0);
    }

    public int descriptorOffset(final int slot)
    {
        assert slot >= 0 && slot < slotCount : "slot=" + slot;
        return descriptorAreaOffset + slot * ChangeEntry.LENGTH_BYTES;
    }

    public int pageOffset(final int slot)
    {
        assert slot >= 0 && slot < slotCount : "slot=" + slot;
        return pageAreaOffset + slot * BLOCK_SIZE_BYTES;
    }

    public int recordOffset(final int record)
    {
        assert record >= 0 && record < recordCount : "record=" + record;
        return recordAreaOffset + record * ChangeEntry.LENGTH_BYTES;
    }

    /** The whole mapping; position-free, safe to share between threads for distinct offsets. */
    public UnsafeBuffer buffer()
    {
        return buffer;
    }

    MappedByteBuffer mapped()
    {
        return mapped;
    }

    /** msync of the mapping (free on tmpfs; matters when the region lives on a real file system). */
    public void force()
    {
        mapped.force();
    }

    public Path path()
    {
        return path;
    }

    public UUID arrayId()
    {
        return arrayId;
    }

    public int nodeId()
    {
        return nodeId;
    }

    public long regionSizeBytes()
    {
        return regionSizeBytes;
    }

    public int slotCount()
    {
        return slotCount;
    }

    public int recordCount()
    {
        return recordCount;
    }

    /** Bumped on every open: tells restarts apart. */
    public long generation()
    {
        return generation;
    }

    @Override
    public void close()
    {
        if (!closed)
        {
            closed = true;
            IoUtil.unmap(mapped);
        }
    }

    @Override
    public String toString()
    {
        return "NvmeRegion{path=" + path + ", array=" + arrayId + ", node=" + nodeId + ", sizeBytes=" +
            regionSizeBytes + ", slots=" + slotCount + ", records=" + recordCount + ", generation=" + generation + '}';
    }
}
