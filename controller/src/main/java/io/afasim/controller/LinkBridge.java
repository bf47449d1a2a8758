package io.afasim.controller;

import java.nio.charset.StandardCharsets;

import io.afasim.mirror.Link;
import io.afasim.mirror.LinkDownReason;
import io.afasim.mirror.LinkHandler;
import io.afasim.mirror.LinkPublisher;
import io.afasim.mirror.MirrorStore;
import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.OwnershipPhase;
import org.agrona.DirectBuffer;

/**
 * The controller's side of the Aeron link ({@link Link}): {@link PeerLink} for the controller's threads (each
 * thread publishes through its own {@link LinkPublisher}, since publishers hold encoder flyweights), and the
 * {@link LinkHandler} that applies the peer's messages on the link thread: mirror copies into the
 * {@link MirrorStore}, forwarded requests to the {@link ForwardTarget}, forwarded replies to the
 * {@link Forwarder}, ownership steps to the volume tasks.
 */
final class LinkBridge implements PeerLink, LinkHandler
{
    private Link link;
    private final MirrorStore mirrorStore;
    private ThreadLocal<LinkPublisher> publishers;
    private Controller controller;
    private volatile Runnable doorbell;
    private final byte[] text = new byte[LinkPublisher.OWNERSHIP_TEXT_LENGTH_MAX];
    private volatile long mirrorOverflowCount;

    LinkBridge(final MirrorStore mirrorStore)
    {
        this.mirrorStore = mirrorStore;
    }

    /** Once, right after the link (which needs this bridge as its handler) is built. */
    void attach(final Link link)
    {
        this.link = link;
        this.publishers = ThreadLocal.withInitial(link::newPublisher);
    }

    /** Before the link thread starts. */
    void controller(final Controller controller)
    {
        this.controller = controller;
    }

    Link link()
    {
        return link;
    }

    MirrorStore mirrorStore()
    {
        return mirrorStore;
    }

    /** Before the link thread starts: rung after every message queued for the peer (the link's wake-up). */
    void doorbell(final Runnable doorbell)
    {
        this.doorbell = doorbell;
    }

    @Override
    public void wakeLinkThread()
    {
        final Runnable bell = doorbell;
        if (bell != null)
        {
            bell.run();
        }
    }

    private long status(final long result)
    {
        if (result >= 0)
        {
            wakeLinkThread();
            return result;
        }
        return result == LinkPublisher.QUEUE_FULL ? QUEUE_FULL : LINK_DOWN;
    }

    // ---------------------------------------------------------------- PeerLink (any thread)

    @Override
    public boolean isUp()
    {
        return link.isUp();
    }

    @Override
    public long lastPeerMessageNs()
    {
        return link.lastPeerMessageNs();
    }

    @Override
    public long epoch()
    {
        return link.epoch();
    }

    @Override
    public long ackedTicket()
    {
        return link.ackedTicket();
    }

    @Override
    public long mirrorPage(
        final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset,
        final DirectBuffer page, final int pageOffset)
    {
        return status(publishers.get().mirrorPage(volumeId, cacheSequence, entry, entryOffset, page, pageOffset));
    }

    @Override
    public long mirrorRecord(final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset)
    {
        return status(publishers.get().mirrorRecord(volumeId, cacheSequence, entry, entryOffset));
    }

    @Override
    public long mirrorInvalidate(final int volumeId, final long cacheSequence)
    {
        return status(publishers.get().mirrorInvalidate(volumeId, cacheSequence));
    }

    @Override
    public long mirrorDiscardVolume(final int volumeId)
    {
        return status(publishers.get().mirrorDiscardVolume(volumeId));
    }

    @Override
    public long forwardRequest(
        final long requestId, final int volumeId, final int command, final int flags, final long offsetBytes,
        final int lengthBytes, final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        final ForwardOp op = ForwardOp.get((short)command);
        return status(publishers.get().forwardRequest(requestId, volumeId, op, flags & LinkPublisher.FLAGS_MASK,
            offsetBytes, lengthBytes, data, dataOffset, dataLength));
    }

    @Override
    public long forwardReply(
        final long requestId, final int status, final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        return status(publishers.get().forwardReply(requestId, status, data, dataOffset, dataLength));
    }

