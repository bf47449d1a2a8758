package io.afasim.controller;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.afasim.dedup.DedupVolume;
import io.afasim.dedup.VolumeRedo;
import io.afasim.journal.IoStatus;
import io.afasim.mirror.CacheContext;
import io.afasim.mirror.NvmeCache;
import io.afasim.mirror.WriteCache;
import io.afasim.utmd.BoundaryHook;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import io.afasim.mirror.Link;
import io.afasim.mirror.LinkContext;
import io.afasim.mirror.LinkWakeup;
import io.afasim.mirror.MirrorStore;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * One controller: the pools of the volumes it owns recovered from the shared shelf (each with its journal
 * agent), one agent per volume, the NBD export and the admin endpoint. Configuration operations (create, delete, mode, online) run as
 * journalled tasks on the cluster agent ({@link ClusterAgent}, {@link VolumeTasks}): conflicting ones are
 * refused, and a task interrupted by a crash is redone or rolled back at the next start, before the admin
 * endpoint accepts commands.
 */
public final class Controller implements AutoCloseable
{
    /** Longest an admin operation waits for an agent to answer. */
    static final long ADMIN_WAIT_MS = 60_000;
    /** The mirror region is this much larger than the NVMe region whose copies it holds (copies in flight). */
    static final long MIRROR_SLACK_BYTES = 4L << 20;

    private final ControllerContext ctx;
    private final NanoClock clock = SystemNanoClock.INSTANCE;
    private final UUID arrayId;
    private final NvmeCache nvme;
    /** Pools of the volumes this node owns, by volume id (one disk group per volume, see {@link Pool}). */
    private final Map<Integer, Pool> pools = new ConcurrentHashMap<>();
    /** One thread for pool format, open, close and delete (file I/O that must not block an agent). */
    private final ExecutorService poolWorker = Executors.newSingleThreadExecutor(runnable ->
    {
        final Thread thread = new Thread(runnable, "pool-worker");
        thread.setDaemon(true);
        return thread;
    });
    private final Map<String, VolumeAgent> volumesByName = new ConcurrentHashMap<>();
    private final Map<VolumeAgent, AgentRunner> runners = new ConcurrentHashMap<>();
    /** NBD on volume threads ({@link ControllerContext#nbdOnVolumeThreads()}): each running agent's NBD loop. */
    private final Map<VolumeAgent, NbdLoop> nbdLoops = new ConcurrentHashMap<>();
    private final Map<String, VolumeAgent> movingOut = new ConcurrentHashMap<>();
    private final AtomicLong errorCount = new AtomicLong();
    /** The inter-controller link ({@link PeerLink#NONE} when this controller runs alone). */
    private final PeerLink link;
    private final LinkBridge bridge;
    private AgentRunner linkRunner;
    /** Shared threading: the thread that runs the link, NBD and the volume agents; null when dedicated. */
    private IoThread ioThread;
    /** Shared threading: the link agent the I/O thread runs (null without a peer). */
    private Agent ioLinkAgent;
    /** Link thread: the acked ticket last seen (a change wakes the agents waiting for the peer). */
    private long lastAckedTicket;
    private QuorumArea quorum;
    private Forwarder forwarder;
    private ForwardTarget forwardTarget;
    /** The peer's volume table as last read (cluster agent refreshes it every heartbeat); exported and forwarded. */
    private volatile List<VolumeTable.Entry> peerVolumes = List.of();
    private long peerTableModifiedMs = -1;
    private Membership membership;
    /** Per volume id: not before this time does the mirror duty submit another mirror-mode task for it. */
    private final org.agrona.collections.Long2LongHashMap mirrorRetryNs = new org.agrona.collections.Long2LongHashMap(0);
    private final ErrorHandler errorHandler;
    private final StorageBackend backend;
    private volatile VolumeAgent[] agentsById = new VolumeAgent[1];
    /** Volume ids handed out to create tasks (cluster agent thread after start). */
    private int nextVolumeId;
    /** The volume table as last written (cluster agent thread after start; the tasks change it). */
    private final TreeMap<Integer, VolumeTable.Entry> tableEntries = new TreeMap<>();
    private int tableNextVolumeId;
    private ClusterAgent cluster;
    private AgentRunner clusterRunner;
    private VolumeTasks tasks;
    private volatile NbdServer nbd;
    private AdminServer admin;
    private final long startedMs = System.currentTimeMillis();
    /** This process's identity in the quorum area and on the link (a restarted controller is a new instance). */
    private final long instanceId = new java.security.SecureRandom().nextLong();

    private Controller(final ControllerContext ctx, final UUID arrayId, final NvmeCache nvme, final LinkBridge bridge)
    {
        this.ctx = ctx;
        this.arrayId = arrayId;
        this.nvme = nvme;
        this.bridge = bridge;
        this.link = bridge != null ? bridge : PeerLink.NONE;
        this.errorHandler = ex ->
        {
            errorCount.incrementAndGet();
            System.err.println("[afasim] controller " + ctx.node() + " error: " + ex);
            ex.printStackTrace(System.err);
        };
        this.backend = new StorageBackend(this);
        this.forwarder = new Forwarder(link);
        this.forwardTarget = new ForwardTarget(backend, link);
    }

    /**
     * Opens (recovers) the pools of the volumes this node owns, reconciles its volume table, starts the agents,
     * the NBD export and the admin endpoint. The shelf is created by the first controller to start.
     */
    public static Controller start(final ControllerContext ctx) throws IOException
    {
        return start(ctx, BoundaryHook.NONE);
    }

