package io.afasim.mirror;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;

import org.agrona.BitUtil;
import org.agrona.concurrent.ringbuffer.RingBufferDescriptor;

/**
 * Configuration of the inter-controller {@link Link} (Aeron {@code Context} style): defaults come from
 * {@code *_PROP_NAME} system properties or the {@code *_DEFAULT} constants, setters return {@code this}, and
 * {@link #conclude()} validates every value once, naming the bad one.
 *
 * <p>Limits (TigerStyle: every queue and window has a named maximum):
 * <pre>
 *   outboundQueueCapacityBytes  ring buffer between producer threads and the link thread (power of two);
 *                               its maximum record is capacity / 8, which must hold the largest message
 *   unackedMessagesMax          reliable messages sent but not yet acknowledged (the send window)
 *   termLengthBytes             Aeron term; its maximum message is termLength / 8 (>= largest message)
 *   drainMessagesMax            outbound messages offered per doWork
 *   pollFragmentsMax            inbound fragments polled per doWork
 *   offerRetriesMax             BACK_PRESSURED / ADMIN_ACTION retries of one offer (driver invoked between)
 * </pre>
 * The idle strategy is not here: it belongs to whoever runs the {@link LinkAgent}.
 */
public final class LinkContext
{
    /** This controller: 0 (A) or 1 (B). Same property as {@link CacheContext#NODE_ID_PROP_NAME}. */
    public static final String NODE_ID_PROP_NAME = CacheContext.NODE_ID_PROP_NAME;
    public static final int NODE_ID_DEFAULT = 0;
    public static final int NODE_ID_MAX = CacheContext.NODE_ID_MAX;

    /** Default UDP ports: node A listens on PORT_BASE, node B on PORT_BASE + 1. */
    public static final int PORT_BASE_DEFAULT = 24_310;

    /** host:port this link's subscription listens on (default 127.0.0.1:PORT_BASE + nodeId). */
    public static final String LOCAL_ENDPOINT_PROP_NAME = "afasim.link.local.endpoint";
    /** host:port of the peer's subscription (default 127.0.0.1:PORT_BASE + 1 - nodeId). */
    public static final String PEER_ENDPOINT_PROP_NAME = "afasim.link.peer.endpoint";

    /** The embedded media driver's directory (deleted on start and on close). */
    public static final String AERON_DIR_PROP_NAME = "afasim.link.aeron.dir";
    public static final String AERON_DIR_DEFAULT_PREFIX = "/dev/shm/afasim/default/node-";

    public static final String STREAM_ID_PROP_NAME = "afasim.link.stream.id";
    public static final int STREAM_ID_DEFAULT = 1_001;

    /**
     * UDP datagram payload: a 4 KiB MirrorPage (4,200 bytes) fits one frame at 8192, the default on a network
     * (it fits a 9,000-byte jumbo frame, so IP never fragments it). Between two loopback endpoints the default is
     * {@link #MTU_LENGTH_MAX}: loopback carries 64 KiB datagrams whole, and a busy link sends up to 15 mirror pages
     * per datagram (measured: WB iodepth 32 +20 %, docs/performance.md).
     */
    public static final String MTU_LENGTH_PROP_NAME = "afasim.link.mtu.length";
    public static final int MTU_LENGTH_DEFAULT = 8_192;
    public static final int MTU_LENGTH_LOOPBACK_DEFAULT = 65_504;
    public static final int MTU_LENGTH_MIN = 1_408;
    public static final int MTU_LENGTH_MAX = 65_504;

    /** Aeron term length: the largest message is termLength / 8, so 16 MiB carries a 1 MiB forward. */
    public static final String TERM_LENGTH_PROP_NAME = "afasim.link.term.length";
    public static final int TERM_LENGTH_DEFAULT = 16 << 20;
    public static final int TERM_LENGTH_MAX = 1 << 30;

    public static final String HEARTBEAT_INTERVAL_PROP_NAME = "afasim.link.heartbeat.interval";
    public static final long HEARTBEAT_INTERVAL_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(100);

    /** While connecting, a Handshake is (re)sent this often until the peer answers. */
    public static final String HANDSHAKE_INTERVAL_PROP_NAME = "afasim.link.handshake.interval";
    public static final long HANDSHAKE_INTERVAL_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(20);

