package io.afasim.mirror;

import java.nio.ByteOrder;

import io.afasim.mirror.sbe.AckDecoder;
import io.afasim.mirror.sbe.AckEncoder;
import io.afasim.mirror.sbe.BooleanType;
import io.afasim.mirror.sbe.HandshakeDecoder;
import io.afasim.mirror.sbe.HandshakeEncoder;
import io.afasim.mirror.sbe.HeartbeatDecoder;
import io.afasim.mirror.sbe.HeartbeatEncoder;
import io.afasim.mirror.sbe.MessageHeaderDecoder;
import io.afasim.mirror.sbe.MessageHeaderEncoder;
import io.afasim.mirror.sbe.MirrorPageEncoder;
import io.afasim.mirror.sbe.NodeId;
import org.agrona.concurrent.UnsafeBuffer;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The generated codecs of the link-control messages (the reliable ones round-trip through real links in
 * {@link LinkTest#everyReliableMessageTypeRoundTrips()}), and the schema facts the link relies on.
 */
class LinkCodecTest
{
    private final UnsafeBuffer buffer = new UnsafeBuffer(new byte[256]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final MessageHeaderDecoder headerDecoder = new MessageHeaderDecoder();

    @Test
    void schemaFacts()
    {
        assertEquals(1, MessageHeaderEncoder.SCHEMA_ID);
        assertEquals(1, MessageHeaderEncoder.SCHEMA_VERSION);
        assertEquals(ByteOrder.LITTLE_ENDIAN, MessageHeaderEncoder.BYTE_ORDER);
        // A MirrorPage fits one 8192-byte frame, so 4 KiB mirroring never fragments at the default MTU.
        assertTrue(MessageHeaderEncoder.ENCODED_LENGTH + MirrorPageEncoder.BLOCK_LENGTH <= 8_192 - 32);
        assertEquals(32, MirrorPageEncoder.entryEncodingOffset());
        assertEquals(ChangeEntry.LENGTH_BYTES, MirrorPageEncoder.entryEncodingLength());
        assertEquals(NvmeRegion.BLOCK_SIZE_BYTES, MirrorPageEncoder.pageEncodingLength());
        assertEquals(MirrorPageEncoder.entryEncodingOffset() + ChangeEntry.LENGTH_BYTES,
            MirrorPageEncoder.pageEncodingOffset());
    }

    @Test
    void handshakeRoundTrips()
    {
        new HandshakeEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .epoch(123_456_789_012L).instanceId(-42).lastReceivedSequence(-1).peerEpoch(987_654_321L)
            .nodeId(NodeId.B).isReply(BooleanType.TRUE);
        headerDecoder.wrap(buffer, 0);
        assertEquals(HandshakeDecoder.TEMPLATE_ID, headerDecoder.templateId());
        final HandshakeDecoder decoder = new HandshakeDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
        assertEquals(123_456_789_012L, decoder.epoch());
        assertEquals(-42, decoder.instanceId());
        assertEquals(-1, decoder.lastReceivedSequence());
        assertEquals(987_654_321L, decoder.peerEpoch());
        assertEquals(NodeId.B, decoder.nodeId());
        assertEquals(BooleanType.TRUE, decoder.isReply());
    }

    @Test
    void heartbeatRoundTrips()
    {
        new HeartbeatEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder)
            .epoch(5).sentNs(-77_000_000_000L).lastReceivedSequence(1_000_000).nodeId(NodeId.A);
        final HeartbeatDecoder decoder = new HeartbeatDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
        assertEquals(5, decoder.epoch());
        assertEquals(-77_000_000_000L, decoder.sentNs());
        assertEquals(1_000_000, decoder.lastReceivedSequence());
        assertEquals(NodeId.A, decoder.nodeId());
    }

    @Test
    void ackRoundTrips()
    {
        new AckEncoder().wrapAndApplyHeader(buffer, 0, headerEncoder).epoch(Long.MAX_VALUE).ackedSequence(99);
        final AckDecoder decoder = new AckDecoder().wrapAndApplyHeader(buffer, 0, headerDecoder);
        assertEquals(Long.MAX_VALUE, decoder.epoch());
        assertEquals(99, decoder.ackedSequence());
        assertEquals(MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH,
            MessageHeaderEncoder.ENCODED_LENGTH + decoder.encodedLength());
    }
}