    @Override
    public long ownership(
        final int volumeId, final int fromNode, final int toNode, final int phase, final long taskId, final String reason)
    {
        return status(publishers.get().ownership(volumeId, fromNode, toNode, OwnershipPhase.get((short)phase), taskId,
            reason.length() > LinkPublisher.OWNERSHIP_TEXT_LENGTH_MAX ?
                reason.substring(0, LinkPublisher.OWNERSHIP_TEXT_LENGTH_MAX) : reason));
    }

    // ---------------------------------------------------------------- LinkHandler (link thread)

    @Override
    public void onPeerUp(final long epoch, final int peerNodeId, final long peerInstanceId, final long peerLastReceivedSequence)
    {
        System.out.println("[afasim] link up: epoch " + epoch + ", peer instance " + Long.toHexString(peerInstanceId));
    }

    @Override
    public void onPeerDown(final long epoch, final LinkDownReason reason)
    {
        System.out.println("[afasim] link down: epoch " + epoch + " ended (" + reason + ")");
    }

    @Override
    public boolean onMirrorPage(
        final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset, final int pageOffset)
    {
        if (!mirrorStore.putPage(volumeId, cacheSequence, buffer, entryOffset, buffer, pageOffset))
        {
            if (mirrorOverflowCount++ % 10_000 == 0)
            {
                System.err.println("[afasim] mirror region full: a copy of volume " + volumeId +
                    " waits (refused " + mirrorOverflowCount + " times so far)");
            }
            return false; // not acknowledged: the owner's write waits (its region is no larger than this one)
        }
        return true;
    }

    @Override
    public boolean onMirrorRecord(final int volumeId, final long cacheSequence, final DirectBuffer buffer, final int entryOffset)
    {
        if (!mirrorStore.putRecord(volumeId, cacheSequence, buffer, entryOffset))
        {
            mirrorOverflowCount++;
            return false;
        }
        return true;
    }

    @Override
    public boolean onMirrorMetadata(
        final int volumeId, final int recordType, final DirectBuffer buffer, final int payloadOffset, final int payloadLength)
    {
        return true; // not sent by this build: dedup metadata is made at destage, after the cache (architecture.md)
    }

    @Override
    public boolean onMirrorInvalidate(final int volumeId, final long cacheSequence)
    {
        mirrorStore.invalidate(volumeId, cacheSequence);
        return true;
    }

    @Override
    public boolean onMirrorDiscardVolume(final int volumeId)
    {
        mirrorStore.discardVolume(volumeId);
        return true;
    }

    @Override
    public boolean onResyncBegin(final int volumeId)
    {
        return true;
    }

    @Override
    public boolean onResyncEnd(final int volumeId)
    {
        return true;
    }

    @Override
    public boolean onForwardRequest(
        final long requestId, final int volumeId, final ForwardOp op, final int flags, final long offsetBytes,
        final int lengthBytes, final DirectBuffer buffer, final int dataOffset, final int dataLength)
    {
        controller.forwardTarget().onRequest(requestId, volumeId, op.value(), flags, offsetBytes, lengthBytes,
            buffer, dataOffset, dataLength);
        return true;
    }

    @Override
    public boolean onForwardReply(
        final long requestId, final int status, final DirectBuffer buffer, final int dataOffset, final int dataLength)
    {
        controller.forwarder().onReply(requestId, status, buffer, dataOffset, dataLength);
        return true;
    }

    @Override
    public boolean onOwnership(
        final int volumeId, final int fromNode, final int toNode, final OwnershipPhase phase, final long taskId,
        final DirectBuffer buffer, final int textOffset, final int textLength)
    {
        final int length = Math.min(textLength, text.length);
        buffer.getBytes(textOffset, text, 0, length);
        final String reason = new String(text, 0, length, StandardCharsets.US_ASCII);
        switch (phase)
        {
            case REQUEST:
                return controller.cluster().execute(() -> controller.tasks().onOwnershipRequest(volumeId, taskId, reason));
            case ACCEPTED:
                controller.tasks().onOwnershipAnswer(volumeId, true, reason);
                return true;
            case REFUSED:
                controller.tasks().onOwnershipAnswer(volumeId, false, reason);
                return true;
            default:
                return true;
        }
    }

    long mirrorOverflowCount()
    {
        return mirrorOverflowCount;
    }
}
