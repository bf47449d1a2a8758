package io.afasim.mirror;

import java.nio.ByteOrder;

import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.ForwardReplyEncoder;
import io.afasim.mirror.sbe.ForwardRequestEncoder;
import io.afasim.mirror.sbe.MessageHeaderEncoder;
import io.afasim.mirror.sbe.MirrorDiscardVolumeEncoder;
import io.afasim.mirror.sbe.MirrorInvalidateEncoder;
import io.afasim.mirror.sbe.MirrorMetadataEncoder;
import io.afasim.mirror.sbe.MirrorPageEncoder;
import io.afasim.mirror.sbe.MirrorRecordEncoder;
import io.afasim.mirror.sbe.NodeId;
import io.afasim.mirror.sbe.OwnershipEncoder;
import io.afasim.mirror.sbe.OwnershipPhase;
import io.afasim.mirror.sbe.ResyncBeginEncoder;
import io.afasim.mirror.sbe.ResyncEndEncoder;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.AtomicBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

/**
 * Sends reliable messages to the peer from any thread, without locks and without allocation: each call
 * claims a record in the link's outbound ring buffer ({@link ManyToOneRingBuffer#tryClaim}), SBE-encodes the
 * message in place, takes the next ticket and commits; the link thread later stamps the epoch and link
 * sequence and offers it to Aeron.
 *
 * <p>A publisher holds its encoders (flyweights), so one publisher belongs to one thread: get one per
 * producer thread from {@link Link#newPublisher()}; any number of them share the link safely.
 *
 * <p>Every method returns a positive <b>ticket</b>, or a negative status: {@link #LINK_DOWN} (not
 * {@link LinkState#UP}: nothing queued), {@link #QUEUE_FULL} (back-pressure: retry later) or
 * {@link #TOO_LONG}. Test the ticket with {@link Link#ticketStatus(long)} / {@link Link#isAcked(long)}.
 * Arguments that can only be wrong through a bug (a null enum, a node id other than 0 or 1, unknown flag
 * bits) throw {@link IllegalArgumentException}.
 */
public final class LinkPublisher
{
    public static final long LINK_DOWN = -1;
    public static final long QUEUE_FULL = -2;
    public static final long TOO_LONG = -3;

    public static final int FORWARD_DATA_LENGTH_MAX = 1 << 20;
    public static final int METADATA_PAYLOAD_LENGTH_MAX = 4_096;
    public static final int OWNERSHIP_TEXT_LENGTH_MAX = 256;

    /** Forwarded NBD command flags: the NBD_CMD_FLAG_* bit values (schema set ForwardFlags). */
    public static final int FLAG_FUA = 1;
    public static final int FLAG_NO_HOLE = 1 << 1;
    public static final int FLAG_REQ_ONE = 1 << 3;
    public static final int FLAG_FAST_ZERO = 1 << 4;
    public static final int FLAGS_MASK = FLAG_FUA | FLAG_NO_HOLE | FLAG_REQ_ONE | FLAG_FAST_ZERO;

    /** The largest encoded message: a forward with 1 MiB of data. */
    public static final int MESSAGE_LENGTH_MAX = MessageHeaderEncoder.ENCODED_LENGTH +
        Math.max(ForwardRequestEncoder.BLOCK_LENGTH, ForwardReplyEncoder.BLOCK_LENGTH) +
        ForwardRequestEncoder.dataHeaderLength() + FORWARD_DATA_LENGTH_MAX;

    private static final int HEADER_LENGTH = MessageHeaderEncoder.ENCODED_LENGTH;
    private static final int VAR_HEADER_LENGTH = 4;

    private final Link link;
    private final ManyToOneRingBuffer queue;
    private final AtomicBuffer buffer;
    private final MessageHeaderEncoder header = new MessageHeaderEncoder();
    private final MirrorPageEncoder mirrorPage = new MirrorPageEncoder();
    private final MirrorRecordEncoder mirrorRecord = new MirrorRecordEncoder();
    private final MirrorMetadataEncoder mirrorMetadata = new MirrorMetadataEncoder();
    private final MirrorInvalidateEncoder mirrorInvalidate = new MirrorInvalidateEncoder();
    private final MirrorDiscardVolumeEncoder mirrorDiscardVolume = new MirrorDiscardVolumeEncoder();
    private final ResyncBeginEncoder resyncBegin = new ResyncBeginEncoder();
    private final ResyncEndEncoder resyncEnd = new ResyncEndEncoder();
    private final ForwardRequestEncoder forwardRequest = new ForwardRequestEncoder();
    private final ForwardReplyEncoder forwardReply = new ForwardReplyEncoder();
    private final OwnershipEncoder ownership = new OwnershipEncoder();

    LinkPublisher(final Link link)
    {
        this.link = link;
        this.queue = link.outboundQueue();
        this.buffer = queue.buffer();
    }

