package io.afasim.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import org.agrona.DirectBuffer;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Membership driven by hand with a manual clock: the peer's disk heartbeat is a second {@link QuorumArea} on the
 * same file, the link a stub whose state the test sets.
 */
class MembershipTest
{
    static final long INTERVAL_MS = 100;
    static final long TIMEOUT_MS = 1_000;

    @TempDir
    Path dir;

    private final List<String> events = new ArrayList<>();
    private final List<Throwable> errors = new ArrayList<>();
    private final StubLink link = new StubLink();
    private QuorumArea mine;
    private QuorumArea peers;
    private Membership membership;
    private long nowNs;

    private void start(final boolean alone) throws Exception
    {
        mine = new QuorumArea(dir, 0, 11);
        peers = new QuorumArea(dir, 1, 22);
        membership = new Membership(mine, link, new Membership.Listener()
        {
            @Override
            public void onPeerLost(final Membership.PeerState state, final String reason)
            {
                events.add("lost " + state);
            }

            @Override
            public void onPeerBack(final long epoch)
            {
                events.add("back " + epoch);
            }
        }, errors::add, INTERVAL_MS, TIMEOUT_MS, alone, nowNs);
    }

    @AfterEach
    void close() throws Exception
    {
        mine.close();
        peers.close();
    }

    /** One heartbeat interval passes; the peer beats on disk when {@code peerBeats}. */
    private void tick(final boolean peerBeats) throws Exception
    {
        nowNs += TimeUnit.MILLISECONDS.toNanos(INTERVAL_MS);
        if (peerBeats)
        {
            peers.beat(QuorumArea.STATE_UP, 0);
        }
        membership.doWork(nowNs);
    }

    @Test
    void aLinkUpIsReportedOncePerEpochAndTheDiskHeartbeatsAreWritten() throws Exception
    {
        start(false);
        link.up = true;
        link.epoch = 7;
        tick(true);
        tick(true);
        assertEquals(Membership.PeerState.UP, membership.state());
        assertEquals(List.of("back 7"), events);
        link.epoch = 8; // the peer restarted within the link timeout: a new epoch, a new resync
        tick(true);
        assertEquals(List.of("back 7", "back 8"), events);
        assertTrue(mine.counter() >= 3, "this controller's disk heartbeat advances");
        assertEquals(mine.counter(), new QuorumArea(dir, 1, 33).readPeer().counter(), "the peer reads it");
    }

    @Test
    void aSilentLinkWithALiveDiskHeartbeatIsSuspectThenLostAfterTheTimeout() throws Exception
    {
        start(false);
        link.up = true;
        tick(true);
        link.up = false;
        for (int i = 0; i < TIMEOUT_MS / INTERVAL_MS - 1; i++)
        {
            tick(true);
            assertEquals(Membership.PeerState.SUSPECT, membership.state());
        }
        assertFalse(membership.isPeerLost(), "not lost before the timeout");
        tick(true);
        tick(true);
        assertTrue(membership.isPeerLost());
        assertEquals(List.of("back 0", "lost SUSPECT"), events, "partition: the disk says the peer lives");
    }

    @Test
    void aPeerSilentOnLinkAndDiskIsDown() throws Exception
    {
        start(false);
        link.up = true;
        tick(true);
        link.up = false;
        for (int i = 0; i <= TIMEOUT_MS / INTERVAL_MS + 1; i++)
        {
            tick(false);
        }
        assertEquals(Membership.PeerState.DOWN, membership.state());
        assertEquals(List.of("back 0", "lost DOWN"), events);
        link.up = true;
        link.epoch = 9;
        tick(true);
        assertEquals(Membership.PeerState.UP, membership.state());
        assertFalse(membership.isPeerLost());
        assertEquals(List.of("back 0", "lost DOWN", "back 9"), events);
    }

    @Test
    void aLinkThatSaysUpButHearsNothingIsNotTrusted() throws Exception
    {
        start(false);
        link.up = true;
        link.epoch = 5;
        link.lastHeardNs = nowNs;
        tick(true);
        assertEquals(Membership.PeerState.UP, membership.state());
        // the peer dies; the link thread is stalled and never notices: it keeps saying up
        for (int i = 0; i <= TIMEOUT_MS / INTERVAL_MS + 1; i++)
        {
            tick(false);
        }
        assertEquals(Membership.PeerState.DOWN, membership.state());
        assertTrue(membership.isPeerLost(), "WB writes must not wait for a peer that is gone");
        assertEquals(List.of("back 5", "lost DOWN"), events);
        assertEquals(1, errors.size(), "reported once: " + errors);
        link.lastHeardNs = nowNs + TimeUnit.MILLISECONDS.toNanos(INTERVAL_MS); // heard again, same epoch
        tick(true);
        assertEquals(Membership.PeerState.UP, membership.state());
        assertEquals(List.of("back 5", "lost DOWN", "back 5"), events, "back: resync before WB again");
    }

    @Test
    void aControllerAloneHasNoPeerToLose() throws Exception
    {
        start(true);
        for (int i = 0; i < 30; i++)
        {
            tick(false);
        }
        assertEquals(Membership.PeerState.ALONE, membership.state());
        assertTrue(events.isEmpty(), events.toString());
    }

    @Test
    void aTornPeerSlotReadsAsNoNews() throws Exception
    {
        start(false);
        peers.beat(QuorumArea.STATE_UP, 0);
        assertTrue(mine.readPeer().valid());
        try (var channel = java.nio.channels.FileChannel.open(dir.resolve(QuorumArea.FILE_NAME),
            java.nio.file.StandardOpenOption.WRITE))
        {
            channel.write(java.nio.ByteBuffer.wrap(new byte[] {1, 2, 3}), QuorumArea.SLOT_BYTES + 30);
        }
        assertFalse(mine.readPeer().valid(), "a checksum mismatch is not a heartbeat");
    }

    private static final class StubLink extends PeerLink.Disconnected
    {
        boolean up;
        long epoch;
        long lastHeardNs = Long.MAX_VALUE;

        @Override
        public long lastPeerMessageNs()
        {
            return lastHeardNs;
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
