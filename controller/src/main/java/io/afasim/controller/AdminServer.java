package io.afasim.controller;

import java.io.BufferedOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;

import io.afasim.dedup.DedupVolume;
import org.HdrHistogram.Histogram;

/**
 * The controller's admin endpoint: the line protocol of {@link AdminProtocol} on TCP. One thread
 * accepts; each connection gets a thread, at most {@link #CONNECTIONS_MAX} at once. Configuration
 * commands become tasks on the cluster agent (the handler waits, bounded, for the outcome); task and trace
 * queries run there too ({@link TaskRecords}); statistics are sampled on each volume's own thread.
 */
final class AdminServer implements AutoCloseable
{
    static final int CONNECTIONS_MAX = 8;
    static final int READ_TIMEOUT_MS = 300_000;

    private final Controller controller;
    private final ServerSocket socket;
    private final Semaphore connections = new Semaphore(CONNECTIONS_MAX);
    private final Thread acceptor;
    private volatile boolean closed;

    private AdminServer(final Controller controller, final ServerSocket socket)
    {
        this.controller = controller;
        this.socket = socket;
        this.acceptor = new Thread(this::acceptLoop, "admin-accept");
        this.acceptor.setDaemon(true);
    }

    static AdminServer start(final Controller controller, final String host, final int port) throws IOException
    {
        final ServerSocket socket = new ServerSocket();
        socket.setReuseAddress(true);
        socket.bind(new InetSocketAddress(InetAddress.getByName(host), port));
        final AdminServer server = new AdminServer(controller, socket);
        server.acceptor.start();
        return server;
    }

    int port()
    {
        return socket.getLocalPort();
    }

    private void acceptLoop()
    {
        while (!closed)
        {
            try
            {
                final Socket client = socket.accept();
                if (!connections.tryAcquire())
                {
                    try (OutputStream out = client.getOutputStream())
                    {
                        AdminProtocol.writeResponse(out, AdminResponse.error(
                            "too many admin connections (" + CONNECTIONS_MAX + "); try again"));
                    }
                    client.close();
                    continue;
                }
                final Thread handler = new Thread(() -> serve(client), "admin-" + client.getPort());
                handler.setDaemon(true);
                handler.start();
            }
            catch (final IOException ex)
            {
                if (!closed)
                {
                    System.err.println("[afasim] admin accept failed: " + ex);
                }
            }
        }
    }

    private void serve(final Socket client)
    {
        try (client)
        {
            client.setSoTimeout(READ_TIMEOUT_MS);
            final AdminLineReader reader = new AdminLineReader(client.getInputStream());
            final OutputStream out = new BufferedOutputStream(client.getOutputStream());
            while (!closed)
            {
                final String line = reader.readLine();
                if (line == null)
                {
                    return;
                }
                AdminResponse response;
                try
                {
                    response = handle(AdminProtocol.parseRequest(line));
                }
                catch (final AdminProtocolException ex)
                {
                    response = AdminResponse.error(ex.getMessage());
                }
                catch (final RuntimeException | IOException ex)
                {
                    response = AdminResponse.error("failed: " + ex.getMessage());
                }
                AdminProtocol.writeResponse(out, response);
                out.flush();
            }
        }
        catch (final SocketException ex)
        {
            // client went away
        }
        catch (final IOException ex)
        {
            if (!closed)
            {
                System.err.println("[afasim] admin connection failed: " + ex);
            }
        }
        finally
        {
            connections.release();
        }
    }

