package io.afasim.controller;

import org.agrona.DirectBuffer;

/**
 * The inter-controller link as the controller's threads see it. Any thread may call it; nothing blocks and
 * nothing allocates. A reliable message sent returns a <b>ticket</b> (positive, growing) or a negative status;
 * a ticket is acknowledged once {@link #ackedTicket()} reaches it in the same {@link #epoch()}. Tickets of an
 * epoch that ended are never acknowledged: the peer may not have them.
 */
interface PeerLink
{
    /** The link's outbound queue is full: try again later. */
    long QUEUE_FULL = -1;
    /** No peer connected: the message was not sent. */
    long LINK_DOWN = -2;

    /** No peer: a controller running alone. */
    PeerLink NONE = new Disconnected();

    /** A link that is never up and sends nothing (every send is {@link #LINK_DOWN}); tests override parts. */
    class Disconnected implements PeerLink
    {
        @Override
        public boolean isUp()
        {
            return false;
        }

        @Override
        public long epoch()
        {
            return 0;
        }

        @Override
        public long ackedTicket()
        {
            return 0;
        }

        @Override
        public long mirrorPage(
            final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset,
            final DirectBuffer page, final int pageOffset)
        {
            return LINK_DOWN;
        }

        @Override
        public long mirrorRecord(final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset)
        {
            return LINK_DOWN;
        }

        @Override
        public long mirrorInvalidate(final int volumeId, final long cacheSequence)
        {
            return LINK_DOWN;
        }

        @Override
        public long mirrorDiscardVolume(final int volumeId)
        {
            return LINK_DOWN;
        }

        @Override
        public long forwardRequest(
            final long requestId, final int volumeId, final int command, final int flags, final long offsetBytes,
            final int lengthBytes, final DirectBuffer data, final int dataOffset, final int dataLength)
        {
            return LINK_DOWN;
        }

        @Override
        public long ownership(
            final int volumeId, final int fromNode, final int toNode, final int phase, final long taskId,
            final String text)
        {
            return LINK_DOWN;
        }

        @Override
        public long forwardReply(
            final long requestId, final int status, final DirectBuffer data, final int dataOffset, final int dataLength)
        {
            return LINK_DOWN;
        }
    }

    /** Forwards a host request (or one chunk of it) to the owner; {@code data} only for WRITE. */
    long forwardRequest(
        long requestId, int volumeId, int command, int flags, long offsetBytes, int lengthBytes,
        DirectBuffer data, int dataOffset, int dataLength);

    /** Answers a forwarded request: status (0 or NBD errno) and, for READ and BLOCK_STATUS, its data. */
    long forwardReply(long requestId, int status, DirectBuffer data, int dataOffset, int dataLength);

    /** An ownership message: phase {@link #OWNERSHIP_REQUEST}, {@link #OWNERSHIP_ACCEPTED} or {@link #OWNERSHIP_REFUSED}. */
    long ownership(int volumeId, int fromNode, int toNode, int phase, long taskId, String text);

    int OWNERSHIP_REQUEST = 0;
    int OWNERSHIP_ACCEPTED = 2;
    int OWNERSHIP_REFUSED = 3;

    boolean isUp();

    /** Any thread: wakes the link thread (it has replies to send for requests the peer forwarded here). */
    default void wakeLinkThread()
    {
    }

    /**
     * When the peer was last heard from on the link ({@link System#nanoTime()} scale); {@link Long#MAX_VALUE}
     * when this link cannot tell. A link that says up but has heard nothing for longer than the peer timeout
     * is not trusted (see {@link Membership}).
     */
    default long lastPeerMessageNs()
    {
        return Long.MAX_VALUE;
    }

    long epoch();

    long ackedTicket();

    long mirrorPage(int volumeId, long cacheSequence, DirectBuffer entry, int entryOffset, DirectBuffer page, int pageOffset);

    long mirrorRecord(int volumeId, long cacheSequence, DirectBuffer entry, int entryOffset);

    long mirrorInvalidate(int volumeId, long cacheSequence);

    long mirrorDiscardVolume(int volumeId);
}
