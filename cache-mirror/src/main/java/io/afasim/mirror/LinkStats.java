package io.afasim.mirror;

import java.util.concurrent.atomic.AtomicLongArray;

/**
 * A snapshot of a {@link Link}'s counters and acknowledgement round-trip times, taken by {@link Link#stats()}
 * from any thread. The counters are written by the link thread (single writer, ordered stores) and by
 * producer threads (atomic increments, the {@code *Refusals} ones); a snapshot is not atomic across counters.
 *
 * <p>RTT is measured by the link thread from a reliable message's offer to the arrival of the (cumulative)
 * Ack or Heartbeat that covers it, one sample per acknowledgement that advances: peer link thread, peer
 * handler and both Aeron drivers included, producer queues excluded.
 */
public final class LinkStats
{
    static final int MESSAGES_SENT = 0;
    static final int BYTES_SENT = 1;
    static final int MESSAGES_RECEIVED = 2;
    static final int BYTES_RECEIVED = 3;
    static final int STALE_MESSAGES = 4;
    static final int MALFORMED_MESSAGES = 5;
    static final int BACK_PRESSURE_RETRIES = 6;
    static final int OFFERS_DEFERRED = 7;
    static final int HANDLER_DEFERRALS = 8;
    static final int EPOCHS = 9;
    static final int LINK_DOWNS = 10;
    static final int DEAD_EPOCH_DROPS = 11;
    static final int SEND_WINDOW_FULL = 12;
    static final int QUEUE_FULL_REFUSALS = 13;
    static final int LINK_DOWN_REFUSALS = 14;
    static final int TOO_LONG_REFUSALS = 15;
    static final int ERRORS = 16;
    static final int MEDIA_RELAUNCHES = 17;
    static final int COUNTER_COUNT = 18;

    /** Template ids are below this (schema afasim-link.xml). */
    static final int TEMPLATE_ID_LIMIT = 32;

    private final long[] counters;
    private final long[] sentByTemplateId;
    private final long[] receivedByTemplateId;
    private final long rttCount;
    private final long rttP50Ns;
    private final long rttP99Ns;
    private final long rttMaxNs;

    LinkStats(
        final AtomicLongArray counters,
        final AtomicLongArray sentByTemplateId,
        final AtomicLongArray receivedByTemplateId,
        final long rttCount,
        final long rttP50Ns,
        final long rttP99Ns,
        final long rttMaxNs)
    {
        this.counters = copy(counters);
        this.sentByTemplateId = copy(sentByTemplateId);
        this.receivedByTemplateId = copy(receivedByTemplateId);
        this.rttCount = rttCount;
        this.rttP50Ns = rttP50Ns;
        this.rttP99Ns = rttP99Ns;
        this.rttMaxNs = rttMaxNs;
    }

    private static long[] copy(final AtomicLongArray array)
    {
        final long[] values = new long[array.length()];
        for (int i = 0; i < values.length; i++)
        {
            values[i] = array.get(i);
        }
        return values;
    }

    /** Messages offered to the peer, link control included. */
    public long messagesSent()
    {
        return counters[MESSAGES_SENT];
    }

    public long bytesSent()
    {
        return counters[BYTES_SENT];
    }

    /** Messages received and accepted (stale, malformed and handler-deferred deliveries not counted). */
    public long messagesReceived()
    {
        return counters[MESSAGES_RECEIVED];
    }

    public long bytesReceived()
    {
        return counters[BYTES_RECEIVED];
    }

    /** Messages of an epoch that is not the peer's current one (or duplicates), discarded. */
    public long staleMessages()
    {
        return counters[STALE_MESSAGES];
    }

    /** Messages that failed validation (schema, version, template, lengths, enum values), discarded. */
    public long malformedMessages()
    {
        return counters[MALFORMED_MESSAGES];
    }

    /** Offers retried after BACK_PRESSURED / ADMIN_ACTION. */
    public long backPressureRetries()
    {
        return counters[BACK_PRESSURE_RETRIES];
    }

    /** Outbound messages left at the head of the queue after the retries ran out. */
    public long offersDeferred()
    {
        return counters[OFFERS_DEFERRED];
    }

    /** Deliveries the {@link LinkHandler} refused (returned false) and that were re-delivered later. */
    public long handlerDeferrals()
    {
        return counters[HANDLER_DEFERRALS];
    }

    /** Epochs this link has started. */
    public long epochs()
    {
        return counters[EPOCHS];
    }

    /** Times the link went from UP to down. */
    public long linkDowns()
    {
        return counters[LINK_DOWNS];
    }

    /** Queued reliable messages of a dead epoch, dropped unsent (their tickets are LOST). */
    public long deadEpochDrops()
    {
        return counters[DEAD_EPOCH_DROPS];
    }

    /** Times draining stopped because {@link LinkContext#unackedMessagesMax()} messages were unacknowledged. */
    public long sendWindowFull()
    {
        return counters[SEND_WINDOW_FULL];
    }

    public long queueFullRefusals()
    {
        return counters[QUEUE_FULL_REFUSALS];
    }

    public long linkDownRefusals()
    {
        return counters[LINK_DOWN_REFUSALS];
    }

    public long tooLongRefusals()
    {
        return counters[TOO_LONG_REFUSALS];
    }

    /** Times the embedded media driver and client were relaunched because the client had closed itself. */
    public long mediaRelaunches()
    {
        return counters[MEDIA_RELAUNCHES];
    }

    /** Errors reported by Aeron (driver or client) and unexpected exceptions, each also logged. */
    public long errors()
    {
        return counters[ERRORS];
    }

    public long messagesSent(final int templateId)
    {
        return templateId >= 0 && templateId < TEMPLATE_ID_LIMIT ? sentByTemplateId[templateId] : 0;
    }

    public long messagesReceived(final int templateId)
    {
        return templateId >= 0 && templateId < TEMPLATE_ID_LIMIT ? receivedByTemplateId[templateId] : 0;
    }

    public long rttCount()
    {
        return rttCount;
    }

    public long rttP50Ns()
    {
        return rttP50Ns;
    }

    public long rttP99Ns()
    {
        return rttP99Ns;
    }

    public long rttMaxNs()
    {
        return rttMaxNs;
    }

    @Override
    public String toString()
    {
        return "LinkStats{sent=" + messagesSent() + " (" + bytesSent() + " B), received=" + messagesReceived() +
            " (" + bytesReceived() + " B), stale=" + staleMessages() + ", malformed=" + malformedMessages() +
            ", backPressureRetries=" + backPressureRetries() + ", offersDeferred=" + offersDeferred() +
            ", handlerDeferrals=" + handlerDeferrals() + ", epochs=" + epochs() + ", linkDowns=" + linkDowns() +
            ", deadEpochDrops=" + deadEpochDrops() + ", sendWindowFull=" + sendWindowFull() +
            ", refusals(queueFull=" + queueFullRefusals() + ", linkDown=" + linkDownRefusals() + ", tooLong=" +
            tooLongRefusals() + "), errors=" + errors() + ", rtt(n=" + rttCount + ", p50=" + rttP50Ns / 1_000 +
            " us, p99=" + rttP99Ns / 1_000 + " us, max=" + rttMaxNs / 1_000 + " us)}";
    }
}
