package io.afasim.dedup;

import java.util.function.LongSupplier;

import io.afasim.journal.IoStatus;
import io.afasim.journal.RedoBatch;
import io.afasim.journal.RedoSink;
import org.agrona.DirectBuffer;

/**
 * The redo sink of one volume and its segment log: records go into the volume's current
 * {@link RedoBatch}; the journal's owner drains batches in commit order. The volume's agent may swap
 * batches (one filling while another is being committed). When the batch is full, {@code onFull}
 * (if any) makes room, e.g. a single-threaded store commits; without it the volume gets
 * {@link IoStatus#NO_SPACE} and must hand its batch over first.
 */
public final class VolumeRedo implements RedoSink
{
    private final LongSupplier onFull;
    private RedoBatch batch;

    public VolumeRedo(final RedoBatch batch, final LongSupplier onFull)
    {
        this.batch = batch;
        this.onFull = onFull;
    }

    @Override
    public long append(final int type, final DirectBuffer payload, final int offset, final int length)
    {
        long position = batch.append(type, payload, offset, length);
        if (position == IoStatus.NO_SPACE && onFull != null)
        {
            final long status = onFull.getAsLong();
            if (status < 0)
            {
                return status;
            }
            position = batch.append(type, payload, offset, length);
        }
        return position;
    }

    public RedoBatch batch()
    {
        return batch;
    }

    /** Swaps in another (empty) batch; returns the previous one. Owner thread only. */
    public RedoBatch swap(final RedoBatch next)
    {
        final RedoBatch previous = batch;
        batch = next;
        return previous;
    }
}
