package io.afasim.controller;

import io.afasim.mirror.MirrorSink;
import org.agrona.DirectBuffer;

/**
 * The cache layer's mirror of one volume (its {@link MirrorSink}): while the volume runs WB, every page and
 * transaction record the write cache makes durable locally goes to the peer through the link, and every change
 * destaged (freed) is invalidated there. Runs on the volume agent's thread.
 *
 * <p>The agent reads {@link #lastTicket()} after putting a request into the cache and acknowledges the request
 * when that ticket is acknowledged in the epoch it was issued in ({@link #isAcknowledged}). A send refused
 * because the link's queue is full sets {@link #sendRefused()}: the agent re-drives the request later (its
 * pages are written again and supersede the first copies). A send refused because the link is down leaves a
 * ticket that is never acknowledged: the request waits until the peer is back (resync) or the volume leaves
 * WB (peer lost), both under quiesce. A lost invalidate marks the mirror stale ({@link #isStale()}), which makes
 * the membership duty resynchronise it.
 */
final class VolumeMirror implements MirrorSink
{
    /** A ticket that is never acknowledged. */
    static final long NEVER = Long.MAX_VALUE;

    private final PeerLink link;
    private volatile boolean active;
    private volatile long activeEpoch;
    private long lastTicket;
    private boolean sendRefused;
    private volatile boolean stale;
    private long sentCount;
    private long refusedCount;
    private long invalidateLostCount;

    VolumeMirror(final PeerLink link)
    {
        this.link = link;
    }

    /** WB from now on, mirroring in {@code epoch} (the agent thread, under quiesce). */
    void activate(final long epoch)
    {
        active = true;
        activeEpoch = epoch;
        stale = false;
    }

    void deactivate()
    {
        active = false;
    }

    boolean isActive()
    {
        return active;
    }

    long activeEpoch()
    {
        return activeEpoch;
    }

    /** Clears the refusal flag before a request goes into the cache. */
    void beginRequest()
    {
        sendRefused = false;
        lastTicket = 0;
    }

    long lastTicket()
    {
        return lastTicket;
    }

    boolean sendRefused()
    {
        return sendRefused;
    }

    /** True when the mirror may hold copies the peer was not told to drop: resynchronise before trusting it. */
    boolean isStale()
    {
        return stale;
    }

    boolean isAcknowledged(final long ticket)
    {
        // acked ticket first, epoch second: the link publishes a new epoch before the new epoch's acked ticket, so a
        // ticket acknowledged only in a later epoch is never taken for one of this epoch
        final long acked = link.ackedTicket();
        return ticket != NEVER && link.epoch() == activeEpoch && acked >= ticket;
    }

    long sentCount()
    {
        return sentCount;
    }

    long refusedCount()
    {
        return refusedCount;
    }

    long invalidateLostCount()
    {
        return invalidateLostCount;
    }

    @Override
    public void onPageWritten(
        final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset,
        final DirectBuffer page, final int pageOffset)
    {
        if (active)
        {
            track(link.mirrorPage(volumeId, sequence, entry, entryOffset, page, pageOffset));
        }
    }

    @Override
    public void onRecordWritten(final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset)
    {
        if (active)
        {
            track(link.mirrorRecord(volumeId, sequence, entry, entryOffset));
        }
    }

    @Override
    public void onReleased(final int volumeId, final long sequence)
    {
        if (active && link.mirrorInvalidate(volumeId, sequence) < 0)
        {
            invalidateLostCount++;
            stale = true;
        }
    }

    private void track(final long ticket)
    {
        if (ticket == PeerLink.QUEUE_FULL)
        {
            sendRefused = true;
            refusedCount++;
        }
        else if (ticket < 0 || link.epoch() != activeEpoch)
        {
            lastTicket = NEVER;
        }
        else
        {
            sentCount++;
            if (lastTicket != NEVER)
            {
                lastTicket = Math.max(lastTicket, ticket);
            }
        }
    }
}
