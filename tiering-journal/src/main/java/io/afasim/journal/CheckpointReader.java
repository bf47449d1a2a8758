package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.zip.CRC32C;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Reads one checkpoint image back (see {@link CheckpointStore}). Loads a whole segment at a time and
 * verifies its header and data checksum before handing out any of its bytes; the checksum of the whole
 * image is verified when the last segment loads. Corrupt data is never returned. Used by one thread.
 */
public final class CheckpointReader
{
    private final CheckpointStore store;
    private final ShelfLayout layout;
    private final int dataBytesPerSegment;
    private final int[] segments;
    private final long lengthBytes;
    private final int imageChecksum;
    private final long imageId;
    private final ByteBuffer segmentBuffer;
    private final ByteBuffer segmentCrcView;
    private final UnsafeBuffer segmentView;
    private final ByteBuffer headerBlock = CheckpointStore.newHeaderBlock();
    private final UnsafeBuffer headerView = new UnsafeBuffer(headerBlock);
    private final CRC32C imageCrc = new CRC32C();
    private int nextSegment;
    private int availableBytes;
    private int readIndex;
    private long deliveredBytes;
    private int failedStatus = IoStatus.OK;

    CheckpointReader(final CheckpointStore store, final DirectBuffer descriptor, final int offset)
    {
        this.store = store;
        this.layout = store.layout();
        this.dataBytesPerSegment = store.dataBytesPerSegment();
        final int count = descriptor.getInt(offset + CheckpointStore.DESCRIPTOR_SEGMENT_COUNT_OFFSET);
        this.segments = new int[count];
        for (int i = 0; i < count; i++)
        {
            segments[i] = descriptor.getInt(offset + CheckpointStore.DESCRIPTOR_HEADER_BYTES + i * Integer.BYTES);
        }
        this.lengthBytes = descriptor.getLong(offset + CheckpointStore.DESCRIPTOR_LENGTH_OFFSET);
        this.imageChecksum = descriptor.getInt(offset + CheckpointStore.DESCRIPTOR_IMAGE_CHECKSUM_OFFSET);
        this.imageId = descriptor.getLong(offset + CheckpointStore.DESCRIPTOR_IMAGE_ID_OFFSET);
        if (lengthBytes > (long)count * dataBytesPerSegment || lengthBytes <= (long)(count - 1) * dataBytesPerSegment &&
            count > 0)
        {
            throw new IllegalArgumentException("checkpoint descriptor: " + lengthBytes + " bytes do not fill " + count +
                " segments of " + dataBytesPerSegment + " bytes");
        }
        this.segmentBuffer = Drive.allocateAligned(dataBytesPerSegment);
        this.segmentCrcView = segmentBuffer.duplicate();
        this.segmentView = new UnsafeBuffer(segmentBuffer);
    }

    /** Total image length in bytes. */
    public long lengthBytes()
    {
        return lengthBytes;
    }

    /**
     * Copies up to {@code length} image bytes into {@code dst}.
     *
     * @return bytes copied, 0 at the end of the image, or a negative {@link IoStatus}
     *         ({@link IoStatus#CHECKSUM_MISMATCH}, {@link IoStatus#MEDIA_ERROR}); after an error every call returns it.
     */
    public int read(final MutableDirectBuffer dst, final int offset, final int length)
    {
        if (failedStatus != IoStatus.OK)
        {
            return failedStatus;
        }
        if (readIndex == availableBytes)
        {
            if (nextSegment == segments.length)
            {
                return 0;
            }
            final int status = loadNextSegment();
            if (status != IoStatus.OK)
            {
                failedStatus = status;
                return status;
            }
        }
        final int chunk = Math.min(length, availableBytes - readIndex);
        dst.putBytes(offset, segmentView, readIndex, chunk);
        readIndex += chunk;
        deliveredBytes += chunk;
        assert deliveredBytes <= lengthBytes;
        return chunk;
    }

    private int loadNextSegment()
    {
        final int index = nextSegment;
        final int segmentId = segments[index];
        final int expectedBytes = (int)Math.min(dataBytesPerSegment, lengthBytes - (long)index * dataBytesPerSegment);
        final Drive drive = store.shelf().drive(layout.segmentDrive(segmentId));
        int status = drive.read(layout.summaryOffsetBytes(segmentId), headerBlock, 0, Drive.BLOCK_SIZE_BYTES);
        if (status != IoStatus.OK)
        {
            return status;
        }
        if (!CheckpointStore.isImageSegmentHeader(headerView) ||
            headerView.getInt(CheckpointStore.HEADER_MIN_COMPATIBLE_OFFSET) > CheckpointStore.SEGMENT_VERSION ||
            headerView.getLong(CheckpointStore.HEADER_IMAGE_ID_OFFSET) != imageId ||
            headerView.getInt(CheckpointStore.HEADER_INDEX_OFFSET) != index ||
            headerView.getInt(CheckpointStore.HEADER_SEGMENT_ID_OFFSET) != segmentId ||
            headerView.getInt(CheckpointStore.HEADER_DATA_BYTES_OFFSET) != expectedBytes)
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        status = drive.read(layout.segmentOffsetBytes(segmentId), segmentBuffer, 0,
            (int)ShelfLayout.roundUp(expectedBytes, Drive.BLOCK_SIZE_BYTES));
        if (status != IoStatus.OK)
        {
            return status;
        }
        if (Crc32c.INSTANCE.compute(segmentView.addressOffset(), 0, expectedBytes) !=
            headerView.getInt(CheckpointStore.HEADER_DATA_CHECKSUM_OFFSET))
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        segmentCrcView.clear().limit(expectedBytes);
        imageCrc.update(segmentCrcView);
        nextSegment++;
        if (nextSegment == segments.length && (int)imageCrc.getValue() != imageChecksum)
        {
            return IoStatus.CHECKSUM_MISMATCH;
        }
        availableBytes = expectedBytes;
        readIndex = 0;
        return IoStatus.OK;
    }
}
