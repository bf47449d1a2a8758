package io.afasim.mirror;

import java.nio.ByteOrder;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import io.afasim.mirror.LinkTestSupport.LinkPair;
import io.afasim.mirror.LinkTestSupport.Received;
import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.ForwardRequestEncoder;
import io.afasim.mirror.sbe.HandshakeEncoder;
import io.afasim.mirror.sbe.MessageHeaderEncoder;
import io.afasim.mirror.sbe.MirrorInvalidateEncoder;
import io.afasim.mirror.sbe.MirrorMetadataEncoder;
import io.afasim.mirror.sbe.NodeId;
import io.afasim.mirror.sbe.BooleanType;
import io.afasim.mirror.sbe.OwnershipPhase;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Two real links over loopback UDP in one JVM, driven by hand from the test thread (so test seams such as
 * raw offers run on the owning thread); bounded polling, no sleeps.
 */
class LinkTest
{
    private Path dir;
    private LinkPair pair;

    @BeforeEach
    void createDirectory() throws Exception
    {
        dir = TestSupport.shmDirectory();
    }

    @AfterEach
    void closeLinks()
    {
        if (pair != null)
        {
            pair.close();
        }
        TestSupport.deleteRecursively(dir);
    }

    @Test
    void handshakeReachesUpOnBothSides()
    {
        pair = new LinkPair(dir, ctx -> { });
        assertEquals(LinkState.DOWN, pair.a.state());
        assertEquals(LinkPublisher.LINK_DOWN, pair.a.newPublisher().mirrorInvalidate(1, 1));

        pair.driveUntilUp();

        assertEquals(1, pair.handlerA.peerUps.get());
        assertEquals(1, pair.handlerB.peerUps.get());
        assertEquals(1, pair.handlerA.upPeerNodeId);
        assertEquals(0, pair.handlerB.upPeerNodeId);
        assertEquals(pair.contextB.instanceId(), pair.handlerA.upPeerInstanceId);
        assertEquals(pair.contextA.instanceId(), pair.handlerB.upPeerInstanceId);
        assertEquals(-1, pair.handlerA.upPeerLastReceivedSequence);
        assertEquals(-1, pair.handlerB.upPeerLastReceivedSequence);
        assertEquals(pair.a.epoch(), pair.handlerA.upEpoch);
        assertEquals(pair.a.epoch(), pair.b.knownPeerEpoch());
        assertEquals(pair.b.epoch(), pair.a.knownPeerEpoch());
        assertEquals(pair.contextA.epochBase() + 1, pair.a.epoch());
        assertEquals(0, pair.a.stats().staleMessages() + pair.a.stats().malformedMessages());

        // Heartbeats keep it up across several heartbeat intervals.
        final long untilNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(350);
        pair.driveUntil("three heartbeat intervals", () -> System.nanoTime() - untilNs > 0);
        assertTrue(pair.a.isUp() && pair.b.isUp());
        assertTrue(pair.b.stats().messagesReceived(io.afasim.mirror.sbe.HeartbeatDecoder.TEMPLATE_ID) >= 2);
    }

    @Test
    void linksAddNoThreadsAndSteadyStateMirroringDoesNotAllocate()
    {
        final java.lang.management.ThreadMXBean threads = java.lang.management.ManagementFactory.getThreadMXBean();
        final int threadsBefore = threads.getThreadCount();
        final LinkTestSupport.RecordingHandler quietB = new LinkTestSupport.RecordingHandler();
        quietB.record = false;
        pair = new LinkPair(dir, ctx -> { }, new LinkTestSupport.RecordingHandler(), quietB);
        pair.driveUntilUp();
        assertEquals(threadsBefore, threads.getThreadCount(), "INVOKER mode: the links run on the caller's thread: " +
            Thread.getAllStackTraces().keySet());

        final LinkPublisher publisher = pair.a.newPublisher();
        final UnsafeBuffer entry = new UnsafeBuffer(new byte[ChangeEntry.LENGTH_BYTES]);
        final UnsafeBuffer page = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
        final org.agrona.concurrent.IdleStrategy idle = new org.agrona.concurrent.BackoffIdleStrategy(
            10, 20, 1_000, 100_000);
        final com.sun.management.ThreadMXBean allocation = (com.sun.management.ThreadMXBean)threads;
        final long threadId = Thread.currentThread().getId();
        long allocatedBytes = 0;
        for (int round = 0; round < 2; round++)
        {
            final long before = allocation.getThreadAllocatedBytes(threadId);
            for (int i = 0; i < 2_000; i++)
            {
                final long ticket = publisher.mirrorPage(1, i, entry, 0, page, 0);
                assertTrue(ticket > 0);
                while (!pair.a.isAcked(ticket))
                {
                    idle.idle(pair.a.doWork(System.nanoTime()) + pair.b.doWork(System.nanoTime()));
                }
            }
            allocatedBytes = allocation.getThreadAllocatedBytes(threadId) - before;
        }
        System.out.println("[afasim] steady state: " + allocatedBytes + " bytes allocated for 2000 pages " +
            "(both links, producer and driver on this thread)");
        assertTrue(allocatedBytes < 16 * 1024, allocatedBytes + " bytes allocated in steady state");
        assertEquals(4_000, quietB.applied.get());
    }

