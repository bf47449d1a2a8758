package io.afasim.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;

import org.agrona.DirectBuffer;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

/** The non-owner's forwarding layer against a scripted link: chunks, replies, link loss, owner loss. */
class ForwarderTest
{
    private final ScriptedLink link = new ScriptedLink();
    private final Forwarder forwarder = new Forwarder(link);
    private final List<HostRequest> completed = new ArrayList<>();

    private HostRequest request(final int command, final long offset, final int length)
    {
        final HostRequest request = new HostRequest(completed::add, 16);
        request.prepare(5, command, 0, offset, length, 1, ByteBuffer.allocateDirect(Math.max(length, 1)));
        request.markSubmitted();
        return request;
    }

    @Test
    void aLargeReadTravelsInChunksAndCompletesWhenTheLastReplyArrives()
    {
        final int length = 2 * Forwarder.CHUNK_BYTES_MAX + 4096;
        final HostRequest read = request(HostRequest.READ, 8192, length);
        forwarder.submit(read);
        assertEquals(3, link.sent.size(), "three chunks");
        assertEquals(8192 + Forwarder.CHUNK_BYTES_MAX, link.sent.get(1).offset);
        assertEquals(4096, link.sent.get(2).length);
        final UnsafeBuffer data = new UnsafeBuffer(new byte[Forwarder.CHUNK_BYTES_MAX]);
        for (int i = 2; i >= 0; i--) // replies in any order
        {
            final Sent chunk = link.sent.get(i);
            data.setMemory(0, chunk.length, (byte)(i + 1));
            assertTrue(completed.isEmpty(), "not before the last chunk");
            forwarder.onReply(chunk.requestId, HostRequest.OK, data, 0, chunk.length);
        }
        assertEquals(List.of(read), completed);
        assertEquals(HostRequest.OK, read.errno());
        assertEquals(1, read.data().getByte(0));
        assertEquals(3, read.data().getByte(length - 1));
        forwarder.onReply(link.sent.get(0).requestId, HostRequest.EIO, data, 0, 0);
        assertEquals(1, completed.size(), "a late duplicate reply is ignored");
    }

    @Test
    void requestsWaitWhileTheLinkIsDownAndAreSentAgainInTheNextEpoch()
    {
        link.up = false;
        final HostRequest write = request(HostRequest.WRITE, 0, 4096);
        forwarder.submit(write);
        assertTrue(link.sent.isEmpty());
        forwarder.onDuty(false);
        assertTrue(completed.isEmpty(), "the host waits; nothing fails");
        link.up = true;
        forwarder.onDuty(false);
        assertEquals(1, link.sent.size());
        link.epoch++; // the epoch ended before the reply came: sent again
        forwarder.onDuty(false);
        assertEquals(2, link.sent.size());
        forwarder.onReply(link.sent.get(0).requestId, HostRequest.OK, link.empty, 0, 0);
        assertEquals(List.of(write), completed, "either copy's reply completes it once");
        forwarder.onReply(link.sent.get(1).requestId, HostRequest.OK, link.empty, 0, 0);
        assertEquals(1, completed.size());
    }

    @Test
    void whenTheOwnerIsDownWaitingRequestsFailWithShutdown()
    {
        final HostRequest write = request(HostRequest.WRITE, 0, 4096);
        forwarder.submit(write);
        link.up = false;
        forwarder.onDuty(true);
        assertEquals(List.of(write), completed);
        assertEquals(HostRequest.ESHUTDOWN, write.errno());
    }

    @Test
    void blockStatusExtentsComeBackIntoTheHostRequest()
    {
        final HostRequest status = request(HostRequest.BLOCK_STATUS, 0, 1 << 20);
        forwarder.submit(status);
        final BlockStatusSink owner = new BlockStatusSink(16);
        owner.reset(1 << 20, 16);
        owner.add(4096, 0);
        owner.add((1 << 20) - 4096, BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO);
        final UnsafeBuffer encoded = new UnsafeBuffer(new byte[256]);
        final int length = Forwarder.encodeExtents(owner, encoded);
        forwarder.onReply(link.sent.get(0).requestId, HostRequest.OK, encoded, 0, length);
        assertEquals(2, status.blockStatus().count());
        assertEquals(4096, status.blockStatus().lengthBytes(0));
        assertEquals(BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO, status.blockStatus().flags(1));
    }

    record Sent(long requestId, long offset, int length)
    {
    }

    static final class ScriptedLink extends PeerLink.Disconnected
    {
        final List<Sent> sent = new ArrayList<>();
        final UnsafeBuffer empty = new UnsafeBuffer(new byte[0]);
        boolean up = true;
        long epoch = 1;

        @Override
        public long forwardRequest(final long id, final int v, final int c, final int f, final long o, final int l,
            final DirectBuffer d, final int dof, final int dl)
        {
            if (!up)
            {
                return LINK_DOWN;
            }
            sent.add(new Sent(id, o, l));
            return sent.size();
        }

        @Override
        public boolean isUp()
        {
            return up;
        }

        @Override
        public long epoch()
        {
            return epoch;
        }
    }
}
