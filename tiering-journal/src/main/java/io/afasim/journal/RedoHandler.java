package io.afasim.journal;

import org.agrona.DirectBuffer;

/** Receives redo records during {@link MetadataJournal#replay(RedoHandler)}, in LSN order. */
@FunctionalInterface
public interface RedoHandler
{
    /**
     * @param lsn     the record's log sequence number.
     * @param type    record type, see {@link RedoRecordTypes}.
     * @param payload buffer holding the body; valid only during the call.
     * @param offset  start of the body in {@code payload}.
     * @param length  body length in bytes.
     */
    void onRecord(long lsn, int type, DirectBuffer payload, int offset, int length);
}
