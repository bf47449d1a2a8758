package io.afasim.journal;

import java.nio.ByteBuffer;
import java.util.concurrent.ThreadLocalRandom;
import java.util.zip.CRC32C;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.checksum.Crc32c;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Writes one checkpoint image into segments of the shelf (see {@link CheckpointStore} for the format and
 * the procedure). Buffers one segment of data, writes each full segment with its summary header, and
 * syncs every drive written in {@link #finish}. Used by one thread.
 */
public final class CheckpointWriter
{
    private static final int STATE_OPEN = 0;
    private static final int STATE_FINISHED = 1;
    private static final int STATE_ABORTED = 2;

    private final CheckpointStore store;
    private final ShelfLayout layout;
    private final ExtentAllocator allocator;
    private final int dataBytesPerSegment;
    private final ByteBuffer segmentBuffer;
    private final ByteBuffer segmentCrcView;
    private final UnsafeBuffer segmentView;
    private final ByteBuffer headerBlock = CheckpointStore.newHeaderBlock();
    private final UnsafeBuffer headerView = new UnsafeBuffer(headerBlock);
    private final int[] segments = new int[CheckpointStore.SEGMENT_COUNT_MAX];
    private final boolean[] drivesWritten;
    private final CRC32C imageCrc = new CRC32C();
    private final long imageId = ThreadLocalRandom.current().nextLong() | 1;
    private int segmentCount;
    private int fillBytes;
    private long lengthBytes;
    private int state = STATE_OPEN;
    private int failedStatus = IoStatus.OK;

    CheckpointWriter(final CheckpointStore store)
    {
        this.store = store;
        this.layout = store.layout();
        this.allocator = store.allocator();
        this.dataBytesPerSegment = store.dataBytesPerSegment();
        this.segmentBuffer = Drive.allocateAligned(dataBytesPerSegment);
        this.segmentCrcView = segmentBuffer.duplicate();
        this.segmentView = new UnsafeBuffer(segmentBuffer);
        this.drivesWritten = new boolean[store.shelf().driveCount()];
    }

    /**
     * Appends image bytes.
     *
     * @return {@link IoStatus#OK}, {@link IoStatus#NO_SPACE} (no free segment, or the image would exceed
     *         {@link CheckpointStore#SEGMENT_COUNT_MAX} segments) or {@link IoStatus#MEDIA_ERROR}; after an
     *         error the writer keeps returning it: {@link #abort()} it.
     */
    public int write(final DirectBuffer src, final int offset, final int length)
    {
        checkOpen();
        if (length < 0)
        {
            throw new IllegalArgumentException("length=" + length);
        }
        if (failedStatus != IoStatus.OK)
        {
            return failedStatus;
        }
        int done = 0;
        while (done < length)
        {
            final int chunk = Math.min(length - done, dataBytesPerSegment - fillBytes);
            segmentView.putBytes(fillBytes, src, offset + done, chunk);
            fillBytes += chunk;
            done += chunk;
            lengthBytes += chunk;
            if (fillBytes == dataBytesPerSegment)
            {
                final int status = flushSegment();
                if (status != IoStatus.OK)
                {
                    failedStatus = status;
                    return status;
                }
            }
        }
        return IoStatus.OK;
    }

    /**
     * Writes the last partial segment, syncs every drive written and encodes the descriptor.
     *
     * @return the descriptor length written at {@code descriptorOut[offset]}, or a negative {@link IoStatus}.
     */
    public int finish(final MutableDirectBuffer descriptorOut, final int offset)
    {
        checkOpen();
        if (failedStatus != IoStatus.OK)
        {
            return failedStatus;
        }
        if (fillBytes > 0)
        {
            final int status = flushSegment();
            if (status != IoStatus.OK)
            {
                failedStatus = status;
                return status;
            }
        }
        for (int d = 0; d < drivesWritten.length; d++)
        {
            if (drivesWritten[d])
            {
                final int status = store.shelf().drive(d).sync();
                if (status != IoStatus.OK)
                {
                    failedStatus = status;
                    return status;
                }
            }
        }
        descriptorOut.putInt(offset + CheckpointStore.DESCRIPTOR_MAGIC_OFFSET, CheckpointStore.DESCRIPTOR_MAGIC);
        descriptorOut.putShort(offset + CheckpointStore.DESCRIPTOR_VERSION_OFFSET, CheckpointStore.DESCRIPTOR_VERSION);
        descriptorOut.putShort(offset + CheckpointStore.DESCRIPTOR_MIN_COMPATIBLE_OFFSET,
            CheckpointStore.DESCRIPTOR_MIN_COMPATIBLE_VERSION);
        descriptorOut.putInt(offset + CheckpointStore.DESCRIPTOR_SEGMENT_COUNT_OFFSET, segmentCount);
        descriptorOut.putInt(offset + CheckpointStore.DESCRIPTOR_IMAGE_CHECKSUM_OFFSET, (int)imageCrc.getValue());
        descriptorOut.putLong(offset + CheckpointStore.DESCRIPTOR_LENGTH_OFFSET, lengthBytes);
        descriptorOut.putLong(offset + CheckpointStore.DESCRIPTOR_IMAGE_ID_OFFSET, imageId);
        for (int i = 0; i < segmentCount; i++)
        {
            descriptorOut.putInt(offset + CheckpointStore.DESCRIPTOR_HEADER_BYTES + i * Integer.BYTES, segments[i]);
        }
        state = STATE_FINISHED;
        return CheckpointStore.DESCRIPTOR_HEADER_BYTES + segmentCount * Integer.BYTES;
    }

    /** Frees every segment of this image (also after {@link #finish} when the checkpoint could not be recorded). */
    public void abort()
    {
        if (state == STATE_ABORTED)
        {
            return;
        }
        for (int i = 0; i < segmentCount; i++)
        {
            allocator.free(segments[i]);
        }
        segmentCount = 0;
        state = STATE_ABORTED;
    }

    /** Image bytes written so far. */
    public long lengthBytes()
    {
        return lengthBytes;
    }

    public int segmentCount()
    {
        return segmentCount;
    }

    private int flushSegment()
    {
        assert fillBytes > 0 && fillBytes <= dataBytesPerSegment;
        if (segmentCount == segments.length)
        {
            return IoStatus.NO_SPACE;
        }
        final int segmentId = allocator.allocate();
        if (segmentId < 0)
        {
            return segmentId;
        }
        segments[segmentCount] = segmentId;
        segmentCount++;

        final int dataBytes = fillBytes;
        final int writeBytes = (int)ShelfLayout.roundUp(dataBytes, Drive.BLOCK_SIZE_BYTES);
        if (writeBytes > dataBytes)
        {
            segmentView.setMemory(dataBytes, writeBytes - dataBytes, (byte)0);
        }
        segmentCrcView.clear().limit(dataBytes);
        imageCrc.update(segmentCrcView);
        final int dataChecksum = Crc32c.INSTANCE.compute(segmentView.addressOffset(), 0, dataBytes);

        headerView.setMemory(0, Drive.BLOCK_SIZE_BYTES, (byte)0);
        headerView.putBytes(CheckpointStore.HEADER_MAGIC_OFFSET, CheckpointStore.SEGMENT_MAGIC);
        headerView.putInt(CheckpointStore.HEADER_VERSION_OFFSET, CheckpointStore.SEGMENT_VERSION);
        headerView.putInt(CheckpointStore.HEADER_MIN_COMPATIBLE_OFFSET, CheckpointStore.SEGMENT_MIN_COMPATIBLE_VERSION);
        headerView.putInt(CheckpointStore.HEADER_OWNER_OFFSET, CheckpointStore.OWNER_CHECKPOINT);
        headerView.putInt(CheckpointStore.HEADER_INDEX_OFFSET, segmentCount - 1);
        headerView.putLong(CheckpointStore.HEADER_IMAGE_ID_OFFSET, imageId);
        headerView.putInt(CheckpointStore.HEADER_DATA_BYTES_OFFSET, dataBytes);
        headerView.putInt(CheckpointStore.HEADER_DATA_CHECKSUM_OFFSET, dataChecksum);
        headerView.putInt(CheckpointStore.HEADER_SEGMENT_ID_OFFSET, segmentId);
        headerView.putInt(CheckpointStore.HEADER_CHECKSUM_OFFSET, CheckpointStore.headerChecksum(headerView));

        final int driveIndex = layout.segmentDrive(segmentId);
        final Drive drive = store.shelf().drive(driveIndex);
        drivesWritten[driveIndex] = true;
        int status = drive.write(layout.segmentOffsetBytes(segmentId), segmentBuffer, 0, writeBytes);
        if (status == IoStatus.OK)
        {
            status = drive.write(layout.summaryOffsetBytes(segmentId), headerBlock, 0, Drive.BLOCK_SIZE_BYTES);
        }
        fillBytes = 0;
        return status;
    }

    private void checkOpen()
    {
        if (state != STATE_OPEN)
        {
            throw new IllegalStateException(state == STATE_FINISHED ? "checkpoint image finished" : "checkpoint image aborted");
        }
    }
}
