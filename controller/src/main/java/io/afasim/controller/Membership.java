package io.afasim.controller;

import java.io.IOException;
import java.util.concurrent.TimeUnit;

import org.agrona.ErrorHandler;

/**
 * Who is in the pair, decided on the cluster agent thread every heartbeat interval from two signals: the
 * Aeron link (heartbeats and acknowledgements, {@link PeerLink#isUp}) and the peer's disk heartbeat in the
 * quorum area ({@link QuorumArea}).
 *
 * <pre>
 *   peer state   link   disk heartbeat          meaning
 *   UP           up     (any)                   mirrored write-back possible
 *   SUSPECT      down   advancing               partition, or the peer is restarting its link
 *   DOWN         down   stopped for the timeout the peer is gone (killed, powered off, hung)
 *   ALONE        -      -                       this controller runs without a peer (afasim.controllers=1)
 * </pre>
 *
 * A link down for {@code peerTimeout} (or a peer DOWN) makes the controller degrade its own WB volumes to
 * 1-way-WB ({@link Listener#onPeerLost}); they keep serving, each a quiesced, traced task. When the link is up
 * again in a new epoch, {@link Listener#onPeerBack} restores WB after resynchronising the mirror. Volumes are
 * owned by exactly one controller and pools are disjoint, so a partition does not endanger data here; taking
 * over a dead peer's volumes (where the tie-break matters) is not built yet.
 */
final class Membership
{
    enum PeerState
    {
        UNKNOWN, UP, SUSPECT, DOWN, ALONE
    }

    interface Listener
    {
        /** The peer cannot mirror (link down for the timeout, or the peer is down). */
        void onPeerLost(PeerState state, String reason);

        /** The link is up in epoch {@code epoch}: WB may resume after a resync. */
        void onPeerBack(long epoch);
    }

    private final QuorumArea quorum;
    private final PeerLink link;
    private final Listener listener;
    private final ErrorHandler errorHandler;
    private final long intervalNs;
    private final long peerTimeoutNs;
    private final boolean alone;
    private long nextBeatNs;
    private long peerCounter = -1;
    private long peerInstanceId;
    private long peerCounterChangedNs;
    private long linkDownSinceNs;
    private boolean linkWasUp;
    private long upEpoch = -1;
    private boolean stalledReported;
    private volatile boolean lostReported;
    private volatile PeerState state = PeerState.UNKNOWN;
    private volatile long lastPeerBeatAgeMs = -1;
    private volatile long peerLostCount;

    Membership(
        final QuorumArea quorum,
        final PeerLink link,
        final Listener listener,
        final ErrorHandler errorHandler,
        final long intervalMs,
        final long peerTimeoutMs,
        final boolean alone,
        final long nowNs)
    {
        this.quorum = quorum;
        this.link = link;
        this.listener = listener;
        this.errorHandler = errorHandler;
        this.intervalNs = TimeUnit.MILLISECONDS.toNanos(intervalMs);
        this.peerTimeoutNs = TimeUnit.MILLISECONDS.toNanos(peerTimeoutMs);
        this.alone = alone;
        this.nextBeatNs = nowNs;
        this.peerCounterChangedNs = nowNs - peerTimeoutNs; // a peer not seen yet counts as silent
        this.linkDownSinceNs = nowNs;
        if (alone)
        {
            state = PeerState.ALONE;
        }
    }

    /** Cluster agent duty cycle: a bounded amount of work once per heartbeat interval. */
    int doWork(final long nowNs)
    {
        if (nextBeatNs - nowNs > 0)
        {
            return 0;
        }
        nextBeatNs = nowNs + intervalNs;
        try
        {
            quorum.beat(QuorumArea.STATE_UP, System.currentTimeMillis());
            if (alone)
            {
                return 1;
            }
            final QuorumArea.PeerSlot slot = quorum.readPeer();
            if (slot.valid() && (slot.counter() != peerCounter || slot.instanceId() != peerInstanceId))
            {
                peerCounter = slot.counter();
                peerInstanceId = slot.instanceId();
                peerCounterChangedNs = nowNs;
            }
            lastPeerBeatAgeMs = slot.valid() ? TimeUnit.NANOSECONDS.toMillis(nowNs - peerCounterChangedNs) : -1;
        }
        catch (final IOException ex)
        {
            errorHandler.onError(ex); // the quorum file is unreadable: counted; the link decides alone meanwhile
        }
        if (!alone)
        {
            decide(nowNs);
        }
        return 1;
    }

    private void decide(final long nowNs)
    {
        final boolean diskAlive = nowNs - peerCounterChangedNs < peerTimeoutNs;
        final long lastHeardNs = link.lastPeerMessageNs();
        final long silentNs = lastHeardNs == Long.MAX_VALUE ? 0 : nowNs - lastHeardNs;
        // the link itself ends an epoch after its own (shorter) peer timeout; one that still says up after a whole
        // membership timeout of silence is stalled, and is not trusted to keep WB writes waiting for the peer
        final boolean stalled = link.isUp() && silentNs > peerTimeoutNs;
        final boolean linkUp = link.isUp() && !stalled;
        if (stalled && !stalledReported)
        {
            stalledReported = true;
            errorHandler.onError(new IllegalStateException("the link says up but has heard nothing from the peer " +
                "for " + TimeUnit.NANOSECONDS.toMillis(silentNs) + " ms: treated as down"));
        }
        else if (!stalled)
        {
            stalledReported = false;
        }
        if (linkUp)
        {
            final long epoch = link.epoch();
            state = PeerState.UP;
            lostReported = false;
            if (!linkWasUp || epoch != upEpoch)
            {
                linkWasUp = true;
                upEpoch = epoch;
                listener.onPeerBack(epoch);
            }
            return;
        }
        if (linkWasUp)
        {
            linkWasUp = false;
            linkDownSinceNs = nowNs;
        }
        state = diskAlive ? PeerState.SUSPECT : PeerState.DOWN;
        if (!lostReported && (!diskAlive || nowNs - linkDownSinceNs >= peerTimeoutNs))
        {
            lostReported = true;
            peerLostCount++;
            listener.onPeerLost(state, diskAlive ?
                "link down for " + TimeUnit.NANOSECONDS.toMillis(nowNs - linkDownSinceNs) + " ms, disk heartbeat alive" :
                "link down and no disk heartbeat for " + TimeUnit.NANOSECONDS.toMillis(peerTimeoutNs) + " ms");
        }
    }

    PeerState state()
    {
        return state;
    }

    /** Milliseconds since the peer's disk heartbeat last advanced (-1: never seen). */
    long lastPeerBeatAgeMs()
    {
        return lastPeerBeatAgeMs;
    }

    /** True while the peer is lost (reported through {@link Listener#onPeerLost}) and not back. */
    boolean isPeerLost()
    {
        return lostReported;
    }

    long peerLostCount()
    {
        return peerLostCount;
    }
}
