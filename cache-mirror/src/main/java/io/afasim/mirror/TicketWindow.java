package io.afasim.mirror;

import java.util.Arrays;

import org.agrona.BitUtil;

/**
 * The link thread's record of the reliable messages it has sent in the current generation (one link epoch)
 * and of which of their tickets the peer has acknowledged. Owned by the link thread; no allocation after
 * construction.
 *
 * <p>A ticket is {@code generation << 44 | count}: producers take {@code count} = 1, 2, 3, ... from one
 * atomic counter <i>after</i> claiming their record in the outbound ring buffer, so tickets reach the link
 * thread almost, but not exactly, in ring (= link sequence) order. The peer acknowledges link sequences
 * cumulatively; this window turns that into "every ticket up to {@link #ackedTicket()} was acknowledged":
 * <pre>
 *   sequence -> ticket        sentTickets[sequence &amp; sentMask], sentNs[...]: at most sentCapacity unacked
 *   acknowledged counts       ackedBits: one bit per count above ackedCount, ticketBitCount wide
 *   ackedCount                highest count such that counts 1..ackedCount are all acknowledged
 * </pre>
 * A ticket taken after its record was claimed can be overtaken only by records already in the ring, so a
 * ticket is never more than {@code sentCapacity + 2 x ringRecordsMax} counts above {@link #ackedTicket()};
 * {@link #ticketBitCountFor} sizes the bitmap for that (the window asserts it).
 */
final class TicketWindow
{
    static final int GENERATION_SHIFT = 44;
    static final long COUNT_MASK = (1L << GENERATION_SHIFT) - 1;
    /** Generations 1..GENERATION_MAX fit the ticket's top 19 bits (and stay positive). */
    static final long GENERATION_MAX = (1L << (Long.SIZE - 1 - GENERATION_SHIFT)) - 1;
    /** The link starts a new generation when the producers' count passes this (far from overflowing). */
    static final long COUNT_RESTART_THRESHOLD = 1L << (GENERATION_SHIFT - 1);

    /** {@link #onAck} results. */
    static final int ACK_OLD = 0;
    static final int ACK_ADVANCED = 1;
    static final int ACK_INVALID = 2;

    /** Smallest record a producer can put in the ring: 8 record header + 8 SBE header + 20 block, aligned. */
    static final int RING_RECORD_LENGTH_MIN = 40;

    private final long[] sentTickets;
    private final long[] sentNs;
    private final int sentMask;
    private final int sentCapacity;
    private final long[] ackedBits;
    private final long ticketBitMask;
    private final long ticketBitCount;
    private long generation;
    private long sentSequence = -1;
    private long ackedSequence = -1;
    private long ackedCount;
    private long lastAckSentNs;

    TicketWindow(final int sentCapacity, final long ticketBitCount)
    {
        if (sentCapacity < 1 || ticketBitCount < 64 || !BitUtil.isPowerOfTwo(ticketBitCount) ||
            ticketBitCount > Integer.MAX_VALUE)
        {
            throw new IllegalArgumentException("sentCapacity=" + sentCapacity + " ticketBitCount=" + ticketBitCount);
        }
        final int sentSlots = BitUtil.findNextPositivePowerOfTwo(sentCapacity);
        this.sentTickets = new long[sentSlots];
        this.sentNs = new long[sentSlots];
        this.sentMask = sentSlots - 1;
        this.sentCapacity = sentCapacity;
        this.ackedBits = new long[(int)(ticketBitCount / Long.SIZE)];
        this.ticketBitCount = ticketBitCount;
        this.ticketBitMask = ticketBitCount - 1;
    }

    /** Bitmap width that no ticket can outrun, for a ring of this capacity and this send window. */
    static long ticketBitCountFor(final int ringCapacityBytes, final int sentCapacity)
    {
        final long ringRecordsMax = ringCapacityBytes / RING_RECORD_LENGTH_MIN;
        return Math.max(64, BitUtil.findNextPositivePowerOfTwo(sentCapacity + 2 * ringRecordsMax + 1_024));
    }

