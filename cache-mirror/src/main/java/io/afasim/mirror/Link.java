package io.afasim.mirror;

import java.nio.ByteOrder;
import java.util.Objects;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicLongArray;

import io.aeron.Aeron;
import io.aeron.ControlledFragmentAssembler;
import io.aeron.ExclusivePublication;
import io.aeron.Publication;
import io.aeron.Subscription;
import io.aeron.driver.MediaDriver;
import io.aeron.driver.ThreadingMode;
import io.aeron.logbuffer.ControlledFragmentHandler.Action;
import io.afasim.mirror.sbe.AckDecoder;
import io.afasim.mirror.sbe.AckEncoder;
import io.afasim.mirror.sbe.BooleanType;
import io.afasim.mirror.sbe.ForwardReplyEncoder;
import io.afasim.mirror.sbe.ForwardRequestEncoder;
import io.afasim.mirror.sbe.HandshakeDecoder;
import io.afasim.mirror.sbe.HandshakeEncoder;
import io.afasim.mirror.sbe.HeartbeatDecoder;
import io.afasim.mirror.sbe.HeartbeatEncoder;
import io.afasim.mirror.sbe.MessageHeaderEncoder;
import io.afasim.mirror.sbe.MirrorDiscardVolumeEncoder;
import io.afasim.mirror.sbe.MirrorInvalidateEncoder;
import io.afasim.mirror.sbe.MirrorMetadataEncoder;
import io.afasim.mirror.sbe.MirrorPageEncoder;
import io.afasim.mirror.sbe.MirrorRecordEncoder;
import io.afasim.mirror.sbe.NodeId;
import io.afasim.mirror.sbe.OwnershipEncoder;
import io.afasim.mirror.sbe.ResyncBeginEncoder;
import io.afasim.mirror.sbe.ResyncEndEncoder;
import org.HdrHistogram.Histogram;
import org.HdrHistogram.Recorder;
import org.agrona.BufferUtil;
import org.agrona.CloseHelper;
import org.agrona.DirectBuffer;
import org.agrona.MutableDirectBuffer;
import org.agrona.concurrent.AgentInvoker;
import org.agrona.concurrent.ControlledMessageHandler;
import org.agrona.concurrent.UnsafeBuffer;
import org.agrona.concurrent.ringbuffer.ManyToOneRingBuffer;

/**
 * The inter-controller link: one Aeron publication to the peer and one subscription on this node's
 * endpoint, driven by ONE thread (the controller's link agent, see {@link LinkAgent}) through
 * {@link #doWork(long)}. It embeds its own media driver in {@link ThreadingMode#INVOKER} mode (its own aeron
 * dir, deleted on start and close, tuned liveness timeouts) and runs the driver and the client conductor on
 * that thread: the link adds no thread, and no other thread touches Aeron.
 *
 * <h2>States and epochs</h2>
 * <pre>
 *   DOWN --first doWork--> CONNECTING --handshakes exchanged--> UP
 *     ^                         |                                |
 *     +----- loss: onPeerDown (if UP), new epoch, close and re-add the publication
 * </pre>
 * Each start of CONNECTING begins a new <b>generation</b> g = 1, 2, ...; the link's <b>epoch</b> is
 * {@code epochBase + g}, where the default base is the wall clock in ms shifted left 20 bits, so a restarted
 * process never reuses an epoch. Every message carries its sender's epoch. A Handshake carries the sender's
 * epoch, its instance id, the highest sequence it received in the previous pairing and the receiver's epoch
 * as the sender knows it ({@code peerEpoch}); a side is UP once it knows the peer's current epoch and has
 * received a Handshake naming its own current epoch. A Handshake with a higher epoch while UP (the peer lost
 * the link, or a new peer process) takes this side down too, then both handshake again. Anything else from
 * an epoch that is not the peer's current one, or before the handshake, is stale: counted and dropped.
 *
 * <h2>Tickets and acknowledgement</h2>
 * Producers ({@link LinkPublisher}, any thread) put reliable messages in a bounded ring buffer and get a
 * ticket {@code g << 44 | n} (n = 1, 2, ... in generation g). The link thread drains the ring in order:
 * messages of a dead generation are dropped unsent; the others get the epoch and the next link sequence and
 * are offered. The peer acknowledges sequences cumulatively (Ack after each poll batch, and every
 * Heartbeat); {@link TicketWindow} turns that into {@link #ackedTicket()}: every ticket of the current
 * generation up to it was applied by the peer. {@link #ticketStatus(long)} answers ACKED / PENDING / LOST
 * for any ticket: a ticket of an earlier generation is ACKED only if it was acknowledged before its
 * generation ended (remembered for the last {@value #GENERATION_HISTORY} generations, LOST beyond), so a
 * ticket of a dead epoch is never reported acknowledged afterwards.
 *
 * <h2>Loss</h2>
 * The link goes down when nothing came from the peer for {@code peerTimeout}, the oldest unacknowledged
 * message is older than {@code ackTimeout}, the publication reports NOT_CONNECTED (while UP), CLOSED or
 * MAX_POSITION_EXCEEDED, or the peer's stream shows a sequence gap. Offers refused with BACK_PRESSURED /
 * ADMIN_ACTION are retried a bounded number of times (the driver is invoked between tries); then the message
 * stays at the head of the ring for the next {@code doWork}.
 */
