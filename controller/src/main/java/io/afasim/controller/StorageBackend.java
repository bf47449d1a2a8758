package io.afasim.controller;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The NBD server's view of the controller: one export per volume (export id = volume id), requests
 * handed to the volume's agent. Runs on the NBD network thread; never blocks.
 */
final class StorageBackend implements NbdBackend
{
    static final int MINIMUM_BLOCK_SIZE = 4096;
    static final int PREFERRED_BLOCK_SIZE = 4096;
    static final int MAXIMUM_BLOCK_SIZE = 32 << 20;

    private final Controller controller;
    private final AtomicLong rejectedCount = new AtomicLong();

    StorageBackend(final Controller controller)
    {
        this.controller = controller;
    }

    @Override
    public List<ExportInfo> exports()
    {
        final List<ExportInfo> exports = new ArrayList<>();
        for (final VolumeAgent agent : controller.volumeAgents())
        {
            exports.add(info(agent.state()));
        }
        for (final VolumeTable.Entry entry : controller.peerVolumes())
        {
            if (controller.agentById(entry.volumeId()) == null)
            {
                exports.add(peerInfo(entry));
            }
        }
        exports.sort(Comparator.comparing(ExportInfo::name));
        return exports;
    }

    @Override
    public ExportInfo open(final String name)
    {
        final VolumeAgent agent = controller.agentByName(name);
        if (agent != null)
        {
            return info(agent.state());
        }
        for (final VolumeTable.Entry entry : controller.peerVolumes())
        {
            if (entry.name().equals(name))
            {
                return peerInfo(entry);
            }
        }
        return null;
    }

    /**
     * A volume the peer owns: exported here too (the non-optimized path); its requests are forwarded. Offline while
     * the owner is lost: takeover of the peer's volumes is not built yet.
     */
    private ExportInfo peerInfo(final VolumeTable.Entry entry)
    {
        final boolean ownerLost = controller.membership().isPeerLost() && !controller.link().isUp();
        return new ExportInfo(entry.volumeId(), entry.name(),
            "afasim volume " + entry.name() + " (" + entry.mode().label() + ", owner " + controller.context().peerNode() +
            ", forwarded by " + controller.context().node() + (ownerLost ? "; owner down: offline" : "") + ")",
            entry.sizeBytes(), false, entry.online() && !ownerLost, true,
            MINIMUM_BLOCK_SIZE, PREFERRED_BLOCK_SIZE, MAXIMUM_BLOCK_SIZE);
    }

    private ExportInfo info(final VolumeState state)
    {
        // multi-conn is safe: a FLUSH on any connection covers every write completed on any other, since a
        // write is acknowledged only once it meets its volume's durability rule
        return new ExportInfo(state.volumeId(), state.name(),
            "afasim volume " + state.name() + " (" + state.mode().label() + ", controller " +
            controller.context().node() + ")",
            state.sizeBytes(), false, state.online(), true, MINIMUM_BLOCK_SIZE, PREFERRED_BLOCK_SIZE, MAXIMUM_BLOCK_SIZE);
    }

    /** NBD on volume threads: the volume's thread serves the connections that picked it. */
    @Override
    public NbdLoop loopFor(final int exportId)
    {
        final VolumeAgent agent = controller.agentById(exportId);
        return agent == null ? null : controller.nbdLoop(agent);
    }

    @Override
    public void submit(final HostRequest request)
    {
        final VolumeAgent agent = controller.agentById(request.exportId());
        if (agent == null)
        {
            if (controller.isPeerVolume(request.exportId()))
            {
                controller.forwarder().submit(request); // the peer owns it (or owns it now: moved)
                return;
            }
            request.complete(HostRequest.ESHUTDOWN); // the volume was deleted under an open connection
            return;
        }
        submitTo(agent, request);
    }

    /** A request for a volume this controller owns (from the NBD thread or, forwarded, the link thread). */
    void submitLocal(final HostRequest request)
    {
        final VolumeAgent agent = controller.agentById(request.exportId());
        if (agent == null)
        {
            request.complete(HostRequest.ESHUTDOWN); // moved or deleted meanwhile: the peer's forwarder retries
            return;
        }
        submitTo(agent, request);
    }

    private void submitTo(final VolumeAgent agent, final HostRequest request)
    {
        if (request.command() == HostRequest.READ && agent.readCache().tryServe(request))
        {
            request.complete(HostRequest.OK); // every block in the read cache: answered here, no hand-off
            return;
        }
        if (!agent.offer(request))
        {
            // cannot happen within the NBD in-flight limits (connections x requests < queue capacity)
            rejectedCount.incrementAndGet();
            request.complete(HostRequest.EIO);
        }
    }

    long rejectedCount()
    {
        return rejectedCount.get();
    }
}