    /** The link this publisher sends on (for {@link Link#ticketStatus}, {@link Link#isUp()}). */
    public Link link()
    {
        return link;
    }

    /** A page and its 64-byte {@link ChangeEntry} descriptor, as {@link MirrorSink#onPageWritten} hands them. */
    public long mirrorPage(
        final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset,
        final DirectBuffer page, final int pageOffset)
    {
        final int index = claim(MirrorPageEncoder.TEMPLATE_ID, HEADER_LENGTH + MirrorPageEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            mirrorPage.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .cacheSequence(cacheSequence)
                .volumeId(volumeId)
                .putEntry(entry, entryOffset, ChangeEntry.LENGTH_BYTES)
                .putPage(page, pageOffset, NvmeRegion.BLOCK_SIZE_BYTES);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /** A TRIM / WRITE_ZEROES transaction record: its 64-byte {@link ChangeEntry}. */
    public long mirrorRecord(
        final int volumeId, final long cacheSequence, final DirectBuffer entry, final int entryOffset)
    {
        final int index = claim(MirrorRecordEncoder.TEMPLATE_ID, HEADER_LENGTH + MirrorRecordEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            mirrorRecord.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .cacheSequence(cacheSequence)
                .volumeId(volumeId)
                .putEntry(entry, entryOffset, ChangeEntry.LENGTH_BYTES);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /** A metadata transaction record of at most {@link #METADATA_PAYLOAD_LENGTH_MAX} bytes. */
    public long mirrorMetadata(
        final int volumeId, final int recordType, final DirectBuffer payload, final int payloadOffset,
        final int payloadLength)
    {
        if (recordType < 0 || recordType > 0xFFFF)
        {
            throw new IllegalArgumentException("recordType=" + recordType + " not in [0, 65535]");
        }
        if (payloadLength < 0 || payloadLength > METADATA_PAYLOAD_LENGTH_MAX)
        {
            return tooLong();
        }
        final int index = claim(MirrorMetadataEncoder.TEMPLATE_ID,
            HEADER_LENGTH + MirrorMetadataEncoder.BLOCK_LENGTH + VAR_HEADER_LENGTH + payloadLength);
        if (index < 0)
        {
            return index;
        }
        try
        {
            mirrorMetadata.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .volumeId(volumeId)
                .recordType(recordType)
                .putPayload(payload, payloadOffset, payloadLength);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /** The owner destaged the change {@code cacheSequence}: the peer drops its copy. */
    public long mirrorInvalidate(final int volumeId, final long cacheSequence)
    {
        final int index = claim(
            MirrorInvalidateEncoder.TEMPLATE_ID, HEADER_LENGTH + MirrorInvalidateEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            mirrorInvalidate.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .cacheSequence(cacheSequence)
                .volumeId(volumeId);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /** The peer drops every mirror copy of the volume. */
    public long mirrorDiscardVolume(final int volumeId)
    {
        final int index = claim(
            MirrorDiscardVolumeEncoder.TEMPLATE_ID, HEADER_LENGTH + MirrorDiscardVolumeEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            mirrorDiscardVolume.wrapAndApplyHeader(buffer, index, header).epoch(0).sequence(0).volumeId(volumeId);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    public long resyncBegin(final int volumeId)
    {
        final int index = claim(ResyncBeginEncoder.TEMPLATE_ID, HEADER_LENGTH + ResyncBeginEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            resyncBegin.wrapAndApplyHeader(buffer, index, header).epoch(0).sequence(0).volumeId(volumeId);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    public long resyncEnd(final int volumeId)
    {
        final int index = claim(ResyncEndEncoder.TEMPLATE_ID, HEADER_LENGTH + ResyncEndEncoder.BLOCK_LENGTH);
        if (index < 0)
        {
            return index;
        }
        try
        {
            resyncEnd.wrapAndApplyHeader(buffer, index, header).epoch(0).sequence(0).volumeId(volumeId);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /**
     * An NBD request for the owner of the volume.
     *
     * @param flags {@link #FLAG_FUA}, {@link #FLAG_NO_HOLE}, {@link #FLAG_REQ_ONE}, {@link #FLAG_FAST_ZERO}.
     * @param dataLength write data, at most {@link #FORWARD_DATA_LENGTH_MAX} bytes (0 for other commands).
     */
    public long forwardRequest(
        final long requestId, final int volumeId, final ForwardOp op, final int flags, final long offsetBytes,
        final int lengthBytes, final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        if (op == null || op == ForwardOp.NULL_VAL)
        {
            throw new IllegalArgumentException("op=" + op);
        }
        if ((flags & ~FLAGS_MASK) != 0)
        {
            throw new IllegalArgumentException("flags=0x" + Integer.toHexString(flags) + " has unknown bits");
        }
        if (dataLength < 0 || dataLength > FORWARD_DATA_LENGTH_MAX)
        {
            return tooLong();
        }
        final int index = claim(ForwardRequestEncoder.TEMPLATE_ID,
            HEADER_LENGTH + ForwardRequestEncoder.BLOCK_LENGTH + VAR_HEADER_LENGTH + dataLength);
        if (index < 0)
        {
            return index;
        }
        try
        {
            forwardRequest.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .requestId(requestId)
                .offsetBytes(offsetBytes)
                .volumeId(volumeId)
                .lengthBytes(lengthBytes);
            buffer.putShort(index + HEADER_LENGTH + ForwardRequestEncoder.flagsEncodingOffset(), (short)flags,
                ByteOrder.LITTLE_ENDIAN);
            forwardRequest.op(op);
            if (dataLength > 0)
            {
                forwardRequest.putData(data, dataOffset, dataLength);
            }
            else
            {
                forwardRequest.putData(buffer, 0, 0);
            }
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /** The owner's answer to a forwarded request: status 0 or an NBD errno, and read / block-status data. */
    public long forwardReply(
        final long requestId, final int status, final DirectBuffer data, final int dataOffset, final int dataLength)
    {
        if (dataLength < 0 || dataLength > FORWARD_DATA_LENGTH_MAX)
        {
            return tooLong();
        }
        final int index = claim(ForwardReplyEncoder.TEMPLATE_ID,
            HEADER_LENGTH + ForwardReplyEncoder.BLOCK_LENGTH + VAR_HEADER_LENGTH + dataLength);
        if (index < 0)
        {
            return index;
        }
        try
        {
            forwardReply.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .requestId(requestId)
                .status(status);
            if (dataLength > 0)
            {
                forwardReply.putData(data, dataOffset, dataLength);
            }
            else
            {
                forwardReply.putData(buffer, 0, 0);
            }
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    /**
     * A volume ownership transfer step (control plane).
     *
     * @param reason short US-ASCII text (non-ASCII characters become '?'), at most
     *               {@link #OWNERSHIP_TEXT_LENGTH_MAX} characters; null for none.
     */
    public long ownership(
        final int volumeId, final int fromNode, final int toNode, final OwnershipPhase phase, final long taskId,
        final CharSequence reason)
    {
        if (phase == null || phase == OwnershipPhase.NULL_VAL)
        {
            throw new IllegalArgumentException("phase=" + phase);
        }
        final int textLength = reason == null ? 0 : reason.length();
        if (textLength > OWNERSHIP_TEXT_LENGTH_MAX)
        {
            return tooLong();
        }
        final NodeId from = node("fromNode", fromNode);
        final NodeId to = node("toNode", toNode);
        final int index = claim(OwnershipEncoder.TEMPLATE_ID,
            HEADER_LENGTH + OwnershipEncoder.BLOCK_LENGTH + VAR_HEADER_LENGTH + textLength);
        if (index < 0)
        {
            return index;
        }
        try
        {
            ownership.wrapAndApplyHeader(buffer, index, header)
                .epoch(0)
                .sequence(0)
                .taskId(taskId)
                .volumeId(volumeId)
                .fromNode(from)
                .toNode(to)
                .phase(phase)
                .text(reason);
        }
        catch (final Throwable ex)
        {
            queue.abort(index);
            throw ex;
        }
        return commit(index);
    }

    private static NodeId node(final String name, final int nodeId)
    {
        switch (nodeId)
        {
            case 0: return NodeId.A;
            case 1: return NodeId.B;
            default: throw new IllegalArgumentException(name + "=" + nodeId + " not in [0, 1]");
        }
    }

    private long tooLong()
    {
        link.countRefusal(LinkStats.TOO_LONG_REFUSALS);
        return TOO_LONG;
    }

    /** A record index, or LINK_DOWN / QUEUE_FULL (as an int). */
    private int claim(final int templateId, final int length)
    {
        if (!link.isUp())
        {
            link.countRefusal(LinkStats.LINK_DOWN_REFUSALS);
            return (int)LINK_DOWN;
        }
        final int index = queue.tryClaim(templateId, length);
        if (index < 0)
        {
            link.countRefusal(LinkStats.QUEUE_FULL_REFUSALS);
            return (int)QUEUE_FULL;
        }
        return index;
    }

    /**
     * Takes the ticket after the claim (so a ticket is never lost to a failed claim) and stores it where the
     * link sequence goes; the link thread reads it back when it drains the record.
     */
    private long commit(final int index)
    {
        final long ticket = link.nextTicket();
        buffer.putLong(index + Link.SEQUENCE_OFFSET, ticket, ByteOrder.LITTLE_ENDIAN);
        queue.commit(index);
        return ticket;
    }
}