public final class Link implements AutoCloseable
{
    /** Where epoch and link sequence sit in every reliable message, from the start of the SBE header. */
    static final int EPOCH_OFFSET = MessageHeaderEncoder.ENCODED_LENGTH;
    static final int SEQUENCE_OFFSET = MessageHeaderEncoder.ENCODED_LENGTH + Long.BYTES;

    /** Generations whose final acknowledged ticket is remembered for {@link #ticketStatus}. */
    static final int GENERATION_HISTORY = 16;
    /**
     * Reliable messages per conversation window above which the link is streaming, not conversing. WB at iodepth 1
     * sends about 8-10 pages per ms, at iodepth 32 about 25-30 (measured: 12 kept iodepth 1 at 73-75 µs p50 and
     * took iodepth 32 from 23-25 k to 29-30 k IOPS against 32; 6 doubled the iodepth 1 p50).
     */
    static final int CONVERSATION_MESSAGES_MAX = 12;

    /** {@link #onReliable} verdicts. */
    static final int DELIVER = 0;
    static final int DROP = 1;
    static final int STOP = 2;

    /** RTT histogram range: 1 ns .. 60 s, 3 significant digits. */
    private static final long RTT_NS_MAX = 60_000_000_000L;
    private static final long NULL_EPOCH = -1;
    private static final long NULL_SEQUENCE = -1;
    private static final int CONTROL_BUFFER_LENGTH = 256;

    static
    {
        requireReliableLayout("MirrorPage", MirrorPageEncoder.epochEncodingOffset(),
            MirrorPageEncoder.sequenceEncodingOffset());
        requireReliableLayout("MirrorRecord", MirrorRecordEncoder.epochEncodingOffset(),
            MirrorRecordEncoder.sequenceEncodingOffset());
        requireReliableLayout("MirrorMetadata", MirrorMetadataEncoder.epochEncodingOffset(),
            MirrorMetadataEncoder.sequenceEncodingOffset());
        requireReliableLayout("MirrorInvalidate", MirrorInvalidateEncoder.epochEncodingOffset(),
            MirrorInvalidateEncoder.sequenceEncodingOffset());
        requireReliableLayout("MirrorDiscardVolume", MirrorDiscardVolumeEncoder.epochEncodingOffset(),
            MirrorDiscardVolumeEncoder.sequenceEncodingOffset());
        requireReliableLayout("ResyncBegin", ResyncBeginEncoder.epochEncodingOffset(),
            ResyncBeginEncoder.sequenceEncodingOffset());
        requireReliableLayout("ResyncEnd", ResyncEndEncoder.epochEncodingOffset(),
            ResyncEndEncoder.sequenceEncodingOffset());
        requireReliableLayout("ForwardRequest", ForwardRequestEncoder.epochEncodingOffset(),
            ForwardRequestEncoder.sequenceEncodingOffset());
        requireReliableLayout("ForwardReply", ForwardReplyEncoder.epochEncodingOffset(),
            ForwardReplyEncoder.sequenceEncodingOffset());
        requireReliableLayout("Ownership", OwnershipEncoder.epochEncodingOffset(),
            OwnershipEncoder.sequenceEncodingOffset());
        if (HandshakeEncoder.epochEncodingOffset() != 0 || HeartbeatEncoder.epochEncodingOffset() != 0 ||
            AckEncoder.epochEncodingOffset() != 0)
        {
            throw new IllegalStateException("afasim-link.xml: epoch must be at offset 0 of every message");
        }
    }

    private static void requireReliableLayout(final String name, final int epochOffset, final int sequenceOffset)
    {
        if (epochOffset != 0 || sequenceOffset != Long.BYTES)
        {
            throw new IllegalStateException("afasim-link.xml: " + name + " must start with epoch (offset 0) and " +
                "sequence (offset 8), has " + epochOffset + " and " + sequenceOffset);
        }
    }

    // ---- shared with producer threads and observers (volatile / atomic)
    private final ManyToOneRingBuffer outboundQueue;
    private final AtomicLong ticketCounter = new AtomicLong();
    private final AtomicLongArray finalAckedTicketByGeneration = new AtomicLongArray(GENERATION_HISTORY);
    private final AtomicLongArray counters = new AtomicLongArray(LinkStats.COUNTER_COUNT);
    private final AtomicLongArray sentByTemplateId = new AtomicLongArray(LinkStats.TEMPLATE_ID_LIMIT);
    private final AtomicLongArray receivedByTemplateId = new AtomicLongArray(LinkStats.TEMPLATE_ID_LIMIT);
    private final Recorder rttRecorder = new Recorder(RTT_NS_MAX, 3);
    private final Object statsLock = new Object();
    private volatile LinkState state = LinkState.DOWN;
    private volatile long epoch;
    private volatile long ackedTicket;
    private volatile boolean partitioned;
    private volatile boolean deaf;
    private Histogram rttInterval;
    private Histogram rttTotal = new Histogram(RTT_NS_MAX, 3);