    AdminResponse handle(final AdminRequest request) throws IOException, AdminProtocolException
    {
        switch (request.command())
        {
            case STATUS:
                return status();

            case VOLUME_CREATE:
            {
                final String mode = request.arg("mode");
                return outcome(controller.createVolume(request.arg("name"),
                    AdminProtocol.parseSizeBytes(request.arg("size"), "size"),
                    WriteModeSetting.parse(mode == null ? controller.context().defaultMode() : mode)));
            }

            case VOLUME_LIST:
                return AdminResponse.ok(volumeRecords(null));

            case VOLUME_SHOW:
            {
                final List<Map<String, String>> records = volumeRecords(request.arg("name"));
                return records.isEmpty() ? AdminResponse.error("no volume " + request.arg("name")) :
                    AdminResponse.ok(records);
            }

            case VOLUME_DELETE:
                return outcome(controller.deleteVolume(request.arg("name")));

            case VOLUME_SET_MODE:
                return outcome(controller.setMode(request.arg("name"), WriteModeSetting.parse(request.arg("mode"))));

            case VOLUME_OFFLINE:
                return outcome(controller.setOnline(request.arg("name"), false));

            case VOLUME_ONLINE:
                return outcome(controller.setOnline(request.arg("name"), true));

            case VOLUME_MOVE:
                return outcome(controller.moveVolume(request.arg("name"), request.arg("to")));

            case STATS:
                return stats(request.arg("volume"));

            case TASK_LIST:
                return AdminResponse.ok(controller.cluster().query(TaskRecords::taskList, Controller.ADMIN_WAIT_MS));

            case TASK_SHOW:
                return TaskRecords.parseTaskId(request.arg("id")) < 0 ?
                    AdminResponse.error("refused: task id " + request.arg("id") + " is not a number") :
                    controller.cluster().query(
                        cluster -> TaskRecords.taskShow(cluster, TaskRecords.parseTaskId(request.arg("id"))),
                        Controller.ADMIN_WAIT_MS);

            case TRACE:
                return controller.cluster().query(
                    cluster -> TaskRecords.trace(cluster, controller, request.arg("volume"), request.arg("task")),
                    Controller.ADMIN_WAIT_MS);

            case FAULT_LINK:
                return controller.injectLinkFault(request.arg("fault"));

            default:
                return AdminResponse.error("unknown command " + request.command().wireName());
        }
    }

    private static AdminResponse outcome(final ClusterAgent.TaskOutcome outcome)
    {
        return outcome.ok() ? AdminResponse.ok(outcome.message(), List.of()) : AdminResponse.error(outcome.message());
    }

    private AdminResponse status()
    {
        final List<Map<String, String>> records = new ArrayList<>();
        long commits = 0;
        long checkpoints = 0;
        int fillPercentMax = 0;
        for (final Pool pool : controller.pools())
        {
            commits += pool.journal().commitCount();
            checkpoints += pool.journal().checkpointCount();
            fillPercentMax = Math.max(fillPercentMax, pool.journal().journalFillPercent());
        }
        records.add(AdminResponse.record("node",
            "node", controller.context().node(),
            "state", controller.anyPoolFenced() ? "fenced" : "up",
            "pid", Long.toString(ProcessHandle.current().pid()),
            "uptimeMs", Long.toString(System.currentTimeMillis() - controller.startedMs()),
            "nbd", "nbd://" + controller.context().bindAddress() + ":" + controller.nbdPort(),
            "volumes", Integer.toString(controller.volumeAgents().size()),
            "journalFillPercent", Integer.toString(fillPercentMax),
            "nvmeDirtyBytes", Long.toString(controller.nvme().dirtyBytes()),
            "commits", Long.toString(commits),
            "checkpoints", Long.toString(checkpoints),
            "errors", Long.toString(controller.errorCount()),
            "tasks", controller.cluster().isStopped() ? "stopped" : "up",
            "threading", controller.context().threading(),
            "nbdPlacement", controller.context().sharedThreading() ? "shared" : controller.context().nbdPlacement(),
            "peer", controller.context().controllers() == 1 ? "-" : controller.context().peerNode(),
            "peerState", controller.membership().state().name().toLowerCase(java.util.Locale.ROOT),
            "peerDiskBeatAgeMs", Long.toString(controller.membership().lastPeerBeatAgeMs()),
            "link", controller.link().isUp() ? "up" : "down",
            "linkEpoch", Long.toString(controller.link().epoch()),
            "linkFault", controller.linkFault(),
            "adminProtocol", Integer.toString(AdminProtocol.VERSION)));
        if (controller.context().controllers() == 2)
        {
            records.add(AdminResponse.record("node",
                "node", controller.context().peerNode(),
                "state", controller.membership().state().name().toLowerCase(java.util.Locale.ROOT),
                "link", controller.link().isUp() ? "up" : "down",
                "linkEpoch", Long.toString(controller.link().epoch()),
                "peerDiskBeatAgeMs", Long.toString(controller.membership().lastPeerBeatAgeMs()),
                "volumes", Integer.toString(controller.peerVolumes().size())));
        }
        records.addAll(volumeRecords(null));
        return AdminResponse.ok(records);
    }

