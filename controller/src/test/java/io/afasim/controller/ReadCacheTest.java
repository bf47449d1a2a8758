package io.afasim.controller;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The read cache as the volume agent (owner) and the NBD network thread (shared reads) use it. */
class ReadCacheTest
{
    static final int BLOCK = 4096;

    @Test
    void sharedReadsServeOnlyAllowedWholeCachedBlocks()
    {
        final ReadCache cache = new ReadCache(1024);
        final UnsafeBuffer block = block(7);
        cache.put(10, block, 0);
        cache.put(11, block(8), 0);

        final HostRequest request = request(10 * BLOCK, 2 * BLOCK);
        assertFalse(cache.tryServe(request), "not allowed yet: the agent has not opened shared reads");
        cache.sharedReads(true);
        assertTrue(cache.tryServe(request));
        assertEquals(7L, request.data().getLong(0));
        assertEquals(8L, request.data().getLong(BLOCK + 8));
        assertEquals(2, cache.sharedHitCount());

        assertFalse(cache.tryServe(request(11 * BLOCK, 2 * BLOCK)), "lba 12 is not cached");
        assertFalse(cache.tryServe(request(10 * BLOCK + 512, BLOCK)), "unaligned");
        cache.invalidate(11);
        assertFalse(cache.tryServe(request(11 * BLOCK, BLOCK)), "invalidated");
        cache.put(11 + 1024, block(9), 0); // same slot, other lba
        assertFalse(cache.tryServe(request(11 * BLOCK, BLOCK)), "the slot holds another lba");
        cache.invalidateRange(0, 1 << 20);
        assertFalse(cache.tryServe(request(10 * BLOCK, BLOCK)), "everything invalidated");
        cache.put(10, block, 0);
        cache.sharedReads(false);
        assertFalse(cache.tryServe(request(10 * BLOCK, BLOCK)), "shared reads stopped (quiesce, fence, offline)");
        assertEquals(2, cache.sharedHitCount());
    }

    /**
     * One owner thread keeps rewriting and invalidating a few blocks (each write fills the whole block with one
     * value); a reader thread serves them concurrently. Every block a shared read returns must be one whole
     * write, never a mix of two: a torn copy has to be detected by the slot's version and reported as a miss.
     * Bounded by a count, not by time.
     */
    @Test
    void aSharedReadNeverReturnsATornBlock() throws Exception
    {
        final ReadCache cache = new ReadCache(256);
        cache.sharedReads(true);
        final int lbas = 4;
        final int writes = 200_000;
        final AtomicBoolean done = new AtomicBoolean();
        final AtomicReference<String> torn = new AtomicReference<>();
        final long[] hits = new long[1];
        final Thread reader = new Thread(() ->
        {
            final UnsafeBuffer dst = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK));
            int lba = 0;
            while (!done.get() && torn.get() == null)
            {
                if (cache.readShared(lba, dst, 0))
                {
                    hits[0]++;
                    final long first = dst.getLong(0);
                    for (int i = 8; i < BLOCK; i += 8)
                    {
                        if (dst.getLong(i) != first)
                        {
                            torn.set("lba " + lba + ": " + first + " and " + dst.getLong(i) + " in one block");
                            return;
                        }
                    }
                    if ((first & 3) != lba)
                    {
                        torn.set("lba " + lba + " returned the content of lba " + (first & 3));
                        return;
                    }
                }
                lba = (lba + 1) % lbas;
            }
        }, "read-cache-reader");
        reader.start();
        final UnsafeBuffer src = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK));
        for (int i = 0; i < writes && torn.get() == null; i++)
        {
            final int lba = i % lbas;
            if (i % 7 == 0)
            {
                cache.invalidate(lba);
                continue;
            }
            src.setMemory(0, BLOCK, (byte)0);
            final long value = ((long)i << 2) | lba;
            for (int at = 0; at < BLOCK; at += 8)
            {
                src.putLong(at, value);
            }
            cache.put(lba, src, 0);
        }
        done.set(true);
        reader.join(60_000);
        assertFalse(reader.isAlive(), "reader did not stop");
        assertNull(torn.get());
        System.out.println("[afasim] read cache: " + hits[0] + " shared hits checked during " + writes + " changes");
    }

    private static UnsafeBuffer block(final long value)
    {
        final UnsafeBuffer buffer = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK));
        for (int at = 0; at < BLOCK; at += 8)
        {
            buffer.putLong(at, value);
        }
        return buffer;
    }

    private static HostRequest request(final long offsetBytes, final int lengthBytes)
    {
        final HostRequest request = new HostRequest(r -> { }, 1);
        request.prepare(1, HostRequest.READ, 0, offsetBytes, lengthBytes, 1, ByteBuffer.allocateDirect(lengthBytes));
        return request;
    }
}