    // ---- the link thread's
    private final LinkContext ctx;
    private final LinkHandler handler;
    private final int peerNodeId;
    private MediaDriver driver;
    private Aeron aeron;
    private AgentInvoker driverInvoker;
    private final LinkWakeup wakeup;
    private AgentInvoker conductorInvoker;
    private final ControlledFragmentAssembler assembler;
    private final ControlledMessageHandler outboundHandler = this::onOutbound;
    private final TicketWindow window;
    private final UnsafeBuffer controlBuffer = new UnsafeBuffer(new byte[CONTROL_BUFFER_LENGTH]);
    private final MessageHeaderEncoder headerEncoder = new MessageHeaderEncoder();
    private final HandshakeEncoder handshakeEncoder = new HandshakeEncoder();
    private final HeartbeatEncoder heartbeatEncoder = new HeartbeatEncoder();
    private final AckEncoder ackEncoder = new AckEncoder();
    private ExclusivePublication publication;
    private Subscription subscription;
    private long generation;
    private long nowNs;
    private long knownPeerEpoch = NULL_EPOCH;
    private long peerInstanceId;
    private long peerLastReceivedSequence = NULL_SEQUENCE;
    private long receivedSequence = NULL_SEQUENCE;
    private long lastAckSentSequence = NULL_SEQUENCE;
    private long previousReceivedSequence = NULL_SEQUENCE;
    private long lastPeerMessageNs;
    /** {@link #lastPeerMessageNs} for other threads, once per duty cycle. */
    private volatile long lastPeerMessageNsPublished;
    /** A reliable message was last sent or applied at this time (the conversation window runs from it). */
    private long lastReliableNs = Long.MIN_VALUE / 2;
    private long conversationWindowStartNs = Long.MIN_VALUE / 2;
    private int windowReliableCount;
    private int previousWindowReliableCount;
    private long nextHeartbeatNs;
    private long nextHandshakeNs;
    private boolean offeredInThisCycle;
    private LinkDownReason pendingLoss;
    /** After a failed (re)connection attempt (e.g. the local endpoint is in use): not before this time again. */
    private long retryNotBeforeNs;
    private volatile String lastConnectError;
    private int connectFailureCount;

    /**
     * Launches the embedded media driver (INVOKER mode) and connects the client; the channels are opened by the
     * first {@link #doWork}. The caller then hands the link to its one thread (starting an
     * {@link org.agrona.concurrent.AgentRunner} publishes it safely).
     */
    public Link(final LinkContext ctx, final LinkHandler handler)
    {
        this.ctx = ctx.conclude();
        this.handler = Objects.requireNonNull(handler, "handler");
        this.peerNodeId = ctx.peerNodeId();
        this.outboundQueue = new ManyToOneRingBuffer(new UnsafeBuffer(
            BufferUtil.allocateDirectAligned(ctx.outboundQueueBufferLength(), 64)));
        this.window = new TicketWindow(ctx.unackedMessagesMax(),
            TicketWindow.ticketBitCountFor(ctx.outboundQueueCapacity(), ctx.unackedMessagesMax()));
        this.assembler = new ControlledFragmentAssembler(
            new LinkAdapter(this, handler), LinkPublisher.MESSAGE_LENGTH_MAX, false);

        this.wakeup = new LinkWakeup();
        launchMedia();
    }

    /** The embedded media driver (INVOKER mode, its directory deleted first) and the client connected to it. */
    private void launchMedia()
    {
        final MediaDriver.Context driverContext = wakeup.applyTo(new MediaDriver.Context())
            .aeronDirectoryName(ctx.aeronDirectoryName())
            .threadingMode(ThreadingMode.INVOKER)
            .asyncExecutorEnabled(false) // else the driver starts an "aeron-executor" thread of its own
            .dirDeleteOnStart(true)
            .dirDeleteOnShutdown(true)
            .warnIfDirectoryExists(false)
            .mtuLength(ctx.mtuLength())
            .publicationTermBufferLength(ctx.termLength())
            .initialWindowLength(ctx.receiverWindow())
            .socketRcvbufLength(ctx.receiverWindow())
            .socketSndbufLength(ctx.receiverWindow())
            .clientLivenessTimeoutNs(ctx.clientLivenessTimeoutNs())
            .imageLivenessTimeoutNs(ctx.imageLivenessTimeoutNs())
            .publicationConnectionTimeoutNs(ctx.publicationConnectionTimeoutNs())
            .timerIntervalNs(ctx.timerIntervalNs())
            .statusMessageTimeoutNs(ctx.statusMessageTimeoutNs())
            .errorHandler(this::onError);
        final MediaDriver launched = MediaDriver.launch(driverContext);
        try
        {
            aeron = Aeron.connect(new Aeron.Context()
                .aeronDirectoryName(launched.aeronDirectoryName())
                .driverAgentInvoker(launched.sharedAgentInvoker())
                .useConductorAgentInvoker(true)
                .errorHandler(this::onError)
                .subscriberErrorHandler(this::onError));
        }
        catch (final RuntimeException ex)
        {
            CloseHelper.quietClose(launched);
            throw ex;
        }
        driver = launched;
        driverInvoker = launched.sharedAgentInvoker();
        conductorInvoker = aeron.conductorAgentInvoker();
    }

