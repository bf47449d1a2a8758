package io.afasim.controller;

import java.lang.invoke.MethodHandles;
import java.lang.invoke.VarHandle;
import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The controller's DRAM read cache of one volume: clean 4 KiB blocks, direct-mapped by LBA (slot =
 * LBA mod capacity, so a working set of consecutive LBAs up to the capacity never conflicts).
 * Memory is taken in 1 MiB chunks as slots are first used, up to the capacity.
 *
 * <p>One writer, the volume's agent thread ({@link #put}, {@link #invalidate}, {@link #read}); other
 * threads (the NBD network thread) only read, through {@link #tryServe}, without locks: every slot has
 * a version (a seqlock). The writer makes it odd, changes tag and data, and makes it even again; a
 * reader copies the block between two reads of the version and keeps the copy only when both are the
 * same even value, else it is a miss and the request goes to the volume agent as before.
 *
 * <pre>
 *   writer (agent):   version = v + 1 (odd) -> store-store fence -> data, tag -> version = v + 2 (release)
 *   reader (network): v1 = version (acquire), even? tag == lba + 1? -> copy data -> load-load fence ->
 *                     version == v1 ? hit : miss
 * </pre>
 *
 * <p>Coherence rule, kept by {@link VolumeAgent}: a valid entry always holds the block's current content.
 * Every change of a block's content either puts the new content ({@link #put}: WT writes, destaged pages,
 * which the write cache hands over only while they are the newest change of their LBA) or invalidates the
 * block ({@link #invalidate}: 1WB and WB writes, which the NVMe write cache serves until destaged; trims).
 * Only then is the change acknowledged, so a read sent after a completed write never finds the old
 * content. The agent allows shared reads ({@link #sharedReads}) only while the volume is online, not
 * fenced, not quiescing and not held for a move to the peer controller.
 */
final class ReadCache
{
    static final int BLOCK_SIZE_BYTES = 4096;
    static final int BLOCK_SHIFT = 12;
    static final int BLOCKS_PER_CHUNK = 256;
    static final int CHUNK_SHIFT = 8;
    private static final VarHandle VERSION = MethodHandles.arrayElementVarHandle(long[].class);
    private static final VarHandle SHARED_HIT_COUNT;
    private static final VarHandle SHARED_READS;

    static
    {
        try
        {
            final MethodHandles.Lookup lookup = MethodHandles.lookup();
            SHARED_HIT_COUNT = lookup.findVarHandle(ReadCache.class, "sharedHitCount", long.class);
            SHARED_READS = lookup.findVarHandle(ReadCache.class, "sharedReads", boolean.class);
        }
        catch (final ReflectiveOperationException ex)
        {
            throw new ExceptionInInitializerError(ex);
        }
    }

    private final long[] tags;
    /** Per slot: even = stable, odd = being changed by the owner. */
    private final long[] versions;
    private final UnsafeBuffer[] chunks;
    private final int mask;
    private long hitCount;
    private long missCount;
    /** Blocks served by {@link #tryServe} (other threads; atomic adds). */
    private volatile long sharedHitCount;
    /** Set by the owner: {@link #tryServe} may answer. */
    private volatile boolean sharedReads;
    /** The owner's copy of {@link #sharedReads} (no volatile read per duty cycle). */
    private boolean sharedReadsOwner;

    /** @param capacityBlocks rounded down to a power of two; 0 disables the cache. */
    ReadCache(final long capacityBlocks)
    {
        final int capacity = capacityBlocks < BLOCKS_PER_CHUNK ? 0 :
            Integer.highestOneBit((int)Math.min(capacityBlocks, 1 << 30));
        tags = new long[capacity];
        versions = new long[capacity];
        chunks = new UnsafeBuffer[Math.max(1, capacity >> CHUNK_SHIFT)];
        mask = capacity - 1;
    }

    int capacityBlocks()
    {
        return tags.length;
    }

    // ---------------------------------------------------------------- owner (volume agent thread)

    /** Copies a cached block into {@code dst}; false on a miss. Owner thread. */
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

    /** Caches the current content of a block. Owner thread. */
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
            chunks[slot >> CHUNK_SHIFT] = chunk; // published by the release of the version below
        }
        beginChange(slot);
        chunk.putBytes((slot & (BLOCKS_PER_CHUNK - 1)) * BLOCK_SIZE_BYTES, src, srcOffset, BLOCK_SIZE_BYTES);
        tags[slot] = lba + 1;
        endChange(slot);
    }

    /** Owner thread. */
    void invalidate(final long lba)
    {
        if (tags.length == 0)
        {
            return;
        }
        final int slot = (int)(lba & mask);
        if (tags[slot] == lba + 1)
        {
            beginChange(slot);
            tags[slot] = 0;
            endChange(slot);
        }
    }

    /** Owner thread. */
    void invalidateRange(final long lba, final long blockCount)
    {
        if (blockCount >= tags.length)
        {
            for (int slot = 0; slot < tags.length; slot++)
            {
                if (tags[slot] != 0)
                {
                    beginChange(slot);
                    tags[slot] = 0;
                    endChange(slot);
                }
            }
            return;
        }
        for (long i = 0; i < blockCount; i++)
        {
            invalidate(lba + i);
        }
    }

    /** Owner thread: allows or stops {@link #tryServe} (the volume is online, not fenced, not quiescing). */
    void sharedReads(final boolean allowed)
    {
        if (allowed != sharedReadsOwner)
        {
            sharedReadsOwner = allowed;
            SHARED_READS.setVolatile(this, allowed);
        }
    }

    private void beginChange(final int slot)
    {
        VERSION.setOpaque(versions, slot, versions[slot] + 1);
        VarHandle.storeStoreFence(); // the odd version is visible before any byte of the change
    }

    private void endChange(final int slot)
    {
        VERSION.setRelease(versions, slot, versions[slot] + 1);
    }

    // ---------------------------------------------------------------- any thread

    /**
     * Answers a block-aligned READ from the cache on the calling thread (the NBD network thread) when every
     * block is cached and none changes meanwhile; false otherwise (the request is untouched apart from its
     * data buffer, and goes to the volume agent).
     */
    boolean tryServe(final HostRequest request)
    {
        final long offset = request.offsetBytes();
        final long length = request.lengthBytes();
        if (!sharedReads || length <= 0 || ((offset | length) & (BLOCK_SIZE_BYTES - 1)) != 0)
        {
            return false;
        }
        final UnsafeBuffer data = request.data();
        if (data.capacity() < length)
        {
            return false;
        }
        final long firstLba = offset >>> BLOCK_SHIFT;
        final int blocks = (int)(length >>> BLOCK_SHIFT);
        for (int i = 0; i < blocks; i++)
        {
            if (!readShared(firstLba + i, data, i << BLOCK_SHIFT))
            {
                return false;
            }
        }
        SHARED_HIT_COUNT.getAndAdd(this, (long)blocks);
        return true;
    }

    /** Copies a cached block into {@code dst} when it is cached and stable during the copy. Any thread. */
    boolean readShared(final long lba, final MutableDirectBuffer dst, final int dstOffset)
    {
        if (tags.length == 0)
        {
            return false;
        }
        final int slot = (int)(lba & mask);
        final long before = (long)VERSION.getAcquire(versions, slot);
        if ((before & 1) != 0 || tags[slot] != lba + 1)
        {
            return false;
        }
        final UnsafeBuffer chunk = chunks[slot >> CHUNK_SHIFT];
        if (chunk == null)
        {
            return false;
        }
        dst.putBytes(dstOffset, chunk, (slot & (BLOCKS_PER_CHUNK - 1)) * BLOCK_SIZE_BYTES, BLOCK_SIZE_BYTES);
        VarHandle.loadLoadFence(); // the copy is complete before the version is read again
        return (long)VERSION.getOpaque(versions, slot) == before;
    }

    // ---------------------------------------------------------------- statistics

    /** Blocks served from the cache, on the agent and on the network thread. */
    long hitCount()
    {
        return hitCount + sharedHitCount;
    }

    /** Blocks of them served on the network thread. */
    long sharedHitCount()
    {
        return sharedHitCount;
    }

    long missCount()
    {
        return missCount;
    }
}
