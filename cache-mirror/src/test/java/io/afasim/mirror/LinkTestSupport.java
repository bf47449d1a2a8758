package io.afasim.mirror;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Queue;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.BooleanSupplier;
import java.util.function.Consumer;

import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.OwnershipPhase;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;

import static org.junit.jupiter.api.Assertions.fail;

/** Two links on loopback in one JVM: ports, aeron dirs under /dev/shm, bounded polling, recording handlers. */
final class LinkTestSupport
{
    static final long WAIT_MS_DEFAULT = 20_000;

    private LinkTestSupport()
    {
    }

    /** A test context: given ports, an aeron dir under {@code dir}, timeouts generous for a shared 2-core box. */
    static LinkContext context(final Path dir, final int nodeId, final int localPort, final int peerPort)
    {
        return new LinkContext()
            .nodeId(nodeId)
            .localEndpoint("127.0.0.1:" + localPort)
            .peerEndpoint("127.0.0.1:" + peerPort)
            .aeronDirectoryName(dir.resolve("aeron-" + nodeId + "-" + System.nanoTime()).toString())
            .peerTimeoutNs(TimeUnit.SECONDS.toNanos(3))
            .ackTimeoutNs(TimeUnit.SECONDS.toNanos(10));
    }

    /** Polls {@code done}, driving the links by hand between polls (backoff, no sleep), until a deadline. */
    static void driveUntil(final String what, final long waitMs, final BooleanSupplier done, final Link... links)
    {
        final IdleStrategy idle = new BackoffIdleStrategy(10, 20, 1_000, 200_000);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                final StringBuilder states = new StringBuilder();
                for (final Link link : links)
                {
                    states.append(' ').append(link).append(' ').append(link.stats());
                }
                fail("timed out after " + waitMs + " ms waiting for " + what + ":" + states);
            }
            int workCount = 0;
            for (final Link link : links)
            {
                workCount += link.doWork(System.nanoTime());
            }
            idle.idle(workCount);
        }
    }

    /** Polls {@code done} while agent threads drive the links (bounded backoff, no sleep). */
    static void awaitCondition(final String what, final long waitMs, final BooleanSupplier done)
    {
        final IdleStrategy idle = new BackoffIdleStrategy(10, 20, 10_000, 1_000_000);
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(waitMs);
        while (!done.getAsBoolean())
        {
            if (System.nanoTime() - deadlineNs > 0)
            {
                fail("timed out after " + waitMs + " ms waiting for " + what);
            }
            idle.idle();
        }
    }

    /** Fills a 64-byte stand-in ChangeEntry with a pattern of (volume, n). */
    static void fillEntry(final org.agrona.MutableDirectBuffer buffer, final int offset, final int volumeId, final long n)
    {
        for (int i = 0; i < ChangeEntry.LENGTH_BYTES; i += Long.BYTES)
        {
            buffer.putLong(offset + i, n * 0x9E3779B97F4A7C15L + i * 31L + volumeId);
        }
    }

    static boolean entryMatches(final DirectBuffer buffer, final int offset, final int volumeId, final long n)
    {
        for (int i = 0; i < ChangeEntry.LENGTH_BYTES; i += Long.BYTES)
        {
            if (buffer.getLong(offset + i) != n * 0x9E3779B97F4A7C15L + i * 31L + volumeId)
            {
                return false;
            }
        }
        return true;
    }

    /** One delivered message, fields as text plus copied bytes, for equality checks. */
    static final class Received
    {
        final String type;
        final List<Object> fields;
        final byte[] bytes;

        Received(final String type, final List<Object> fields, final byte[] bytes)
        {
            this.type = type;
            this.fields = fields;
            this.bytes = bytes;
        }

        @Override
        public String toString()
        {
            return type + fields + (bytes == null ? "" : "[" + bytes.length + " bytes]");
        }
    }

    /** Records what the link delivers; can refuse deliveries to act as a slow consumer. */
    static class RecordingHandler implements LinkHandler
    {
        final AtomicInteger peerUps = new AtomicInteger();
        final AtomicInteger peerDowns = new AtomicInteger();
        final AtomicInteger applied = new AtomicInteger();
        final Queue<Received> received = new ConcurrentLinkedQueue<>();
        final Queue<String> events = new ConcurrentLinkedQueue<>();
        volatile long upEpoch;
        volatile int upPeerNodeId = -1;
        volatile long upPeerInstanceId;
        volatile long upPeerLastReceivedSequence = Long.MIN_VALUE;
        volatile long downEpoch;
        volatile LinkDownReason downReason;
        /** Deliveries to refuse before accepting the next one (slow consumer); link thread only. */
        int refusalsPending;
        int refusals;
        /** Deliveries to throw on (a handler bug); link thread only. */
        int throwsPending;
        boolean record = true;

        /** Returns false while refusals are pending (then the link must deliver the same message again). */
        boolean accept()
        {
            if (throwsPending > 0)
            {
                throwsPending--;
                throw new IllegalStateException("test handler fails on this message");
            }
            if (refusalsPending > 0)
            {
                refusalsPending--;
                refusals++;
                return false;
            }
            applied.incrementAndGet();
            return true;
        }

        void add(final String type, final DirectBuffer buffer, final int offset, final int length, final Object... fields)
        {
            if (!record)
            {
                return;
            }
            final List<Object> values = new ArrayList<>(List.of(fields));
            byte[] bytes = null;
            if (buffer != null)
            {
                bytes = new byte[length];
                buffer.getBytes(offset, bytes);
            }
            received.add(new Received(type, values, bytes));
        }

        public void onPeerUp(
            final long epoch, final int peerNodeId, final long peerInstanceId, final long peerLastReceivedSequence)
        {
            upEpoch = epoch;
            upPeerNodeId = peerNodeId;
            upPeerInstanceId = peerInstanceId;
            upPeerLastReceivedSequence = peerLastReceivedSequence;
            events.add("up epoch=" + epoch + " peerLastReceivedSequence=" + peerLastReceivedSequence);
            peerUps.incrementAndGet();
        }

        public void onPeerDown(final long epoch, final LinkDownReason reason)
        {
            downEpoch = epoch;
            downReason = reason;
            events.add("down epoch=" + epoch + " reason=" + reason);
            peerDowns.incrementAndGet();
        }

        public boolean onMirrorPage(
            final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset,
            final int pageOffset)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("MirrorPage", buffer, entryOffset, ChangeEntry.LENGTH_BYTES + NvmeRegion.BLOCK_SIZE_BYTES,
                    volumeId, cacheSequence, pageOffset - entryOffset);
            }
            return true;
        }

        public boolean onMirrorRecord(
            final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("MirrorRecord", buffer, entryOffset, ChangeEntry.LENGTH_BYTES, volumeId, cacheSequence);
            }
            return true;
        }

        public boolean onMirrorMetadata(
            final int volumeId, final int recordType, final DirectBuffer buffer, final int payloadOffset,
            final int payloadLength)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("MirrorMetadata", buffer, payloadOffset, payloadLength, volumeId, recordType);
            }
            return true;
        }

        public boolean onMirrorInvalidate(final int volumeId, final long cacheSequence)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("MirrorInvalidate", null, 0, 0, volumeId, cacheSequence);
            }
            return true;
        }

        public boolean onMirrorDiscardVolume(final int volumeId)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("MirrorDiscardVolume", null, 0, 0, volumeId);
            }
            return true;
        }

        public boolean onResyncBegin(final int volumeId)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("ResyncBegin", null, 0, 0, volumeId);
            }
            return true;
        }

        public boolean onResyncEnd(final int volumeId)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("ResyncEnd", null, 0, 0, volumeId);
            }
            return true;
        }

        public boolean onForwardRequest(
            final long requestId, final int volumeId, final ForwardOp op, final int flags, final long offsetBytes,
            final int lengthBytes, final DirectBuffer buffer, final int dataOffset, final int dataLength)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("ForwardRequest", buffer, dataOffset, dataLength, requestId, volumeId, op, flags, offsetBytes,
                    lengthBytes);
            }
            return true;
        }

        public boolean onForwardReply(
            final long requestId, final int status, final DirectBuffer buffer, final int dataOffset,
            final int dataLength)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("ForwardReply", buffer, dataOffset, dataLength, requestId, status);
            }
            return true;
        }

        public boolean onOwnership(
            final int volumeId, final int fromNode, final int toNode, final OwnershipPhase phase, final long taskId,
            final DirectBuffer buffer, final int textOffset, final int textLength)
        {
            if (!accept())
            {
                return false;
            }
            if (record)
            {
                add("Ownership", null, 0, 0, volumeId, fromNode, toNode, phase, taskId,
                    buffer.getStringWithoutLengthAscii(textOffset, textLength));
            }
            return true;
        }
    }

    /** Two links A (node 0) and B (node 1) on loopback, driven by hand or by agent runners. */
    static final class LinkPair implements AutoCloseable
    {
        final Path dir;
        final int portA;
        final int portB;
        final RecordingHandler handlerA;
        final RecordingHandler handlerB;
        final LinkContext contextA;
        final LinkContext contextB;
        Link a;
        Link b;
        AgentRunner runnerA;
        AgentRunner runnerB;
        final Queue<Throwable> agentErrors = new ConcurrentLinkedQueue<>();

        LinkPair(final Path dir, final Consumer<LinkContext> tweak)
        {
            this(dir, tweak, new RecordingHandler(), new RecordingHandler());
        }

        LinkPair(final Path dir, final Consumer<LinkContext> tweak, final RecordingHandler handlerA,
            final RecordingHandler handlerB)
        {
            this.dir = dir;
            final int[] ports = LoopbackPorts.freeUdpPorts(2);
            this.portA = ports[0];
            this.portB = ports[1];
            this.handlerA = handlerA;
            this.handlerB = handlerB;
            this.contextA = context(dir, 0, portA, portB);
            this.contextB = context(dir, 1, portB, portA);
            tweak.accept(contextA);
            tweak.accept(contextB);
            this.a = new Link(contextA, handlerA);
            this.b = new Link(contextB, handlerB);
        }

        void driveUntilUp()
        {
            LinkTestSupport.driveUntil("both links UP", WAIT_MS_DEFAULT, () -> a.isUp() && b.isUp(), a, b);
        }

        void driveUntil(final String what, final BooleanSupplier done)
        {
            try
            {
                LinkTestSupport.driveUntil(what, WAIT_MS_DEFAULT, done, a, b);
            }
            catch (final AssertionError ex)
            {
                throw new AssertionError(ex.getMessage() + "\n A events (first 12): " + first(handlerA.events) +
                    "\n B events (first 12): " + first(handlerB.events), ex);
            }
        }

        private static List<String> first(final Queue<String> events)
        {
            final List<String> list = new ArrayList<>(events);
            return list.subList(0, Math.min(12, list.size()));
        }

        /** From now on agent threads drive the links (1 ms-capped backoff); the test thread only produces. */
        void startRunners()
        {
            runnerA = new AgentRunner(idle(), agentErrors::add, null, new LinkAgent(a));
            runnerB = new AgentRunner(idle(), agentErrors::add, null, new LinkAgent(b));
            AgentRunner.startOnThread(runnerA);
            AgentRunner.startOnThread(runnerB);
        }

        private static IdleStrategy idle()
        {
            return new BackoffIdleStrategy(100, 10, 1_000, 1_000_000);
        }

        @Override
        public void close()
        {
            if (runnerA != null)
            {
                runnerA.close();
                runnerB.close();
            }
            else
            {
                a.close();
                b.close();
            }
            TestSupport.deleteRecursively(dir);
        }
    }
}