    /**
     * The client closed itself (its conductor was not run for {@link LinkContext#clientLivenessTimeoutNs()}: the
     * process was stopped or starved, e.g. SIGSTOP or a VM pause): it cannot add a publication again, so the link
     * would stay down for good. Closes channels, client and driver, launches both again and starts a new epoch
     * (the handler hears of the loss if the link was up). A failed launch is retried after a heartbeat interval.
     */
    private void relaunchMedia()
    {
        if (leaveUp(LinkDownReason.MEDIA_CLOSED))
        {
            advanceGeneration(); // the loss first, whatever the relaunch does: its tickets are LOST now
        }
        CloseHelper.quietCloseAll(publication, subscription, aeron, driver);
        wakeup.releaseClosedSockets(); // else the old sockets keep their ports until the next wait
        publication = null;
        subscription = null;
        increment(LinkStats.MEDIA_RELAUNCHES);
        try
        {
            launchMedia();
        }
        catch (final RuntimeException ex)
        {
            retryNotBeforeNs = nowNs + ctx.heartbeatIntervalNs();
            onError(ex);
            return;
        }
        System.err.println("[afasim-link node=" + ctx.nodeId() + "] the Aeron client had closed itself (not run for " +
            TimeUnit.NANOSECONDS.toMillis(ctx.clientLivenessTimeoutNs()) + " ms or more): driver and client relaunched");
        tryStartEpoch(null);
    }

    // ------------------------------------------------------------------------------------------------------
    // Any thread

    /** A publisher for one producer thread. */
    public LinkPublisher newPublisher()
    {
        return new LinkPublisher(this);
    }

    public LinkState state()
    {
        return state;
    }

    public boolean isUp()
    {
        return state == LinkState.UP;
    }

    /**
     * Any thread: when the peer was last heard from (any message from the current peer process, on the link
     * thread's clock; 0 before the first). Lets a watcher tell a link that says UP but hears nothing (a stalled
     * link thread) from a live one.
     */
    public long lastPeerMessageNs()
    {
        return lastPeerMessageNsPublished;
    }

    /** This link's current epoch (0 before the first {@link #doWork}; after {@link #close()}, one past the last). */
    public long epoch()
    {
        return epoch;
    }

    /**
     * The highest ticket of the current epoch such that it and every earlier ticket of the epoch were applied
     * by the peer. Compare only with tickets of the same epoch; {@link #ticketStatus} / {@link #isAcked} do that
     * for you with one read. A caller that compares by hand must read {@code ackedTicket()} <b>before</b>
     * {@link #epoch()} ({@code t <= ackedTicket() && epoch() == epochAtSend}): read the other way round, a
     * thread paused between the two reads across a loss could pair the old epoch with the new epoch's
     * ackedTicket, which exceeds every ticket of the dead epoch.
     */
    public long ackedTicket()
    {
        return ackedTicket;
    }

    /** What became of the message with this ticket (a positive value {@link LinkPublisher} returned). */
    public TicketStatus ticketStatus(final long ticket)
    {
        if (ticket <= 0)
        {
            throw new IllegalArgumentException("ticket=" + ticket + " is a status, not a ticket");
        }
        final long acked = ackedTicket;
        final long ticketGeneration = TicketWindow.generation(ticket);
        final long ackedGeneration = TicketWindow.generation(acked);
        if (ticketGeneration == ackedGeneration)
        {
            return ticket <= acked ? TicketStatus.ACKED : TicketStatus.PENDING;
        }
        if (ticketGeneration > ackedGeneration)
        {
            throw new IllegalArgumentException("ticket=" + ticket + " is from generation " + ticketGeneration +
                " > current " + ackedGeneration + " (not a ticket of this link)");
        }
        final long finalAcked = finalAckedTicketByGeneration.get((int)(ticketGeneration % GENERATION_HISTORY));
        return TicketWindow.generation(finalAcked) == ticketGeneration && ticket <= finalAcked ?
            TicketStatus.ACKED : TicketStatus.LOST;
    }

    public boolean isAcked(final long ticket)
    {
        return ticketStatus(ticket) == TicketStatus.ACKED;
    }

    /** Counters and RTT percentiles (allocates: not for the data path). */
    public LinkStats stats()
    {
        synchronized (statsLock)
        {
            rttInterval = rttRecorder.getIntervalHistogram(rttInterval);
            rttTotal.add(rttInterval);
            return new LinkStats(counters, sentByTemplateId, receivedByTemplateId, rttTotal.getTotalCount(),
                rttTotal.getValueAtPercentile(50), rttTotal.getValueAtPercentile(99), rttTotal.getMaxValue());
        }
    }

    /** Forgets the RTT samples so far (e.g. after a warm-up). */
    public void resetRtt()
    {
        synchronized (statsLock)
        {
            rttInterval = rttRecorder.getIntervalHistogram(rttInterval);
            rttTotal.reset();
        }
    }

    public int nodeId()
    {
        return ctx.nodeId();
    }

    public LinkContext context()
    {
        return ctx;
    }

    /** The fault injected: {@code partition}, {@code deaf} or {@code none}. Any thread. */
    public String fault()
    {
        return partitioned ? "partition" : deaf ? "deaf" : "none";
    }

    /**
     * Fault injection ({@code afactl fault link partition}): while partitioned the link neither polls nor sends
     * anything, as if the network between the controllers were cut; the driver still runs. Any thread.
     */
    public void partitioned(final boolean partitioned)
    {
        this.partitioned = partitioned;
    }

    /**
     * Fault injection ({@code afactl fault link deaf}): while deaf the link sends as usual but polls nothing (a
     * one-way loss: the peer keeps hearing this side, this side hears nothing). Any thread.
     */
    public void deaf(final boolean deaf)
    {
        this.deaf = deaf;
    }

    ManyToOneRingBuffer outboundQueue()
    {
        return outboundQueue;
    }

    long nextTicket()
    {
        return ticketCounter.incrementAndGet();
    }

    void countRefusal(final int counter)
    {
        counters.incrementAndGet(counter);
    }