    /** {@link #start(ControllerContext)} with a task boundary hook (tests inject crashes with it). */
    static Controller start(final ControllerContext ctx, final BoundaryHook hook) throws IOException
    {
        ctx.conclude();
        Files.createDirectories(ctx.arrayDir());
        Files.createDirectories(ctx.bootDir());
        Files.createDirectories(ctx.runDir());
        final UUID arrayId = ArrayIdentity.loadOrCreate(ctx.shelfDir());
        final NvmeCache nvme = NvmeCache.openOrCreate(cacheContext(ctx, arrayId));
        final LinkBridge bridge;
        try
        {
            bridge = ctx.controllers() == 2 ? openLink(ctx, arrayId) : null;
        }
        catch (final RuntimeException ex)
        {
            nvme.close();
            throw ex;
        }
        final Controller controller = new Controller(ctx, arrayId, nvme, bridge);
        try
        {
            controller.recoverVolumes();
            controller.startLink();
            for (final Pool pool : controller.pools.values())
            {
                pool.start(controller.idleStrategy(), controller.errorHandler);
            }
            for (final VolumeAgent agent : controller.volumesByName.values())
            {
                controller.startAgent(agent);
            }
            controller.startCluster(hook);
            controller.startNbd();
            controller.admin = AdminServer.start(controller, ctx.bindAddress(), ctx.adminPort());
            controller.writeRunFiles();
            return controller;
        }
        catch (final IOException | RuntimeException ex)
        {
            controller.close();
            throw ex;
        }
    }

    /** Starts the cluster agent and waits until it has recovered the task journal: before any admin command. */
    private void startCluster(final BoundaryHook hook) throws IOException
    {
        cluster = new ClusterAgent(ctx.bootDir(), clock, errorHandler, hook, ctx.testStepDelayMs());
        tasks = new VolumeTasks(this, cluster);
        quorum = new QuorumArea(ctx.shelfDir(), ctx.nodeId(), instanceId);
        membership = new Membership(quorum, link, new Membership.Listener()
        {
            @Override
            public void onPeerLost(final Membership.PeerState state, final String reason)
            {
                System.out.println("[afasim] controller " + ctx.node() + ": peer " + ctx.peerNode() + " " +
                    state + " (" + reason + "); WB volumes continue in 1-way-WB");
            }

            @Override
            public void onPeerBack(final long epoch)
            {
                System.out.println("[afasim] controller " + ctx.node() + ": peer " + ctx.peerNode() +
                    " up, link epoch " + epoch + "; resynchronising the mirror of WB volumes");
            }
        }, errorHandler, ctx.heartbeatIntervalMs(), ctx.peerTimeoutMs(), ctx.controllers() == 1, clock.nanoTime());
        cluster.duty(nowNs ->
        {
            final int work = membership.doWork(nowNs);
            if (work == 0)
            {
                return 0;
            }
            refreshPeerVolumes();
            return work + reconcileMirrors(nowNs) +
                forwarder.onDuty(membership.isPeerLost() && membership.state() == Membership.PeerState.DOWN);
        });
        clusterRunner = new AgentRunner(idleStrategy(), errorHandler, null, cluster);
        AgentRunner.startOnThread(clusterRunner);
        final long deadlineNs = clock.nanoTime() + TimeUnit.MILLISECONDS.toNanos(ADMIN_WAIT_MS);
        while (!cluster.isRecovered())
        {
            if (deadlineNs - clock.nanoTime() < 0)
            {
                throw new IllegalStateException("task journal not recovered within " + ADMIN_WAIT_MS + " ms");
            }
            LockSupport.parkNanos(ctx.idleParkNsMax()); // bounded polling of the start-up thread
        }
        if (cluster.isStopped())
        {
            throw new IllegalStateException("task journal recovery failed: " + cluster.stopReason());
        }
        if (cluster.recoveredTaskCount() > 0)
        {
            System.out.println("[afasim] controller " + ctx.node() + ": " + cluster.recoveredTaskCount() +
                " configuration task(s) found unfinished in the task journal; resuming them (afactl task list)");
        }
    }

    /** The link to the peer: its embedded media driver, and the mirror region the peer's copies go to. */
    private static LinkBridge openLink(final ControllerContext ctx, final UUID arrayId) throws IOException
    {
        final Path mirrorPath = nvmePath(ctx, arrayId).resolveSibling("mirror");
        final MirrorStore mirrorStore = new MirrorStore(new CacheContext()
            .regionPath(mirrorPath)
            .regionSizeBytes(ctx.nvmeSizeBytes() + MIRROR_SLACK_BYTES)
            .arrayId(arrayId)
            .nodeId(ctx.nodeId())
            .destageBatchMax(VolumeAgent.DESTAGE_CHUNK_CHANGES_MAX)
            .conclude());
        try
        {
            final Path aeronDir = ctx.aeronDir(arrayId);
            Files.createDirectories(aeronDir.getParent());
            final LinkContext linkContext = new LinkContext()
                .nodeId(ctx.nodeId())
                .localEndpoint(ctx.linkEndpoint())
                .peerEndpoint(ctx.linkPeerEndpoint())
                .aeronDirectoryName(aeronDir.toString());
            final LinkBridge bridge = new LinkBridge(mirrorStore);
            bridge.attach(new Link(linkContext, bridge));
            return bridge;
        }
        catch (final RuntimeException ex)
        {
            mirrorStore.close();
            throw ex;
        }
    }