    @Test
    void everyReliableMessageTypeRoundTrips()
    {
        final long seed = TestSupport.seed("LinkTest.everyReliableMessageTypeRoundTrips");
        final Random random = new Random(seed);
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        final LinkPublisher publisher = pair.a.newPublisher();

        final UnsafeBuffer entry = new UnsafeBuffer(new byte[ChangeEntry.LENGTH_BYTES]);
        final UnsafeBuffer page = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
        final UnsafeBuffer metadata = new UnsafeBuffer(new byte[LinkPublisher.METADATA_PAYLOAD_LENGTH_MAX]);
        final UnsafeBuffer data = new UnsafeBuffer(new byte[64 << 10]);
        random.nextBytes(entry.byteArray());
        random.nextBytes(page.byteArray());
        random.nextBytes(metadata.byteArray());
        random.nextBytes(data.byteArray());
        final int volumeId = random.nextInt(1 << 20);
        final long cacheSequence = random.nextLong() & Long.MAX_VALUE;
        final int recordType = random.nextInt(1 << 16);
        final long requestId = random.nextLong();
        final long offsetBytes = random.nextLong() & Long.MAX_VALUE;
        final int lengthBytes = random.nextInt(Integer.MAX_VALUE);
        final int flags = LinkPublisher.FLAG_FUA | LinkPublisher.FLAG_FAST_ZERO;
        final int status = 28; // ENOSPC
        final long taskId = random.nextLong();

        final List<Long> tickets = new ArrayList<>();
        tickets.add(publisher.mirrorPage(volumeId, cacheSequence, entry, 0, page, 0));
        tickets.add(publisher.mirrorRecord(volumeId, cacheSequence + 1, entry, 0));
        tickets.add(publisher.mirrorMetadata(volumeId, recordType, metadata, 0, metadata.capacity()));
        tickets.add(publisher.mirrorInvalidate(volumeId, cacheSequence));
        tickets.add(publisher.mirrorDiscardVolume(volumeId));
        tickets.add(publisher.resyncBegin(volumeId));
        tickets.add(publisher.resyncEnd(volumeId));
        tickets.add(publisher.forwardRequest(requestId, volumeId, ForwardOp.WRITE, flags, offsetBytes, lengthBytes,
            data, 0, data.capacity()));
        tickets.add(publisher.forwardRequest(requestId + 1, volumeId, ForwardOp.BLOCK_STATUS,
            LinkPublisher.FLAG_REQ_ONE, offsetBytes, lengthBytes, null, 0, 0));
        tickets.add(publisher.forwardReply(requestId, status, data, 0, 1_000));
        tickets.add(publisher.ownership(volumeId, 0, 1, OwnershipPhase.REFUSED, taskId, "volume busy"));
        for (int i = 0; i < tickets.size(); i++)
        {
            assertTrue(tickets.get(i) > 0, "ticket " + i + " = " + tickets.get(i));
            assertTrue(i == 0 || tickets.get(i) == tickets.get(i - 1) + 1, "tickets count up by one");
        }
        final long last = tickets.get(tickets.size() - 1);
        pair.driveUntil("all acked", () -> pair.a.isAcked(last));
        for (final long ticket : tickets)
        {
            assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(ticket));
        }