    // ------------------------------------------------------------------------------------------------------
    // The link thread

    /**
     * One duty cycle: run the driver and client conductor, poll the peer's messages, acknowledge, heartbeat
     * or handshake, drain the outbound queue, check timeouts, recover from a loss.
     *
     * @param nowNs the caller's clock (System.nanoTime() scale), read once per cycle.
     * @return work done; 0 when idle, so the caller's idle strategy can back off.
     */
    public int doWork(final long nowNs)
    {
        if (state == LinkState.CLOSED)
        {
            return 0;
        }
        this.nowNs = nowNs;
        offeredInThisCycle = false;
        if (aeron.isClosed() || conductorInvoker.isClosed() || driverInvoker.isClosed())
        {
            if (retryNotBeforeNs - nowNs > 0)
            {
                return 0; // a relaunch failed: the next try waits (the idle strategy parks meanwhile)
            }
            relaunchMedia();
            return 1;
        }
        int workCount = driverInvoker.invoke() + conductorInvoker.invoke();
        if (state == LinkState.DOWN)
        {
            if (retryNotBeforeNs - nowNs > 0)
            {
                return workCount;
            }
            tryStartEpoch(null);
            return workCount + 1;
        }
        if (!partitioned)
        {
            if (!deaf)
            {
                workCount += subscription.controlledPoll(assembler, ctx.pollFragmentsMax());
            }
            if (pendingLoss == null)
            {
                workCount += state == LinkState.UP ? sendAckAndHeartbeat() : sendHandshakeIfDue();
            }
            if (pendingLoss == null)
            {
                workCount += outboundQueue.controlledRead(outboundHandler, ctx.drainMessagesMax());
            }
        }
        if (pendingLoss == null)
        {
            checkTimeouts();
        }
        if (pendingLoss != null)
        {
            tryStartEpoch(pendingLoss);
            workCount++;
        }
        else if (offeredInThisCycle)
        {
            workCount += driverInvoker.invoke();
        }
        if (lastPeerMessageNs != lastPeerMessageNsPublished)
        {
            lastPeerMessageNsPublished = lastPeerMessageNs;
        }
        return workCount;
    }

    /**
     * Link thread: true while the link is up and a conversation is going on: a reliable message went either way
     * within {@link LinkContext#conversationWindowNs()}, and the previous window carried at most
     * {@link #CONVERSATION_MESSAGES_MAX} of them (a latency-bound exchange, not a stream). The link thread's idle
     * strategy then yields instead of waiting on its sockets ({@link LinkWakeup}): on this 2-core VM a thread
     * woken by a datagram costs about 15 µs more per hop than one that polls in a yield loop (WB iodepth 1 p50
     * 127 µs waiting against 61 µs yielding, four hops a write).
     */
    public boolean isConversing(final long nowNs)
    {
        if (state != LinkState.UP || nowNs - lastReliableNs >= ctx.conversationWindowNs())
        {
            return false;
        }
        if (nowNs - conversationWindowStartNs >= ctx.conversationWindowNs())
        {
            previousWindowReliableCount = nowNs - conversationWindowStartNs < 2 * ctx.conversationWindowNs() ?
                windowReliableCount : 0;
            windowReliableCount = 0;
            conversationWindowStartNs = nowNs;
        }
        // a busy link (many messages per window) is not a conversation but a stream: it is polled in batches,
        // and yielding would only take CPU from the threads that feed it (measured: WB iodepth 32 at half the IOPS)
        return previousWindowReliableCount <= CONVERSATION_MESSAGES_MAX;
    }

    /** Closes channels, client and driver (its directory is deleted); on the link thread. */
    public void close()
    {
        if (state == LinkState.CLOSED)
        {
            return;
        }
        final LinkState previous = state;
        state = LinkState.CLOSED;
        try
        {
            if (previous == LinkState.UP)
            {
                handler.onPeerDown(epoch, LinkDownReason.CLOSED);
            }
        }
        finally
        {
            // Past the last epoch: its unacknowledged tickets are LOST, and epoch() no longer matches it.
            advanceGeneration();
            CloseHelper.quietCloseAll(publication, subscription, aeron, driver, wakeup);
        }
    }

    /**
     * Where the link thread waits for work: its sockets and a bell that threads queueing messages ring (see
     * {@link LinkWakeup}).
     */
    public LinkWakeup wakeup()
    {
        return wakeup;
    }

    /** Test seam: offers raw bytes on the publication, as the peer would see them (link thread). */
    long offerRaw(final DirectBuffer buffer, final int offset, final int length)
    {
        final long result = offer(buffer, offset, length);
        offeredInThisCycle = true;
        return result;
    }

    /** Test seam: the peer's epoch as this side knows it (link thread). */
    long knownPeerEpoch()
    {
        return knownPeerEpoch;
    }

    /**
     * {@link #startEpoch}, throttled when it fails: a channel that cannot be opened (the local endpoint in use, a
     * bad address) is retried once per heartbeat interval, logged the first time and then every 100th.
     */
    private void tryStartEpoch(final LinkDownReason reason)
    {
        try
        {
            startEpoch(reason);
            lastConnectError = null;
            connectFailureCount = 0;
        }
        catch (final RuntimeException ex)
        {
            state = LinkState.DOWN;
            pendingLoss = null;
            retryNotBeforeNs = nowNs + ctx.heartbeatIntervalNs();
            lastConnectError = String.valueOf(ex.getMessage());
            if (connectFailureCount++ % 100 == 0)
            {
                onError(ex);
            }
            else
            {
                counters.incrementAndGet(LinkStats.ERRORS);
            }
        }
    }