    /** Link thread: rings the doorbell of every volume agent running WB (a ring of a busy agent costs a store). */
    private void wakeMirroringAgents()
    {
        final VolumeAgent[] byId = agentsById;
        for (final VolumeAgent agent : byId)
        {
            if (agent != null && agent.mirror().isActive())
            {
                agent.doorbell().ring();
            }
        }
    }

    /**
     * The link thread: the link's duty cycle, then the replies to requests the peer forwarded here. With shared
     * threading this starts the I/O thread instead, which runs the link (if any), then the NBD server and the
     * volume agents as they start.
     */
    private void startLink()
    {
        if (bridge == null)
        {
            if (ctx.sharedThreading())
            {
                final LinkWakeup wakeup = new LinkWakeup(); // no link: the selector NBD shares, the bell agents ring
                ioThread = new IoThread(ctx.node(), null, ioIdleStrategy(wakeup, null), wakeup, errorHandler, clock,
                    ADMIN_WAIT_MS);
            }
            return;
        }
        bridge.controller(this);
        final Link linkItself = bridge.link();
        linkItself.doWork(clock.nanoTime()); // opens the channels now: a bad or busy endpoint stops the start
        if (linkItself.lastConnectError() != null)
        {
            throw new IllegalStateException("link endpoint " + ctx.linkEndpoint() + " (peer " + ctx.linkPeerEndpoint() +
                ") cannot be used: " + linkItself.lastConnectError());
        }
        final Agent linkAgent = new Agent()
        {
            @Override
            public int doWork()
            {
                final int work = linkItself.doWork(clock.nanoTime()) + forwardTarget.sendReplies();
                final long acked = link.ackedTicket();
                if (acked != lastAckedTicket)
                {
                    lastAckedTicket = acked;
                    wakeMirroringAgents(); // WB writes waiting for these acknowledgements complete now
                }
                return work;
            }

            @Override
            public void onClose()
            {
                linkItself.close();
            }

            @Override
            public String roleName()
            {
                return "link-" + ctx.node();
            }
        };
        bridge.doorbell(linkItself.wakeup()); // a thread that queues a message for the peer wakes the link thread
        if (ctx.sharedThreading())
        {
            ioLinkAgent = linkAgent;
            ioThread = new IoThread(ctx.node(), linkAgent, ioIdleStrategy(linkItself.wakeup(), linkItself),
                linkItself.wakeup(), errorHandler, clock, ADMIN_WAIT_MS);
            return;
        }
        linkRunner = new AgentRunner(linkIdleStrategy(linkItself), errorHandler, null, linkAgent);
        AgentRunner.startOnThread(linkRunner);
    }

    /**
     * Shared threading: the I/O thread waits on {@code wakeup} (NBD sockets, link sockets, rings) whatever the
     * configured strategy, but spin: backoff as the link thread's (yields while the link converses), sleep as a
     * fixed wait that a socket or a ring still ends.
     */
    private IdleStrategy ioIdleStrategy(final LinkWakeup wakeup, final Link linkOrNull)
    {
        final long parkNs = linkOrNull != null ? ctx.linkParkNsMax() : ctx.idleParkNsMax();
        switch (ctx.idleStrategy())
        {
            case "spin":
                return new BusySpinIdleStrategy();
            case "sleep":
                return new DoorbellIdleStrategy(wakeup::park, 0, 0, parkNs, parkNs);
            default:
                final IdleStrategy backoff = new DoorbellIdleStrategy(wakeup::park, 10, 0, 1_000, parkNs);
                return linkOrNull == null ? backoff :
                    new ConversationIdleStrategy(() -> linkOrNull.isConversing(clock.nanoTime()), backoff);
        }
    }

    /**
     * Shared threading, on the I/O thread inside a volume agent's duty cycle (a resync waiting for room in the
     * link's outbound queue): one duty cycle of the link agent, which drains the queue.
     */
    private void runLinkDuty()
    {
        final Agent linkAgent = ioLinkAgent;
        if (linkAgent == null)
        {
            Thread.yield();
            return;
        }
        try
        {
            linkAgent.doWork();
        }
        catch (final Exception ex)
        {
            errorHandler.onError(ex);
        }
    }

    /** The NBD server: on its own network thread, or hosted by the I/O thread with shared threading. */
    private void startNbd() throws IOException
    {
        final NbdServer.Context nbdCtx = new NbdServer.Context().host(ctx.bindAddress()).port(ctx.nbdPort());
        if (ioThread == null)
        {
            nbd = NbdServer.start(backend, nbdCtx);
            return;
        }
        nbd = NbdServer.start(backend, nbdCtx.hostedOn(ioThread.wakeup().selector(), ioThread.wakeup()));
        final NbdServer server = nbd;
        ioThread.add(new Agent()
        {
            @Override
            public int doWork()
            {
                return server.hostedDoWork();
            }

            @Override
            public void onClose()
            {
                server.hostedClose(); // the I/O thread stops: whatever the server has still open
            }

            @Override
            public String roleName()
            {
                return "nbd-" + ctx.node();
            }
        });
    }

    static Path nvmePath(final ControllerContext ctx, final UUID arrayId)
    {
        return ctx.nvmeDir().resolve(arrayId.toString()).resolve("node-" + ctx.node()).resolve("nvme");
    }

    private static CacheContext cacheContext(final ControllerContext ctx, final UUID arrayId) throws IOException
    {
        final Path path = nvmePath(ctx, arrayId);
        Files.createDirectories(path.getParent());
        return new CacheContext()
            .regionPath(path)
            .regionSizeBytes(ctx.nvmeSizeBytes())
            .arrayId(arrayId)
            .nodeId(ctx.nodeId())
            .destageBatchMax(VolumeAgent.DESTAGE_CHUNK_CHANGES_MAX)
            .conclude();
    }