    /**
     * Aeron's receiver window (how far the peer may send ahead of what this side has polled) and the UDP socket
     * buffers under it. Aeron's default, 128 KiB, lets a link thread that polls once per millisecond carry only
     * ≈ 120 MiB/s of mirror pages; the window is capped by the kernel's {@code net.core.rmem_max} (Aeron refuses
     * a window larger than the socket's receive buffer).
     */
    public static final String RECEIVER_WINDOW_PROP_NAME = "afasim.link.receiver.window";
    public static final int RECEIVER_WINDOW_DEFAULT = 2 << 20;
    static final int RECEIVER_WINDOW_MIN = 64 << 10;
    static final Path RMEM_MAX_PATH = Path.of("/proc/sys/net/core/rmem_max");

    /** No message from the peer for this long = link down. */
    public static final String PEER_TIMEOUT_PROP_NAME = "afasim.link.peer.timeout";
    public static final long PEER_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(500);

    /** The oldest unacknowledged reliable message older than this = link down (peer alive but stuck). */
    public static final String ACK_TIMEOUT_PROP_NAME = "afasim.link.ack.timeout";
    public static final long ACK_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(1_000);

    /**
     * After a reliable message went either way, the link thread stays awake (yields instead of parking) for this
     * long: the next mirror page or its acknowledgement is then picked up within microseconds, not at the end of
     * a park. Heartbeats do not count, so an idle pair still parks. 0 = always park when idle (the controller's
     * volume agents then park too while their WB writes wait for the peer).
     */
    public static final String CONVERSATION_WINDOW_PROP_NAME = "afasim.link.conversation.window";
    public static final long CONVERSATION_WINDOW_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(1);

    public static final String OFFER_RETRIES_MAX_PROP_NAME = "afasim.link.offer.retries.max";
    public static final int OFFER_RETRIES_MAX_DEFAULT = 8;
    public static final int OFFER_RETRIES_MAX_LIMIT = 1_024;

    public static final String OUTBOUND_QUEUE_CAPACITY_PROP_NAME = "afasim.link.outbound.queue.capacity";
    public static final int OUTBOUND_QUEUE_CAPACITY_DEFAULT = 16 << 20;
    public static final int OUTBOUND_QUEUE_CAPACITY_MAX = 1 << 30;

    public static final String UNACKED_MESSAGES_MAX_PROP_NAME = "afasim.link.unacked.messages.max";
    public static final int UNACKED_MESSAGES_MAX_DEFAULT = 16_384;
    public static final int UNACKED_MESSAGES_MAX_LIMIT = 1 << 22;

    public static final String DRAIN_MESSAGES_MAX_PROP_NAME = "afasim.link.drain.messages.max";
    public static final int DRAIN_MESSAGES_MAX_DEFAULT = 64;

    public static final String POLL_FRAGMENTS_MAX_PROP_NAME = "afasim.link.poll.fragments.max";
    public static final int POLL_FRAGMENTS_MAX_DEFAULT = 64;

    /** Media driver liveness, tuned on this machine (STACK.md): dead peer noticed in about 0.5 s, not 5-12 s. */
    public static final String IMAGE_LIVENESS_TIMEOUT_PROP_NAME = "afasim.link.image.liveness.timeout";
    public static final long IMAGE_LIVENESS_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(500);
    /**
     * How long the embedded Aeron client may go without its conductor being run before it closes itself (Aeron's
     * client liveness timeout, 10 s by default). A process stopped that long (SIGSTOP, a VM pause) finds its client
     * closed; the link then relaunches driver and client in a new epoch.
     */
    public static final String CLIENT_LIVENESS_TIMEOUT_PROP_NAME = "afasim.link.client.liveness.timeout";
    public static final long CLIENT_LIVENESS_TIMEOUT_NS_DEFAULT = TimeUnit.SECONDS.toNanos(10);
    public static final String PUBLICATION_CONNECTION_TIMEOUT_PROP_NAME = "afasim.link.publication.connection.timeout";
    public static final long PUBLICATION_CONNECTION_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(500);
    public static final String TIMER_INTERVAL_PROP_NAME = "afasim.link.timer.interval";
    public static final long TIMER_INTERVAL_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(100);
    public static final String STATUS_MESSAGE_TIMEOUT_PROP_NAME = "afasim.link.status.message.timeout";
    public static final long STATUS_MESSAGE_TIMEOUT_NS_DEFAULT = TimeUnit.MILLISECONDS.toNanos(50);

