package io.afasim.mirror;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The ticket window by hand: tickets taken out of ring order, cumulative acks, generations. */
class TicketWindowTest
{
    @Test
    void ticketLayout()
    {
        final long ticket = TicketWindow.ticket(3, 17);
        assertEquals(3, TicketWindow.generation(ticket));
        assertEquals(17, TicketWindow.count(ticket));
        assertTrue(TicketWindow.ticket(TicketWindow.GENERATION_MAX, TicketWindow.COUNT_MASK) > 0);
        assertTrue(TicketWindow.ticket(2, 0) > TicketWindow.ticket(1, TicketWindow.COUNT_MASK));
    }

    @Test
    void cumulativeAcksInOrder()
    {
        final TicketWindow window = new TicketWindow(4, 64);
        window.reset(1);
        assertEquals(TicketWindow.ticket(1, 0), window.ackedTicket());
        for (int n = 1; n <= 4; n++)
        {
            assertEquals(n - 1, window.nextSequence());
            window.onSent(TicketWindow.ticket(1, n), 1_000 + n);
        }
        assertTrue(window.isFull());
        assertEquals(1_001, window.oldestUnackedSentNs());
        assertEquals(TicketWindow.ACK_OLD, window.onAck(-1));
        assertEquals(TicketWindow.ACK_INVALID, window.onAck(4));
        assertEquals(TicketWindow.ACK_ADVANCED, window.onAck(1));
        assertEquals(1_002, window.lastAckSentNs());
        assertEquals(TicketWindow.ticket(1, 2), window.ackedTicket());
        assertEquals(2, window.unackedCount());
        assertEquals(TicketWindow.ACK_OLD, window.onAck(1));
        assertEquals(TicketWindow.ACK_ADVANCED, window.onAck(3));
        assertEquals(TicketWindow.ticket(1, 4), window.ackedTicket());
        assertEquals(0, window.unackedCount());

        window.reset(2);
        assertEquals(TicketWindow.ticket(2, 0), window.ackedTicket());
        assertThrows(IllegalStateException.class, () -> window.onSent(TicketWindow.ticket(1, 5), 0));
    }

    @Test
    void ackedTicketIsTheHighestWithEveryLowerOneAcked()
    {
        final long seed = TestSupport.seed("TicketWindowTest.outOfOrder");
        final Random random = new Random(seed);
        for (int round = 0; round < 50; round++)
        {
            final int count = 1 + random.nextInt(3_000);
            final int displacement = 1 + random.nextInt(40);
            // Ring order = send order; tickets 1..count shuffled locally (producers take them after claiming).
            final List<Long> ringOrder = new ArrayList<>();
            for (long n = 1; n <= count; n++)
            {
                ringOrder.add(n);
            }
            for (int start = 0; start < count; start += displacement)
            {
                Collections.shuffle(ringOrder.subList(start, Math.min(count, start + displacement)), random);
            }
            final int sentCapacity = 1 + random.nextInt(256);
            final TicketWindow window = new TicketWindow(sentCapacity, 1_024);
            window.reset(5);
            final boolean[] acked = new boolean[count + 2];
            int sent = 0;
            while (window.ackedSequence() < count - 1)
            {
                if (sent < count && !window.isFull() && random.nextInt(3) != 0)
                {
                    window.onSent(TicketWindow.ticket(5, ringOrder.get(sent)), sent);
                    sent++;
                    continue;
                }
                if (window.unackedCount() == 0)
                {
                    continue;
                }
                final long ackTo = window.ackedSequence() + 1 + random.nextInt(window.unackedCount());
                assertEquals(TicketWindow.ACK_ADVANCED, window.onAck(ackTo));
                for (long s = 0; s <= ackTo; s++)
                {
                    acked[(int)(long)ringOrder.get((int)s)] = true;
                }
                long expected = 0;
                while (acked[(int)expected + 1])
                {
                    expected++;
                }
                assertEquals(TicketWindow.ticket(5, expected), window.ackedTicket(),
                    "seed " + seed + " round " + round + " ackTo " + ackTo);
            }
            assertEquals(TicketWindow.ticket(5, count), window.ackedTicket());
        }
    }

    @Test
    void bitmapCoversTheSendWindowAndTwoRingsOfRecords()
    {
        final long bits = TicketWindow.ticketBitCountFor(16 << 20, 16_384);
        assertTrue(bits >= 16_384 + 2L * (16 << 20) / TicketWindow.RING_RECORD_LENGTH_MIN);
        assertEquals(Long.bitCount(bits), 1);
        // The smallest reliable record really is that long: ring header + SBE header + block, 8-aligned.
        final int smallest = org.agrona.BitUtil.align(8 + io.afasim.mirror.sbe.MessageHeaderEncoder.ENCODED_LENGTH +
            io.afasim.mirror.sbe.MirrorDiscardVolumeEncoder.BLOCK_LENGTH, 8);
        assertEquals(TicketWindow.RING_RECORD_LENGTH_MIN, smallest);
        assertEquals(io.afasim.mirror.sbe.MirrorDiscardVolumeEncoder.BLOCK_LENGTH,
            io.afasim.mirror.sbe.ResyncBeginEncoder.BLOCK_LENGTH);
        assertThrows(IllegalStateException.class, () -> new TicketWindow(4, 64).reset(0));
    }
}
