package io.afasim.mirror;

import org.agrona.DirectBuffer;

/**
 * The mirroring seam (issue 5): a {@link WriteCache} hands every change it has just made durable in local
 * NVMe memory to this sink, as the already-encoded bytes, so a link publisher can send them to the peer
 * and the peer can apply them with {@link NvmeRegion#writeSlot} / {@link NvmeRegion#writeRecord} into a
 * slot or record of its own choosing (entries hold no slot index, so they are position-independent).
 * Runs on the volume agent's thread; must not block and must not keep references to the buffers.
 */
public interface MirrorSink
{
    /** Does nothing: 1-way-WB and tests. */
    MirrorSink NONE = new MirrorSink()
    {
        public void onPageWritten(
            final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset,
            final DirectBuffer page, final int pageOffset)
        {
        }

        public void onRecordWritten(
            final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset)
        {
        }

        public void onReleased(final int volumeId, final long sequence)
        {
        }
    };

    /** A page and its {@link ChangeEntry#LENGTH_BYTES}-byte descriptor were written locally. */
    void onPageWritten(
        int volumeId, long sequence, DirectBuffer entry, int entryOffset, DirectBuffer page, int pageOffset);

    /** A transaction record (TRIM / WRITE_ZEROES) was written locally. */
    void onRecordWritten(int volumeId, long sequence, DirectBuffer entry, int entryOffset);

    /** The change with this sequence was destaged (or superseded) and freed: the peer may drop its copy. */
    void onReleased(int volumeId, long sequence);
}