    static long generation(final long ticket)
    {
        return ticket >>> GENERATION_SHIFT;
    }

    static long count(final long ticket)
    {
        return ticket & COUNT_MASK;
    }

    static long ticket(final long generation, final long count)
    {
        assert generation >= 0 && generation <= GENERATION_MAX : "generation=" + generation;
        assert count >= 0 && count <= COUNT_MASK : "count=" + count;
        return generation << GENERATION_SHIFT | count;
    }

    /** Starts a generation: nothing sent, nothing acknowledged. */
    void reset(final long generation)
    {
        if (generation < 1 || generation > GENERATION_MAX)
        {
            throw new IllegalStateException("generation=" + generation + " not in [1, " + GENERATION_MAX + "]");
        }
        this.generation = generation;
        sentSequence = -1;
        ackedSequence = -1;
        ackedCount = 0;
        Arrays.fill(ackedBits, 0L);
    }

    long generation()
    {
        return generation;
    }

    /** The highest ticket of this generation such that it and every lower one were acknowledged. */
    long ackedTicket()
    {
        return ticket(generation, ackedCount);
    }

    long sentSequence()
    {
        return sentSequence;
    }

    long ackedSequence()
    {
        return ackedSequence;
    }

    int unackedCount()
    {
        return (int)(sentSequence - ackedSequence);
    }

    boolean isFull()
    {
        return unackedCount() >= sentCapacity;
    }

    /** The link sequence the next sent message gets. */
    long nextSequence()
    {
        return sentSequence + 1;
    }

    /** Records that the message with this ticket was offered with {@link #nextSequence()}. */
    void onSent(final long ticket, final long nowNs)
    {
        if (generation(ticket) != generation)
        {
            throw new IllegalStateException("ticket generation " + generation(ticket) + " != " + generation);
        }
        final long count = count(ticket);
        if (count <= ackedCount || count - ackedCount > ticketBitCount)
        {
            throw new IllegalStateException("ticket count " + count + " outside (" + ackedCount + ", " +
                (ackedCount + ticketBitCount) + "]");
        }
        if (isFull())
        {
            throw new IllegalStateException("send window full: " + unackedCount());
        }
        sentSequence++;
        final int slot = (int)(sentSequence & sentMask);
        sentTickets[slot] = ticket;
        sentNs[slot] = nowNs;
    }

    /**
     * The peer applied every message up to {@code acknowledgedSequence}.
     *
     * @return {@link #ACK_ADVANCED} (then {@link #lastAckSentNs()} is the send time of that message),
     * {@link #ACK_OLD} (nothing new) or {@link #ACK_INVALID} (beyond what was sent: a protocol error).
     */
    int onAck(final long acknowledgedSequence)
    {
        if (acknowledgedSequence <= ackedSequence)
        {
            return ACK_OLD;
        }
        if (acknowledgedSequence > sentSequence)
        {
            return ACK_INVALID;
        }
        for (long sequence = ackedSequence + 1; sequence <= acknowledgedSequence; sequence++)
        {
            final long count = count(sentTickets[(int)(sequence & sentMask)]);
            assert count > ackedCount && count - ackedCount <= ticketBitCount : "count=" + count;
            final long bit = count & ticketBitMask;
            ackedBits[(int)(bit >>> 6)] |= 1L << bit;
        }
        lastAckSentNs = sentNs[(int)(acknowledgedSequence & sentMask)];
        ackedSequence = acknowledgedSequence;
        while (true)
        {
            final long bit = (ackedCount + 1) & ticketBitMask;
            final int word = (int)(bit >>> 6);
            final long mask = 1L << bit;
            if ((ackedBits[word] & mask) == 0)
            {
                break;
            }
            ackedBits[word] &= ~mask;
            ackedCount++;
        }
        return ACK_ADVANCED;
    }

    long lastAckSentNs()
    {
        return lastAckSentNs;
    }

    /** Send time of the oldest unacknowledged message; only meaningful when {@link #unackedCount()} > 0. */
    long oldestUnackedSentNs()
    {
        return sentNs[(int)((ackedSequence + 1) & sentMask)];
    }
}