    /** Identifies this process start to the peer (a restarted peer is a new peer); default random. */
    public static final String INSTANCE_ID_PROP_NAME = "afasim.link.instance.id";

    /**
     * Epochs are {@code epochBase + generation}; the default base is the wall clock in ms shifted left by
     * {@link #EPOCH_BASE_SHIFT}, so a restarted process (at least 1 ms later) never reuses an epoch.
     */
    public static final int EPOCH_BASE_SHIFT = 20;

    private int nodeId = Integer.getInteger(NODE_ID_PROP_NAME, NODE_ID_DEFAULT);
    private String localEndpoint = System.getProperty(LOCAL_ENDPOINT_PROP_NAME);
    private String peerEndpoint = System.getProperty(PEER_ENDPOINT_PROP_NAME);
    private String aeronDirectoryName = System.getProperty(AERON_DIR_PROP_NAME);
    private int streamId = Integer.getInteger(STREAM_ID_PROP_NAME, STREAM_ID_DEFAULT);
    private int mtuLength = Integer.getInteger(MTU_LENGTH_PROP_NAME, 0); // 0: by the endpoints, at conclude()
    private int termLength = Integer.getInteger(TERM_LENGTH_PROP_NAME, TERM_LENGTH_DEFAULT);
    private long heartbeatIntervalNs = nanos(HEARTBEAT_INTERVAL_PROP_NAME, HEARTBEAT_INTERVAL_NS_DEFAULT);
    private long handshakeIntervalNs = nanos(HANDSHAKE_INTERVAL_PROP_NAME, HANDSHAKE_INTERVAL_NS_DEFAULT);
    private long peerTimeoutNs = nanos(PEER_TIMEOUT_PROP_NAME, PEER_TIMEOUT_NS_DEFAULT);
    private long ackTimeoutNs = nanos(ACK_TIMEOUT_PROP_NAME, ACK_TIMEOUT_NS_DEFAULT);
    private int receiverWindow = Integer.getInteger(RECEIVER_WINDOW_PROP_NAME, RECEIVER_WINDOW_DEFAULT);
    private long conversationWindowNs = nanos(CONVERSATION_WINDOW_PROP_NAME, CONVERSATION_WINDOW_NS_DEFAULT);
    private int offerRetriesMax = Integer.getInteger(OFFER_RETRIES_MAX_PROP_NAME, OFFER_RETRIES_MAX_DEFAULT);
    private int outboundQueueCapacity =
        Integer.getInteger(OUTBOUND_QUEUE_CAPACITY_PROP_NAME, OUTBOUND_QUEUE_CAPACITY_DEFAULT);
    private int unackedMessagesMax = Integer.getInteger(UNACKED_MESSAGES_MAX_PROP_NAME, UNACKED_MESSAGES_MAX_DEFAULT);
    private int drainMessagesMax = Integer.getInteger(DRAIN_MESSAGES_MAX_PROP_NAME, DRAIN_MESSAGES_MAX_DEFAULT);
    private int pollFragmentsMax = Integer.getInteger(POLL_FRAGMENTS_MAX_PROP_NAME, POLL_FRAGMENTS_MAX_DEFAULT);
    private long imageLivenessTimeoutNs =
        nanos(IMAGE_LIVENESS_TIMEOUT_PROP_NAME, IMAGE_LIVENESS_TIMEOUT_NS_DEFAULT);
    private long clientLivenessTimeoutNs =
        nanos(CLIENT_LIVENESS_TIMEOUT_PROP_NAME, CLIENT_LIVENESS_TIMEOUT_NS_DEFAULT);
    private long publicationConnectionTimeoutNs =
        nanos(PUBLICATION_CONNECTION_TIMEOUT_PROP_NAME, PUBLICATION_CONNECTION_TIMEOUT_NS_DEFAULT);
    private long timerIntervalNs = nanos(TIMER_INTERVAL_PROP_NAME, TIMER_INTERVAL_NS_DEFAULT);
    private long statusMessageTimeoutNs = nanos(STATUS_MESSAGE_TIMEOUT_PROP_NAME, STATUS_MESSAGE_TIMEOUT_NS_DEFAULT);
    private long instanceId = Long.getLong(INSTANCE_ID_PROP_NAME, 0L);
    private long epochBase;
    private boolean concluded;

