package io.afasim.controller;

import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;
import java.util.concurrent.atomic.AtomicReferenceArray;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The forwarding layer on the non-owner (DESIGN §4, ALUA active/non-optimized path): a host request for a volume
 * the peer owns goes to the peer over the link and its reply comes back the same way. READ and WRITE larger than
 * {@link #CHUNK_BYTES_MAX} travel as chunks, each its own forwarded request; the host request completes when the
 * last chunk has (the first error wins).
 *
 * <p>Threads: {@link #submit} on any NBD thread (the network thread; a volume thread whose volume has just moved
 * away; a volume agent handing its parked requests over), {@link #onReply} on the link thread, {@link #onDuty} on the
 * cluster agent. A request never fails because the link is down: it waits (host I/O pauses) and is sent again when
 * the link is up; in-flight chunks whose link epoch ended are sent again too (a write repeated before the host got
 * its reply is harmless: NBD orders nothing between requests in flight). Only when the owner is declared down do
 * waiting requests fail, with ESHUTDOWN: the volume is offline until the owner returns (takeover is not built).
 */
final class Forwarder
{
    static final int CHUNK_BYTES_MAX = 1 << 20;
    /** Chunks in flight at once (slots), bounded like every queue. */
    static final int SLOTS_MAX = 1024;
    private static final int SLOT_BITS = 10;

    private final PeerLink link;
    private final AtomicReferenceArray<HostRequest> slotRequest = new AtomicReferenceArray<>(SLOTS_MAX);
    private final long[] slotOffset = new long[SLOTS_MAX];
    private final int[] slotLength = new int[SLOTS_MAX];
    private final long[] slotEpoch = new long[SLOTS_MAX];
    private final AtomicLongArray slotGeneration = new AtomicLongArray(SLOTS_MAX);
    /** Chunks not yet sent (link down, link queue full, or their epoch ended): slot indexes. */
    private final ManyToOneConcurrentArrayQueue<Integer> unsent = new ManyToOneConcurrentArrayQueue<>(SLOTS_MAX);
    private final UnsafeBuffer noData = new UnsafeBuffer(new byte[0]);
    private int nextSlot;
    /** Statistics; several threads submit, so they count atomically. */
    private final AtomicLong forwardedCount = new AtomicLong();
    private final AtomicLong resentCount = new AtomicLong();
    private final AtomicLong failedCount = new AtomicLong();

    Forwarder(final PeerLink link)
    {
        this.link = link;
    }

    /** NBD thread (or a volume agent handing its parked requests over): forwards {@code request} to the owner. */
    void submit(final HostRequest request)
    {
        final int command = request.command();
        final boolean chunked = command == HostRequest.READ || command == HostRequest.WRITE;
        final long length = request.lengthBytes();
        final int chunks = chunked ? (int)Math.max(1, (length + CHUNK_BYTES_MAX - 1) / CHUNK_BYTES_MAX) : 1;
        request.forwardBegin(chunks);
        long at = 0;
        for (int i = 0; i < chunks; i++)
        {
            final int chunkLength = chunked ? (int)Math.min(CHUNK_BYTES_MAX, length - at) : (int)Math.min(length, Integer.MAX_VALUE);
            final int slot = claimSlot(request, at, chunkLength);
            if (slot < 0)
            {
                failedCount.incrementAndGet();
                if (request.forwardChunkDone(HostRequest.EIO)) // cannot happen within the NBD in-flight limits
                {
                    request.complete(request.forwardErrno());
                }
                at += chunkLength;
                continue;
            }
            send(slot);
            at += chunkLength;
        }
        forwardedCount.incrementAndGet();
    }

    private int claimSlot(final HostRequest request, final long offset, final int length)
    {
        for (int probe = 0; probe < SLOTS_MAX; probe++)
        {
            final int slot = (nextSlot + probe) & (SLOTS_MAX - 1);
            if (slotRequest.get(slot) == null && slotRequest.compareAndSet(slot, null, request))
            {
                nextSlot = slot + 1; // a hint only: several threads submit (NBD thread, a volume handing off)
                slotOffset[slot] = offset;
                slotLength[slot] = length;
                slotEpoch[slot] = 0;
                slotGeneration.incrementAndGet(slot);
                return slot;
            }
        }
        return -1;
    }

    private long requestId(final int slot)
    {
        return (slotGeneration.get(slot) << SLOT_BITS) | slot;
    }

    /** Sends a claimed chunk, or leaves it for {@link #onDuty}. Any thread that owns the slot's send. */
    private void send(final int slot)
    {
        final HostRequest request = slotRequest.get(slot);
        if (request == null)
        {
            return;
        }
        final long epoch = link.epoch();
        final int length = slotLength[slot];
        final boolean withData = request.command() == HostRequest.WRITE;
        final DirectBuffer data = withData ? request.data() : noData;
        final long ticket = link.isUp() ? link.forwardRequest(requestId(slot), request.exportId(), request.command(),
            request.flags(), request.offsetBytes() + slotOffset[slot], length, data,
            withData ? (int)slotOffset[slot] : 0, withData ? length : 0) : PeerLink.LINK_DOWN;
        if (ticket < 0)
        {
            unsent.offer(slot); // bounded by SLOTS_MAX: a slot is queued at most once at a time
            return;
        }
        slotEpoch[slot] = epoch;
    }

    /**
     * Link thread: the owner's answer to chunk {@code requestId}; a READ's data or a BLOCK_STATUS's extents
     * ({@link #encodeExtents} format) in {@code data}.
     */
    void onReply(final long requestId, final int status, final DirectBuffer data, final int offset, final int length)
    {
        final int slot = (int)(requestId & (SLOTS_MAX - 1));
        if (slotGeneration.get(slot) != requestId >>> SLOT_BITS)
        {
            return; // a reply to a chunk already answered (sent twice across an epoch change)
        }
        final HostRequest request = slotRequest.get(slot);
        if (request == null)
        {
            return;
        }
        int errno = status;
        if (errno == HostRequest.OK && request.command() == HostRequest.READ)
        {
            if (length != slotLength[slot])
            {
                errno = HostRequest.EIO;
            }
            else
            {
                request.data().putBytes((int)slotOffset[slot], data, offset, length);
            }
        }
        else if (errno == HostRequest.OK && request.command() == HostRequest.BLOCK_STATUS)
        {
            final BlockStatusSink sink = request.blockStatus();
            for (int at = 0; at + 12 <= length; at += 12)
            {
                if (!sink.add(data.getLong(offset + at), data.getInt(offset + at + 8)))
                {
                    break;
                }
            }
        }
        slotGeneration.incrementAndGet(slot); // later replies for this chunk are stale
        slotRequest.set(slot, null);
        if (request.forwardChunkDone(errno))
        {
            request.complete(request.forwardErrno());
        }
    }

    /** Owner side: a BLOCK_STATUS answer as (length i64, flags i32) pairs; returns the bytes written. */
    static int encodeExtents(final BlockStatusSink sink, final UnsafeBuffer out)
    {
        int at = 0;
        for (int i = 0; i < sink.count() && at + 12 <= out.capacity(); i++)
        {
            out.putLong(at, sink.lengthBytes(i));
            out.putInt(at + 8, sink.flags(i));
            at += 12;
        }
        return at;
    }

    /**
     * Cluster agent, every heartbeat: sends again what could not be sent, and what was in flight in an epoch
     * that ended; when the owner is declared down, fails what waits with ESHUTDOWN (the volume is offline).
     */
    int onDuty(final boolean ownerLost)
    {
        int work = 0;
        final long epoch = link.epoch();
        if (link.isUp())
        {
            for (int slot = 0; slot < SLOTS_MAX; slot++)
            {
                if (slotRequest.get(slot) != null && slotEpoch[slot] != epoch && slotEpoch[slot] != 0)
                {
                    slotEpoch[slot] = 0;
                    unsent.offer(slot);
                }
            }
        }
        Integer slot;
        int budget = unsent.size();
        while (budget-- > 0 && (slot = unsent.poll()) != null)
        {
            if (ownerLost && !link.isUp())
            {
                fail(slot);
            }
            else
            {
                resentCount.incrementAndGet();
                send(slot);
            }
            work++;
        }
        if (ownerLost && !link.isUp())
        {
            for (int i = 0; i < SLOTS_MAX; i++)
            {
                if (slotRequest.get(i) != null)
                {
                    fail(i);
                    work++;
                }
            }
        }
        return work;
    }

    private void fail(final int slot)
    {
        final HostRequest request = slotRequest.get(slot);
        if (request == null)
        {
            return;
        }
        slotGeneration.incrementAndGet(slot);
        slotRequest.set(slot, null);
        failedCount.incrementAndGet();
        if (request.forwardChunkDone(HostRequest.ESHUTDOWN))
        {
            request.complete(request.forwardErrno());
        }
    }

    long forwardedCount()
    {
        return forwardedCount.get();
    }

    long resentCount()
    {
        return resentCount.get();
    }

    long failedCount()
    {
        return failedCount.get();
    }
}
