package io.afasim.dedup;

import java.nio.ByteBuffer;

import io.afasim.journal.CheckpointWriter;
import io.afasim.journal.IoStatus;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Buffered, typed writer of a checkpoint image onto a {@link CheckpointWriter}. The first failed
 * write is kept and reported by {@link #flush()}; later writes are dropped.
 */
final class ImageOutput
{
    static final int BUFFER_BYTES = 64 << 10;

    private final CheckpointWriter writer;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(BUFFER_BYTES));
    private int position;
    private int status = IoStatus.OK;

    ImageOutput(final CheckpointWriter writer)
    {
        this.writer = writer;
    }

    void writeInt(final int value)
    {
        ensure(Integer.BYTES);
        buffer.putInt(position, value);
        position += Integer.BYTES;
    }

    void writeLong(final long value)
    {
        ensure(Long.BYTES);
        buffer.putLong(position, value);
        position += Long.BYTES;
    }

    void writeLongPair(final long first, final long second)
    {
        writeLong(first);
        writeLong(second);
    }

    void writeBytes(final DirectBuffer src, final int offset, final int length)
    {
        ensure(length);
        buffer.putBytes(position, src, offset, length);
        position += length;
    }

    void writeFingerprint(final DirectBuffer fingerprint, final int offset, final long pba)
    {
        writeBytes(fingerprint, offset, Fingerprinter.FINGERPRINT_BYTES);
        writeLong(pba);
    }

    /** Writes what is buffered; returns the first error seen, or {@link IoStatus#OK}. */
    int flush()
    {
        if (position > 0 && status == IoStatus.OK)
        {
            status = writer.write(buffer, 0, position);
        }
        position = 0;
        return status;
    }

    private void ensure(final int length)
    {
        if (position + length > BUFFER_BYTES)
        {
            flush();
        }
    }
}
