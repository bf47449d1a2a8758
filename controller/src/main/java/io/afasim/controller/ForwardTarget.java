package io.afasim.controller;

import java.nio.ByteBuffer;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The owner's side of forwarding: a request the peer forwarded (link thread) becomes a pooled {@link HostRequest}
 * submitted to the volume's agent like a local one; when it completes (volume agent thread) it is queued, and the
 * link thread sends the reply ({@link #sendReplies}) and returns the request to the pool. Nothing allocates per
 * request: each pooled request keeps a direct buffer grown to the largest chunk it has carried
 * ({@link Forwarder#CHUNK_BYTES_MAX} at most).
 */
final class ForwardTarget
{
    /** Requests from the peer in progress here at once: the peer's {@link Forwarder#SLOTS_MAX}. */
    static final int REQUESTS_MAX = Forwarder.SLOTS_MAX;
    static final int BLOCK_STATUS_EXTENTS_MAX = 1024;

    private final StorageBackend backend;
    private final PeerLink link;
    private final ManyToOneConcurrentArrayQueue<HostRequest> completed = new ManyToOneConcurrentArrayQueue<>(REQUESTS_MAX);
    private final HostRequest[] free = new HostRequest[REQUESTS_MAX];
    private final long[] requestIds = new long[REQUESTS_MAX];
    private final ByteBuffer[] buffers = new ByteBuffer[REQUESTS_MAX];
    private final UnsafeBuffer extents = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK_STATUS_EXTENTS_MAX * 12));
    private int freeCount;
    /** A completed request whose reply the link refused (queue full): sent first next time. */
    private HostRequest replyPending;
    private volatile long servedCount;
    private volatile long refusedCount;

    ForwardTarget(final StorageBackend backend, final PeerLink link)
    {
        this.backend = backend;
        this.link = link;
        for (int i = 0; i < REQUESTS_MAX; i++)
        {
            final HostRequest request = new HostRequest(this::onCompleted, BLOCK_STATUS_EXTENTS_MAX);
            request.slotIndex = i;
            free[freeCount++] = request;
        }
    }

    /** Link thread: a forwarded request (or chunk) for a volume this controller owns. */
    void onRequest(
        final long requestId, final int volumeId, final int command, final int flags, final long offsetBytes,
        final int lengthBytes, final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        if (freeCount == 0 || lengthBytes < 0 || lengthBytes > Forwarder.CHUNK_BYTES_MAX && hasData(command))
        {
            refusedCount++;
            link.forwardReply(requestId, HostRequest.EINVAL, extents, 0, 0); // a peer beyond its own limits
            return;
        }
        final HostRequest request = free[--freeCount];
        final int slot = request.slotIndex;
        requestIds[slot] = requestId;
        ByteBuffer buffer = buffers[slot];
        if (hasData(command) && (buffer == null || buffer.capacity() < lengthBytes))
        {
            buffer = ByteBuffer.allocateDirect(Math.max(lengthBytes, 4096)); // grows to the chunk size once
            buffers[slot] = buffer;
        }
        request.prepare(volumeId, command, flags, offsetBytes, lengthBytes, requestId, hasData(command) ? buffer : null);
        if (command == HostRequest.WRITE)
        {
            if (dataLength != lengthBytes)
            {
                free[freeCount++] = request;
                link.forwardReply(requestId, HostRequest.EINVAL, extents, 0, 0);
                return;
            }
            request.data().putBytes(0, data, dataOffset, dataLength);
        }
        request.markSubmitted();
        servedCount++;
        backend.submitLocal(request);
    }

    private static boolean hasData(final int command)
    {
        return command == HostRequest.READ || command == HostRequest.WRITE;
    }

    /** Any thread (a volume agent): the reply goes out on the link thread's next duty cycle, which this starts. */
    private void onCompleted(final HostRequest request)
    {
        completed.offer(request); // never full: one slot per request
        link.wakeLinkThread();
    }

    /** Link thread, every duty cycle: replies for the requests that completed. */
    int sendReplies()
    {
        int work = 0;
        HostRequest request = replyPending != null ? replyPending : completed.poll();
        replyPending = null;
        while (request != null)
        {
            final int errno = request.errno();
            final long ticket;
            if (errno == HostRequest.OK && request.command() == HostRequest.READ)
            {
                ticket = link.forwardReply(requestIds[request.slotIndex], errno, request.data(), 0,
                    (int)request.lengthBytes());
            }
            else if (errno == HostRequest.OK && request.command() == HostRequest.BLOCK_STATUS)
            {
                ticket = link.forwardReply(requestIds[request.slotIndex], errno, extents, 0,
                    Forwarder.encodeExtents(request.blockStatus(), extents));
            }
            else
            {
                ticket = link.forwardReply(requestIds[request.slotIndex], errno, extents, 0, 0);
            }
            if (ticket == PeerLink.QUEUE_FULL)
            {
                replyPending = request; // the link's queue is full: next cycle
                return work;
            }
            // sent, or the link is down (the peer sends the chunk again in the next epoch): reuse the request
            free[freeCount++] = request;
            work++;
            request = completed.poll();
        }
        return work;
    }

    long servedCount()
    {
        return servedCount;
    }

    long refusedCount()
    {
        return refusedCount;
    }
}