    private List<Map<String, String>> volumeRecords(final String onlyName)
    {
        final List<Map<String, String>> records = new ArrayList<>();
        final List<VolumeAgent> agents = new ArrayList<>(controller.volumeAgents());
        agents.sort((a, b) -> a.state().name().compareTo(b.state().name()));
        for (final VolumeAgent agent : agents)
        {
            final VolumeState state = agent.state();
            if (onlyName != null && !onlyName.equals(state.name()))
            {
                continue;
            }
            records.add(AdminResponse.record("volume",
                "name", state.name(),
                "id", Integer.toString(state.volumeId()),
                "sizeBytes", Long.toString(state.sizeBytes()),
                "mode", state.configuredMode().label(),
                "runningMode", state.mode().label(),
                "state", state.online() ? "online" : "offline",
                "owner", controller.context().node(),
                "export", "nbd://" + controller.context().bindAddress() + ":" + controller.nbdPort() + "/" + state.name()));
        }
        // the peer's volumes, as its table says: exported here too (forwarded to the owner)
        final boolean ownerLost = controller.membership().isPeerLost() && !controller.link().isUp();
        for (final VolumeTable.Entry entry : controller.peerVolumes())
        {
            if (controller.agentById(entry.volumeId()) != null || onlyName != null && !onlyName.equals(entry.name()))
            {
                continue;
            }
            records.add(AdminResponse.record("volume",
                "name", entry.name(),
                "id", Integer.toString(entry.volumeId()),
                "sizeBytes", Long.toString(entry.sizeBytes()),
                "mode", entry.mode().label(),
                "runningMode", "-",
                "state", ownerLost ? "offline (owner down)" : entry.online() ? "online" : "offline",
                "owner", controller.context().peerNode(),
                "export", "nbd://" + controller.context().bindAddress() + ":" + controller.nbdPort() + "/" + entry.name()));
        }
        return records;
    }

    private AdminResponse stats(final String onlyName)
    {
        final List<Map<String, String>> volumes = new ArrayList<>();
        final List<Map<String, String>> latencies = new ArrayList<>();
        for (final VolumeAgent agent : controller.volumeAgents())
        {
            if (onlyName != null && !onlyName.equals(agent.state().name()))
            {
                continue;
            }
            final CompletableFuture<Map<String, String>> sample = new CompletableFuture<>();
            agent.execute(() -> sample.complete(sampleVolume(agent)));
            try
            {
                volumes.add(sample.get(Controller.ADMIN_WAIT_MS, TimeUnit.MILLISECONDS));
            }
            catch (final Exception ex)
            {
                return AdminResponse.error("volume " + agent.state().name() + ": no statistics: " + ex);
            }
            final Histogram mirrorWait = agent.mirrorLatencySnapshot();
            latencies.add(AdminResponse.record("latency",
                "volume", agent.state().name(),
                "layer", "mirror",
                "count", Long.toString(mirrorWait.getTotalCount()),
                "p50Us", micros(mirrorWait.getValueAtPercentile(50)),
                "p99Us", micros(mirrorWait.getValueAtPercentile(99)),
                "p999Us", micros(mirrorWait.getValueAtPercentile(99.9)),
                "maxUs", micros(mirrorWait.getMaxValue()),
                "inFlight", "-",
                "parked", "-"));
            for (final LayerId id : LayerId.TOP_DOWN)
            {
                if (id == LayerId.DRIVE)
                {
                    continue;
                }
                final Layer layer = agent.layer(id);
                final Histogram histogram = layer.latencySnapshot();
                latencies.add(AdminResponse.record("latency",
                    "volume", agent.state().name(),
                    "layer", id.label(),
                    "count", Long.toString(histogram.getTotalCount()),
                    "p50Us", micros(histogram.getValueAtPercentile(50)),
                    "p99Us", micros(histogram.getValueAtPercentile(99)),
                    "p999Us", micros(histogram.getValueAtPercentile(99.9)),
                    "maxUs", micros(histogram.getMaxValue()),
                    "inFlight", Integer.toString(layer.inFlight()),
                    "parked", Long.toString(layer.parkedCount())));
            }
        }
        if (onlyName != null && volumes.isEmpty())
        {
            return AdminResponse.error("no volume " + onlyName);
        }
        final List<Map<String, String>> records = new ArrayList<>(volumes);
        records.addAll(latencies);
        final LinkBridge bridge = controller.linkBridge();
        if (bridge != null && onlyName == null)
        {
            final io.afasim.mirror.LinkStats link = bridge.link().stats();
            records.add(AdminResponse.record("link",
                "state", controller.link().isUp() ? "up" : "down",
                "epoch", Long.toString(controller.link().epoch()),
                "rttCount", Long.toString(link.rttCount()),
                "rttP50Us", micros(link.rttP50Ns()),
                "rttP99Us", micros(link.rttP99Ns()),
                "messagesSent", Long.toString(link.messagesSent()),
                "messagesReceived", Long.toString(link.messagesReceived()),
                "staleDiscarded", Long.toString(link.staleMessages()),
                "malformed", Long.toString(link.malformedMessages()),
                "linkDowns", Long.toString(link.linkDowns()),
                "mediaRelaunches", Long.toString(link.mediaRelaunches()),
                "mirrorPagesHeld", Long.toString(bridge.mirrorStore().pageCount()),
                "mirrorRefused", Long.toString(bridge.mirrorOverflowCount()),
                "forwardedOut", Long.toString(controller.forwarder().forwardedCount()),
                "forwardedIn", Long.toString(controller.forwardTarget().servedCount())));
        }
        for (final VolumeAgent agent : controller.volumeAgents())
        {
            final Pool pool = controller.pool(agent.state().volumeId());
            if (pool == null || (onlyName != null && !onlyName.equals(agent.state().name())))
            {
                continue;
            }
            records.add(AdminResponse.record("journal",
                "volume", agent.state().name(),
                "commits", Long.toString(pool.journal().commitCount()),
                "batches", Long.toString(pool.journal().batchCount()),
                "checkpoints", Long.toString(pool.journal().checkpointCount()),
                "fillPercent", Integer.toString(pool.journal().journalFillPercent())));
        }
        return AdminResponse.ok(records);
    }

