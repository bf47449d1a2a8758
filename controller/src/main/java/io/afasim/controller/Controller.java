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
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.LockSupport;

import io.afasim.dedup.DedupContext;
import io.afasim.dedup.DedupStore;
import io.afasim.dedup.DedupVolume;
import io.afasim.dedup.VolumeRedo;
import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import io.afasim.mirror.CacheContext;
import io.afasim.mirror.NvmeCache;
import io.afasim.mirror.WriteCache;
import io.afasim.utmd.BoundaryHook;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.BusySpinIdleStrategy;
import org.agrona.concurrent.SleepingIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * One controller: the storage core recovered from the shelf, a journal agent, one agent per volume,
 * the NBD export and the admin endpoint. Configuration operations (create, delete, mode, online) run as
 * journalled tasks on the cluster agent ({@link ClusterAgent}, {@link VolumeTasks}): conflicting ones are
 * refused, and a task interrupted by a crash is redone or rolled back at the next start, before the admin
 * endpoint accepts commands.
 */
public final class Controller implements AutoCloseable
{
    /** Longest an admin operation waits for an agent to answer. */
    static final long ADMIN_WAIT_MS = 60_000;

    private final ControllerContext ctx;
    private final NanoClock clock = SystemNanoClock.INSTANCE;
    private final DedupStore store;
    private final NvmeCache nvme;
    private final JournalAgent journal;
    private final AgentRunner journalRunner;
    private final Map<String, VolumeAgent> volumesByName = new ConcurrentHashMap<>();
    private final Map<VolumeAgent, AgentRunner> runners = new ConcurrentHashMap<>();
    private final AtomicLong errorCount = new AtomicLong();
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
    private NbdServer nbd;
    private AdminServer admin;
    private final long startedMs = System.currentTimeMillis();

    private Controller(final ControllerContext ctx, final DedupStore store, final NvmeCache nvme)
    {
        this.ctx = ctx;
        this.store = store;
        this.nvme = nvme;
        this.errorHandler = ex ->
        {
            errorCount.incrementAndGet();
            System.err.println("[afasim] controller " + ctx.node() + " error: " + ex);
            ex.printStackTrace(System.err);
        };
        this.journal = new JournalAgent(store, this::volumeAgents, errorHandler);
        this.journalRunner = new AgentRunner(idleStrategy(), errorHandler, null, journal);
        this.backend = new StorageBackend(this);
    }

    /**
     * Formats the shelf if the array directory has none, else recovers it; reconciles the volume table;
     * starts the agents, the NBD export and the admin endpoint.
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
        final DedupContext dedupContext = new DedupContext();
        final DedupStore store;
        if (Files.exists(ctx.shelfDir().resolve("ssd-00")))
        {
            store = DedupStore.open(ctx.shelfDir(), dedupContext);
        }
        else
        {
            store = DedupStore.format(ctx.shelfDir(), UUID.randomUUID(),
                new ShelfConfig(ctx.driveCount(), ctx.driveSizeBytes(), ctx.segmentSizeBytes(), ctx.journalSizeBytes()),
                dedupContext);
        }
        final NvmeCache nvme;
        try
        {
            nvme = NvmeCache.openOrCreate(cacheContext(ctx, store));
        }
        catch (final RuntimeException ex)
        {
            store.close();
            throw ex;
        }
        final Controller controller = new Controller(ctx, store, nvme);
        try
        {
            controller.recoverVolumes();
            AgentRunner.startOnThread(controller.journalRunner);
            for (final VolumeAgent agent : controller.volumesByName.values())
            {
                controller.startAgent(agent);
            }
            controller.startCluster(hook);
            controller.nbd = NbdServer.start(controller.backend,
                new NbdServer.Context().host(ctx.bindAddress()).port(ctx.nbdPort()));
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

    static Path nvmePath(final ControllerContext ctx, final UUID arrayId)
    {
        return ctx.nvmeDir().resolve(arrayId.toString()).resolve("node-" + ctx.node()).resolve("nvme");
    }

    private static CacheContext cacheContext(final ControllerContext ctx, final DedupStore store) throws IOException
    {
        final Path path = nvmePath(ctx, store.shelf().arrayId());
        Files.createDirectories(path.getParent());
        return new CacheContext()
            .regionPath(path)
            .regionSizeBytes(ctx.nvmeSizeBytes())
            .arrayId(store.shelf().arrayId())
            .nodeId(ctx.node().equals("A") ? 0 : 1)
            .destageBatchMax(VolumeAgent.DESTAGE_BATCH_MAX)
            .conclude();
    }

    /** One per agent thread, as configured (see {@link ControllerContext#IDLE_STRATEGY_PROP_NAME}). */
    private IdleStrategy idleStrategy()
    {
        switch (ctx.idleStrategy())
        {
            case "spin":
                return new BusySpinIdleStrategy();
            case "sleep":
                return new SleepingIdleStrategy(ctx.idleParkNsMax());
            default:
                return new BackoffIdleStrategy(10, 10, 1_000, ctx.idleParkNsMax());
        }
    }