    /** Why the last attempt to open the link's channels failed, or null (any thread). */
    public String lastConnectError()
    {
        return lastConnectError;
    }

    /** The link goes DOWN; if it was UP, the handler hears of the loss (once). True if it was UP. */
    private boolean leaveUp(final LinkDownReason reason)
    {
        final LinkState previous = state;
        state = LinkState.DOWN;
        pendingLoss = null;
        if (previous != LinkState.UP)
        {
            return false;
        }
        previousReceivedSequence = receivedSequence;
        increment(LinkStats.LINK_DOWNS);
        handler.onPeerDown(epoch, reason);
        return true;
    }

    /**
     * A loss (or the first start): tell the handler if the link was up, end the generation (its queued
     * reliable messages will be dropped, its unacknowledged tickets are LOST), open a fresh publication,
     * handshake.
     */
    private void startEpoch(final LinkDownReason reason)
    {
        leaveUp(reason);
        advanceGeneration();
        increment(LinkStats.EPOCHS);

        if (subscription == null)
        {
            // One subscription for the link's life: re-adding it would make the peer's publication report
            // NOT_CONNECTED, taking the peer down, which re-adds its own... (seen: hundreds of epochs a
            // minute). Frames of dead epochs that still arrive are dropped by the epoch check.
            subscription = aeron.addSubscription(ctx.subscriptionChannel(), ctx.streamId(),
                null, image -> assembler.freeSessionBuffer(image.sessionId()));
        }
        // A fresh publication (new session) per epoch: the peer never joins an old stream midway (STACK.md).
        CloseHelper.quietClose(publication);
        publication = aeron.addExclusivePublication(ctx.publicationChannel(), ctx.streamId());
        receivedSequence = NULL_SEQUENCE;
        lastAckSentSequence = NULL_SEQUENCE;
        nextHandshakeNs = nowNs;
        state = LinkState.CONNECTING;
    }

    /**
     * Ends the current generation and starts the next. The order of the volatile writes is the contract for
     * other threads: the new {@link #epoch} first, then the old generation's final acknowledged ticket, then the
     * new generation's {@link #ackedTicket} (past every old ticket), then the producers' counter. So a reader
     * that reads {@code ackedTicket()} and then {@code epoch()} never pairs a new-generation ackedTicket with
     * the old epoch, and {@link #ticketStatus} (one read of ackedTicket) is exact.
     */
    private void advanceGeneration()
    {
        final long next = generation + 1;
        if (next > TicketWindow.GENERATION_MAX)
        {
            throw new IllegalStateException("link generations exhausted: " + next);
        }
        epoch = ctx.epochBase() + next;
        if (generation > 0)
        {
            finalAckedTicketByGeneration.set((int)(generation % GENERATION_HISTORY), window.ackedTicket());
        }
        generation = next;
        window.reset(next);
        ackedTicket = TicketWindow.ticket(next, 0);
        ticketCounter.set(TicketWindow.ticket(next, 0));
    }

    private void checkTimeouts()
    {
        if (state == LinkState.UP)
        {
            if (nowNs - lastPeerMessageNs > ctx.peerTimeoutNs())
            {
                pendingLoss = LinkDownReason.PEER_TIMEOUT;
            }
            else if (window.unackedCount() > 0 && nowNs - window.oldestUnackedSentNs() > ctx.ackTimeoutNs())
            {
                pendingLoss = LinkDownReason.ACK_TIMEOUT;
            }
        }
        if (TicketWindow.count(ticketCounter.get()) > TicketWindow.COUNT_RESTART_THRESHOLD)
        {
            pendingLoss = LinkDownReason.TICKET_SPACE_EXHAUSTED;
        }
    }

    private int sendHandshakeIfDue()
    {
        if (nowNs - nextHandshakeNs < 0)
        {
            return 0;
        }
        nextHandshakeNs = nowNs + ctx.handshakeIntervalNs();
        sendHandshake(false);
        return 1;
    }

    private void sendHandshake(final boolean isReply)
    {
        handshakeEncoder.wrapAndApplyHeader(controlBuffer, 0, headerEncoder)
            .epoch(epoch)
            .instanceId(ctx.instanceId())
            .lastReceivedSequence(previousReceivedSequence)
            .peerEpoch(knownPeerEpoch)
            .nodeId(ctx.nodeId() == 0 ? NodeId.A : NodeId.B)
            .isReply(isReply ? BooleanType.TRUE : BooleanType.FALSE);
        offerControl(HandshakeEncoder.TEMPLATE_ID, MessageHeaderEncoder.ENCODED_LENGTH + HandshakeEncoder.BLOCK_LENGTH);
    }