    /** A duration property: plain nanoseconds or with an ns/us/ms/s suffix. */
    private static long nanos(final String propName, final long defaultNs)
    {
        final String value = System.getProperty(propName);
        if (value == null || value.isBlank())
        {
            return defaultNs;
        }
        final String text = value.trim().toLowerCase();
        try
        {
            if (text.endsWith("ns"))
            {
                return Long.parseLong(text.substring(0, text.length() - 2).trim());
            }
            if (text.endsWith("us"))
            {
                return TimeUnit.MICROSECONDS.toNanos(Long.parseLong(text.substring(0, text.length() - 2).trim()));
            }
            if (text.endsWith("ms"))
            {
                return TimeUnit.MILLISECONDS.toNanos(Long.parseLong(text.substring(0, text.length() - 2).trim()));
            }
            if (text.endsWith("s"))
            {
                return TimeUnit.SECONDS.toNanos(Long.parseLong(text.substring(0, text.length() - 1).trim()));
            }
            return Long.parseLong(text);
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(propName + "=" + value + " is not a duration", ex);
        }
    }

    /**
     * Fills in the derived defaults (endpoints, aeron dir, instance id, epoch base) and validates every value;
     * idempotent.
     *
     * @throws IllegalArgumentException naming the first bad value.
     */
    public LinkContext conclude()
    {
        if (concluded)
        {
            return this;
        }
        requireRange("nodeId", nodeId, 0, NODE_ID_MAX);
        if (localEndpoint == null)
        {
            localEndpoint = "127.0.0.1:" + (PORT_BASE_DEFAULT + nodeId);
        }
        if (peerEndpoint == null)
        {
            peerEndpoint = "127.0.0.1:" + (PORT_BASE_DEFAULT + NODE_ID_MAX - nodeId);
        }
        requireEndpoint("localEndpoint", localEndpoint);
        requireEndpoint("peerEndpoint", peerEndpoint);
        if (localEndpoint.equals(peerEndpoint))
        {
            throw new IllegalArgumentException("peerEndpoint=" + peerEndpoint + " equals localEndpoint");
        }
        if (aeronDirectoryName == null)
        {
            aeronDirectoryName = AERON_DIR_DEFAULT_PREFIX + nodeId + "/aeron";
        }
        if (aeronDirectoryName.isBlank())
        {
            throw new IllegalArgumentException("aeronDirectoryName is blank");
        }
        requireRange("streamId", streamId, 1, Integer.MAX_VALUE);
        if (mtuLength == 0)
        {
            mtuLength = isLoopback(localEndpoint) && isLoopback(peerEndpoint) ? MTU_LENGTH_LOOPBACK_DEFAULT :
                MTU_LENGTH_DEFAULT;
        }
        requireRange("mtuLength", mtuLength, MTU_LENGTH_MIN, MTU_LENGTH_MAX);
        if (mtuLength % 32 != 0)
        {
            throw new IllegalArgumentException("mtuLength=" + mtuLength + " is not a multiple of 32");
        }
        requireRange("termLength", termLength, 64 << 10, TERM_LENGTH_MAX);
        if (!BitUtil.isPowerOfTwo(termLength))
        {
            throw new IllegalArgumentException("termLength=" + termLength + " is not a power of two");
        }
        if (termLength / 8 < LinkPublisher.MESSAGE_LENGTH_MAX)
        {
            throw new IllegalArgumentException("termLength=" + termLength + " carries messages up to " +
                termLength / 8 + " bytes < " + LinkPublisher.MESSAGE_LENGTH_MAX + " (1 MiB forward + header)");
        }
        requireRange("heartbeatIntervalNs", heartbeatIntervalNs, TimeUnit.MILLISECONDS.toNanos(1),
            TimeUnit.SECONDS.toNanos(60));
        requireRange("handshakeIntervalNs", handshakeIntervalNs, TimeUnit.MILLISECONDS.toNanos(1),
            TimeUnit.SECONDS.toNanos(60));
        requireRange("peerTimeoutNs", peerTimeoutNs, 2 * heartbeatIntervalNs, TimeUnit.MINUTES.toNanos(10));
        requireRange("ackTimeoutNs", ackTimeoutNs, heartbeatIntervalNs, TimeUnit.MINUTES.toNanos(10));
        requireRange("receiverWindow", receiverWindow, RECEIVER_WINDOW_MIN, termLength / 2);
        receiverWindow = (int)Math.max(RECEIVER_WINDOW_MIN, Math.min(receiverWindow, kernelReceiveBufferMax()));
        requireRange("conversationWindowNs", conversationWindowNs, 0, heartbeatIntervalNs / 2);
        requireRange("offerRetriesMax", offerRetriesMax, 0, OFFER_RETRIES_MAX_LIMIT);
        requireRange("outboundQueueCapacity", outboundQueueCapacity, 1 << 16, OUTBOUND_QUEUE_CAPACITY_MAX);
        if (!BitUtil.isPowerOfTwo(outboundQueueCapacity))
        {
            throw new IllegalArgumentException("outboundQueueCapacity=" + outboundQueueCapacity +
                " is not a power of two");
        }
        if (outboundQueueCapacity / 8 < LinkPublisher.MESSAGE_LENGTH_MAX + 8)
        {
            throw new IllegalArgumentException("outboundQueueCapacity=" + outboundQueueCapacity +
                " holds records up to " + outboundQueueCapacity / 8 + " bytes < " + (LinkPublisher.MESSAGE_LENGTH_MAX + 8));
        }
        requireRange("unackedMessagesMax", unackedMessagesMax, 1, UNACKED_MESSAGES_MAX_LIMIT);
        requireRange("drainMessagesMax", drainMessagesMax, 1, 1 << 16);
        requireRange("pollFragmentsMax", pollFragmentsMax, 1, 1 << 16);
        requireRange("imageLivenessTimeoutNs", imageLivenessTimeoutNs, TimeUnit.MILLISECONDS.toNanos(10),
            TimeUnit.MINUTES.toNanos(10));
        requireRange("clientLivenessTimeoutNs", clientLivenessTimeoutNs, TimeUnit.SECONDS.toNanos(1),
            TimeUnit.MINUTES.toNanos(10));
        requireRange("publicationConnectionTimeoutNs", publicationConnectionTimeoutNs,
            TimeUnit.MILLISECONDS.toNanos(10), TimeUnit.MINUTES.toNanos(10));
        requireRange("timerIntervalNs", timerIntervalNs, TimeUnit.MILLISECONDS.toNanos(1), TimeUnit.SECONDS.toNanos(10));
        requireRange("statusMessageTimeoutNs", statusMessageTimeoutNs, TimeUnit.MILLISECONDS.toNanos(1),
            TimeUnit.SECONDS.toNanos(10));
        if (instanceId == 0)
        {
            long random = 0;
            while (random == 0 || random == -1)
            {
                random = ThreadLocalRandom.current().nextLong();
            }
            instanceId = random;
        }
        if (epochBase == 0)
        {
            epochBase = System.currentTimeMillis() << EPOCH_BASE_SHIFT;
        }
        requireRange("epochBase", epochBase, 1, Long.MAX_VALUE - (1L << EPOCH_BASE_SHIFT));
        concluded = true;
        return this;
    }