    /**
     * One per agent thread, as configured (see {@link ControllerContext#IDLE_STRATEGY_PROP_NAME}); the backoff
     * strategy parks on the agent's {@code doorbell} (if any), so that handing it work wakes it at once.
     */
    private IdleStrategy idleStrategy()
    {
        return idleStrategy(new Doorbell()); // a pool's journal agent rings it (Pool.start)
    }

    /**
     * The link thread's: like the others, except that it waits on the link's {@link io.afasim.mirror.LinkWakeup}
     * (its sockets, and the bell rung by threads that queue messages for the peer) for at most
     * {@link ControllerContext#linkParkNsMax()} (the driver's timers), and not at all while the link is conversing:
     * then it yields (see {@link ConversationIdleStrategy}).
     */
    private IdleStrategy linkIdleStrategy(final Link link)
    {
        if (!"backoff".equals(ctx.idleStrategy()))
        {
            return idleStrategy(null);
        }
        final long parkNs = ctx.linkParkNsMax();
        return new ConversationIdleStrategy(() -> link.isConversing(clock.nanoTime()),
            new DoorbellIdleStrategy(link.wakeup()::park, 10, 0, parkNs, parkNs));
    }

    /** {@link #idleStrategy()}, parking on {@code doorbell} (null: none) with the default backoff strategy. */
    private IdleStrategy idleStrategy(final Doorbell doorbell)
    {
        switch (ctx.idleStrategy())
        {
            case "spin":
                return new BusySpinIdleStrategy();
            case "sleep":
                return new SleepingIdleStrategy(ctx.idleParkNsMax());
            default:
                return doorbell == null ? new BackoffIdleStrategy(10, 10, 1_000, ctx.idleParkNsMax()) :
                    new DoorbellIdleStrategy(doorbell, 10, 10, 1_000, ctx.idleParkNsMax());
        }
    }

    /**
     * The volume table is the commit point: each entry's pool is opened and recovered; a pool of this node's id
     * set that neither this table nor the peer's names was being created or deleted at a crash and is removed.
     */
    private void recoverVolumes() throws IOException
    {
        final VolumeTable.Contents table = VolumeTable.read(ctx.shelfDir(), ctx.node());
        nextVolumeId = table.nextVolumeId();
        tableNextVolumeId = table.nextVolumeId();
        final List<Integer> named = new ArrayList<>();
        final List<VolumeTable.Entry> peerEntries = ctx.controllers() == 1 ? List.of() :
            VolumeTable.read(ctx.shelfDir(), ctx.peerNode()).entries();
        boolean movedAway = false;
        for (final VolumeTable.Entry entry : table.entries())
        {
            final VolumeTable.Entry peerEntry = find(peerEntries, entry.volumeId());
            if (peerEntry != null && peerEntry.generation() > entry.generation())
            {
                // a move to the peer was accepted there before this controller dropped its entry: the peer owns it
                System.out.println("[afasim] controller " + ctx.node() + ": volume " + entry.name() +
                    " was moved to controller " + ctx.peerNode() + " (generation " + peerEntry.generation() + ")");
                movedAway = true;
                continue;
            }
            if (peerEntry != null && peerEntry.generation() == entry.generation())
            {
                throw new IllegalStateException("volume " + entry.name() + " (id " + entry.volumeId() + ") is in both " +
                    "volume tables with generation " + entry.generation() + ": ownership is ambiguous");
            }
            final Path poolDir = Pool.directory(ctx.shelfDir(), entry.volumeId());
            if (!Files.exists(poolDir))
            {
                throw new IllegalStateException("volume " + entry.name() + " (id " + entry.volumeId() +
                    ") is in the volume table but its pool " + poolDir + " is missing");
            }
            final Pool pool = Pool.open(poolDir, entry.volumeId(), this::agentsOfPool, errorHandler);
            pools.put(entry.volumeId(), pool);
            named.add(entry.volumeId());
            tableEntries.put(entry.volumeId(), entry);
            final WriteCache cache = nvme.newWriteCache(entry.volumeId());
            final int recovered = nvme.recovered(entry.volumeId()).changes().size();
            cache.adopt(nvme.recovered(entry.volumeId())); // T1: acknowledged changes not yet destaged
            if (recovered > 0)
            {
                System.out.println("[afasim] controller " + ctx.node() + ": volume " + entry.name() + " adopted " +
                    recovered + " acknowledged changes from NVMe memory; destaging them");
            }
            register(new VolumeAgent(
                new VolumeState(entry.volumeId(), entry.name(), entry.sizeBytes(), entry.mode(), entry.online()),
                pool.store().volume(entry.volumeId()), cache, ctx.readCacheBytes(), pool.store().redo(entry.volumeId()),
                ctx.redoBatchBytes(), pool.journal(), link, clock));
        }
        for (final int volumeId : nvme.recoveredPending().keySet())
        {
            if (!named.contains(volumeId))
            {
                nvme.discardRecovered(volumeId); // cached changes of a volume deleted before the crash
            }
        }
        if (movedAway)
        {
            writeTable();
        }
        removeOrphanPools(named);
    }

    private static VolumeTable.Entry find(final List<VolumeTable.Entry> entries, final int volumeId)
    {
        for (final VolumeTable.Entry entry : entries)
        {
            if (entry.volumeId() == volumeId)
            {
                return entry;
            }
        }
        return null;
    }

    /** The peer's entry for {@code volumeId} as the peer's table says now (re-read), or null. */
    VolumeTable.Entry peerEntry(final int volumeId)
    {
        refreshPeerVolumes();
        return find(peerVolumes, volumeId);
    }

