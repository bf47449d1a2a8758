package io.afasim.mirror;

import java.nio.ByteOrder;

import io.aeron.logbuffer.ControlledFragmentHandler;
import io.aeron.logbuffer.Header;
import io.afasim.mirror.sbe.AckDecoder;
import io.afasim.mirror.sbe.ForwardOp;
import io.afasim.mirror.sbe.ForwardReplyDecoder;
import io.afasim.mirror.sbe.ForwardRequestDecoder;
import io.afasim.mirror.sbe.HandshakeDecoder;
import io.afasim.mirror.sbe.HeartbeatDecoder;
import io.afasim.mirror.sbe.MessageHeaderDecoder;
import io.afasim.mirror.sbe.MirrorDiscardVolumeDecoder;
import io.afasim.mirror.sbe.MirrorInvalidateDecoder;
import io.afasim.mirror.sbe.MirrorMetadataDecoder;
import io.afasim.mirror.sbe.MirrorPageDecoder;
import io.afasim.mirror.sbe.MirrorRecordDecoder;
import io.afasim.mirror.sbe.OwnershipDecoder;
import io.afasim.mirror.sbe.OwnershipPhase;
import io.afasim.mirror.sbe.ResyncBeginDecoder;
import io.afasim.mirror.sbe.ResyncEndDecoder;
import org.agrona.DirectBuffer;

/**
 * Decodes whole messages from the peer (after the fragment assembler) on the link thread: validates the
 * structure first (schema id, version, template, block length, var-data lengths, enum values: a failure is
 * counted as malformed and dropped), then lets the {@link Link} judge epoch and sequence, then dispatches to
 * the {@link LinkHandler} with absolute offsets into the buffer. Decoders are reused flyweights.
 */
final class LinkAdapter implements ControlledFragmentHandler
{
    static final int MIN_COMPATIBLE_VERSION = 1;

    private static final int HEADER_LENGTH = MessageHeaderDecoder.ENCODED_LENGTH;
    private static final int VAR_HEADER_LENGTH = 4;

    private final Link link;
    private final LinkHandler handler;
    private final MessageHeaderDecoder header = new MessageHeaderDecoder();
    private final HandshakeDecoder handshake = new HandshakeDecoder();
    private final HeartbeatDecoder heartbeat = new HeartbeatDecoder();
    private final AckDecoder ack = new AckDecoder();
    private final MirrorPageDecoder mirrorPage = new MirrorPageDecoder();
    private final MirrorRecordDecoder mirrorRecord = new MirrorRecordDecoder();
    private final MirrorMetadataDecoder mirrorMetadata = new MirrorMetadataDecoder();
    private final MirrorInvalidateDecoder mirrorInvalidate = new MirrorInvalidateDecoder();
    private final MirrorDiscardVolumeDecoder mirrorDiscardVolume = new MirrorDiscardVolumeDecoder();
    private final ResyncBeginDecoder resyncBegin = new ResyncBeginDecoder();
    private final ResyncEndDecoder resyncEnd = new ResyncEndDecoder();
    private final ForwardRequestDecoder forwardRequest = new ForwardRequestDecoder();
    private final ForwardReplyDecoder forwardReply = new ForwardReplyDecoder();
    private final OwnershipDecoder ownership = new OwnershipDecoder();

    LinkAdapter(final Link link, final LinkHandler handler)
    {
        this.link = link;
        this.handler = handler;
    }

