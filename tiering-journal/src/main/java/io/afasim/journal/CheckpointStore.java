package io.afasim.journal;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.function.IntConsumer;
import java.util.zip.CRC32C;

import org.agrona.BufferUtil;
import org.agrona.DirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Stores checkpoint images (opaque byte streams produced by the dedup layer) in whole segments taken
 * from the {@link ExtentAllocator}. An image is named by a small descriptor that the journal keeps in
 * its superblock ({@link MetadataJournal#checkpoint}).
 *
 * <h2>Checkpoint procedure (owner thread)</h2>
 * <ol>
 *   <li>{@code lsn = journal.lastLsn()}: the image must cover every record up to it.</li>
 *   <li>Write the image: {@code w = store.begin(); w.write(...)...; len = w.finish(descriptor, 0)}
 *       (finish syncs every drive it wrote). On failure {@code w.abort()} and keep the old checkpoint.</li>
 *   <li>{@code journal.checkpoint(lsn, descriptor, 0, len)}: writes the allocator bitmap (which includes the
 *       image's segments: image allocations are not journaled) and the next superblock. On failure
 *       {@code w.abort()}.</li>
 *   <li>{@code store.release(oldDescriptor, 0, oldLength, journal)} then {@code journal.commit()}: frees the
 *       previous image's segments through {@link RedoRecordTypes#SEGMENT_FREED} records.</li>
 * </ol>
 * A crash between 3 and 4 leaks the old image's segments (still allocated in the bitmap, no longer named
 * by a superblock); a scan of allocated segments whose summary says "checkpoint image" with an image id
 * other than the current descriptor's finds them.
 *
 * <h2>Image segment</h2>
 * <pre>
 *   +-----------------------------------------------+----------------------------------------------+
 *   | image bytes (data blocks, last one zero-padded) | summary: image segment header (4 KiB) + zero |
 *   +-----------------------------------------------+----------------------------------------------+
 *
 * image segment header (at layout.summaryOffsetBytes(segment)):
 *   0                        16        20          24          28              32
 *   +------------------------+---------+-----------+-----------+---------------+
 *   | magic "checkpoint image"| version | minCompat | owner     | index in image|
 *   |  (16 ASCII bytes)      |         |           | "CKPT"    |               |
 *   +------------------------+---------+-----------+-----------+---------------+
 *   32            40            44            48            52       4092     4096
 *   | image id    | data bytes  | data crc32c | segment id  | zero ... | crc32c |
 *   +-------------+-------------+-------------+-------------+----------+--------+
 *   crc32c covers bytes 0..4091.
 *
 * descriptor (little-endian, at most MetadataJournal.DESCRIPTOR_BYTES_MAX bytes):
 *   0         4        6          8              12             16            24         32
 *   +---------+--------+----------+--------------+--------------+-------------+----------+---------------------+
 *   | "AFCD"  | version| minCompat| segment count| image crc32c | length bytes| image id | segment ids (int...)|
 *   +---------+--------+----------+--------------+--------------+-------------+----------+---------------------+
 * </pre>
 */
public final class CheckpointStore
{
    public static final byte[] SEGMENT_MAGIC = "checkpoint image".getBytes(StandardCharsets.US_ASCII);
    public static final int SEGMENT_MAGIC_BYTES = 16;
    public static final int OWNER_CHECKPOINT = 0x5450_4B43; // "CKPT" little-endian
    public static final int SEGMENT_VERSION = 1;
    public static final int SEGMENT_MIN_COMPATIBLE_VERSION = 1;

    public static final int DESCRIPTOR_MAGIC = 0x4443_4641; // "AFCD" little-endian
    public static final short DESCRIPTOR_VERSION = 1;
    public static final short DESCRIPTOR_MIN_COMPATIBLE_VERSION = 1;
    public static final int DESCRIPTOR_HEADER_BYTES = 32;
    /** Segments one image may use: as many ids as fit the journal's descriptor limit. */
    public static final int SEGMENT_COUNT_MAX = (MetadataJournal.DESCRIPTOR_BYTES_MAX - DESCRIPTOR_HEADER_BYTES) / Integer.BYTES;

    static final int HEADER_MAGIC_OFFSET = 0;
    static final int HEADER_VERSION_OFFSET = 16;
    static final int HEADER_MIN_COMPATIBLE_OFFSET = 20;
    static final int HEADER_OWNER_OFFSET = 24;
    static final int HEADER_INDEX_OFFSET = 28;
    static final int HEADER_IMAGE_ID_OFFSET = 32;
    static final int HEADER_DATA_BYTES_OFFSET = 40;
    static final int HEADER_DATA_CHECKSUM_OFFSET = 44;
    static final int HEADER_SEGMENT_ID_OFFSET = 48;
    static final int HEADER_CHECKSUM_OFFSET = Drive.BLOCK_SIZE_BYTES - 4;

    static final int DESCRIPTOR_MAGIC_OFFSET = 0;
    static final int DESCRIPTOR_VERSION_OFFSET = 4;
    static final int DESCRIPTOR_MIN_COMPATIBLE_OFFSET = 6;
    static final int DESCRIPTOR_SEGMENT_COUNT_OFFSET = 8;
    static final int DESCRIPTOR_IMAGE_CHECKSUM_OFFSET = 12;
    static final int DESCRIPTOR_LENGTH_OFFSET = 16;
    static final int DESCRIPTOR_IMAGE_ID_OFFSET = 24;

    private final Shelf shelf;
    private final ShelfLayout layout;
    private final ExtentAllocator allocator;
    private final UnsafeBuffer segmentIdPayload = new UnsafeBuffer(new byte[AllocatorRedo.PAYLOAD_BYTES]);

    public CheckpointStore(final Shelf shelf, final ExtentAllocator allocator)
    {
        if (allocator.segmentCount() != shelf.layout().segmentCount())
        {
            throw new IllegalArgumentException("allocator has " + allocator.segmentCount() + " segments, shelf has " +
                shelf.layout().segmentCount());
        }
        this.shelf = shelf;
        this.layout = shelf.layout();
        this.allocator = allocator;
    }

    /** Starts a new image (allocates one segment-sized buffer). */
    public CheckpointWriter begin()
    {
        return new CheckpointWriter(this);
    }

    /**
     * Opens an image for reading.
     *
     * @throws IllegalArgumentException when the descriptor is malformed.
     */
    public CheckpointReader open(final DirectBuffer descriptor, final int offset, final int length)
    {
        checkDescriptor(descriptor, offset, length, layout.segmentCount());
        return new CheckpointReader(this, descriptor, offset);
    }

    /**
     * Frees an old image's segments: for each, appends a {@link RedoRecordTypes#SEGMENT_FREED} record
     * through {@code redo}, then frees it in the allocator. Commit the journal afterwards.
     *
     * @return {@link IoStatus#OK}, or the append's status (e.g. {@link IoStatus#NO_SPACE}); segments
     *         not yet freed stay allocated and a retry is safe (freeing is idempotent).
     */
    public int release(final DirectBuffer descriptor, final int offset, final int length, final RedoSink redo)
    {
        checkDescriptor(descriptor, offset, length, layout.segmentCount());
        final int count = descriptor.getInt(offset + DESCRIPTOR_SEGMENT_COUNT_OFFSET);
        for (int i = 0; i < count; i++)
        {
            final int segmentId = descriptor.getInt(offset + DESCRIPTOR_HEADER_BYTES + i * Integer.BYTES);
            segmentIdPayload.putInt(0, segmentId);
            final long lsn = redo.append(RedoRecordTypes.SEGMENT_FREED, segmentIdPayload, 0, AllocatorRedo.PAYLOAD_BYTES);
            if (lsn < 0)
            {
                return (int)lsn;
            }
            allocator.free(segmentId);
        }
        return IoStatus.OK;
    }

    /** Calls {@code action} with every segment id of the image, in image order. */
    public static void forEachSegment(
        final DirectBuffer descriptor, final int offset, final int length, final IntConsumer action)
    {
        checkDescriptor(descriptor, offset, length, Integer.MAX_VALUE);
        final int count = descriptor.getInt(offset + DESCRIPTOR_SEGMENT_COUNT_OFFSET);
        for (int i = 0; i < count; i++)
        {
            action.accept(descriptor.getInt(offset + DESCRIPTOR_HEADER_BYTES + i * Integer.BYTES));
        }
    }

    /** Length in bytes of the image a descriptor names. */
    public static long imageLengthBytes(final DirectBuffer descriptor, final int offset)
    {
        return descriptor.getLong(offset + DESCRIPTOR_LENGTH_OFFSET);
    }

    /** True when the 4 KiB summary block holds a valid image segment header. */
    public static boolean isImageSegmentHeader(final DirectBuffer block)
    {
        for (int i = 0; i < SEGMENT_MAGIC_BYTES; i++)
        {
            if (block.getByte(HEADER_MAGIC_OFFSET + i) != SEGMENT_MAGIC[i])
            {
                return false;
            }
        }
        return block.getInt(HEADER_OWNER_OFFSET) == OWNER_CHECKPOINT &&
            block.getInt(HEADER_CHECKSUM_OFFSET) == headerChecksum(block);
    }

    static int headerChecksum(final DirectBuffer block)
    {
        return crc32c(block, 0, HEADER_CHECKSUM_OFFSET);
    }

    /** crc32c of a range of a direct or heap buffer. */
    static int crc32c(final DirectBuffer buffer, final int offset, final int length)
    {
        final byte[] array = buffer.byteArray();
        if (array == null)
        {
            return Crc32c.INSTANCE.compute(buffer.addressOffset(), offset, length);
        }
        final CRC32C crc = new CRC32C();
        crc.update(array, (int)(buffer.addressOffset() - BufferUtil.ARRAY_BASE_OFFSET) + offset, length);
        return (int)crc.getValue();
    }

    static void checkDescriptor(
        final DirectBuffer descriptor, final int offset, final int length, final int segmentCountLimit)
    {
        if (length < DESCRIPTOR_HEADER_BYTES)
        {
            throw new IllegalArgumentException("checkpoint descriptor of " + length + " bytes, needs at least " +
                DESCRIPTOR_HEADER_BYTES);
        }
        if (descriptor.getInt(offset + DESCRIPTOR_MAGIC_OFFSET) != DESCRIPTOR_MAGIC)
        {
            throw new IllegalArgumentException("not a checkpoint descriptor (magic 0x" +
                Integer.toHexString(descriptor.getInt(offset + DESCRIPTOR_MAGIC_OFFSET)) + ")");
        }
        final int minCompatible = descriptor.getShort(offset + DESCRIPTOR_MIN_COMPATIBLE_OFFSET);
        if (minCompatible > DESCRIPTOR_VERSION)
        {
            throw new IllegalArgumentException("checkpoint descriptor needs version " + minCompatible + ", this is " +
                DESCRIPTOR_VERSION);
        }
        final int count = descriptor.getInt(offset + DESCRIPTOR_SEGMENT_COUNT_OFFSET);
        if (count < 0 || count > SEGMENT_COUNT_MAX || length != DESCRIPTOR_HEADER_BYTES + count * Integer.BYTES)
        {
            throw new IllegalArgumentException("checkpoint descriptor: segment count " + count + " does not match length " +
                length);
        }
        for (int i = 0; i < count; i++)
        {
            final int segmentId = descriptor.getInt(offset + DESCRIPTOR_HEADER_BYTES + i * Integer.BYTES);
            if (segmentId < 0 || segmentId >= segmentCountLimit)
            {
                throw new IllegalArgumentException("checkpoint descriptor: segment id " + segmentId + " out of range");
            }
        }
        if (descriptor.getLong(offset + DESCRIPTOR_LENGTH_OFFSET) < 0)
        {
            throw new IllegalArgumentException("checkpoint descriptor: negative length");
        }
    }

    Shelf shelf()
    {
        return shelf;
    }

    ShelfLayout layout()
    {
        return layout;
    }

    ExtentAllocator allocator()
    {
        return allocator;
    }

    /** Bytes of image data one segment holds. */
    int dataBytesPerSegment()
    {
        return layout.dataBlocksPerSegment() * Drive.BLOCK_SIZE_BYTES;
    }

    static ByteBuffer newHeaderBlock()
    {
        return Drive.allocateAligned(Drive.BLOCK_SIZE_BYTES);
    }
}
