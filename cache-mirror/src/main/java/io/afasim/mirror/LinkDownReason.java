package io.afasim.mirror;

/** Why a {@link Link} left {@link LinkState#UP} (passed to {@link LinkHandler#onPeerDown}). */
public enum LinkDownReason
{
    /** No message from the peer for {@link LinkContext#peerTimeoutNs()}. */
    PEER_TIMEOUT,
    /** The oldest unacknowledged reliable message is older than {@link LinkContext#ackTimeoutNs()}. */
    ACK_TIMEOUT,
    /** The publication lost its subscriber (the peer's process or channel went away). */
    NOT_CONNECTED,
    /** The publication was closed under the link. */
    PUBLICATION_CLOSED,
    /** The publication reached its maximum position. */
    MAX_POSITION_EXCEEDED,
    /** The same peer process started a new epoch (it lost the link first). */
    PEER_NEW_EPOCH,
    /** A new peer process (new instance id) handshook. */
    PEER_RESTARTED,
    /** A reliable message arrived with a sequence gap: the stream cannot be trusted. */
    SEQUENCE_GAP,
    /** The peer acknowledged a sequence that was never sent. */
    PROTOCOL_ERROR,
    /** The ticket counter of this epoch is close to its limit: a new epoch starts a new count. */
    TICKET_SPACE_EXHAUSTED,
    /** The handler threw on a message from the peer: the epoch ends (the message with it) instead of looping. */
    HANDLER_ERROR,
    /**
     * The embedded Aeron client closed itself (its conductor was not run for the client liveness timeout: the
     * process was stopped or starved); driver and client are relaunched and a new epoch starts.
     */
    MEDIA_CLOSED,
    /** {@link Link#close()}. */
    CLOSED
}
