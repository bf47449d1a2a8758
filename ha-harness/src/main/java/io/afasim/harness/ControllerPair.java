package io.afasim.harness;

import io.afasim.controller.ControllerContext;
import io.afasim.mirror.LoopbackPorts;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * Controllers A and B of one array as real JVMs: one shared array directory (the shelf, the run files, the logs),
 * one NVMe root on /dev/shm shared by both (each node's region is {@code <root>/<array id>/node-X/nvme}), made for
 * this pair and deleted by {@link #close()}. NBD and admin listen on ports the controllers choose (0 = any free
 * port; read back from {@code run/node-X.nbd|.admin}), the link endpoints are two free UDP ports on 127.0.0.1
 * picked once (A's endpoint is B's peer endpoint and the other way round), so a restarted node keeps its link
 * address.
 * <p>
 * Sizes are the controller tests' small ones ({@link #testContext}); {@link ControllerNode#context()} changes
 * them per node before a start. Logs: {@code <array>/controller-A.log}, {@code controller-B.log} (kept);
 * {@link #logTails()} is what scenario failures print.
 */
public final class ControllerPair implements AutoCloseable
{
    public static final List<String> NODE_NAMES = List.of("A", "B");
    /** Extra controller processes a scenario may launch on the pair's array (misconfigured ones, say). */
    public static final int EXTRA_NODES_MAX = 8;

    private final Path arrayDir;
    private final Path nvmeRoot;
    private final String endpointA;
    private final String endpointB;
    private final ControllerNode a;
    private final ControllerNode b;
    private final List<ControllerNode> extras = new ArrayList<>();
    private final Thread shutdownHook;
    private boolean closed;

    private ControllerPair(final Path arrayDir)
    {
        this.arrayDir = arrayDir.toAbsolutePath();
        this.nvmeRoot = nvmeRootFor(this.arrayDir);
        final int[] linkPorts = LoopbackPorts.freeUdpPorts(2);
        this.endpointA = "127.0.0.1:" + linkPorts[0];
        this.endpointB = "127.0.0.1:" + linkPorts[1];
        this.a = new ControllerNode(
            testContext(this.arrayDir, nvmeRoot, "A").linkEndpoint(endpointA).linkPeerEndpoint(endpointB),
            this.arrayDir.resolve("controller-A.log"));
        this.b = new ControllerNode(
            testContext(this.arrayDir, nvmeRoot, "B").linkEndpoint(endpointB).linkPeerEndpoint(endpointA),
            this.arrayDir.resolve("controller-B.log"));
        // a scenario that dies without close() (the fork timed out, say) still stops its controllers
        this.shutdownHook = new Thread(this::closeNodes, "controller-pair-shutdown");
        Runtime.getRuntime().addShutdownHook(shutdownHook);
    }

    /** A pair on {@code arrayDir} (created if missing); nothing runs until {@link #start()}. */
    public static ControllerPair create(final Path arrayDir)
    {
        try
        {
            Files.createDirectories(arrayDir);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException("cannot create " + arrayDir, ex);
        }
        return new ControllerPair(arrayDir);
    }

    /**
     * The settings the pair's controllers start from: 2 controllers, ephemeral NBD/admin ports, 4 drives of 256 MiB
     * per pool (sparse), 1 MiB segments, a 16 MiB journal, 32 MiB of NVMe memory, NVMe root {@code nvmeRoot}.
     */
    public static ControllerContext testContext(final Path arrayDir, final Path nvmeRoot, final String node)
    {
        return new ControllerContext()
            .arrayDir(arrayDir)
            .node(node)
            .controllers(2)
            .nvmeDir(nvmeRoot)
            .nvmeSizeBytes(32L << 20)
            .nbdPort(0)
            .adminPort(0)
            .driveCount(4)
            .driveSizeBytes(256L << 20)
            .segmentSizeBytes(1 << 20)
            .journalSizeBytes(16L << 20);
    }

    /** Launches both, then waits (bounded) until both are up: they start concurrently, as after a power-on. */
    public ControllerPair start()
    {
        a.start();
        b.start();
        a.awaitUp();
        b.awaitUp();
        return this;
    }

    public ControllerNode a()
    {
        return a;
    }

    public ControllerNode b()
    {
        return b;
    }

    /** Node "A" or "B". */
    public ControllerNode node(final String name)
    {
        switch (name)
        {
            case "A":
                return a;
            case "B":
                return b;
            default:
                throw new IllegalArgumentException("a pair has nodes A and B, not " + name);
        }
    }

    /** The other node of the pair. */
    public ControllerNode peerOf(final ControllerNode node)
    {
        if (node != a && node != b)
        {
            throw new IllegalArgumentException("controller " + node.name() + " is not a node of this pair");
        }
        return node == a ? b : a;
    }

    /** Both nodes, A first. */
    public List<ControllerNode> nodes()
    {
        return List.of(a, b);
    }

    public Path arrayDir()
    {
        return arrayDir;
    }

    public Path nvmeRoot()
    {
        return nvmeRoot;
    }

    /**
     * A fresh context for a controller on this pair's array and NVMe root: the same sizes, and for node A or B that
     * node's link endpoints (never the bench's default ports).
     */
    public ControllerContext newContext(final String node)
    {
        final boolean isB = "B".equals(node);
        return testContext(arrayDir, nvmeRoot, node)
            .linkEndpoint(isB ? endpointB : endpointA)
            .linkPeerEndpoint(isB ? endpointA : endpointB);
    }

    /**
     * Launches one more controller process with {@code ctx} (log {@code <array>/extra-N-<node>.log}); it is stopped
     * by {@link #close()}. For scenarios about a controller that must refuse to start.
     */
    public ControllerNode launch(final ControllerContext ctx)
    {
        if (extras.size() >= EXTRA_NODES_MAX)
        {
            throw new IllegalStateException("at most " + EXTRA_NODES_MAX + " extra controllers per pair");
        }
        final ControllerNode node =
            new ControllerNode(ctx, arrayDir.resolve("extra-" + (extras.size() + 1) + "-" + ctx.node() + ".log"));
        extras.add(node);
        return node.start();
    }

    /** Both nodes' states and log tails (then any extra node's), for failure messages. */
    public String logTails()
    {
        final StringBuilder text = new StringBuilder();
        for (final ControllerNode node : nodes())
        {
            text.append(node.logTail());
        }
        for (final ControllerNode node : extras)
        {
            text.append(node.logTail());
        }
        return text.toString();
    }

    /** Stops every node still running (SIGTERM, then SIGKILL), deletes the NVMe root; keeps the array and logs. */
    @Override
    public void close()
    {
        if (closed)
        {
            return;
        }
        closed = true;
        closeNodes();
        try
        {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        }
        catch (final IllegalStateException ex)
        {
            // the JVM is shutting down: the hook runs (or ran) closeNodes
        }
        deleteTree(nvmeRoot);
    }

    private void closeNodes()
    {
        for (final ControllerNode node : extras)
        {
            node.close();
        }
        b.close();
        a.close();
    }

    /** {@code /dev/shm/afasim-harness-<pid>-<nanos>} (RAM, as the NVMe memory is), else beside the array. */
    private static Path nvmeRootFor(final Path arrayDir)
    {
        final Path shm = Path.of("/dev/shm");
        final Path parent = Files.isDirectory(shm) && Files.isWritable(shm) ? shm : arrayDir;
        return parent.resolve("afasim-harness-" + ProcessHandle.current().pid() + "-" + System.nanoTime());
    }

    static void deleteTree(final Path root)
    {
        if (!Files.exists(root))
        {
            return;
        }
        try (Stream<Path> paths = Files.walk(root))
        {
            paths.sorted(Comparator.reverseOrder()).forEach(path -> path.toFile().delete());
        }
        catch (final IOException ex)
        {
            System.err.println("[harness] could not delete " + root + ": " + ex);
        }
    }
}