    private int sendAckAndHeartbeat()
    {
        int workCount = 0;
        if (nowNs - nextHeartbeatNs >= 0)
        {
            nextHeartbeatNs = nowNs + ctx.heartbeatIntervalNs();
            heartbeatEncoder.wrapAndApplyHeader(controlBuffer, 0, headerEncoder)
                .epoch(epoch)
                .sentNs(nowNs)
                .lastReceivedSequence(receivedSequence)
                .nodeId(ctx.nodeId() == 0 ? NodeId.A : NodeId.B);
            if (offerControl(HeartbeatEncoder.TEMPLATE_ID,
                MessageHeaderEncoder.ENCODED_LENGTH + HeartbeatEncoder.BLOCK_LENGTH))
            {
                lastAckSentSequence = receivedSequence;
            }
            workCount++;
        }
        if (receivedSequence > lastAckSentSequence && pendingLoss == null)
        {
            ackEncoder.wrapAndApplyHeader(controlBuffer, 0, headerEncoder)
                .epoch(epoch)
                .ackedSequence(receivedSequence);
            if (offerControl(AckEncoder.TEMPLATE_ID, MessageHeaderEncoder.ENCODED_LENGTH + AckEncoder.BLOCK_LENGTH))
            {
                lastAckSentSequence = receivedSequence;
            }
            workCount++;
        }
        return workCount;
    }

    private boolean offerControl(final int templateId, final int length)
    {
        final long result = offer(controlBuffer, 0, length);
        offeredInThisCycle = true;
        if (result < 0)
        {
            onOfferRefused(result);
            return false;
        }
        onSent(templateId, length);
        return true;
    }

    /** Drains one outbound record (ring buffer order). */
    private ControlledMessageHandler.Action onOutbound(
        final int templateId, final MutableDirectBuffer buffer, final int index, final int length)
    {
        final long ticket = buffer.getLong(index + SEQUENCE_OFFSET, ByteOrder.LITTLE_ENDIAN);
        final long ticketGeneration = TicketWindow.generation(ticket);
        if (ticketGeneration != generation)
        {
            assert ticketGeneration < generation : "ticket " + ticket + " from the future";
            increment(LinkStats.DEAD_EPOCH_DROPS);
            return ControlledMessageHandler.Action.CONTINUE;
        }
        if (state != LinkState.UP || pendingLoss != null)
        {
            return ControlledMessageHandler.Action.ABORT;
        }
        if (window.isFull())
        {
            increment(LinkStats.SEND_WINDOW_FULL);
            return ControlledMessageHandler.Action.ABORT;
        }
        final long sequence = window.nextSequence();
        buffer.putLong(index + EPOCH_OFFSET, epoch, ByteOrder.LITTLE_ENDIAN);
        buffer.putLong(index + SEQUENCE_OFFSET, sequence, ByteOrder.LITTLE_ENDIAN);
        final long result = offer(buffer, index, length);
        offeredInThisCycle = true;
        if (result < 0)
        {
            buffer.putLong(index + SEQUENCE_OFFSET, ticket, ByteOrder.LITTLE_ENDIAN); // for the next try
            onOfferRefused(result);
            return ControlledMessageHandler.Action.ABORT;
        }
        window.onSent(ticket, nowNs);
        lastReliableNs = nowNs;
        windowReliableCount++;
        onSent(templateId, length);
        return ControlledMessageHandler.Action.CONTINUE;
    }

    /** Offers with bounded retries on BACK_PRESSURED / ADMIN_ACTION, invoking the driver between tries. */
    private long offer(final DirectBuffer buffer, final int offset, final int length)
    {
        int retries = 0;
        while (true)
        {
            final long result = publication.offer(buffer, offset, length);
            if (result >= 0 || (result != Publication.BACK_PRESSURED && result != Publication.ADMIN_ACTION) ||
                retries == ctx.offerRetriesMax())
            {
                return result;
            }
            retries++;
            increment(LinkStats.BACK_PRESSURE_RETRIES);
            driverInvoker.invoke();
        }
    }

    private void onOfferRefused(final long result)
    {
        if (result == Publication.NOT_CONNECTED)
        {
            if (state == LinkState.UP)
            {
                pendingLoss = LinkDownReason.NOT_CONNECTED;
            }
        }
        else if (result == Publication.CLOSED)
        {
            pendingLoss = LinkDownReason.PUBLICATION_CLOSED;
        }
        else if (result == Publication.MAX_POSITION_EXCEEDED)
        {
            pendingLoss = LinkDownReason.MAX_POSITION_EXCEEDED;
        }
        else
        {
            increment(LinkStats.OFFERS_DEFERRED);
        }
    }

    private void onSent(final int templateId, final int length)
    {
        increment(LinkStats.MESSAGES_SENT);
        add(LinkStats.BYTES_SENT, length);
        sentByTemplateId.lazySet(templateId, sentByTemplateId.get(templateId) + 1);
    }

    // ---- inbound, called by LinkAdapter during the poll

    void onHandshake(
        final long messageEpoch, final long instanceId, final long lastReceivedSequence, final long echoedEpoch,
        final int nodeId, final boolean isReply, final int length)
    {
        if (nodeId != peerNodeId)
        {
            onMalformed();
            return;
        }
        if (pendingLoss != null || messageEpoch < knownPeerEpoch)
        {
            increment(LinkStats.STALE_MESSAGES);
            return;
        }
        if (messageEpoch > knownPeerEpoch)
        {
            final boolean newInstance = instanceId != peerInstanceId;
            knownPeerEpoch = messageEpoch;
            peerInstanceId = instanceId;
            peerLastReceivedSequence = lastReceivedSequence;
            if (state == LinkState.UP)
            {
                // The peer started a new epoch: it lost the link, or it is a new process. Go down too; both
                // handshake again, and this side's first Handshake already names the peer's new epoch.
                pendingLoss = newInstance ? LinkDownReason.PEER_RESTARTED : LinkDownReason.PEER_NEW_EPOCH;
                onReceived(HandshakeDecoder.TEMPLATE_ID, length);
                return;
            }
        }
        else if (instanceId != peerInstanceId)
        {
            increment(LinkStats.STALE_MESSAGES);
            return;
        }
        onReceived(HandshakeDecoder.TEMPLATE_ID, length);
        lastPeerMessageNs = nowNs;
        final boolean becameUp = state == LinkState.CONNECTING && echoedEpoch == epoch;
        if (becameUp)
        {
            becomeUp();
        }
        if (!isReply || becameUp)
        {
            sendHandshake(true);
        }
    }