    // ---------------------------------------------------------------- ownership move

    /** Old owner, after the peer accepted: requests go to the peer from now on; the agent hands its parked ones over. */
    void unregister(final VolumeAgent agent)
    {
        refreshPeerVolumes(); // the peer's table names the volume: the backend forwards it
        movingOut.put(agent.state().name(), agent);
        volumesByName.remove(agent.state().name());
        rebuildIndex();
    }

    /** A volume agent handed to the peer and not yet stopped (cluster agent thread). */
    VolumeAgent movingOut(final String name)
    {
        return movingOut.get(name);
    }

    /** Old owner: stops the handed-over volume's agent and closes its pool (files stay: the peer has them open). */
    void stopMovedAgent(final VolumeAgent agent)
    {
        movingOut.remove(agent.state().name());
        stopRunning(agent);
        agent.stopped(forwarder::submit); // anything queued after the hand-off, and anything offered still
        nvme.closeWriteCache(agent.cache());
        final Pool pool = pools.remove(agent.state().volumeId());
        if (pool != null)
        {
            pool.close();
        }
    }

    /**
     * New owner (cluster agent): opens the pool the peer handed over, starts the volume's agent, and writes the
     * volume into this controller's table with the next generation (the commit point of the move); then
     * {@code done} gets null or the reason it failed.
     */
    void adopt(final VolumeTable.Entry entry, final java.util.function.Consumer<String> done)
    {
        if (agentById(entry.volumeId()) != null)
        {
            done.accept(tableEntries.containsKey(entry.volumeId()) ? null : "volume id " + entry.volumeId() + " is busy");
            return;
        }
        poolWorker.execute(() ->
        {
            try
            {
                final Pool pool = Pool.open(Pool.directory(ctx.shelfDir(), entry.volumeId()), entry.volumeId(),
                    this::agentsOfPool, errorHandler);
                cluster.execute(() ->
                {
                    try
                    {
                        pools.put(entry.volumeId(), pool);
                        pool.start(idleStrategy(), errorHandler);
                        putTableEntry(entry);
                        startNewAgent(new VolumeState(entry.volumeId(), entry.name(), entry.sizeBytes(), entry.mode(),
                            entry.online()), pool);
                        done.accept(null);
                    }
                    catch (final RuntimeException ex)
                    {
                        errorHandler.onError(ex);
                        done.accept("cannot start volume " + entry.name() + ": " + ex.getMessage());
                    }
                });
            }
            catch (final RuntimeException ex)
            {
                done.accept("cannot open the pool of volume " + entry.name() + ": " + ex.getMessage());
            }
        });
    }

    private void removeOrphanPools(final List<Integer> named) throws IOException
    {
        final List<Integer> peerNamed = new ArrayList<>();
        for (final VolumeTable.Entry entry : VolumeTable.read(ctx.shelfDir(), ctx.peerNode()).entries())
        {
            peerNamed.add(entry.volumeId());
        }
        final int parity = VolumeTable.firstVolumeId(ctx.node()) & 1;
        try (var dirs = Files.list(ctx.shelfDir()))
        {
            for (final Path dir : (Iterable<Path>)dirs::iterator)
            {
                final int volumeId = Pool.volumeIdOf(dir);
                if (volumeId < 0 || (volumeId & 1) != parity || named.contains(volumeId) || peerNamed.contains(volumeId))
                {
                    continue;
                }
                System.err.println("[afasim] controller " + ctx.node() + ": pool of volume id " + volumeId +
                    " was being created or deleted at the crash; deleting it");
                Pool.deleteFiles(dir);
                nextVolumeId = Math.max(nextVolumeId, volumeId + 2);
            }
        }
    }

    private void register(final VolumeAgent agent)
    {
        volumesByName.put(agent.state().name(), agent);
        rebuildIndex();
    }

    private void rebuildIndex()
    {
        int maxId = 0;
        for (final VolumeAgent agent : volumesByName.values())
        {
            maxId = Math.max(maxId, agent.state().volumeId());
        }
        final VolumeAgent[] byId = new VolumeAgent[maxId + 1];
        for (final VolumeAgent agent : volumesByName.values())
        {
            byId[agent.state().volumeId()] = agent;
        }
        agentsById = byId;
    }

    private void startAgent(final VolumeAgent agent)
    {
        if (ioThread != null)
        {
            agent.doorbell().hostedBy(ioThread.wakeup());
            agent.whileLinkFull(this::runLinkDuty);
            agent.beforeBlocking(this::flushHostedNbd);
            agent.syncBehind(true);
            ioThread.add(agent);
            return;
        }
        final LinkWakeup wakeup = ctx.nbdOnVolumeThreads() ? new LinkWakeup() : null;
        final IdleStrategy idle = wakeup != null ? volumeIdleStrategy(wakeup) : idleStrategy(agent.doorbell());
        final AgentRunner runner = new AgentRunner(
            idle instanceof DoorbellIdleStrategy && bridge != null && bridge.link().context().conversationWindowNs() > 0 ?
                new ConversationIdleStrategy(agent::isAwaitingPeer, idle) : idle,
            errorHandler, null, wakeup != null ? withNbdLoop(agent, wakeup) : agent);
        runners.put(agent, runner);
        AgentRunner.startOnThread(runner);
    }

