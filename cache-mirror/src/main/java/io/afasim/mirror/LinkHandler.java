package io.afasim.mirror;

import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.OwnershipPhase;
import org.agrona.DirectBuffer;

/**
 * What a controller does with the peer's messages. Every method runs on the link thread, inside
 * {@link Link#doWork}; it must not block, must not keep the buffer (it is Aeron's term buffer or the
 * reassembly buffer, reused after the call) and should not allocate.
 *
 * <p>Reliable messages ({@code boolean} methods): return {@code true} when the message was applied; the link
 * then counts it as received and acknowledges it (cumulatively, at most one Ack per poll). Return
 * {@code false} when it cannot be applied now (a full queue to a volume agent, say): nothing is acknowledged,
 * polling of that stream stops, and the same message is delivered again on a later {@code doWork}. Messages
 * are delivered exactly once each, in the order the peer enqueued them, within one epoch; a new epoch starts
 * with {@link #onPeerUp}, after which the controller resynchronises what was lost.
 *
 * <p>Byte offsets are absolute offsets into {@code buffer}.
 */
public interface LinkHandler
{
    /**
     * The link is up: both sides exchanged handshakes for their current epochs.
     *
     * @param epoch                    this link's new epoch (see {@link Link#epoch()}).
     * @param peerNodeId               0 (A) or 1 (B).
     * @param peerInstanceId           random per peer process start: a new value means a restarted peer.
     * @param peerLastReceivedSequence the highest link sequence the peer received from this node in this
     *                                 node's previous epoch, or -1 (none, or a new peer process).
     */
    void onPeerUp(long epoch, int peerNodeId, long peerInstanceId, long peerLastReceivedSequence);

    /**
     * The link went down; every ticket of {@code epoch} not yet acknowledged is {@link TicketStatus#LOST}.
     * The link reconnects by itself (a new epoch, then {@link #onPeerUp}).
     */
    void onPeerDown(long epoch, LinkDownReason reason);

    /** A page and its 64-byte {@link ChangeEntry}: store both verbatim ({@link NvmeRegion} slot layout). */
    boolean onMirrorPage(int volumeId, long cacheSequence, DirectBuffer buffer, int entryOffset, int pageOffset);

    /** A TRIM / WRITE_ZEROES transaction record: its 64-byte {@link ChangeEntry}. */
    boolean onMirrorRecord(int volumeId, long cacheSequence, DirectBuffer buffer, int entryOffset);

    /** A metadata transaction record (at most {@link LinkPublisher#METADATA_PAYLOAD_LENGTH_MAX} bytes). */
    boolean onMirrorMetadata(int volumeId, int recordType, DirectBuffer buffer, int payloadOffset, int payloadLength);

    /** The owner destaged that change: drop the mirror copy. */
    boolean onMirrorInvalidate(int volumeId, long cacheSequence);

    /** Drop every mirror copy of the volume (before a resync, on delete). */
    boolean onMirrorDiscardVolume(int volumeId);

    boolean onResyncBegin(int volumeId);

    boolean onResyncEnd(int volumeId);

    /**
     * An NBD request forwarded by the non-owner.
     *
     * @param flags {@link LinkPublisher#FLAG_FUA} etc. (NBD_CMD_FLAG_* bits).
     */
    boolean onForwardRequest(
        long requestId, int volumeId, ForwardOp op, int flags, long offsetBytes, int lengthBytes,
        DirectBuffer buffer, int dataOffset, int dataLength);

    /** The owner's answer: status 0 or an NBD errno, read data or block-status extents. */
    boolean onForwardReply(long requestId, int status, DirectBuffer buffer, int dataOffset, int dataLength);

    /** A volume ownership transfer step; the reason is US-ASCII text. */
    boolean onOwnership(
        int volumeId, int fromNode, int toNode, OwnershipPhase phase, long taskId,
        DirectBuffer buffer, int textOffset, int textLength);
}