    public Action onFragment(final DirectBuffer buffer, final int offset, final int length, final Header aeronHeader)
    {
        if (length < HEADER_LENGTH)
        {
            return malformed();
        }
        header.wrap(buffer, offset);
        final int schemaId = header.schemaId();
        final int version = header.version();
        final int templateId = header.templateId();
        final int blockLength = header.blockLength();
        if (schemaId != MessageHeaderDecoder.SCHEMA_ID || version < MIN_COMPATIBLE_VERSION ||
            version > MessageHeaderDecoder.SCHEMA_VERSION)
        {
            return malformed();
        }
        final int body = offset + HEADER_LENGTH;
        final int end = offset + length;
        if (blockLength < minBlockLength(templateId) || body + blockLength > end)
        {
            return malformed();
        }
        switch (templateId)
        {
            case HandshakeDecoder.TEMPLATE_ID:
                return onHandshake(buffer, body, blockLength, version);
            case HeartbeatDecoder.TEMPLATE_ID:
                heartbeat.wrap(buffer, body, blockLength, version);
                if (!isNode(heartbeat.nodeIdRaw()))
                {
                    return malformed();
                }
                link.onHeartbeat(heartbeat.epoch(), heartbeat.lastReceivedSequence(), heartbeat.nodeIdRaw(), length);
                return Action.CONTINUE;
            case AckDecoder.TEMPLATE_ID:
                ack.wrap(buffer, body, blockLength, version);
                link.onAck(ack.epoch(), ack.ackedSequence(), length);
                return Action.CONTINUE;
            default:
                return onReliable(buffer, body, blockLength, version, templateId, end, length);
        }
    }

    private Action onHandshake(final DirectBuffer buffer, final int body, final int blockLength, final int version)
    {
        handshake.wrap(buffer, body, blockLength, version);
        final short nodeId = handshake.nodeIdRaw();
        final short isReply = handshake.isReplyRaw();
        if (!isNode(nodeId) || (isReply != 0 && isReply != 1))
        {
            return malformed();
        }
        link.onHandshake(
            handshake.epoch(), handshake.instanceId(), handshake.lastReceivedSequence(), handshake.peerEpoch(),
            nodeId, isReply == 1, HEADER_LENGTH + blockLength);
        return Action.CONTINUE;
    }