    /**
     * NBD on volume threads: the volume's thread also serves the NBD connections that picked the volume (an
     * {@link NbdLoop}): their sockets, then the agent's duty cycle, then the replies it completed, all on this thread.
     * It waits on {@code wakeup}, which its sockets and its doorbell end. When the thread stops (the volume moved,
     * was deleted, or the controller stops) its connections go back to the NBD network thread.
     */
    private Agent withNbdLoop(final VolumeAgent agent, final LinkWakeup wakeup)
    {
        final NbdLoop loop = new NbdLoop("volume-" + agent.state().name(), wakeup.selector(), wakeup);
        agent.doorbell().hostedBy(wakeup);
        agent.beforeBlocking(loop::flush); // replies out before the cycle's commit I/O
        nbdLoops.put(agent, loop);
        return new Agent()
        {
            @Override
            public void onStart()
            {
                agent.onStart();
            }

            @Override
            public int doWork() throws Exception
            {
                return loop.doWork() + agent.doWork() + loop.flush();
            }

            @Override
            public void onClose()
            {
                nbdLoops.remove(agent);
                try
                {
                    agent.onClose();
                }
                finally
                {
                    loop.close();
                    wakeup.close();
                }
            }

            @Override
            public String roleName()
            {
                return agent.roleName();
            }
        };
    }

    /** The NBD loop of the volume's thread, or null: NBD for it is served on the network thread. */
    NbdLoop nbdLoop(final VolumeAgent agent)
    {
        return nbdLoops.get(agent);
    }

    /** A volume thread that serves NBD waits on its {@code wakeup} (sockets and doorbell), as configured but spin. */
    private IdleStrategy volumeIdleStrategy(final LinkWakeup wakeup)
    {
        switch (ctx.idleStrategy())
        {
            case "spin":
                return new BusySpinIdleStrategy();
            case "sleep":
                return new DoorbellIdleStrategy(wakeup::park, 0, 0, ctx.idleParkNsMax(), ctx.idleParkNsMax());
            default:
                return new DoorbellIdleStrategy(wakeup::park, 10, 10, 1_000, ctx.idleParkNsMax());
        }
    }

    /**
     * Fault injection ({@code afactl fault link MODE}): {@code partition} cuts the link both ways (this side sends
     * nothing and hears nothing, so the peer hears nothing either), {@code deaf} cuts what this side hears (a one-way
     * loss), {@code heal} ends either. The disk heartbeat goes on, so each side sees its peer SUSPECT, not DOWN.
     */
    AdminResponse injectLinkFault(final String mode)
    {
        if (bridge == null)
        {
            return AdminResponse.error("refused: controller " + ctx.node() + " runs alone (no link to cut)");
        }
        if (!AdminProtocol.LINK_FAULTS.contains(mode))
        {
            return AdminResponse.error("refused: a link fault is partition, deaf or heal, not " + mode);
        }
        final Link linkItself = bridge.link();
        linkItself.partitioned("partition".equals(mode));
        linkItself.deaf("deaf".equals(mode));
        System.out.println("[afasim] controller " + ctx.node() + ": link fault " + linkItself.fault() + " (afactl)");
        return AdminResponse.ok("link fault of controller " + ctx.node() + ": " + linkItself.fault(), List.of());
    }

    /** The link fault injected ({@link #injectLinkFault}): partition, deaf, none, or - without a link. */
    String linkFault()
    {
        return bridge == null ? "-" : bridge.link().fault();
    }

    /** Shared threading, on the I/O thread: the NBD replies completed so far go out now (once NBD has started). */
    private void flushHostedNbd()
    {
        final NbdServer server = nbd;
        if (server != null)
        {
            server.hostedFlush();
        }
    }

    /** Its thread stops (dedicated), or the I/O thread no longer runs it (shared). */
    private void stopRunning(final VolumeAgent agent)
    {
        if (ioThread != null)
        {
            ioThread.remove(agent);
            return;
        }
        CloseHelper.close(runners.remove(agent));
    }

    private void writeRunFiles() throws IOException
    {
        Files.writeString(ctx.runDir().resolve("node-" + ctx.node() + ".nbd"),
            "nbd://" + ctx.bindAddress() + ":" + nbd.port() + "\n");
        Files.writeString(ctx.runDir().resolve("node-" + ctx.node() + ".admin"),
            ctx.bindAddress() + ":" + admin.port() + "\n");
        Files.writeString(ctx.runDir().resolve("node-" + ctx.node() + ".pid"), ProcessHandle.current().pid() + "\n");
    }

    // ---------------------------------------------------------------- lookups

    Collection<VolumeAgent> volumeAgents()
    {
        return volumesByName.values();
    }

    VolumeAgent agentById(final int volumeId)
    {
        final VolumeAgent[] byId = agentsById;
        return volumeId >= 0 && volumeId < byId.length ? byId[volumeId] : null;
    }

    VolumeAgent agentByName(final String name)
    {
        return volumesByName.get(name);
    }

    ControllerContext context()
    {
        return ctx;
    }