    /** Volume table vs storage core: the table is the commit point; unnamed volumes are deleted. */
    private void recoverVolumes() throws IOException
    {
        final VolumeTable.Contents table = VolumeTable.read(ctx.shelfDir());
        nextVolumeId = table.nextVolumeId();
        tableNextVolumeId = table.nextVolumeId();
        final List<Integer> named = new ArrayList<>();
        for (final VolumeTable.Entry entry : table.entries())
        {
            final DedupVolume volume = store.volume(entry.volumeId());
            if (volume == null)
            {
                throw new IllegalStateException("volume " + entry.name() + " (id " + entry.volumeId() +
                    ") is in the volume table but not in the storage core");
            }
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
                volume, cache, ctx.readCacheBytes(), store.redo(entry.volumeId()), ctx.redoBatchBytes(), journal, clock));
        }
        for (final int volumeId : nvme.recoveredPending().keySet())
        {
            if (!named.contains(volumeId))
            {
                nvme.discardRecovered(volumeId); // cached changes of a volume deleted before the crash
            }
        }
        for (final int volumeId : store.volumeIds())
        {
            if (!named.contains(volumeId))
            {
                System.err.println("[afasim] controller " + ctx.node() + ": volume id " + volumeId +
                    " was being created or deleted at the crash; deleting it");
                check(store.deleteVolume(volumeId), "delete unnamed volume " + volumeId);
            }
            nextVolumeId = Math.max(nextVolumeId, volumeId + 1);
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
        final AgentRunner runner = new AgentRunner(idleStrategy(), errorHandler, null, agent);
        runners.put(agent, runner);
        AgentRunner.startOnThread(runner);
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

    JournalAgent journal()
    {
        return journal;
    }

    DedupStore store()
    {
        return store;
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

    int allocateVolumeId()
    {
        return nextVolumeId++;
    }

    /** Durably: no volume created later gets an id up to {@code volumeId}. */
    void reserveVolumeId(final int volumeId)
    {
        nextVolumeId = Math.max(nextVolumeId, volumeId + 1);
        if (tableNextVolumeId <= volumeId)
        {
            tableNextVolumeId = volumeId + 1;
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
        tableNextVolumeId = Math.max(tableNextVolumeId, entry.volumeId() + 1);
        writeTable();
    }

    void removeTableEntry(final int volumeId)
    {
        tableEntries.remove(volumeId);
        writeTable();
    }

    /** Registers and starts the agent of a volume just created in the storage core. */
    void startNewAgent(final VolumeState state, final DedupVolume volume, final VolumeRedo redo)
    {
        final WriteCache cache = nvme.newWriteCache(state.volumeId());
        nvme.discardRecovered(state.volumeId());
        final VolumeAgent agent = new VolumeAgent(
            state, volume, cache, ctx.readCacheBytes(), redo, ctx.redoBatchBytes(), journal, clock);
        register(agent);
        startAgent(agent);
    }

    /** Stops a volume's agent (joins its thread), drops its cached changes and forgets it. */
    void stopAgent(final VolumeAgent agent)
    {
        CloseHelper.close(runners.remove(agent));
        agent.cache().discardAll(); // its data is being deleted
        nvme.closeWriteCache(agent.cache());
        volumesByName.remove(agent.state().name());
        rebuildIndex();
    }

    private void writeTable()
    {
        try
        {
            VolumeTable.write(ctx.shelfDir(),
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
        for (final AgentRunner runner : runners.values())
        {
            CloseHelper.quietClose(runner);
        }
        CloseHelper.quietClose(journalRunner);
        CloseHelper.quietClose(nvme);
        CloseHelper.quietClose(store);
    }
}