    private static void requireRange(final String name, final long value, final long min, final long max)
    {
        if (value < min || value > max)
        {
            throw new IllegalArgumentException(name + "=" + value + " not in [" + min + ", " + max + "]");
        }
    }

    private static void requireEndpoint(final String name, final String endpoint)
    {
        final int colon = endpoint.lastIndexOf(':');
        if (colon <= 0 || colon == endpoint.length() - 1)
        {
            throw new IllegalArgumentException(name + "=" + endpoint + " is not host:port");
        }
        final int port;
        try
        {
            port = Integer.parseInt(endpoint.substring(colon + 1));
        }
        catch (final NumberFormatException ex)
        {
            throw new IllegalArgumentException(name + "=" + endpoint + " has no numeric port", ex);
        }
        if (port < 1 || port > 65_535)
        {
            throw new IllegalArgumentException(name + "=" + endpoint + " port not in [1, 65535]");
        }
    }

    public boolean isConcluded()
    {
        return concluded;
    }

    /** Bytes of the outbound ring buffer including its trailer. */
    int outboundQueueBufferLength()
    {
        return outboundQueueCapacity + RingBufferDescriptor.TRAILER_LENGTH;
    }

    /** The subscription channel: this node's endpoint. */
    String subscriptionChannel()
    {
        return "aeron:udp?endpoint=" + localEndpoint;
    }