    /**
     * Cluster agent, every heartbeat: each WB volume runs WB while the peer is up and its mirror is in sync
     * with the link's epoch, 1-way-WB otherwise. A difference becomes a volume-mirror task (quiesced, traced);
     * a volume with a task running is left alone, and one whose task failed waits a while before the next try.
     */
    private int reconcileMirrors(final long nowNs)
    {
        int submitted = 0;
        final boolean peerUp = membership.state() == Membership.PeerState.UP;
        final long epoch = link.epoch();
        for (final VolumeAgent agent : volumesByName.values())
        {
            final VolumeState state = agent.state();
            if (state.configuredMode() != WriteModeSetting.WB || !state.online())
            {
                continue;
            }
            final VolumeMirror mirror = agent.mirror();
            final String target;
            if (peerUp)
            {
                final boolean inSync = state.mode() == WriteModeSetting.WB && mirror.activeEpoch() == epoch &&
                    !mirror.isStale();
                target = inSync ? null : "wb";
            }
            else
            {
                target = state.mode() == WriteModeSetting.WB && membership.isPeerLost() ? "1wb" : null;
            }
            if (target == null || mirrorRetryNs.get(state.volumeId()) - nowNs > 0 ||
                cluster.isBusy(VolumeTasks.conflictKey(state.name())))
            {
                continue;
            }
            mirrorRetryNs.put(state.volumeId(), nowNs + TimeUnit.SECONDS.toNanos(1));
            cluster.submitInternal(tasks.prepareMirror(agent, target, epoch));
            submitted++;
        }
        return submitted;
    }

    PeerLink link()
    {
        return link;
    }

    /** The link's controller side, or null for a controller running alone. */
    LinkBridge linkBridge()
    {
        return bridge;
    }

    /** Re-reads the peer's volume table when it changed (cluster agent). */
    private void refreshPeerVolumes()
    {
        if (ctx.controllers() == 1)
        {
            return;
        }
        final Path file = ctx.shelfDir().resolve(VolumeTable.fileName(ctx.peerNode()));
        try
        {
            final long modifiedMs = Files.exists(file) ? Files.getLastModifiedTime(file).toMillis() : 0;
            if (modifiedMs != peerTableModifiedMs)
            {
                peerVolumes = List.copyOf(VolumeTable.read(ctx.shelfDir(), ctx.peerNode()).entries());
                peerTableModifiedMs = modifiedMs;
            }
        }
        catch (final IOException | RuntimeException ex)
        {
            errorHandler.onError(new IOException("cannot read the peer's volume table " + file + ": " + ex, ex));
        }
    }

    List<VolumeTable.Entry> peerVolumes()
    {
        return peerVolumes;
    }

    boolean isPeerVolume(final int volumeId)
    {
        for (final VolumeTable.Entry entry : peerVolumes)
        {
            if (entry.volumeId() == volumeId)
            {
                return true;
            }
        }
        return false;
    }

    Forwarder forwarder()
    {
        return forwarder;
    }

    ForwardTarget forwardTarget()
    {
        return forwardTarget;
    }

    Membership membership()
    {
        return membership;
    }

    /** The pools this node has open (one per owned volume). */
    Collection<Pool> pools()
    {
        return pools.values();
    }

    Pool pool(final int volumeId)
    {
        return pools.get(volumeId);
    }

    /** The agent of pool {@code volumeId}'s volume, for the pool's checkpoint pause (zero or one). */
    private Collection<VolumeAgent> agentsOfPool(final int volumeId)
    {
        final VolumeAgent agent = agentById(volumeId);
        return agent == null ? List.of() : List.of(agent);
    }

    IdleStrategy idleStrategyForPools()
    {
        return idleStrategy();
    }

    ErrorHandler errorHandler()
    {
        return errorHandler;
    }

    /** Moves a volume's ownership to the peer: a volume-move task. */
    ClusterAgent.TaskOutcome moveVolume(final String name, final String to)
    {
        return cluster.submitAndWait(() -> tasks.prepareMove(name, to), ADMIN_WAIT_MS);
    }

    VolumeTasks tasks()
    {
        return tasks;
    }

    ExecutorService poolWorker()
    {
        return poolWorker;
    }

    UUID arrayId()
    {
        return arrayId;
    }

    /** One line for the start-up message: each pool's recovery report. */
    String recoverySummary()
    {
        final StringBuilder text = new StringBuilder().append(pools.size()).append(" open");
        for (final Pool pool : pools.values())
        {
            text.append("; ").append(pool.volumeId()).append(": ").append(pool.store().recovery());
        }
        return text.toString();
    }

    /** True when any pool's store is fenced after a failed commit. */
    boolean anyPoolFenced()
    {
        for (final Pool pool : pools.values())
        {
            if (pool.journal().isStopped())
            {
                return true;
            }
        }
        return false;
    }

    NvmeCache nvme()
    {
        return nvme;
    }

    NbdServer nbd()
    {
        return nbd;
    }

    public int nbdPort()
    {
        return nbd.port();
    }

    public int adminPort()
    {
        return admin.port();
    }

    long errorCount()
    {
        return errorCount.get();
    }

    long startedMs()
    {
        return startedMs;
    }

    // ---------------------------------------------------------------- configuration operations (admin thread)

    /** Creates a volume: a volume-create task (see {@link VolumeTasks}); waits for its outcome. */
    ClusterAgent.TaskOutcome createVolume(final String name, final long sizeBytes, final WriteModeSetting mode)
    {
        return cluster.submitAndWait(() -> tasks.prepareCreate(name, sizeBytes, mode), ADMIN_WAIT_MS);
    }

    /** Deletes a volume: a volume-delete task. */
    ClusterAgent.TaskOutcome deleteVolume(final String name)
    {
        return cluster.submitAndWait(() -> tasks.prepareDelete(name), ADMIN_WAIT_MS);
    }

    /** Changes a volume's write mode: a volume-set-mode task. */
    ClusterAgent.TaskOutcome setMode(final String name, final WriteModeSetting mode)
    {
        return cluster.submitAndWait(() -> tasks.prepareSetMode(name, mode), ADMIN_WAIT_MS);
    }

    /** Takes a volume offline (its I/O gets errors, not silence) or brings it back: a volume-offline/online task. */
    ClusterAgent.TaskOutcome setOnline(final String name, final boolean online)
    {
        return cluster.submitAndWait(() -> tasks.prepareOnline(name, online), ADMIN_WAIT_MS);
    }