    /** Every reliable message: structure, then epoch and sequence, then the handler. */
    private Action onReliable(
        final DirectBuffer buffer, final int body, final int blockLength, final int version, final int templateId,
        final int end, final int length)
    {
        final int varLimit = body + blockLength;
        final int varLength;
        switch (templateId)
        {
            case MirrorMetadataDecoder.TEMPLATE_ID:
                varLength = varDataLength(buffer, varLimit, end, LinkPublisher.METADATA_PAYLOAD_LENGTH_MAX);
                break;
            case ForwardRequestDecoder.TEMPLATE_ID:
                varLength = varDataLength(buffer, varLimit, end, LinkPublisher.FORWARD_DATA_LENGTH_MAX);
                if (varLength >= 0 && !isValidForwardRequest(buffer, body))
                {
                    return malformed();
                }
                break;
            case ForwardReplyDecoder.TEMPLATE_ID:
                varLength = varDataLength(buffer, varLimit, end, LinkPublisher.FORWARD_DATA_LENGTH_MAX);
                break;
            case OwnershipDecoder.TEMPLATE_ID:
                varLength = varDataLength(buffer, varLimit, end, LinkPublisher.OWNERSHIP_TEXT_LENGTH_MAX);
                if (varLength >= 0 && !isValidOwnership(buffer, body))
                {
                    return malformed();
                }
                break;
            default:
                varLength = 0;
                break;
        }
        if (varLength < 0)
        {
            return malformed();
        }

        final long epoch = buffer.getLong(body + Link.EPOCH_OFFSET - HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
        final long sequence = buffer.getLong(body + Link.SEQUENCE_OFFSET - HEADER_LENGTH, ByteOrder.LITTLE_ENDIAN);
        final int verdict = link.onReliable(epoch, sequence);
        if (verdict != Link.DELIVER)
        {
            return verdict == Link.DROP ? Action.CONTINUE : Action.BREAK;
        }
        final boolean applied;
        try
        {
            applied = dispatch(buffer, body, blockLength, version, templateId, varLimit, varLength);
        }
        catch (final RuntimeException ex)
        {
            // Aeron would report it and deliver the same message again on every poll: end the epoch instead
            return link.onHandlerError(ex);
        }
        return link.onDelivered(applied, sequence, templateId, length);
    }

    private boolean dispatch(
        final DirectBuffer buffer, final int body, final int blockLength, final int version, final int templateId,
        final int varLimit, final int varLength)
    {
        final int varOffset = varLimit + VAR_HEADER_LENGTH;
        switch (templateId)
        {
            case MirrorPageDecoder.TEMPLATE_ID:
                mirrorPage.wrap(buffer, body, blockLength, version);
                return handler.onMirrorPage(mirrorPage.volumeId(), mirrorPage.cacheSequence(), buffer,
                    body + MirrorPageDecoder.entryEncodingOffset(), body + MirrorPageDecoder.pageEncodingOffset());
            case MirrorRecordDecoder.TEMPLATE_ID:
                mirrorRecord.wrap(buffer, body, blockLength, version);
                return handler.onMirrorRecord(mirrorRecord.volumeId(), mirrorRecord.cacheSequence(), buffer,
                    body + MirrorRecordDecoder.entryEncodingOffset());
            case MirrorMetadataDecoder.TEMPLATE_ID:
                mirrorMetadata.wrap(buffer, body, blockLength, version);
                return handler.onMirrorMetadata(
                    mirrorMetadata.volumeId(), mirrorMetadata.recordType(), buffer, varOffset, varLength);
            case MirrorInvalidateDecoder.TEMPLATE_ID:
                mirrorInvalidate.wrap(buffer, body, blockLength, version);
                return handler.onMirrorInvalidate(mirrorInvalidate.volumeId(), mirrorInvalidate.cacheSequence());
            case MirrorDiscardVolumeDecoder.TEMPLATE_ID:
                mirrorDiscardVolume.wrap(buffer, body, blockLength, version);
                return handler.onMirrorDiscardVolume(mirrorDiscardVolume.volumeId());
            case ResyncBeginDecoder.TEMPLATE_ID:
                resyncBegin.wrap(buffer, body, blockLength, version);
                return handler.onResyncBegin(resyncBegin.volumeId());
            case ResyncEndDecoder.TEMPLATE_ID:
                resyncEnd.wrap(buffer, body, blockLength, version);
                return handler.onResyncEnd(resyncEnd.volumeId());
            case ForwardRequestDecoder.TEMPLATE_ID:
                forwardRequest.wrap(buffer, body, blockLength, version);
                return handler.onForwardRequest(
                    forwardRequest.requestId(), forwardRequest.volumeId(), forwardRequest.op(),
                    forwardRequest.flags().getRaw(), forwardRequest.offsetBytes(), forwardRequest.lengthBytes(),
                    buffer, varOffset, varLength);
            case ForwardReplyDecoder.TEMPLATE_ID:
                forwardReply.wrap(buffer, body, blockLength, version);
                return handler.onForwardReply(
                    forwardReply.requestId(), forwardReply.status(), buffer, varOffset, varLength);
            case OwnershipDecoder.TEMPLATE_ID:
                ownership.wrap(buffer, body, blockLength, version);
                return handler.onOwnership(
                    ownership.volumeId(), ownership.fromNodeRaw(), ownership.toNodeRaw(), ownership.phase(),
                    ownership.taskId(), buffer, varOffset, varLength);
            default:
                throw new IllegalStateException("templateId=" + templateId + " passed validation");
        }
    }

    /** Length of the var data at {@code limit} if its header and bytes lie inside the message, else -1. */
    private static int varDataLength(final DirectBuffer buffer, final int limit, final int end, final int lengthMax)
    {
        if (limit + VAR_HEADER_LENGTH > end)
        {
            return -1;
        }
        final long length = buffer.getInt(limit, ByteOrder.LITTLE_ENDIAN) & 0xFFFF_FFFFL;
        if (length > lengthMax || limit + VAR_HEADER_LENGTH + length > end)
        {
            return -1;
        }
        return (int)length;
    }

    private boolean isValidForwardRequest(final DirectBuffer buffer, final int body)
    {
        final int flags = buffer.getShort(body + ForwardRequestDecoder.flagsEncodingOffset(), ByteOrder.LITTLE_ENDIAN) &
            0xFFFF;
        final short op = (short)(buffer.getByte(body + ForwardRequestDecoder.opEncodingOffset()) & 0xFF);
        return (flags & ~LinkPublisher.FLAGS_MASK) == 0 && forwardOp(op) != null;
    }

    private boolean isValidOwnership(final DirectBuffer buffer, final int body)
    {
        final short from = (short)(buffer.getByte(body + OwnershipDecoder.fromNodeEncodingOffset()) & 0xFF);
        final short to = (short)(buffer.getByte(body + OwnershipDecoder.toNodeEncodingOffset()) & 0xFF);
        final short phase = (short)(buffer.getByte(body + OwnershipDecoder.phaseEncodingOffset()) & 0xFF);
        return isNode(from) && isNode(to) && ownershipPhase(phase) != null;
    }

    private static boolean isNode(final short nodeId)
    {
        return nodeId == 0 || nodeId == 1;
    }

    /** The op for a raw value, or null (the generated {@code ForwardOp.get} throws on unknown values). */
    static ForwardOp forwardOp(final short value)
    {
        switch (value)
        {
            case 0: return ForwardOp.READ;
            case 1: return ForwardOp.WRITE;
            case 3: return ForwardOp.FLUSH;
            case 4: return ForwardOp.TRIM;
            case 6: return ForwardOp.WRITE_ZEROES;
            case 7: return ForwardOp.BLOCK_STATUS;
            default: return null;
        }
    }

    static OwnershipPhase ownershipPhase(final short value)
    {
        switch (value)
        {
            case 0: return OwnershipPhase.REQUEST;
            case 1: return OwnershipPhase.RELEASED;
            case 2: return OwnershipPhase.ACCEPTED;
            case 3: return OwnershipPhase.REFUSED;
            default: return null;
        }
    }

    /** The block length a template needs (its fields at version 1), or MAX_VALUE for an unknown template. */
    static int minBlockLength(final int templateId)
    {
        switch (templateId)
        {
            case HandshakeDecoder.TEMPLATE_ID: return HandshakeDecoder.BLOCK_LENGTH;
            case HeartbeatDecoder.TEMPLATE_ID: return HeartbeatDecoder.BLOCK_LENGTH;
            case AckDecoder.TEMPLATE_ID: return AckDecoder.BLOCK_LENGTH;
            case MirrorPageDecoder.TEMPLATE_ID: return MirrorPageDecoder.BLOCK_LENGTH;
            case MirrorRecordDecoder.TEMPLATE_ID: return MirrorRecordDecoder.BLOCK_LENGTH;
            case MirrorMetadataDecoder.TEMPLATE_ID: return MirrorMetadataDecoder.BLOCK_LENGTH;
            case MirrorInvalidateDecoder.TEMPLATE_ID: return MirrorInvalidateDecoder.BLOCK_LENGTH;
            case MirrorDiscardVolumeDecoder.TEMPLATE_ID: return MirrorDiscardVolumeDecoder.BLOCK_LENGTH;
            case ResyncBeginDecoder.TEMPLATE_ID: return ResyncBeginDecoder.BLOCK_LENGTH;
            case ResyncEndDecoder.TEMPLATE_ID: return ResyncEndDecoder.BLOCK_LENGTH;
            case ForwardRequestDecoder.TEMPLATE_ID: return ForwardRequestDecoder.BLOCK_LENGTH;
            case ForwardReplyDecoder.TEMPLATE_ID: return ForwardReplyDecoder.BLOCK_LENGTH;
            case OwnershipDecoder.TEMPLATE_ID: return OwnershipDecoder.BLOCK_LENGTH;
            default: return Integer.MAX_VALUE;
        }
    }

    private Action malformed()
    {
        link.onMalformed();
        return Action.CONTINUE;
    }
}