    /** The publication channel: the peer's endpoint, with this link's MTU and term length. */
    String publicationChannel()
    {
        return "aeron:udp?endpoint=" + peerEndpoint + "|mtu=" + mtuLength + "|term-length=" + termLength;
    }

    public int nodeId()
    {
        return nodeId;
    }

    public LinkContext nodeId(final int nodeId)
    {
        this.nodeId = nodeId;
        return this;
    }

    /** The peer's node id (the other of 0 and 1). */
    public int peerNodeId()
    {
        return NODE_ID_MAX - nodeId;
    }

    public String localEndpoint()
    {
        return localEndpoint;
    }

    public LinkContext localEndpoint(final String localEndpoint)
    {
        this.localEndpoint = localEndpoint;
        return this;
    }

    public String peerEndpoint()
    {
        return peerEndpoint;
    }

    public LinkContext peerEndpoint(final String peerEndpoint)
    {
        this.peerEndpoint = peerEndpoint;
        return this;
    }

    public String aeronDirectoryName()
    {
        return aeronDirectoryName;
    }

    public LinkContext aeronDirectoryName(final String aeronDirectoryName)
    {
        this.aeronDirectoryName = aeronDirectoryName;
        return this;
    }

    public int streamId()
    {
        return streamId;
    }

    public LinkContext streamId(final int streamId)
    {
        this.streamId = streamId;
        return this;
    }

    public int mtuLength()
    {
        return mtuLength;
    }

    public LinkContext mtuLength(final int mtuLength)
    {
        this.mtuLength = mtuLength;
        return this;
    }

    public int termLength()
    {
        return termLength;
    }

    public LinkContext termLength(final int termLength)
    {
        this.termLength = termLength;
        return this;
    }

    public long heartbeatIntervalNs()
    {
        return heartbeatIntervalNs;
    }

    public LinkContext heartbeatIntervalNs(final long heartbeatIntervalNs)
    {
        this.heartbeatIntervalNs = heartbeatIntervalNs;
        return this;
    }

    public long handshakeIntervalNs()
    {
        return handshakeIntervalNs;
    }

    public LinkContext handshakeIntervalNs(final long handshakeIntervalNs)
    {
        this.handshakeIntervalNs = handshakeIntervalNs;
        return this;
    }

    public long peerTimeoutNs()
    {
        return peerTimeoutNs;
    }

    public LinkContext peerTimeoutNs(final long peerTimeoutNs)
    {
        this.peerTimeoutNs = peerTimeoutNs;
        return this;
    }

    public long ackTimeoutNs()
    {
        return ackTimeoutNs;
    }

    public LinkContext ackTimeoutNs(final long ackTimeoutNs)
    {
        this.ackTimeoutNs = ackTimeoutNs;
        return this;
    }

    /** After {@link #conclude()}: the configured window, capped by the kernel's maximum socket receive buffer. */
    public int receiverWindow()
    {
        return receiverWindow;
    }

    public LinkContext receiverWindow(final int receiverWindow)
    {
        this.receiverWindow = receiverWindow;
        return this;
    }

    /** An IPv4 loopback address ({@code 127.x.y.z:port}) or {@code [::1]:port}. */
    static boolean isLoopback(final String endpoint)
    {
        return endpoint.startsWith("127.") || endpoint.startsWith("[::1]:");
    }

    /** {@code net.core.rmem_max}, or {@link Long#MAX_VALUE} where it cannot be read (not Linux). */
    static long kernelReceiveBufferMax()
    {
        try
        {
            // by lines: a procfs file reports no size, and Files.readString can stop after its first read
            return Long.parseLong(Files.readAllLines(RMEM_MAX_PATH).get(0).trim());
        }
        catch (final IOException | RuntimeException ex)
        {
            return Long.MAX_VALUE;
        }
    }

    public long conversationWindowNs()
    {
        return conversationWindowNs;
    }

    public LinkContext conversationWindowNs(final long conversationWindowNs)
    {
        this.conversationWindowNs = conversationWindowNs;
        return this;
    }