        final List<Received> got = new ArrayList<>(pair.handlerB.received);
        assertEquals(tickets.size(), got.size(), got.toString());
        final byte[] entryAndPage = new byte[ChangeEntry.LENGTH_BYTES + NvmeRegion.BLOCK_SIZE_BYTES];
        System.arraycopy(entry.byteArray(), 0, entryAndPage, 0, ChangeEntry.LENGTH_BYTES);
        System.arraycopy(page.byteArray(), 0, entryAndPage, ChangeEntry.LENGTH_BYTES, NvmeRegion.BLOCK_SIZE_BYTES);
        int i = 0;
        expect(got.get(i++), "MirrorPage", entryAndPage, volumeId, cacheSequence, ChangeEntry.LENGTH_BYTES);
        expect(got.get(i++), "MirrorRecord", entry.byteArray(), volumeId, cacheSequence + 1);
        expect(got.get(i++), "MirrorMetadata", metadata.byteArray(), volumeId, recordType);
        expect(got.get(i++), "MirrorInvalidate", null, volumeId, cacheSequence);
        expect(got.get(i++), "MirrorDiscardVolume", null, volumeId);
        expect(got.get(i++), "ResyncBegin", null, volumeId);
        expect(got.get(i++), "ResyncEnd", null, volumeId);
        expect(got.get(i++), "ForwardRequest", data.byteArray(), requestId, volumeId, ForwardOp.WRITE, flags,
            offsetBytes, lengthBytes);
        expect(got.get(i++), "ForwardRequest", new byte[0], requestId + 1, volumeId, ForwardOp.BLOCK_STATUS,
            LinkPublisher.FLAG_REQ_ONE, offsetBytes, lengthBytes);
        final byte[] replyData = new byte[1_000];
        System.arraycopy(data.byteArray(), 0, replyData, 0, replyData.length);
        expect(got.get(i++), "ForwardReply", replyData, requestId, status);
        expect(got.get(i), "Ownership", null, volumeId, 0, 1, OwnershipPhase.REFUSED, taskId, "volume busy");

