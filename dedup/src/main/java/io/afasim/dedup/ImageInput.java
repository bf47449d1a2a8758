package io.afasim.dedup;

import java.nio.ByteBuffer;

import io.afasim.journal.CheckpointReader;
import io.afasim.journal.IoStatus;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Buffered, typed reader of a checkpoint image. A read error, a checksum mismatch or a truncated
 * image is a {@link CheckpointCorruptException}: recovery cannot go on from a damaged image.
 */
final class ImageInput
{
    static final int BUFFER_BYTES = 64 << 10;

    private final CheckpointReader reader;
    private final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(BUFFER_BYTES));
    private int position;
    private int limit;

    ImageInput(final CheckpointReader reader)
    {
        this.reader = reader;
    }

    int readInt()
    {
        fill(Integer.BYTES);
        final int value = buffer.getInt(position);
        position += Integer.BYTES;
        return value;
    }

    long readLong()
    {
        fill(Long.BYTES);
        final long value = buffer.getLong(position);
        position += Long.BYTES;
        return value;
    }

    void readBytes(final MutableDirectBuffer dst, final int offset, final int length)
    {
        fill(length);
        buffer.getBytes(position, dst, offset, length);
        position += length;
    }

    /** True when every byte of the image has been consumed (and its checksum verified). */
    boolean atEnd()
    {
        if (position < limit)
        {
            return false;
        }
        final int n = reader.read(buffer, 0, BUFFER_BYTES);
        if (n < 0)
        {
            throw new CheckpointCorruptException("checkpoint image unreadable: " + IoStatus.name(n));
        }
        position = 0;
        limit = n;
        return n == 0;
    }

    private void fill(final int length)
    {
        if (limit - position >= length)
        {
            return;
        }
        final int remaining = limit - position;
        buffer.putBytes(0, buffer, position, remaining);
        position = 0;
        limit = remaining;
        while (limit < length)
        {
            final int n = reader.read(buffer, limit, BUFFER_BYTES - limit);
            if (n < 0)
            {
                throw new CheckpointCorruptException("checkpoint image unreadable: " + IoStatus.name(n));
            }
            if (n == 0)
            {
                throw new CheckpointCorruptException("checkpoint image truncated: needed " + length +
                    " more bytes, have " + limit);
            }
            limit += n;
        }
    }
}
