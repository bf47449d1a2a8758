package io.afasim.mirror;

import org.agrona.DirectBuffer;

/**
 * The layer below (the dedup engine) receiving a destage batch from {@link WriteCache#destageBatch}, one
 * change at a time, oldest first. It must apply them in this order and must copy what it keeps: the block
 * buffer is the NVMe page itself, valid only during the call. Runs on the volume agent's thread.
 */
public interface DestageConsumer
{
    /** A cached page (crc32c verified just before the call). */
    void onPage(int volumeId, long lba, long sequence, DirectBuffer block, int blockOffset);

    /** A cached TRIM ({@code zeroes == false}) or WRITE_ZEROES ({@code zeroes == true}) of a block range. */
    void onUnmap(int volumeId, long lba, int blockCount, long sequence, boolean zeroes);

    /**
     * A cached page failed its crc32c when read for destage (NVMe memory corruption, an operating error): its
     * data is gone; the layer below decides (mark the block bad, fail reads of it). The change is still part
     * of the batch and is freed with it.
     */
    default void onCorruptPage(final int volumeId, final long lba, final long sequence)
    {
    }
}
