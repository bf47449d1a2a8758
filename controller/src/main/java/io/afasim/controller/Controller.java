package io.afasim.controller;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import io.afasim.dedup.DedupContext;
import io.afasim.dedup.DedupStore;
import io.afasim.dedup.DedupVolume;
import io.afasim.journal.IoStatus;
import io.afasim.journal.ShelfConfig;
import io.afasim.mirror.CacheContext;
import io.afasim.mirror.NvmeCache;
import io.afasim.mirror.WriteCache;
import org.agrona.CloseHelper;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.SystemNanoClock;

/**
 * One controller: the storage core recovered from the shelf, a journal agent, one agent per volume,
 * the NBD export and the admin endpoint. Configuration operations (create, delete, mode, online)
 * are serialized by the admin endpoint and run on the agents' threads under quiesce.
 */
public final class Controller implements AutoCloseable
{
    /** Longest an admin operation waits for an agent to answer. */
    static final long ADMIN_WAIT_MS = 60_000;
    static final long IDLE_PARK_NS_MAX = 100_000;

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
    private int nextVolumeId;
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

    private static IdleStrategy idleStrategy()
    {
        return new BackoffIdleStrategy(10, 10, 1_000, IDLE_PARK_NS_MAX);
    }

    /** Volume table vs storage core: the table is the commit point; unnamed volumes are deleted. */
    private void recoverVolumes() throws IOException
    {
        final VolumeTable.Contents table = VolumeTable.read(ctx.shelfDir());
        nextVolumeId = table.nextVolumeId();
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

    /** Creates a volume: in the storage core (durably), then in the volume table (the commit point). */
    synchronized String createVolume(final String name, final long sizeBytes, final WriteModeSetting mode)
        throws IOException
    {
        if (volumesByName.containsKey(name))
        {
            return "refused: volume " + name + " exists";
        }
        if (mode == WriteModeSetting.WB)
        {
            return "refused: mode wb needs the peer controller, which this build does not run yet (use wt or 1wb)";
        }
        final int volumeId = nextVolumeId++;
        final WriteCache cache = nvme.newWriteCache(volumeId);
        nvme.discardRecovered(volumeId);
        final CompletableFuture<DedupVolume> created = new CompletableFuture<>();
        if (!journal.execute(() ->
        {
            try
            {
                final DedupVolume volume = store.createVolume(volumeId, sizeBytes / 4096);
                final long durable = store.commitVolume(volumeId);
                if (durable < 0)
                {
                    throw new IllegalStateException("commit failed: " + IoStatus.name(durable));
                }
                created.complete(volume);
            }
            catch (final RuntimeException ex)
            {
                created.completeExceptionally(ex);
            }
        }))
        {
            return "refused: the journal agent is busy, try again";
        }
        final DedupVolume volume = await(created);
        final VolumeAgent agent = new VolumeAgent(
            new VolumeState(volumeId, name, sizeBytes, mode, true), volume, cache, ctx.readCacheBytes(),
            store.redo(volumeId),
            ctx.redoBatchBytes(), journal, clock);
        register(agent);
        writeTable();
        startAgent(agent);
        return null;
    }

    /** Deletes a volume: quiesce and stop its agent, drop it from the table, then from the storage core. */
    synchronized String deleteVolume(final String name) throws IOException
    {
        final VolumeAgent agent = volumesByName.get(name);
        if (agent == null)
        {
            return "refused: no volume " + name;
        }
        final String outcome = quiesce(agent, "delete", false, () -> agent.state().online(false));
        if (outcome != null)
        {
            return "refused: volume " + name + ": " + outcome;
        }
        CloseHelper.close(runners.remove(agent));
        agent.cache().discardAll(); // its data is being deleted
        nvme.closeWriteCache(agent.cache());
        volumesByName.remove(name);
        rebuildIndex();
        writeTable();
        final CompletableFuture<Integer> deleted = new CompletableFuture<>();
        journal.execute(() -> deleted.complete(store.deleteVolume(agent.state().volumeId())));
        final int status = await(deleted);
        return status == IoStatus.OK ? null : "volume " + name + " left the table but its space was not freed: " +
            IoStatus.name(status) + " (freed at the next start)";
    }

    /** Changes a volume's write mode under quiesce. */
    synchronized String setMode(final String name, final WriteModeSetting mode) throws IOException
    {
        final VolumeAgent agent = volumesByName.get(name);
        if (agent == null)
        {
            return "refused: no volume " + name;
        }
        if (mode == WriteModeSetting.WB)
        {
            return "refused: mode wb needs the peer controller, which this build does not run yet (use wt or 1wb)";
        }
        // entering WT needs every cached change destaged first (WT acknowledges only what is on the shelf)
        final String outcome = quiesce(agent, "set-mode " + mode.label(), mode == WriteModeSetting.WT, () ->
        {
            agent.cache().writeMode(VolumeAgent.toCacheMode(mode));
            agent.state().mode(mode);
        });
        if (outcome != null)
        {
            return "refused: volume " + name + ": " + outcome;
        }
        writeTable();
        return null;
    }

    /** Takes a volume offline (its I/O gets errors, not silence) or brings it back, under quiesce. */
    synchronized String setOnline(final String name, final boolean online) throws IOException
    {
        final VolumeAgent agent = volumesByName.get(name);
        if (agent == null)
        {
            return "refused: no volume " + name;
        }
        final String outcome = quiesce(agent, online ? "online" : "offline", false, () -> agent.state().online(online));
        if (outcome != null)
        {
            return "refused: volume " + name + ": " + outcome;
        }
        writeTable();
        return null;
    }

    private String quiesce(
        final VolumeAgent agent, final String reason, final boolean requiresCleanCache, final Runnable change)
    {
        final CompletableFuture<String> done = new CompletableFuture<>();
        final long timeoutNs = TimeUnit.MILLISECONDS.toNanos(ctx.quiesceTimeoutMs());
        if (!agent.execute(() -> agent.quiesce(reason, timeoutNs, requiresCleanCache, change,
            outcome -> done.complete(outcome == null ? "" : outcome))))
        {
            return "its agent is busy, try again";
        }
        final String outcome = await(done);
        return outcome.isEmpty() ? null : outcome;
    }

    private void writeTable() throws IOException
    {
        final List<VolumeTable.Entry> entries = new ArrayList<>();
        for (final VolumeAgent agent : volumesByName.values())
        {
            final VolumeState state = agent.state();
            entries.add(new VolumeTable.Entry(
                state.volumeId(), state.name(), state.sizeBytes(), state.mode(), state.online()));
        }
        entries.sort((a, b) -> Integer.compare(a.volumeId(), b.volumeId()));
        VolumeTable.write(ctx.shelfDir(), new VolumeTable.Contents(nextVolumeId, entries));
    }

    private static <T> T await(final CompletableFuture<T> future)
    {
        try
        {
            return future.get(ADMIN_WAIT_MS, TimeUnit.MILLISECONDS);
        }
        catch (final java.util.concurrent.ExecutionException ex)
        {
            throw new IllegalStateException(ex.getCause().getMessage(), ex.getCause());
        }
        catch (final java.util.concurrent.TimeoutException ex)
        {
            throw new IllegalStateException("no answer from the agent within " + ADMIN_WAIT_MS + " ms");
        }
        catch (final InterruptedException ex)
        {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("interrupted");
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
        for (final AgentRunner runner : runners.values())
        {
            CloseHelper.quietClose(runner);
        }
        CloseHelper.quietClose(journalRunner);
        CloseHelper.quietClose(nvme);
        CloseHelper.quietClose(store);
    }
}
