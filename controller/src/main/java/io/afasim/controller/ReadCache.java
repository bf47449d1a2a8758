package io.afasim.controller;

import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The controller's DRAM read cache of one volume: clean 4 KiB blocks, direct-mapped by LBA (slot =
 * LBA mod capacity, so a working set of consecutive LBAs up to the capacity never conflicts).
 * Owned by the volume's agent thread: no locks. Memory is taken in 1 MiB chunks as slots are first
 * used, up to the capacity.
 *
 * <p>Coherence rule, kept by {@link VolumeAgent}: every change of a block's content either puts the
 * new content ({@link #put}: WT writes, destaged pages) or invalidates the block ({@link #invalidate}:
 * 1WB writes, which the NVMe write cache serves until destaged; trims). The NVMe write cache is
 * always consulted first, so a dirty page wins over an older clean copy.
 */
final class ReadCache
{
    static final int BLOCK_SIZE_BYTES = 4096;
    static final int BLOCKS_PER_CHUNK = 256;
    static final int CHUNK_SHIFT = 8;

    private final long[] tags;
    private final UnsafeBuffer[] chunks;
    private final int mask;
    private long hitCount;
    private long missCount;

    /** @param capacityBlocks rounded down to a power of two; 0 disables the cache. */
    ReadCache(final long capacityBlocks)
    {
        final int capacity = capacityBlocks < BLOCKS_PER_CHUNK ? 0 :
            Integer.highestOneBit((int)Math.min(capacityBlocks, 1 << 30));
        tags = new long[capacity];
        chunks = new UnsafeBuffer[Math.max(1, capacity >> CHUNK_SHIFT)];
        mask = capacity - 1;
    }

    int capacityBlocks()
    {
        return tags.length;
    }

    /** Copies a cached block into {@code dst}; false on a miss. */
    boolean read(final long lba, final MutableDirectBuffer dst, final int dstOffset)
    {
        if (tags.length == 0)
        {
            return false;
        }
        final int slot = (int)(lba & mask);
        if (tags[slot] != lba + 1)
        {
            missCount++;
            return false;
        }
        dst.putBytes(dstOffset, chunks[slot >> CHUNK_SHIFT], (slot & (BLOCKS_PER_CHUNK - 1)) * BLOCK_SIZE_BYTES,
            BLOCK_SIZE_BYTES);
        hitCount++;
        return true;
    }

    /** Caches the current content of a block. */
    void put(final long lba, final DirectBuffer src, final int srcOffset)
    {
        if (tags.length == 0)
        {
            return;
        }
        final int slot = (int)(lba & mask);
        UnsafeBuffer chunk = chunks[slot >> CHUNK_SHIFT];
        if (chunk == null)
        {
            chunk = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCKS_PER_CHUNK * BLOCK_SIZE_BYTES));
            chunks[slot >> CHUNK_SHIFT] = chunk;
        }
        chunk.putBytes((slot & (BLOCKS_PER_CHUNK - 1)) * BLOCK_SIZE_BYTES, src, srcOffset, BLOCK_SIZE_BYTES);
        tags[slot] = lba + 1;
    }

    void invalidate(final long lba)
    {
        if (tags.length == 0)
        {
            return;
        }
        final int slot = (int)(lba & mask);
        if (tags[slot] == lba + 1)
        {
            tags[slot] = 0;
        }
    }

    void invalidateRange(final long lba, final long blockCount)
    {
        if (blockCount >= tags.length)
        {
            java.util.Arrays.fill(tags, 0);
            return;
        }
        for (long i = 0; i < blockCount; i++)
        {
            invalidate(lba + i);
        }
    }

    long hitCount()
    {
        return hitCount;
    }

    long missCount()
    {
        return missCount;
    }
}