    ClusterAgent cluster()
    {
        return cluster;
    }

    // ---------------------------------------------------------------- pieces of the tasks (cluster agent thread)

    boolean tableHas(final String name)
    {
        for (final VolumeTable.Entry entry : tableEntries.values())
        {
            if (entry.name().equals(name))
            {
                return true;
            }
        }
        return false;
    }

    /** The next id of this node's set (see {@link VolumeTable#firstVolumeId}). */
    int allocateVolumeId()
    {
        final int volumeId = nextVolumeId;
        nextVolumeId += 2;
        return volumeId;
    }

    /** Durably: no volume created later gets an id up to {@code volumeId}. */
    void reserveVolumeId(final int volumeId)
    {
        nextVolumeId = Math.max(nextVolumeId, volumeId + 2);
        if (tableNextVolumeId <= volumeId)
        {
            tableNextVolumeId = volumeId + 2;
            writeTable();
        }
    }

    VolumeTable.Entry tableEntry(final int volumeId)
    {
        return tableEntries.get(volumeId);
    }

    void putTableEntry(final VolumeTable.Entry entry)
    {
        tableEntries.put(entry.volumeId(), entry);
        tableNextVolumeId = Math.max(tableNextVolumeId, entry.volumeId() + 2);
        writeTable();
    }

    void removeTableEntry(final int volumeId)
    {
        tableEntries.remove(volumeId);
        writeTable();
    }

    /** Formats the pool of a new volume (its disk group, with the volume created and committed in it). */
    Pool createPool(final int volumeId, final long sizeBytes)
    {
        final Pool existing = pools.get(volumeId);
        if (existing != null)
        {
            return existing;
        }
        final Path dir = Pool.directory(ctx.shelfDir(), volumeId);
        try
        {
            Pool.deleteFiles(dir); // half-formatted by a crash, or left by a failed create
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot clear " + dir, ex);
        }
        final Pool pool = Pool.format(dir, arrayId, Pool.geometry(ctx, sizeBytes), volumeId,
            sizeBytes / VolumeAgent.BLOCK_SIZE_BYTES, this::agentsOfPool, errorHandler);
        pools.put(volumeId, pool);
        pool.start(idleStrategy(), errorHandler);
        return pool;
    }

    /** Closes a pool (its journal agent and drives) and removes its files. */
    void deletePool(final int volumeId)
    {
        final Pool pool = pools.remove(volumeId);
        if (pool != null)
        {
            pool.close();
        }
        try
        {
            Pool.deleteFiles(Pool.directory(ctx.shelfDir(), volumeId));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot delete the pool of volume id " + volumeId, ex);
        }
    }

    /** Registers and starts the agent of a volume whose pool is open. */
    void startNewAgent(final VolumeState state, final Pool pool)
    {
        final WriteCache cache = nvme.newWriteCache(state.volumeId());
        nvme.discardRecovered(state.volumeId());
        final DedupVolume volume = pool.store().volume(state.volumeId());
        final VolumeRedo redo = pool.store().redo(state.volumeId());
        final VolumeAgent agent = new VolumeAgent(
            state, volume, cache, ctx.readCacheBytes(), redo, ctx.redoBatchBytes(), pool.journal(), link, clock);
        register(agent);
        startAgent(agent);
        final NbdServer server = nbd;
        if (server != null && ctx.nbdOnVolumeThreads())
        {
            server.rehome(state.volumeId()); // connections made while the peer owned it come to its thread too
        }
    }

    /** Stops a volume's agent (joins its thread), drops its cached changes and forgets it. */
    void stopAgent(final VolumeAgent agent)
    {
        stopRunning(agent);
        agent.stopped(request -> request.complete(HostRequest.ESHUTDOWN)); // offered after it stopped: deleted
        agent.cache().discardAll(); // its data is being deleted
        nvme.closeWriteCache(agent.cache());
        volumesByName.remove(agent.state().name());
        rebuildIndex();
    }

    private void writeTable()
    {
        try
        {
            VolumeTable.write(ctx.shelfDir(), ctx.node(),
                new VolumeTable.Contents(tableNextVolumeId, new ArrayList<>(tableEntries.values())));
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot write the volume table", ex);
        }
    }

    private static void check(final int status, final String what)
    {
        if (status != IoStatus.OK)
        {
            throw new IllegalStateException(what + ": " + IoStatus.name(status));
        }
    }

    /** Stops serving: NBD and admin first, then the agents. Nothing is lost: WT writes are durable when acknowledged. */
    @Override
    public void close()
    {
        CloseHelper.quietClose(admin);
        CloseHelper.quietClose(nbd);
        CloseHelper.quietClose(clusterRunner);
        CloseHelper.quietClose(quorum);
        CloseHelper.quietClose(linkRunner);
        CloseHelper.quietClose(ioThread);
        if (bridge == null && ioThread != null)
        {
            CloseHelper.quietClose(ioThread.wakeup()); // its own, without a link
        }
        if (bridge != null)
        {
            CloseHelper.quietClose(bridge.mirrorStore());
        }
        for (final AgentRunner runner : runners.values())
        {
            CloseHelper.quietClose(runner);
        }
        poolWorker.shutdown();
        try
        {
            poolWorker.awaitTermination(ADMIN_WAIT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
        }
        for (final Pool pool : pools.values())
        {
            CloseHelper.quietClose(pool);
        }
        CloseHelper.quietClose(nvme);
    }
}
