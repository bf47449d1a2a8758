package io.afasim.journal;

import org.agrona.DirectBuffer;

/**
 * Where metadata changes go as redo records. The redo journal implements it; later the controller's
 * cache layer sits in between (records go to NVMe memory and the peer first). Called only by the
 * single writer thread that owns the metadata being changed.
 */
public interface RedoSink
{
    /**
     * Appends one record; it is not durable until the sink says so (e.g. the journal's commit).
     *
     * @param type    record type, see {@link RedoRecordTypes}.
     * @param payload record body.
     * @param offset  start of the body in {@code payload}.
     * @param length  body length in bytes.
     * @return the record's log sequence number (&gt; 0), or a negative {@link IoStatus}
     *         ({@link IoStatus#NO_SPACE} when the journal must be checkpointed first).
     */
    long append(int type, DirectBuffer payload, int offset, int length);
}