        final LinkStats statsA = pair.a.stats();
        assertEquals(0, statsA.staleMessages() + pair.b.stats().staleMessages());
        assertEquals(tickets.size(), pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorPageDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorRecordDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorMetadataDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorInvalidateDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.MirrorDiscardVolumeDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.ResyncBeginDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.ResyncEndDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.ForwardRequestDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.ForwardReplyDecoder.TEMPLATE_ID) +
            pair.b.stats().messagesReceived(io.afasim.mirror.sbe.OwnershipDecoder.TEMPLATE_ID));
        assertTrue(statsA.rttCount() > 0, statsA.toString());
    }

    private static void expect(final Received received, final String type, final byte[] bytes, final Object... fields)
    {
        assertEquals(type, received.type, received.toString());
        assertEquals(List.of(fields), received.fields, type);
        if (bytes != null)
        {
            assertArrayEquals(bytes, received.bytes, type);
        }
    }

    @Test
    void forwardRequestAndReplyCarryOneMebibyte()
    {
        final long seed = TestSupport.seed("LinkTest.forwardRequestAndReplyCarryOneMebibyte");
        final Random random = new Random(seed);
        final UnsafeBuffer writeData = new UnsafeBuffer(new byte[LinkPublisher.FORWARD_DATA_LENGTH_MAX]);
        final UnsafeBuffer readData = new UnsafeBuffer(new byte[LinkPublisher.FORWARD_DATA_LENGTH_MAX]);
        random.nextBytes(writeData.byteArray());
        random.nextBytes(readData.byteArray());

        // B, the owner, answers a READ with 1 MiB from its own link thread (its handler enqueues the reply).
        final LinkTestSupport.RecordingHandler owner = new LinkTestSupport.RecordingHandler()
        {
            LinkPublisher replies;

            @Override
            public boolean onForwardRequest(
                final long requestId, final int volumeId, final ForwardOp op, final int flags, final long offsetBytes,
                final int lengthBytes, final org.agrona.DirectBuffer buffer, final int dataOffset,
                final int dataLength)
            {
                if (op == ForwardOp.READ)
                {
                    if (replies == null)
                    {
                        replies = pair.b.newPublisher();
                    }
                    final long ticket = replies.forwardReply(requestId, 0, readData, 0, lengthBytes);
                    if (ticket == LinkPublisher.QUEUE_FULL)
                    {
                        return false;
                    }
                    assertTrue(ticket > 0, "reply ticket " + ticket);
                }
                return super.onForwardRequest(
                    requestId, volumeId, op, flags, offsetBytes, lengthBytes, buffer, dataOffset, dataLength);
            }
        };
        pair = new LinkPair(dir, ctx -> { }, new LinkTestSupport.RecordingHandler(), owner);
        pair.driveUntilUp();
        final LinkPublisher publisher = pair.a.newPublisher();

        final long write = publisher.forwardRequest(7, 3, ForwardOp.WRITE, LinkPublisher.FLAG_FUA, 1L << 30,
            writeData.capacity(), writeData, 0, writeData.capacity());
        final long read = publisher.forwardRequest(8, 3, ForwardOp.READ, 0, 1L << 30, readData.capacity(),
            null, 0, 0);
        assertTrue(write > 0 && read > 0);
        assertEquals(LinkPublisher.TOO_LONG, publisher.forwardRequest(9, 3, ForwardOp.WRITE, 0, 0,
            LinkPublisher.FORWARD_DATA_LENGTH_MAX + 1, writeData, 0, LinkPublisher.FORWARD_DATA_LENGTH_MAX + 1));

        pair.driveUntil("reply", () -> !pair.handlerA.received.isEmpty() && pair.a.isAcked(read));
        final List<Received> atB = new ArrayList<>(pair.handlerB.received);
        assertEquals(2, atB.size());
        expect(atB.get(0), "ForwardRequest", writeData.byteArray(), 7L, 3, ForwardOp.WRITE, LinkPublisher.FLAG_FUA,
            1L << 30, writeData.capacity());
        expect(atB.get(1), "ForwardRequest", new byte[0], 8L, 3, ForwardOp.READ, 0, 1L << 30, readData.capacity());
        final Received reply = pair.handlerA.received.peek();
        expect(reply, "ForwardReply", readData.byteArray(), 8L, 0);
        assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(write));
        assertEquals(1, pair.a.stats().tooLongRefusals());
    }

    @Test
    void staleEpochMessagesAreDiscardedAndCounted()
    {
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();

        // A reliable message from an older epoch of A, as a late frame from a dead image would be.
        final int invalidateLength = MessageHeaderEncoder.ENCODED_LENGTH + MirrorInvalidateEncoder.BLOCK_LENGTH;
        new MirrorInvalidateEncoder().wrapAndApplyHeader(buffer, 0, header)
            .epoch(pair.a.epoch() - 1).sequence(0).cacheSequence(99).volumeId(5);
        assertTrue(pair.a.offerRaw(buffer, 0, invalidateLength) > 0);
        // A Handshake from an older epoch: stale too, and it must not take the link down.
        final int handshakeLength = MessageHeaderEncoder.ENCODED_LENGTH + HandshakeEncoder.BLOCK_LENGTH;
        new HandshakeEncoder().wrapAndApplyHeader(buffer, 0, header)
            .epoch(pair.a.epoch() - 1).instanceId(pair.contextA.instanceId()).lastReceivedSequence(-1)
            .peerEpoch(pair.b.epoch()).nodeId(NodeId.A).isReply(BooleanType.FALSE);
        assertTrue(pair.a.offerRaw(buffer, 0, handshakeLength) > 0);

        pair.driveUntil("two stale messages at B", () -> pair.b.stats().staleMessages() == 2);
        assertTrue(pair.handlerB.received.isEmpty());

        // The stream goes on: the next real message is delivered and acknowledged in the same epoch.
        final long epochA = pair.a.epoch();
        final long ticket = pair.a.newPublisher().mirrorInvalidate(5, 100);
        pair.driveUntil("acked", () -> pair.a.isAcked(ticket));
        expect(pair.handlerB.received.peek(), "MirrorInvalidate", null, 5, 100L);
        assertEquals(epochA, pair.a.epoch());
        assertEquals(1, pair.handlerB.peerUps.get());
        assertEquals(0, pair.handlerB.peerDowns.get());
        assertEquals(2, pair.b.stats().staleMessages());
    }

    @Test
    void malformedMessagesAreCountedAndDroppedAndTheLinkStaysUp()
    {
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        final UnsafeBuffer buffer = new UnsafeBuffer(new byte[512]);
        final MessageHeaderEncoder header = new MessageHeaderEncoder();
        final int headerLength = MessageHeaderEncoder.ENCODED_LENGTH;
        int injected = 0;

        // 1. shorter than a message header
        buffer.putInt(0, 0x12345678);
        assertTrue(pair.a.offerRaw(buffer, 0, 4) > 0);
        injected++;
        // 2. unknown template id
        header.wrap(buffer, 0).blockLength(16).templateId(99).schemaId(1).version(1);
        assertTrue(pair.a.offerRaw(buffer, 0, headerLength + 16) > 0);
        injected++;
        // 3. another schema
        new MirrorInvalidateEncoder().wrapAndApplyHeader(buffer, 0, header)
            .epoch(pair.a.epoch()).sequence(0).cacheSequence(1).volumeId(1);
        header.schemaId(7);
        assertTrue(pair.a.offerRaw(buffer, 0, headerLength + MirrorInvalidateEncoder.BLOCK_LENGTH) > 0);
        injected++;
        // 4. a schema version this side does not know
        header.schemaId(1).version(2);
        assertTrue(pair.a.offerRaw(buffer, 0, headerLength + MirrorInvalidateEncoder.BLOCK_LENGTH) > 0);
        injected++;
        // 5. block length shorter than the template's fields
        header.version(1).blockLength(MirrorInvalidateEncoder.BLOCK_LENGTH - 4);
        assertTrue(pair.a.offerRaw(buffer, 0, headerLength + MirrorInvalidateEncoder.BLOCK_LENGTH) > 0);
        injected++;
        // 6. var data longer than the message
        new MirrorMetadataEncoder().wrapAndApplyHeader(buffer, 0, header)
            .epoch(pair.a.epoch()).sequence(0).volumeId(1).recordType(1);
        buffer.putInt(headerLength + MirrorMetadataEncoder.BLOCK_LENGTH, 4_000, ByteOrder.LITTLE_ENDIAN);
        assertTrue(pair.a.offerRaw(buffer, 0, headerLength + MirrorMetadataEncoder.BLOCK_LENGTH + 4 + 10) > 0);
        injected++;
        // 7. an op that is not an NBD command the schema knows
        final ForwardRequestEncoder forward = new ForwardRequestEncoder().wrapAndApplyHeader(buffer, 0, header)
            .epoch(pair.a.epoch()).sequence(0).requestId(1).offsetBytes(0).volumeId(1).lengthBytes(0)
            .op(ForwardOp.READ);
        forward.putData(buffer, 0, 0);
        buffer.putByte(headerLength + ForwardRequestEncoder.opEncodingOffset(), (byte)2);
        assertTrue(pair.a.offerRaw(buffer, 0, forward.encodedLength() + headerLength) > 0);
        injected++;

        final int expected = injected;
        pair.driveUntil("malformed counted", () -> pair.b.stats().malformedMessages() == expected);
        assertTrue(pair.handlerB.received.isEmpty());
        final long ticket = pair.a.newPublisher().mirrorDiscardVolume(42);
        pair.driveUntil("acked", () -> pair.a.isAcked(ticket));
        expect(pair.handlerB.received.peek(), "MirrorDiscardVolume", null, 42);
        assertTrue(pair.a.isUp() && pair.b.isUp());
        assertEquals(0, pair.handlerB.peerDowns.get());
        assertEquals(expected, pair.b.stats().malformedMessages());
    }

    @Test
    void peerCloseIsDetectedTicketsOfTheDeadEpochAreLostAndANewInstanceReconnects()
    {
        pair = new LinkPair(dir, ctx -> ctx.peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500)));
        pair.driveUntilUp();
        final LinkPublisher fromA = pair.a.newPublisher();
        final LinkPublisher fromB = pair.b.newPublisher();
        final long firstEpochA = pair.a.epoch();

        // 20 acked messages each way.
        long lastFromA = 0;
        long lastFromB = 0;
        for (int i = 0; i < 20; i++)
        {
            lastFromA = fromA.mirrorInvalidate(1, i);
            lastFromB = fromB.mirrorInvalidate(2, i);
        }
        final long ackedFromA = lastFromA;
        final long ackedFromB = lastFromB;
        pair.driveUntil("first 20 acked", () -> pair.a.isAcked(ackedFromA) && pair.b.isAcked(ackedFromB));

        // B stops applying (its handler refuses), A sends 5 more: never acknowledged. Then B's process "dies".
        pair.handlerB.refusalsPending = Integer.MAX_VALUE;
        final long[] doomed = new long[5];
        for (int i = 0; i < doomed.length; i++)
        {
            doomed[i] = fromA.mirrorInvalidate(1, 100 + i);
        }
        pair.driveUntil("B saw the doomed messages", () -> pair.handlerB.refusals > 0);
        pair.b.close();
        final long closedNs = System.nanoTime();
        LinkTestSupport.driveUntil("A notices", 5_000, () -> !pair.a.isUp(), pair.a);
        final long detectMs = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - closedNs);
        System.out.println("[afasim] peer close detected in " + detectMs + " ms: " + pair.handlerA.events);
        assertEquals(1, pair.handlerA.peerDowns.get());
        assertEquals(firstEpochA, pair.handlerA.downEpoch);
        assertTrue(pair.handlerA.downReason == LinkDownReason.NOT_CONNECTED ||
            pair.handlerA.downReason == LinkDownReason.PEER_TIMEOUT, String.valueOf(pair.handlerA.downReason));
        for (final long ticket : doomed)
        {
            assertEquals(TicketStatus.LOST, pair.a.ticketStatus(ticket));
        }
        assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(ackedFromA));
        assertEquals(LinkPublisher.LINK_DOWN, fromA.mirrorInvalidate(1, 999));

        // A new B process (new instance id, same endpoint) joins: new epochs on both sides.
        final LinkTestSupport.RecordingHandler handlerB2 = new LinkTestSupport.RecordingHandler();
        final LinkContext contextB2 = LinkTestSupport.context(dir, 1, pair.portB, pair.portA)
            .peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500));
        pair.b = new Link(contextB2, handlerB2);
        pair.driveUntilUp();
        assertTrue(pair.a.epoch() > firstEpochA);
        assertEquals(2, pair.handlerA.peerUps.get());
        assertEquals(contextB2.instanceId(), pair.handlerA.upPeerInstanceId);
        assertEquals(-1, pair.handlerA.upPeerLastReceivedSequence, "a new process received nothing before");
        assertEquals(19, handlerB2.upPeerLastReceivedSequence, "A received sequences 0..19 from the old B");

        // The new epoch acknowledges new tickets; the dead epoch's stay LOST.
        final long fresh = fromA.mirrorInvalidate(1, 200);
        pair.driveUntil("fresh acked", () -> pair.a.isAcked(fresh));
        for (final long ticket : doomed)
        {
            assertEquals(TicketStatus.LOST, pair.a.ticketStatus(ticket));
            assertTrue(fresh > ticket);
        }
        expect(handlerB2.received.peek(), "MirrorInvalidate", null, 1, 200L);
        assertTrue(pair.a.stats().deadEpochDrops() + pair.a.stats().linkDowns() > 0);
    }

    @Test
    void aHandlerThatThrowsEndsTheEpochInsteadOfStallingTheLink()
    {
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        final long firstEpoch = pair.b.epoch();
        final LinkPublisher fromA = pair.a.newPublisher();
        pair.handlerB.throwsPending = 1;
        final long doomed = fromA.mirrorInvalidate(1, 1);
        pair.driveUntil("B ends the epoch", () -> pair.handlerB.downReason == LinkDownReason.HANDLER_ERROR);
        assertTrue(pair.b.stats().errors() > 0, "counted as an error");
        pair.driveUntilUp();
        assertTrue(pair.b.epoch() > firstEpoch, "a new epoch");
        assertEquals(TicketStatus.LOST, pair.a.ticketStatus(doomed), "the message went with its epoch");
        final long fresh = fromA.mirrorInvalidate(1, 2);
        pair.driveUntil("the link carries messages again", () -> pair.a.isAcked(fresh));
    }

    @Test
    void quickPeerRestartIsANewPeer()
    {
        // Long driver and link timeouts: the only way A can learn about the new B is its handshake.
        pair = new LinkPair(dir, ctx -> ctx
            .peerTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .publicationConnectionTimeoutNs(TimeUnit.SECONDS.toNanos(20))
            .imageLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(20)));
        pair.driveUntilUp();
        final long firstEpochA = pair.a.epoch();
        pair.b.close();
        final LinkTestSupport.RecordingHandler handlerB2 = new LinkTestSupport.RecordingHandler();
        final LinkContext contextB2 = LinkTestSupport.context(dir, 1, pair.portB, pair.portA)
            .peerTimeoutNs(TimeUnit.SECONDS.toNanos(20));
        pair.b = new Link(contextB2, handlerB2);
        pair.driveUntil("A up again with the new B",
            () -> pair.handlerA.peerUps.get() == 2 && pair.a.isUp() && pair.b.isUp());
        assertEquals(1, pair.handlerA.peerDowns.get());
        assertEquals(LinkDownReason.PEER_RESTARTED, pair.handlerA.downReason, pair.handlerA.events.toString());
        assertEquals(contextB2.instanceId(), pair.handlerA.upPeerInstanceId);
        assertNotEquals(firstEpochA, pair.a.epoch());
    }

    @Test
    void partitionHealsWithNewEpochsAndEachSideReportsWhatItReceived()
    {
        pair = new LinkPair(dir, ctx -> ctx.peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(300)));
        pair.driveUntilUp();
        final long firstEpochA = pair.a.epoch();
        final long firstEpochB = pair.b.epoch();
        long lastA = 0;
        for (int i = 0; i < 7; i++)
        {
            lastA = pair.a.newPublisher().mirrorInvalidate(1, i);
        }
        long lastB = 0;
        for (int i = 0; i < 3; i++)
        {
            lastB = pair.b.newPublisher().resyncBegin(i);
        }
        final long ackedA = lastA;
        final long ackedB = lastB;
        pair.driveUntil("acked", () -> pair.a.isAcked(ackedA) && pair.b.isAcked(ackedB));

        pair.a.partitioned(true);
        pair.b.partitioned(true);
        pair.driveUntil("both down", () -> pair.handlerA.peerDowns.get() == 1 && pair.handlerB.peerDowns.get() == 1);
        assertEquals(LinkDownReason.PEER_TIMEOUT, pair.handlerA.downReason);
        assertEquals(LinkDownReason.PEER_TIMEOUT, pair.handlerB.downReason);
        pair.a.partitioned(false);
        pair.b.partitioned(false);
        pair.driveUntil("both up again", () -> pair.handlerA.peerUps.get() == 2 && pair.handlerB.peerUps.get() == 2 &&
            pair.a.isUp() && pair.b.isUp());

        assertTrue(pair.a.epoch() > firstEpochA && pair.b.epoch() > firstEpochB);
        assertEquals(pair.contextB.instanceId(), pair.handlerA.upPeerInstanceId);
        assertEquals(6, pair.handlerA.upPeerLastReceivedSequence, "B received A's sequences 0..6");
        assertEquals(2, pair.handlerB.upPeerLastReceivedSequence, "A received B's sequences 0..2");
        assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(ackedA), "acknowledged before the loss stays acked");
    }

    @Test
    void aWaitingLinkThreadWakesForThePeersDatagramAndForARing()
    {
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        assertTrue(pair.b.wakeup().registeredSockets() >= 2, "B's receive and send sockets wake it");

        final long ticket = pair.a.newPublisher().mirrorInvalidate(1, 1);
        pair.a.doWork(System.nanoTime()); // offered, and sent by the driver in the same duty cycle
        pair.a.doWork(System.nanoTime());
        // without its sockets in the selector, B would wait the whole 10 s and report no datagram
        assertTrue(pair.b.wakeup().park(TimeUnit.SECONDS.toNanos(10)), "B woken by A's datagram");
        pair.driveUntil("the message is acknowledged", () -> pair.a.isAcked(ticket));

        // a ring from a thread that queued work cuts a wait short (rung before or during it)
        final LinkWakeup wakeup = pair.a.wakeup();
        final long startNs = System.nanoTime();
        wakeup.ring();
        wakeup.park(TimeUnit.SECONDS.toNanos(10));
        assertTrue(System.nanoTime() - startNs < TimeUnit.SECONDS.toNanos(5), "the ring ended the wait");
    }

    @Test
    void aLinkWhoseThreadStoodStillPastTheClientLivenessTimeoutRelaunchesAndComesBack()
    {
        pair = new LinkPair(dir, ctx -> ctx.clientLivenessTimeoutNs(TimeUnit.SECONDS.toNanos(1))
            .peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500)));
        pair.driveUntilUp();
        final long firstEpochA = pair.a.epoch();

        // A's thread does not run for 2.5 s (a stopped or starved process): its Aeron client closes itself on the
        // next duty cycle (service interval exceeded). Only B is driven meanwhile.
        final long hangEndNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(2_500);
        LinkTestSupport.driveUntil("A's hang is over", 10_000, () -> System.nanoTime() - hangEndNs > 0, pair.b);

        pair.driveUntil("both up again after A relaunched its media driver and client", () ->
            pair.a.isUp() && pair.b.isUp() && pair.a.stats().mediaRelaunches() >= 1 && pair.a.epoch() > firstEpochA);
        final long fresh = pair.a.newPublisher().mirrorInvalidate(1, 1);
        pair.driveUntil("the link carries messages again", () -> pair.a.isAcked(fresh));
    }

    @Test
    void aOneWayLossEndsOnlyTheDeafSidesEpochAndBothComeBack()
    {
        pair = new LinkPair(dir, ctx -> ctx.peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(500)));
        pair.driveUntilUp();
        final long firstEpochA = pair.a.epoch();
        final long firstEpochB = pair.b.epoch();
        // A hears nothing while B keeps hearing A: A's epoch ends on its timeout, B's stays up until A's new
        // epoch reaches it; nothing may leave the pair stuck with one side up and the other handshaking
        pair.a.deaf(true);
        pair.driveUntil("A times out", () -> pair.handlerA.downReason == LinkDownReason.PEER_TIMEOUT);
        pair.driveUntil("B learns of A's new epoch", () -> pair.handlerB.peerDowns.get() == 1);
        pair.a.deaf(false);
        pair.driveUntil("both up again", () -> pair.a.isUp() && pair.b.isUp() &&
            pair.handlerA.peerUps.get() >= 2 && pair.handlerB.peerUps.get() >= 2);
        assertTrue(pair.a.epoch() > firstEpochA && pair.b.epoch() > firstEpochB);
        final long fresh = pair.a.newPublisher().mirrorInvalidate(1, 1);
        pair.driveUntil("the link carries messages again", () -> pair.a.isAcked(fresh));
    }

    @Test
    void closeResolvesPendingTicketsAsLostAndMovesTheEpochOn()
    {
        pair = new LinkPair(dir, ctx -> { });
        pair.driveUntilUp();
        final LinkPublisher publisher = pair.a.newPublisher();
        final long acked = publisher.mirrorInvalidate(1, 1);
        pair.driveUntil("acked", () -> pair.a.isAcked(acked));
        final long pending = publisher.mirrorInvalidate(1, 2);
        final long epoch = pair.a.epoch();
        assertEquals(TicketStatus.PENDING, pair.a.ticketStatus(pending));

        pair.a.close();
        assertEquals(LinkState.CLOSED, pair.a.state());
        assertEquals(TicketStatus.LOST, pair.a.ticketStatus(pending));
        assertEquals(TicketStatus.ACKED, pair.a.ticketStatus(acked));
        assertNotEquals(epoch, pair.a.epoch(), "no ticket of the closed epoch may read as acked by epoch + ackedTicket");
        assertTrue(pair.a.ackedTicket() > pending);
        assertEquals(LinkPublisher.LINK_DOWN, publisher.mirrorInvalidate(1, 3));
        assertEquals(LinkDownReason.CLOSED, pair.handlerA.downReason);
    }

    @Test
    void publisherStatusesLinkDownQueueFullTooLong()
    {
        pair = new LinkPair(dir, ctx -> { });
        final LinkPublisher publisher = pair.a.newPublisher();
        final UnsafeBuffer data = new UnsafeBuffer(new byte[LinkPublisher.FORWARD_DATA_LENGTH_MAX]);
        assertEquals(LinkPublisher.LINK_DOWN, publisher.resyncEnd(1));
        pair.driveUntilUp();

        // Nobody drains A's queue while the test thread fills it with 1 MiB forwards.
        int queued = 0;
        long result;
        while ((result = publisher.forwardRequest(queued, 1, ForwardOp.WRITE, 0, 0, data.capacity(), data, 0,
            data.capacity())) > 0)
        {
            queued++;
            assertTrue(queued < 64, "queue never filled");
        }
        assertEquals(LinkPublisher.QUEUE_FULL, result);
        assertEquals(LinkPublisher.TOO_LONG, publisher.mirrorMetadata(1, 1, data, 0,
            LinkPublisher.METADATA_PAYLOAD_LENGTH_MAX + 1));
        final LinkStats stats = pair.a.stats();
        assertEquals(1, stats.queueFullRefusals());
        assertEquals(1, stats.linkDownRefusals());
        assertEquals(1, stats.tooLongRefusals());

        final int expected = queued;
        pair.driveUntil("all forwards applied", () -> pair.handlerB.applied.get() == expected);
    }
}