    public int offerRetriesMax()
    {
        return offerRetriesMax;
    }

    public LinkContext offerRetriesMax(final int offerRetriesMax)
    {
        this.offerRetriesMax = offerRetriesMax;
        return this;
    }

    public int outboundQueueCapacity()
    {
        return outboundQueueCapacity;
    }

    public LinkContext outboundQueueCapacity(final int outboundQueueCapacity)
    {
        this.outboundQueueCapacity = outboundQueueCapacity;
        return this;
    }

    public int unackedMessagesMax()
    {
        return unackedMessagesMax;
    }

    public LinkContext unackedMessagesMax(final int unackedMessagesMax)
    {
        this.unackedMessagesMax = unackedMessagesMax;
        return this;
    }

    public int drainMessagesMax()
    {
        return drainMessagesMax;
    }

    public LinkContext drainMessagesMax(final int drainMessagesMax)
    {
        this.drainMessagesMax = drainMessagesMax;
        return this;
    }

    public int pollFragmentsMax()
    {
        return pollFragmentsMax;
    }

    public LinkContext pollFragmentsMax(final int pollFragmentsMax)
    {
        this.pollFragmentsMax = pollFragmentsMax;
        return this;
    }

    public long imageLivenessTimeoutNs()
    {
        return imageLivenessTimeoutNs;
    }

    public LinkContext imageLivenessTimeoutNs(final long imageLivenessTimeoutNs)
    {
        this.imageLivenessTimeoutNs = imageLivenessTimeoutNs;
        return this;
    }

    public long clientLivenessTimeoutNs()
    {
        return clientLivenessTimeoutNs;
    }

    public LinkContext clientLivenessTimeoutNs(final long clientLivenessTimeoutNs)
    {
        this.clientLivenessTimeoutNs = clientLivenessTimeoutNs;
        return this;
    }

    public long publicationConnectionTimeoutNs()
    {
        return publicationConnectionTimeoutNs;
    }

    public LinkContext publicationConnectionTimeoutNs(final long publicationConnectionTimeoutNs)
    {
        this.publicationConnectionTimeoutNs = publicationConnectionTimeoutNs;
        return this;
    }

    public long timerIntervalNs()
    {
        return timerIntervalNs;
    }

    public LinkContext timerIntervalNs(final long timerIntervalNs)
    {
        this.timerIntervalNs = timerIntervalNs;
        return this;
    }

    public long statusMessageTimeoutNs()
    {
        return statusMessageTimeoutNs;
    }

    public LinkContext statusMessageTimeoutNs(final long statusMessageTimeoutNs)
    {
        this.statusMessageTimeoutNs = statusMessageTimeoutNs;
        return this;
    }

    public long instanceId()
    {
        return instanceId;
    }

    /** 0 = random at {@link #conclude()}. */
    public LinkContext instanceId(final long instanceId)
    {
        this.instanceId = instanceId;
        return this;
    }

    public long epochBase()
    {
        return epochBase;
    }

    /** 0 = wall clock ms shifted by {@link #EPOCH_BASE_SHIFT} at {@link #conclude()}. */
    public LinkContext epochBase(final long epochBase)
    {
        this.epochBase = epochBase;
        return this;
    }

    @Override
    public String toString()
    {
        return "LinkContext{nodeId=" + nodeId + ", localEndpoint=" + localEndpoint + ", peerEndpoint=" + peerEndpoint +
            ", aeronDirectoryName=" + aeronDirectoryName + ", streamId=" + streamId + ", mtuLength=" + mtuLength +
            ", termLength=" + termLength + ", heartbeatIntervalNs=" + heartbeatIntervalNs + ", handshakeIntervalNs=" +
            handshakeIntervalNs + ", peerTimeoutNs=" + peerTimeoutNs + ", ackTimeoutNs=" + ackTimeoutNs +
            ", receiverWindow=" + receiverWindow + ", conversationWindowNs=" + conversationWindowNs +
            ", offerRetriesMax=" + offerRetriesMax + ", outboundQueueCapacity=" + outboundQueueCapacity +
            ", unackedMessagesMax=" + unackedMessagesMax + ", drainMessagesMax=" + drainMessagesMax +
            ", pollFragmentsMax=" + pollFragmentsMax + ", instanceId=" + instanceId + ", epochBase=" + epochBase + '}';
    }
}
