package io.afasim.mirror;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class LinkContextTest
{
    @Test
    void defaultsFollowTheNode()
    {
        final LinkContext a = new LinkContext().nodeId(0).conclude();
        final LinkContext b = new LinkContext().nodeId(1).conclude();
        assertEquals("127.0.0.1:24310", a.localEndpoint());
        assertEquals("127.0.0.1:24311", a.peerEndpoint());
        assertEquals(a.peerEndpoint(), b.localEndpoint());
        assertEquals(b.peerEndpoint(), a.localEndpoint());
        assertEquals("/dev/shm/afasim/default/node-1/aeron", b.aeronDirectoryName());
        assertEquals(1, a.peerNodeId());
        assertEquals(65_504, a.mtuLength(), "loopback carries 64 KiB datagrams whole");
        assertEquals(16 << 20, a.termLength());
        assertEquals(TimeUnit.MILLISECONDS.toNanos(100), a.heartbeatIntervalNs());
        assertEquals(TimeUnit.MILLISECONDS.toNanos(500), a.peerTimeoutNs());
        assertNotEquals(0, a.instanceId());
        assertNotEquals(a.instanceId(), b.instanceId());
        assertTrue(a.epochBase() > 0);
        assertTrue(a.publicationChannel().contains("mtu=65504"));
    }

    @Test
    void theMtuDefaultsToAJumboFrameOffLoopback()
    {
        assertEquals(8_192, new LinkContext().localEndpoint("10.0.0.1:24310").peerEndpoint("10.0.0.2:24310")
            .conclude().mtuLength());
        assertEquals(8_192, new LinkContext().localEndpoint("127.0.0.1:24310").peerEndpoint("10.0.0.2:24310")
            .conclude().mtuLength());
        assertEquals(16_384, new LinkContext().mtuLength(16_384).conclude().mtuLength(), "a chosen MTU stays");
    }

    @Test
    void badValuesAreNamed()
    {
        assertBad("nodeId=2", new LinkContext().nodeId(2));
        assertBad("mtuLength=8100", new LinkContext().mtuLength(8_100));
        assertBad("termLength=3000000", new LinkContext().termLength(3_000_000));
        assertBad("termLength=8388608", new LinkContext().termLength(8 << 20));
        assertBad("peerTimeoutNs=100000000", new LinkContext().peerTimeoutNs(TimeUnit.MILLISECONDS.toNanos(100)));
        assertBad("localEndpoint=localhost", new LinkContext().localEndpoint("localhost"));
        assertBad("peerEndpoint=127.0.0.1:1", new LinkContext().localEndpoint("127.0.0.1:1").peerEndpoint("127.0.0.1:1"));
        assertBad("outboundQueueCapacity=8388608", new LinkContext().outboundQueueCapacity(8 << 20));
        assertBad("unackedMessagesMax=0", new LinkContext().unackedMessagesMax(0));
        assertBad("receiverWindow=16777216", new LinkContext().receiverWindow(16 << 20)); // > term length / 2
        assertBad("conversationWindowNs=-1", new LinkContext().conversationWindowNs(-1));
    }

    @Test
    void theReceiverWindowFitsTheKernelsSocketBuffer()
    {
        final LinkContext ctx = new LinkContext().receiverWindow(8 << 20).conclude();
        assertTrue(ctx.receiverWindow() <= 8 << 20);
        assertTrue(ctx.receiverWindow() <= LinkContext.kernelReceiveBufferMax(),
            "Aeron refuses a window above SO_RCVBUF: " + ctx.receiverWindow());
    }

    @Test
    void durationsFromSystemProperties()
    {
        System.setProperty(LinkContext.PEER_TIMEOUT_PROP_NAME, "750ms");
        System.setProperty(LinkContext.ACK_TIMEOUT_PROP_NAME, "2s");
        try
        {
            final LinkContext ctx = new LinkContext();
            assertEquals(TimeUnit.MILLISECONDS.toNanos(750), ctx.peerTimeoutNs());
            assertEquals(TimeUnit.SECONDS.toNanos(2), ctx.ackTimeoutNs());
        }
        finally
        {
            System.clearProperty(LinkContext.PEER_TIMEOUT_PROP_NAME);
            System.clearProperty(LinkContext.ACK_TIMEOUT_PROP_NAME);
        }
    }

    private static void assertBad(final String expected, final LinkContext ctx)
    {
        final IllegalArgumentException ex = assertThrows(IllegalArgumentException.class, ctx::conclude);
        assertTrue(ex.getMessage().startsWith(expected), ex.getMessage());
    }
}