    /** Runs on the volume's agent thread. */
    private static Map<String, String> sampleVolume(final VolumeAgent agent)
    {
        final DedupVolume volume = agent.volume();
        return AdminResponse.record("volume",
            "name", agent.state().name(),
            "mode", agent.state().mode().label(),
            "writes", Long.toString(volume.writeCount()),
            "dedupHits", Long.toString(volume.dedupHitCount()),
            "zeroWrites", Long.toString(volume.zeroWriteCount()),
            "mappedBlocks", Long.toString(volume.mappedBlocks()),
            "storedBlocks", Long.toString(volume.uniqueBlocks()),
            "dedupRatio", String.format("%.2f", volume.dedupRatio()),
            "metadataBytes", Long.toString(volume.metadataBytes()),
            "cacheDirtyBytes", Long.toString(agent.cache().dirtyBytes()),
            "mirrorSent", Long.toString(agent.mirror().sentCount()),
            "mirrorQueueFull", Long.toString(agent.mirror().refusedCount()),
            "mirrorInvalidateLost", Long.toString(agent.mirror().invalidateLostCount()),
            "cacheHits", Long.toString(agent.cache().hitCount()),
            "cacheBackPressure", Long.toString(agent.cache().backPressureCount()),
            "cacheCorruptPages", Long.toString(agent.corruptPageCount()),
            "destageGroupCommits", Long.toString(agent.groupCommitCount()),
            "readCacheHits", Long.toString(agent.readCache().hitCount()),
            "readCacheMisses", Long.toString(agent.readCache().missCount()),
            "cleanedSegments", Long.toString(agent.cleanedSegmentCount()),
            "cleanedBlocksMoved", Long.toString(volume.relocatedCount()),
            "freeSegments", Integer.toString(volume.segmentLog().freeSegmentsForHost()),
            "writeAmplification", String.format("%.2f", volume.segmentLog().writeAmplification()),
            "errors", Long.toString(agent.errorCount()));
    }

    private static String micros(final long nanos)
    {
        return String.format("%.1f", nanos / 1000.0);
    }

    @Override
    public void close()
    {
        closed = true;
        try
        {
            socket.close();
        }
        catch (final IOException ignore)
        {
            // closing
        }
    }
}
