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
        exports.sort(Comparator.comparing(ExportInfo::name));
        return exports;
    }

    @Override
    public ExportInfo open(final String name)
    {
        final VolumeAgent agent = controller.agentByName(name);
        return agent == null ? null : info(agent.state());
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

    @Override
    public void submit(final HostRequest request)
    {
        final VolumeAgent agent = controller.agentById(request.exportId());
        if (agent == null)
        {
            request.complete(HostRequest.ESHUTDOWN); // the volume was deleted under an open connection
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
