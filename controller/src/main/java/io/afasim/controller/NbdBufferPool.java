package io.afasim.controller;

import java.nio.ByteBuffer;

/**
 * Direct data buffers for READ/WRITE payloads, in size tiers (e.g. 128 KiB x 1024, 2 MiB x 64, 32 MiB x 4).
 * A buffer is allocated lazily the first time its tier needs one and reused forever after, so the pool never holds
 * more than {@code sum(tierBytes[i] * tierCountMax[i])}. One pool for the whole server, whichever thread serves a
 * connection (a request's buffer may come back on another loop after its connection moved): acquire and release
 * take its lock, uncontended but for volumes served on different threads at the same instant.
 */
final class NbdBufferPool {
    private final int[] tierBytes;
    private final int[] tierCountMax;
    private final int[] tierAllocated;
    private final ByteBuffer[][] free;
    private final int[] freeCount;
    /** Loops with a connection stalled for a buffer: each is woken once by the next release. */
    private final java.util.ArrayList<NbdLoop> waiters = new java.util.ArrayList<>();

    NbdBufferPool(final int[] tierBytes, final int[] tierCountMax) {
        if (tierBytes.length == 0 || tierBytes.length != tierCountMax.length) {
            throw new IllegalArgumentException("buffer tiers: sizes and counts must be non-empty and of equal length");
        }
        for (int i = 0; i < tierBytes.length; i++) {
            if (tierBytes[i] <= 0 || tierCountMax[i] <= 0 || (i > 0 && tierBytes[i] <= tierBytes[i - 1])) {
                throw new IllegalArgumentException("buffer tier " + i + " invalid: bytes=" + tierBytes[i]
                    + " countMax=" + tierCountMax[i] + " (sizes must grow, counts > 0)");
            }
        }
        this.tierBytes = tierBytes.clone();
        this.tierCountMax = tierCountMax.clone();
        this.tierAllocated = new int[tierBytes.length];
        this.freeCount = new int[tierBytes.length];
        this.free = new ByteBuffer[tierBytes.length][];
        for (int i = 0; i < tierBytes.length; i++) {
            free[i] = new ByteBuffer[tierCountMax[i]];
        }
    }

    int largestBytes() {
        return tierBytes[tierBytes.length - 1];
    }

    /**
     * A buffer of at least {@code lengthBytes}, or null when that tier is exhausted (the caller stalls and retries):
     * then {@code waiter} (if not null) is woken by the next release, under the same lock, so a buffer released
     * between the failed acquire and the wait cannot be missed.
     */
    synchronized ByteBuffer acquire(final int lengthBytes, final NbdLoop waiter) {
        final int tier = tierFor(lengthBytes);
        if (tier < 0) {
            throw new IllegalArgumentException("request larger than the largest buffer tier: " + lengthBytes);
        }
        if (freeCount[tier] > 0) {
            final ByteBuffer buffer = free[tier][--freeCount[tier]];
            free[tier][freeCount[tier]] = null;
            return buffer.clear();
        }
        if (tierAllocated[tier] < tierCountMax[tier]) {
            tierAllocated[tier]++;
            return ByteBuffer.allocateDirect(tierBytes[tier]);
        }
        if (waiter != null && !waiters.contains(waiter)) {
            waiters.add(waiter);
        }
        return null;
    }

    void release(final ByteBuffer buffer) {
        NbdLoop[] toWake = null;
        synchronized (this) {
            final int tier = tierFor(buffer.capacity());
            if (tier < 0 || tierBytes[tier] != buffer.capacity() || freeCount[tier] >= tierCountMax[tier]) {
                throw new IllegalStateException(
                    "buffer released to the wrong pool or twice: capacity=" + buffer.capacity());
            }
            free[tier][freeCount[tier]++] = buffer;
            if (!waiters.isEmpty()) {
                toWake = waiters.toArray(new NbdLoop[0]);
                waiters.clear();
            }
        }
        if (toWake != null) {
            for (final NbdLoop loop : toWake) {
                loop.onBufferReleased();
            }
        }
    }

    private int tierFor(final int lengthBytes) {
        for (int i = 0; i < tierBytes.length; i++) {
            if (lengthBytes <= tierBytes[i]) {
                return i;
            }
        }
        return -1;
    }
}
