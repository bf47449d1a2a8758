package io.afasim.controller;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * Settings of a controller process, Aeron-context style: defaults as constants, overridable with
 * system properties, validated once by {@link #conclude()}, renderable as {@code -D} arguments so a
 * test or {@code bin/afasim} can start a real controller JVM with the same values.
 */
public final class ControllerContext
{
    public static final String ARRAY_DIR_PROP_NAME = "afasim.array.dir";
    public static final String NODE_PROP_NAME = "afasim.node";
    public static final String NODE_DEFAULT = "A";
    public static final String NBD_PORT_PROP_NAME = "afasim.nbd.port";
    public static final int NBD_PORT_DEFAULT = 10809;
    public static final String ADMIN_PORT_PROP_NAME = "afasim.admin.port";
    public static final int ADMIN_PORT_DEFAULT = 7391;
    public static final String BIND_ADDRESS_PROP_NAME = "afasim.bind.address";
    public static final String BIND_ADDRESS_DEFAULT = "127.0.0.1";
    public static final String DRIVE_COUNT_PROP_NAME = "afasim.shelf.drives";
    public static final int DRIVE_COUNT_DEFAULT = 4;
    public static final String DRIVE_SIZE_PROP_NAME = "afasim.shelf.driveSizeBytes";
    public static final long DRIVE_SIZE_DEFAULT = 1L << 30;
    public static final String SEGMENT_SIZE_PROP_NAME = "afasim.shelf.segmentSizeBytes";
    public static final int SEGMENT_SIZE_DEFAULT = 4 << 20;
    public static final String JOURNAL_SIZE_PROP_NAME = "afasim.shelf.journalSizeBytes";
    public static final long JOURNAL_SIZE_DEFAULT = 64L << 20;
    private static final int BLOCK_BYTES = 4096;
    public static final String REDO_BATCH_BYTES_PROP_NAME = "afasim.volume.redoBatchBytes";
    public static final int REDO_BATCH_BYTES_DEFAULT = 4 << 20;
    public static final String NVME_DIR_PROP_NAME = "afasim.nvme.dir";
    /** Parent of the NVMe memory files; the region is {@code <dir>/<array id>/node-<node>/nvme}. */
    public static final String NVME_DIR_DEFAULT = "/dev/shm/afasim";
    public static final String NVME_SIZE_PROP_NAME = "afasim.nvme.sizeBytes";
    public static final long NVME_SIZE_DEFAULT = 256L << 20;
    public static final String DEFAULT_MODE_PROP_NAME = "afasim.volume.defaultMode";
    /** Unset: wb for a controller pair (mirrored write-back), 1wb for a controller alone. */
    public static final String DEFAULT_MODE_DEFAULT = null;
    /** Agent threads' idle strategy: backoff (spin, yield, then park up to idleParkNsMax), sleep, or spin. */
    public static final String IDLE_STRATEGY_PROP_NAME = "afasim.idle.strategy";
    public static final String IDLE_STRATEGY_DEFAULT = "backoff";
    /**
     * Which threads run the data path. {@code dedicated}: a thread per volume agent, one for the link and one for
     * NBD (DESIGN.md §3). {@code shared}: one I/O thread runs the NBD server, the link and every volume agent, each
     * still an agent that alone owns its state (as Aeron's SHARED threading mode runs the driver's agents on one
     * thread). On this 2-core box, where two controllers and the host share the cores, a mirrored write then
     * crosses no thread hand-off inside a controller: see docs/performance.md.
     */
    public static final String THREADING_PROP_NAME = "afasim.threading";
    public static final String THREADING_DEFAULT = "dedicated";
    /**
     * With dedicated threading, which thread serves an NBD connection once its handshake picked a volume this
     * controller owns. {@code volume}: the volume agent's thread (it waits on its NBD sockets and its doorbell), so a
     * request is read, served and answered on one thread with no hand-off. {@code network}: the NBD network thread,
     * which hands each request to the volume's thread and its reply back. The network thread always runs the listener,
     * the handshakes and connections to volumes the peer owns. Shared threading has one thread for all of it.
     */
    public static final String NBD_PLACEMENT_PROP_NAME = "afasim.nbd.placement";
    public static final String NBD_PLACEMENT_DEFAULT = "volume";
    public static final String IDLE_PARK_NS_MAX_PROP_NAME = "afasim.idle.parkNsMax";
    /**
     * Longest park of an idle agent (volume, journal, cluster): its idle CPU cost. Work handed over by another
     * thread rings the agent's doorbell (no wait for the park to end), so the park bounds only timers (a commit
     * group's age, a quiesce deadline, the cluster agent's heartbeat). The link thread has its own cap.
     */
    public static final long IDLE_PARK_NS_MAX_DEFAULT = 4_000_000;
    /**
     * Longest wait of the link thread: it waits on its sockets and is woken by the peer's datagrams and by threads
     * that queue messages, so this bounds only its timers (heartbeats, the driver's status messages, liveness).
     */
    public static final String LINK_PARK_NS_MAX_PROP_NAME = "afasim.link.parkNsMax";
    public static final long LINK_PARK_NS_MAX_DEFAULT = 1_000_000;
    public static final String READ_CACHE_BYTES_PROP_NAME = "afasim.volume.readCacheBytes";
    /** DRAM read cache per volume (clean blocks), at most the volume's size. */
    public static final long READ_CACHE_BYTES_DEFAULT = 256L << 20;
    /** Test seam: volume agents do not destage (1WB changes stay in NVMe memory until a restart without it). */
    public static final String TEST_DESTAGE_PAUSED_PROP_NAME = "afasim.test.destagePaused";
    public static final String QUIESCE_TIMEOUT_MS_PROP_NAME = "afasim.quiesce.timeoutMs";
    public static final long QUIESCE_TIMEOUT_MS_DEFAULT = 30_000;
    /**
     * Test seam: every agent reply a configuration task step waits for (quiesce, storage-core work) is handed to
     * the task no earlier than this many ms after the step asked for it, so that a system test can find a task
     * in the middle of a step (to send a conflicting command, or to SIGKILL the controller). 0 in production.
     */
    public static final String TEST_STEP_DELAY_MS_PROP_NAME = "afasim.test.stepDelayMs";
    public static final long TEST_STEP_DELAY_MS_DEFAULT = 0;
    /** Upper bound of {@link #TEST_STEP_DELAY_MS_PROP_NAME}. */
    public static final long TEST_STEP_DELAY_MS_MAX = 60_000;

    /** 2 (default): a controller pair, linked over Aeron; 1: this controller alone (no link, no peer). */
    public static final String CONTROLLERS_PROP_NAME = "afasim.controllers";
    public static final int CONTROLLERS_DEFAULT = 2;
    /** This controller's link endpoint (UDP host:port the peer sends to). */
    public static final String LINK_ENDPOINT_PROP_NAME = "afasim.link.endpoint";
    /** The peer controller's link endpoint. */
    public static final String LINK_PEER_ENDPOINT_PROP_NAME = "afasim.link.peerEndpoint";
    /** Default link endpoints: A listens on 127.0.0.1:7411, B on 127.0.0.1:7412. */
    public static final int LINK_PORT_A_DEFAULT = 7411;
    public static final int LINK_PORT_B_DEFAULT = 7412;
    /** Interval of the disk heartbeat (quorum file) and of membership checks. */
    public static final String HEARTBEAT_INTERVAL_MS_PROP_NAME = "afasim.heartbeat.intervalMs";
    public static final long HEARTBEAT_INTERVAL_MS_DEFAULT = 100;
    /** A peer whose disk heartbeat has not advanced for this long (and whose link is down) is down. */
    public static final String PEER_TIMEOUT_MS_PROP_NAME = "afasim.peer.timeoutMs";
    public static final long PEER_TIMEOUT_MS_DEFAULT = 1_000;

    private Path arrayDir = pathProperty(ARRAY_DIR_PROP_NAME);
    private int controllers = Integer.getInteger(CONTROLLERS_PROP_NAME, CONTROLLERS_DEFAULT);
    private String linkEndpoint = System.getProperty(LINK_ENDPOINT_PROP_NAME);
    private String linkPeerEndpoint = System.getProperty(LINK_PEER_ENDPOINT_PROP_NAME);
    private long heartbeatIntervalMs = Long.getLong(HEARTBEAT_INTERVAL_MS_PROP_NAME, HEARTBEAT_INTERVAL_MS_DEFAULT);
    private long peerTimeoutMs = Long.getLong(PEER_TIMEOUT_MS_PROP_NAME, PEER_TIMEOUT_MS_DEFAULT);
    private String node = System.getProperty(NODE_PROP_NAME, NODE_DEFAULT);
    private int nbdPort = Integer.getInteger(NBD_PORT_PROP_NAME, NBD_PORT_DEFAULT);
    private int adminPort = Integer.getInteger(ADMIN_PORT_PROP_NAME, ADMIN_PORT_DEFAULT);
    private String bindAddress = System.getProperty(BIND_ADDRESS_PROP_NAME, BIND_ADDRESS_DEFAULT);
    private int driveCount = Integer.getInteger(DRIVE_COUNT_PROP_NAME, DRIVE_COUNT_DEFAULT);
    private long driveSizeBytes = Long.getLong(DRIVE_SIZE_PROP_NAME, DRIVE_SIZE_DEFAULT);
    private int segmentSizeBytes = Integer.getInteger(SEGMENT_SIZE_PROP_NAME, SEGMENT_SIZE_DEFAULT);
    private long journalSizeBytes = Long.getLong(JOURNAL_SIZE_PROP_NAME, JOURNAL_SIZE_DEFAULT);
    private int redoBatchBytes = Integer.getInteger(REDO_BATCH_BYTES_PROP_NAME, REDO_BATCH_BYTES_DEFAULT);
    private Path nvmeDir = Path.of(System.getProperty(NVME_DIR_PROP_NAME, NVME_DIR_DEFAULT));
    private long nvmeSizeBytes = Long.getLong(NVME_SIZE_PROP_NAME, NVME_SIZE_DEFAULT);
    private String defaultMode = System.getProperty(DEFAULT_MODE_PROP_NAME, DEFAULT_MODE_DEFAULT);
    private String idleStrategy = System.getProperty(IDLE_STRATEGY_PROP_NAME, IDLE_STRATEGY_DEFAULT);
    private String threading = System.getProperty(THREADING_PROP_NAME, THREADING_DEFAULT);
    private String nbdPlacement = System.getProperty(NBD_PLACEMENT_PROP_NAME, NBD_PLACEMENT_DEFAULT);
    private long idleParkNsMax = Long.getLong(IDLE_PARK_NS_MAX_PROP_NAME, IDLE_PARK_NS_MAX_DEFAULT);
    private long linkParkNsMax = Long.getLong(LINK_PARK_NS_MAX_PROP_NAME, LINK_PARK_NS_MAX_DEFAULT);
    private long readCacheBytes = Long.getLong(READ_CACHE_BYTES_PROP_NAME, READ_CACHE_BYTES_DEFAULT);
    private boolean testDestagePaused = Boolean.getBoolean(TEST_DESTAGE_PAUSED_PROP_NAME);
    private long quiesceTimeoutMs = Long.getLong(QUIESCE_TIMEOUT_MS_PROP_NAME, QUIESCE_TIMEOUT_MS_DEFAULT);
    private long testStepDelayMs = Long.getLong(TEST_STEP_DELAY_MS_PROP_NAME, TEST_STEP_DELAY_MS_DEFAULT);

    private static Path pathProperty(final String name)
    {
        final String value = System.getProperty(name);
        return value == null || value.isBlank() ? null : Path.of(value);
    }

    public ControllerContext conclude()
    {
        if (arrayDir == null)
        {
            throw new IllegalArgumentException(ARRAY_DIR_PROP_NAME + " is not set: the array directory is required");
        }
        if (!node.equals("A") && !node.equals("B"))
        {
            throw new IllegalArgumentException(NODE_PROP_NAME + "=" + node + " must be A or B");
        }
        if (controllers != 1 && controllers != 2)
        {
            throw new IllegalArgumentException(CONTROLLERS_PROP_NAME + "=" + controllers + " must be 1 or 2");
        }
        if (linkEndpoint == null)
        {
            linkEndpoint = "127.0.0.1:" + ("A".equals(node) ? LINK_PORT_A_DEFAULT : LINK_PORT_B_DEFAULT);
        }
        if (linkPeerEndpoint == null)
        {
            linkPeerEndpoint = "127.0.0.1:" + ("A".equals(node) ? LINK_PORT_B_DEFAULT : LINK_PORT_A_DEFAULT);
        }
        checkEndpoint(LINK_ENDPOINT_PROP_NAME, linkEndpoint);
        checkEndpoint(LINK_PEER_ENDPOINT_PROP_NAME, linkPeerEndpoint);
        if (linkEndpoint.equals(linkPeerEndpoint))
        {
            throw new IllegalArgumentException(LINK_PEER_ENDPOINT_PROP_NAME + "=" + linkPeerEndpoint + " must differ from " +
                LINK_ENDPOINT_PROP_NAME + " (this controller's own endpoint)");
        }
        if (heartbeatIntervalMs < 10 || heartbeatIntervalMs > 10_000)
        {
            throw new IllegalArgumentException(HEARTBEAT_INTERVAL_MS_PROP_NAME + "=" + heartbeatIntervalMs +
                " must be in [10, 10000] ms");
        }
        if (peerTimeoutMs < 3 * heartbeatIntervalMs)
        {
            throw new IllegalArgumentException(PEER_TIMEOUT_MS_PROP_NAME + "=" + peerTimeoutMs +
                " must be at least 3 heartbeat intervals (" + 3 * heartbeatIntervalMs + " ms)");
        }
        checkPort(NBD_PORT_PROP_NAME, nbdPort);
        checkPort(ADMIN_PORT_PROP_NAME, adminPort);
        if (redoBatchBytes < 64 << 10)
        {
            throw new IllegalArgumentException(REDO_BATCH_BYTES_PROP_NAME + "=" + redoBatchBytes + " must be >= 65536");
        }
        if (redoBatchBytes < (long)segmentSizeBytes / BLOCK_BYTES * VolumeAgent.CLEAN_REDO_BYTES_PER_BLOCK_MAX * 2)
        {
            throw new IllegalArgumentException(REDO_BATCH_BYTES_PROP_NAME + "=" + redoBatchBytes + " cannot hold the " +
                "cleaning of one " + segmentSizeBytes + "-byte segment twice over (" +
                (long)segmentSizeBytes / BLOCK_BYTES * VolumeAgent.CLEAN_REDO_BYTES_PER_BLOCK_MAX * 2 + " bytes)");
        }
        if (nvmeSizeBytes < (1 << 20) || nvmeSizeBytes > (2L << 30) - 4096 || nvmeSizeBytes % 4096 != 0)
        {
            throw new IllegalArgumentException(NVME_SIZE_PROP_NAME + "=" + nvmeSizeBytes +
                " must be a multiple of 4096 in [1 MiB, 2 GiB - 4 KiB]");
        }
        if (defaultMode == null)
        {
            defaultMode = controllers == 2 ? "wb" : "1wb";
        }
        WriteModeSetting.parse(defaultMode);
        if (controllers == 1 && WriteModeSetting.parse(defaultMode) == WriteModeSetting.WB)
        {
            throw new IllegalArgumentException(DEFAULT_MODE_PROP_NAME + "=wb needs a controller pair (" +
                CONTROLLERS_PROP_NAME + "=2)");
        }
        if (!idleStrategy.equals("backoff") && !idleStrategy.equals("sleep") && !idleStrategy.equals("spin"))
        {
            throw new IllegalArgumentException(IDLE_STRATEGY_PROP_NAME + "=" + idleStrategy +
                " must be backoff, sleep or spin (spin needs a free core per agent thread)");
        }
        if (!threading.equals("dedicated") && !threading.equals("shared"))
        {
            throw new IllegalArgumentException(THREADING_PROP_NAME + "=" + threading + " must be dedicated or shared");
        }
        if (!nbdPlacement.equals("volume") && !nbdPlacement.equals("network"))
        {
            throw new IllegalArgumentException(NBD_PLACEMENT_PROP_NAME + "=" + nbdPlacement + " must be volume or network");
        }
        if (idleParkNsMax < 1_000 || idleParkNsMax > 100_000_000)
        {
            throw new IllegalArgumentException(IDLE_PARK_NS_MAX_PROP_NAME + "=" + idleParkNsMax +
                " must be in [1000, 100000000] ns");
        }
        if (linkParkNsMax < 1_000 || linkParkNsMax > 100_000_000)
        {
            throw new IllegalArgumentException(LINK_PARK_NS_MAX_PROP_NAME + "=" + linkParkNsMax +
                " must be in [1000, 100000000] ns");
        }
        if (readCacheBytes < 0)
        {
            throw new IllegalArgumentException(READ_CACHE_BYTES_PROP_NAME + "=" + readCacheBytes + " must be >= 0");
        }
        if (quiesceTimeoutMs < 1)
        {
            throw new IllegalArgumentException(QUIESCE_TIMEOUT_MS_PROP_NAME + "=" + quiesceTimeoutMs + " must be >= 1");
        }
        if (testStepDelayMs < 0 || testStepDelayMs > TEST_STEP_DELAY_MS_MAX)
        {
            throw new IllegalArgumentException(TEST_STEP_DELAY_MS_PROP_NAME + "=" + testStepDelayMs + " must be in [0, " +
                TEST_STEP_DELAY_MS_MAX + "]");
        }
        return this;
    }

    private static void checkPort(final String name, final int port)
    {
        if (port < 0 || port > 65535)
        {
            throw new IllegalArgumentException(name + "=" + port + " is not a TCP port (0 = any free port)");
        }
    }

    private static void checkEndpoint(final String name, final String endpoint)
    {
        final int colon = endpoint.lastIndexOf(':');
        int port = -1;
        if (colon > 0)
        {
            try
            {
                port = Integer.parseInt(endpoint.substring(colon + 1));
            }
            catch (final NumberFormatException ex)
            {
                port = -1;
            }
        }
        if (port < 1 || port > 65535)
        {
            throw new IllegalArgumentException(name + "=" + endpoint + " must be host:port with a UDP port in [1, 65535]");
        }
    }

    /** The settings as {@code -Dname=value} arguments for a controller JVM. */
    public List<String> toSystemPropertyArguments()
    {
        final List<String> args = new ArrayList<>();
        args.add("-D" + ARRAY_DIR_PROP_NAME + "=" + arrayDir);
        args.add("-D" + NODE_PROP_NAME + "=" + node);
        args.add("-D" + CONTROLLERS_PROP_NAME + "=" + controllers);
        if (linkEndpoint != null)
        {
            args.add("-D" + LINK_ENDPOINT_PROP_NAME + "=" + linkEndpoint);
        }
        if (linkPeerEndpoint != null)
        {
            args.add("-D" + LINK_PEER_ENDPOINT_PROP_NAME + "=" + linkPeerEndpoint);
        }
        args.add("-D" + HEARTBEAT_INTERVAL_MS_PROP_NAME + "=" + heartbeatIntervalMs);
        args.add("-D" + PEER_TIMEOUT_MS_PROP_NAME + "=" + peerTimeoutMs);
        args.add("-D" + NBD_PORT_PROP_NAME + "=" + nbdPort);
        args.add("-D" + ADMIN_PORT_PROP_NAME + "=" + adminPort);
        args.add("-D" + BIND_ADDRESS_PROP_NAME + "=" + bindAddress);
        args.add("-D" + DRIVE_COUNT_PROP_NAME + "=" + driveCount);
        args.add("-D" + DRIVE_SIZE_PROP_NAME + "=" + driveSizeBytes);
        args.add("-D" + SEGMENT_SIZE_PROP_NAME + "=" + segmentSizeBytes);
        args.add("-D" + JOURNAL_SIZE_PROP_NAME + "=" + journalSizeBytes);
        args.add("-D" + REDO_BATCH_BYTES_PROP_NAME + "=" + redoBatchBytes);
        args.add("-D" + NVME_DIR_PROP_NAME + "=" + nvmeDir);
        args.add("-D" + NVME_SIZE_PROP_NAME + "=" + nvmeSizeBytes);
        if (defaultMode != null)
        {
            args.add("-D" + DEFAULT_MODE_PROP_NAME + "=" + defaultMode);
        }
        args.add("-D" + IDLE_STRATEGY_PROP_NAME + "=" + idleStrategy);
        args.add("-D" + THREADING_PROP_NAME + "=" + threading);
        args.add("-D" + NBD_PLACEMENT_PROP_NAME + "=" + nbdPlacement);
        args.add("-D" + IDLE_PARK_NS_MAX_PROP_NAME + "=" + idleParkNsMax);
        args.add("-D" + LINK_PARK_NS_MAX_PROP_NAME + "=" + linkParkNsMax);
        args.add("-D" + READ_CACHE_BYTES_PROP_NAME + "=" + readCacheBytes);
        args.add("-D" + QUIESCE_TIMEOUT_MS_PROP_NAME + "=" + quiesceTimeoutMs);
        args.add("-D" + TEST_DESTAGE_PAUSED_PROP_NAME + "=" + testDestagePaused);
        args.add("-D" + TEST_STEP_DELAY_MS_PROP_NAME + "=" + testStepDelayMs);
        return args;
    }

    public Path arrayDir()
    {
        return arrayDir;
    }

    public ControllerContext arrayDir(final Path arrayDir)
    {
        this.arrayDir = arrayDir;
        return this;
    }

    public String node()
    {
        return node;
    }

    public ControllerContext node(final String node)
    {
        this.node = node;
        return this;
    }

    /** 1 or 2, see {@link #CONTROLLERS_PROP_NAME}. */
    public int controllers()
    {
        return controllers;
    }

    public ControllerContext controllers(final int controllers)
    {
        this.controllers = controllers;
        return this;
    }

    public String linkEndpoint()
    {
        return linkEndpoint;
    }

    public ControllerContext linkEndpoint(final String linkEndpoint)
    {
        this.linkEndpoint = linkEndpoint;
        return this;
    }

    public String linkPeerEndpoint()
    {
        return linkPeerEndpoint;
    }

    public ControllerContext linkPeerEndpoint(final String linkPeerEndpoint)
    {
        this.linkPeerEndpoint = linkPeerEndpoint;
        return this;
    }

    public long heartbeatIntervalMs()
    {
        return heartbeatIntervalMs;
    }

    public ControllerContext heartbeatIntervalMs(final long heartbeatIntervalMs)
    {
        this.heartbeatIntervalMs = heartbeatIntervalMs;
        return this;
    }

    public long peerTimeoutMs()
    {
        return peerTimeoutMs;
    }

    public ControllerContext peerTimeoutMs(final long peerTimeoutMs)
    {
        this.peerTimeoutMs = peerTimeoutMs;
        return this;
    }

    /** This node's Aeron directory (cleaned on start): beside its NVMe region on /dev/shm. */
    public Path aeronDir(final java.util.UUID arrayId)
    {
        return nvmeDir.resolve(arrayId.toString()).resolve("node-" + node).resolve("aeron");
    }

    public long linkParkNsMax()
    {
        return linkParkNsMax;
    }

    public ControllerContext linkParkNsMax(final long linkParkNsMax)
    {
        this.linkParkNsMax = linkParkNsMax;
        return this;
    }

    /** The other controller of the pair. */
    public String peerNode()
    {
        return "A".equals(node) ? "B" : "A";
    }

    /** 0 for A, 1 for B (NVMe region headers, link messages). */
    public int nodeId()
    {
        return "A".equals(node) ? 0 : 1;
    }

    public int nbdPort()
    {
        return nbdPort;
    }

    public ControllerContext nbdPort(final int nbdPort)
    {
        this.nbdPort = nbdPort;
        return this;
    }

    public int adminPort()
    {
        return adminPort;
    }

    public ControllerContext adminPort(final int adminPort)
    {
        this.adminPort = adminPort;
        return this;
    }

    public String bindAddress()
    {
        return bindAddress;
    }

    public ControllerContext bindAddress(final String bindAddress)
    {
        this.bindAddress = bindAddress;
        return this;
    }

    public int driveCount()
    {
        return driveCount;
    }

    public ControllerContext driveCount(final int driveCount)
    {
        this.driveCount = driveCount;
        return this;
    }

    public long driveSizeBytes()
    {
        return driveSizeBytes;
    }

    public ControllerContext driveSizeBytes(final long driveSizeBytes)
    {
        this.driveSizeBytes = driveSizeBytes;
        return this;
    }

    public int segmentSizeBytes()
    {
        return segmentSizeBytes;
    }

    public ControllerContext segmentSizeBytes(final int segmentSizeBytes)
    {
        this.segmentSizeBytes = segmentSizeBytes;
        return this;
    }

    public long journalSizeBytes()
    {
        return journalSizeBytes;
    }

    public ControllerContext journalSizeBytes(final long journalSizeBytes)
    {
        this.journalSizeBytes = journalSizeBytes;
        return this;
    }

    public int redoBatchBytes()
    {
        return redoBatchBytes;
    }

    public ControllerContext redoBatchBytes(final int redoBatchBytes)
    {
        this.redoBatchBytes = redoBatchBytes;
        return this;
    }

    public Path nvmeDir()
    {
        return nvmeDir;
    }

    public ControllerContext nvmeDir(final Path nvmeDir)
    {
        this.nvmeDir = nvmeDir;
        return this;
    }

    public long nvmeSizeBytes()
    {
        return nvmeSizeBytes;
    }

    public ControllerContext nvmeSizeBytes(final long nvmeSizeBytes)
    {
        this.nvmeSizeBytes = nvmeSizeBytes;
        return this;
    }

    public String defaultMode()
    {
        return defaultMode;
    }

    public ControllerContext defaultMode(final String defaultMode)
    {
        this.defaultMode = defaultMode;
        return this;
    }

    public String idleStrategy()
    {
        return idleStrategy;
    }

    public ControllerContext idleStrategy(final String idleStrategy)
    {
        this.idleStrategy = idleStrategy;
        return this;
    }

    public String threading()
    {
        return threading;
    }

    public ControllerContext threading(final String threading)
    {
        this.threading = threading;
        return this;
    }

    public String nbdPlacement()
    {
        return nbdPlacement;
    }

    public ControllerContext nbdPlacement(final String placement)
    {
        this.nbdPlacement = placement;
        return this;
    }

    /** Dedicated threading with {@link #NBD_PLACEMENT_PROP_NAME} {@code volume}: NBD served on volume threads. */
    public boolean nbdOnVolumeThreads()
    {
        return !sharedThreading() && "volume".equals(nbdPlacement);
    }

    /** {@link #THREADING_PROP_NAME} is {@code shared}: NBD, the link and the volume agents on one thread. */
    public boolean sharedThreading()
    {
        return "shared".equals(threading);
    }

    public long idleParkNsMax()
    {
        return idleParkNsMax;
    }

    public ControllerContext idleParkNsMax(final long idleParkNsMax)
    {
        this.idleParkNsMax = idleParkNsMax;
        return this;
    }

    public long readCacheBytes()
    {
        return readCacheBytes;
    }

    public ControllerContext readCacheBytes(final long readCacheBytes)
    {
        this.readCacheBytes = readCacheBytes;
        return this;
    }

    public boolean testDestagePaused()
    {
        return testDestagePaused;
    }

    public ControllerContext testDestagePaused(final boolean paused)
    {
        this.testDestagePaused = paused;
        return this;
    }

    public long quiesceTimeoutMs()
    {
        return quiesceTimeoutMs;
    }

    public ControllerContext quiesceTimeoutMs(final long quiesceTimeoutMs)
    {
        this.quiesceTimeoutMs = quiesceTimeoutMs;
        return this;
    }

    public long testStepDelayMs()
    {
        return testStepDelayMs;
    }

    /** Test seam, see {@link #TEST_STEP_DELAY_MS_PROP_NAME}. */
    public ControllerContext testStepDelayMs(final long testStepDelayMs)
    {
        this.testStepDelayMs = testStepDelayMs;
        return this;
    }

    Path shelfDir()
    {
        return arrayDir.resolve("shelf");
    }

    Path bootDir()
    {
        return arrayDir.resolve("node-" + node).resolve("boot");
    }

    Path runDir()
    {
        return arrayDir.resolve("run");
    }
}