    private void becomeUp()
    {
        lastPeerMessageNs = nowNs;
        nextHeartbeatNs = nowNs;
        receivedSequence = NULL_SEQUENCE;
        lastAckSentSequence = NULL_SEQUENCE;
        lastPeerMessageNsPublished = nowNs; // before the state: a watcher that sees UP sees a fresh time
        state = LinkState.UP;
        handler.onPeerUp(epoch, peerNodeId, peerInstanceId, peerLastReceivedSequence);
    }

    void onHeartbeat(final long messageEpoch, final long lastReceivedSequence, final int nodeId, final int length)
    {
        if (nodeId != peerNodeId)
        {
            onMalformed();
            return;
        }
        if (!isCurrentPeer(messageEpoch))
        {
            increment(LinkStats.STALE_MESSAGES);
            return;
        }
        onReceived(HeartbeatDecoder.TEMPLATE_ID, length);
        lastPeerMessageNs = nowNs;
        onAcknowledged(lastReceivedSequence);
    }

    void onAck(final long messageEpoch, final long ackedSequence, final int length)
    {
        if (!isCurrentPeer(messageEpoch))
        {
            increment(LinkStats.STALE_MESSAGES);
            return;
        }
        onReceived(AckDecoder.TEMPLATE_ID, length);
        lastPeerMessageNs = nowNs;
        onAcknowledged(ackedSequence);
    }

    private boolean isCurrentPeer(final long messageEpoch)
    {
        return state == LinkState.UP && pendingLoss == null && messageEpoch == knownPeerEpoch;
    }

    private void onAcknowledged(final long ackedSequence)
    {
        final int result = window.onAck(ackedSequence);
        if (result == TicketWindow.ACK_ADVANCED)
        {
            ackedTicket = window.ackedTicket();
            rttRecorder.recordValue(Math.min(Math.max(0, nowNs - window.lastAckSentNs()), RTT_NS_MAX));
        }
        else if (result == TicketWindow.ACK_INVALID)
        {
            pendingLoss = LinkDownReason.PROTOCOL_ERROR;
        }
    }

    /** Epoch and sequence of a structurally valid reliable message: deliver, drop (stale) or stop (gap). */
    int onReliable(final long messageEpoch, final long sequence)
    {
        if (pendingLoss != null)
        {
            return STOP;
        }
        if (!isCurrentPeer(messageEpoch) || sequence <= receivedSequence)
        {
            increment(LinkStats.STALE_MESSAGES);
            return DROP;
        }
        if (sequence != receivedSequence + 1)
        {
            pendingLoss = LinkDownReason.SEQUENCE_GAP;
            return STOP;
        }
        return DELIVER; // the peer counts as heard from once the handler applies it (onDelivered)
    }

    /** After the handler: applied messages are counted and will be acknowledged; refused ones come again. */
    Action onDelivered(final boolean applied, final long sequence, final int templateId, final int length)
    {
        if (!applied)
        {
            // not "heard from the peer": a message refused again and again (a full mirror region) must not keep a
            // dead peer's link up; the peer timeout then ends the epoch and the message with it
            increment(LinkStats.HANDLER_DEFERRALS);
            return Action.ABORT;
        }
        lastPeerMessageNs = nowNs;
        lastReliableNs = nowNs;
        windowReliableCount++;
        receivedSequence = sequence;
        onReceived(templateId, length);
        return Action.CONTINUE;
    }

    /**
     * The handler threw on a reliable message: a bug on this side, or a message it cannot take. Delivering it
     * again would throw again on every poll, so the epoch ends (the peer resends nothing of it: WB resyncs).
     */
    Action onHandlerError(final RuntimeException ex)
    {
        onError(ex); // counted in errors
        pendingLoss = LinkDownReason.HANDLER_ERROR;
        return Action.BREAK;
    }

    void onMalformed()
    {
        increment(LinkStats.MALFORMED_MESSAGES);
    }

    private void onReceived(final int templateId, final int length)
    {
        increment(LinkStats.MESSAGES_RECEIVED);
        add(LinkStats.BYTES_RECEIVED, length);
        receivedByTemplateId.lazySet(templateId, receivedByTemplateId.get(templateId) + 1);
    }

    private void onError(final Throwable throwable)
    {
        counters.incrementAndGet(LinkStats.ERRORS);
        System.err.println("[afasim-link node=" + ctx.nodeId() + "] " + throwable);
    }

    private void increment(final int counter)
    {
        counters.lazySet(counter, counters.get(counter) + 1);
    }

    private void add(final int counter, final long delta)
    {
        counters.lazySet(counter, counters.get(counter) + delta);
    }

    @Override
    public String toString()
    {
        return "Link{node=" + ctx.nodeId() + ", state=" + state + ", epoch=" + epoch + ", ackedTicket=" + ackedTicket +
            '}';
    }
}
