package io.afasim.mirror;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.lang.management.ManagementFactory;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import io.afasim.mirror.LinkTestSupport.RecordingHandler;
import org.HdrHistogram.Histogram;
import org.agrona.concurrent.AgentRunner;
import org.agrona.concurrent.BackoffIdleStrategy;
import org.agrona.concurrent.IdleStrategy;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * Bare link round trip: one 4 KiB MirrorPage at a time from node A's producer thread until its ticket is
 * acknowledged (producer thread -> ring -> A's link thread -> Aeron/UDP loopback -> B's link thread and
 * handler -> Ack -> A's link thread -> ackedTicket -> producer), after a warm-up; prints one line with the
 * caller's round trip and the link's own offer-to-ack RTT, then the idle CPU of each side.
 *
 * <pre>
 *   mvn -B -q -o test-compile -pl cache-mirror
 *   mvn -B -q -o dependency:build-classpath -pl cache-mirror -Dmdep.outputFile=/tmp/cp.txt
 *   java --add-opens java.base/jdk.internal.misc=ALL-UNNAMED \
 *     -cp cache-mirror/target/classes:cache-mirror/target/test-classes:$(cat /tmp/cp.txt) \
 *     io.afasim.mirror.LinkRoundTrip two-process      # or: in-jvm
 * </pre>
 * Properties: {@code afasim.bench.warmup} (20000), {@code afasim.bench.iterations} (100000),
 * {@code afasim.bench.parkNsMax} (100000: every thread's backoff idle strategy parks at most this long),
 * {@code afasim.bench.idleMs} (5000: idle CPU window, 0 = skip).
 */
public final class LinkRoundTrip
{
    static final String PEER_MODE = "peer";

    private LinkRoundTrip()
    {
    }

    /** What one run measured. */
    static final class Result
    {
        final String mode;
        final int iterations;
        final long parkNsMax;
        final Histogram caller;
        final LinkStats stats;
        final double idleCpuPercentA;
        final double idleCpuPercentB;

        Result(final String mode, final int iterations, final long parkNsMax, final Histogram caller,
            final LinkStats stats, final double idleCpuPercentA, final double idleCpuPercentB)
        {
            this.mode = mode;
            this.iterations = iterations;
            this.parkNsMax = parkNsMax;
            this.caller = caller;
            this.stats = stats;
            this.idleCpuPercentA = idleCpuPercentA;
            this.idleCpuPercentB = idleCpuPercentB;
        }

        String line()
        {
            return String.format("LinkRoundTrip mode=%s pages=%d parkNsMax=%d: 4 KiB MirrorPage->ack round trip " +
                "p50=%.1f us p99=%.1f us p99.9=%.1f us max=%.1f us; link offer->ack rtt p50=%.1f us p99=%.1f us%s",
                mode, iterations, parkNsMax,
                caller.getValueAtPercentile(50) / 1e3, caller.getValueAtPercentile(99) / 1e3,
                caller.getValueAtPercentile(99.9) / 1e3, caller.getMaxValue() / 1e3,
                stats.rttP50Ns() / 1e3, stats.rttP99Ns() / 1e3,
                Double.isNaN(idleCpuPercentA) ? "" : // no idle window (afasim.bench.idleMs=0)
                    String.format("; idle cpu A=%.1f%% B=%.1f%%", idleCpuPercentA, idleCpuPercentB));
        }
    }

    public static void main(final String[] args) throws Exception
    {
        final String mode = args.length > 0 ? args[0] : "two-process";
        if (PEER_MODE.equals(mode))
        {
            runPeer(Integer.parseInt(args[1]), Integer.parseInt(args[2]), Path.of(args[3]), Long.parseLong(args[4]));
            return;
        }
        final int warmup = Integer.getInteger("afasim.bench.warmup", 20_000);
        final int iterations = Integer.getInteger("afasim.bench.iterations", 100_000);
        final long parkNsMax = Long.getLong("afasim.bench.parkNsMax", 100_000L);
        final long idleMs = Long.getLong("afasim.bench.idleMs", 5_000L);
        final Result result = run("two-process".equals(mode), warmup, iterations, parkNsMax, idleMs);
        System.out.println(result.line());
    }

    static Result run(
        final boolean twoProcess, final int warmup, final int iterations, final long parkNsMax, final long idleMs)
        throws Exception
    {
        final Path dir = TestSupport.shmDirectory();
        final int[] ports = LoopbackPorts.freeUdpPorts(2);
        final int portA = ports[0];
        final int portB = ports[1];
        Process child = null;
        AgentRunner runnerB = null;
        Link linkB = null;
        final Link linkA = new Link(LinkTestSupport.context(dir, 0, portA, portB), new RecordingHandler());
        final AgentRunner runnerA = new AgentRunner(idle(parkNsMax), Throwable::printStackTrace, null, new LinkAgent(linkA));
        try
        {
            if (twoProcess)
            {
                child = startPeer(portB, portA, dir, parkNsMax);
            }
            else
            {
                final RecordingHandler handlerB = new RecordingHandler();
                handlerB.record = false;
                linkB = new Link(LinkTestSupport.context(dir, 1, portB, portA), handlerB);
                runnerB = new AgentRunner(idle(parkNsMax), Throwable::printStackTrace, null, new LinkAgent(linkB));
                AgentRunner.startOnThread(runnerB);
            }
            AgentRunner.startOnThread(runnerA);
            LinkTestSupport.awaitCondition("link up", 30_000, linkA::isUp);

            final LinkPublisher publisher = linkA.newPublisher();
            final UnsafeBuffer entry = new UnsafeBuffer(new byte[ChangeEntry.LENGTH_BYTES]);
            final UnsafeBuffer page = new UnsafeBuffer(new byte[NvmeRegion.BLOCK_SIZE_BYTES]);
            final Histogram caller = new Histogram(TimeUnit.SECONDS.toNanos(10), 3);
            final IdleStrategy idle = idle(parkNsMax);
            for (int i = 0; i < warmup + iterations; i++)
            {
                if (i == warmup)
                {
                    linkA.resetRtt();
                }
                LinkTestSupport.fillEntry(entry, 0, 1, i);
                page.putLong(0, i);
                final long startNs = System.nanoTime();
                final long ticket = publisher.mirrorPage(1, i, entry, 0, page, 0);
                if (ticket < 0)
                {
                    throw new IllegalStateException("page " + i + ": status " + ticket + " " + linkA.stats());
                }
                idle.reset();
                while (linkA.ticketStatus(ticket) == TicketStatus.PENDING)
                {
                    idle.idle();
                }
                if (!linkA.isAcked(ticket))
                {
                    throw new IllegalStateException("page " + i + " lost: " + linkA.stats());
                }
                if (i >= warmup)
                {
                    caller.recordValue(Math.min(System.nanoTime() - startNs, caller.getHighestTrackableValue()));
                }
            }
            final LinkStats stats = linkA.stats();

            double idleA = Double.NaN;
            double idleB = Double.NaN;
            if (idleMs > 0)
            {
                final Writer childIn = child == null ? null :
                    new OutputStreamWriter(child.getOutputStream(), StandardCharsets.US_ASCII);
                if (childIn != null)
                {
                    childIn.write("mark\n");
                    childIn.flush();
                }
                final long cpuStartNs = processCpuNs();
                final long wallStartNs = System.nanoTime();
                Thread.sleep(idleMs); // a measurement window, not a wait for a condition
                final long cpuNs = processCpuNs() - cpuStartNs;
                final long wallNs = System.nanoTime() - wallStartNs;
                idleA = 100.0 * cpuNs / wallNs;
                if (childIn != null)
                {
                    childIn.write("report\n");
                    childIn.flush();
                    idleB = readIdleReport(dir.resolve("peer.log"));
                }
                else
                {
                    idleB = idleA / 2; // both links in this process: split evenly
                    idleA = idleB;
                }
            }
            return new Result(twoProcess ? "two-process" : "in-jvm", iterations, parkNsMax, caller, stats, idleA, idleB);
        }
        finally
        {
            runnerA.close();
            if (runnerB != null)
            {
                runnerB.close();
            }
            if (child != null)
            {
                child.getOutputStream().close();
                if (!child.waitFor(10, TimeUnit.SECONDS))
                {
                    child.destroyForcibly();
                }
            }
            TestSupport.deleteRecursively(dir);
        }
    }

    private static IdleStrategy idle(final long parkNsMax)
    {
        return new BackoffIdleStrategy(10, 20, 1_000, parkNsMax);
    }

    static long processCpuNs()
    {
        return ((com.sun.management.OperatingSystemMXBean)ManagementFactory.getOperatingSystemMXBean())
            .getProcessCpuTime();
    }

    private static Process startPeer(final int localPort, final int peerPort, final Path dir, final long parkNsMax)
        throws IOException
    {
        final List<String> command = new ArrayList<>();
        command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
        command.add("--add-opens");
        command.add("java.base/jdk.internal.misc=ALL-UNNAMED");
        command.add("--add-opens");
        command.add("java.base/java.util.zip=ALL-UNNAMED");
        command.add("-Xmx256m");
        command.add("-XX:+UseParallelGC");
        command.add("-cp");
        command.add(System.getProperty("java.class.path"));
        command.add(LinkRoundTrip.class.getName());
        command.add(PEER_MODE);
        command.add(Integer.toString(localPort));
        command.add(Integer.toString(peerPort));
        command.add(dir.toString());
        command.add(Long.toString(parkNsMax));
        final Path log = dir.resolve("peer.log");
        return new ProcessBuilder(command)
            .redirectErrorStream(true)
            .redirectOutput(log.toFile())
            .start();
    }

    private static double readIdleReport(final Path log) throws Exception
    {
        // The child appends "IDLE_CPU <percent>" to its log; poll the file with a bounded deadline.
        final long deadlineNs = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
        final IdleStrategy idle = new BackoffIdleStrategy(1, 1, 100_000, 10_000_000);
        while (System.nanoTime() - deadlineNs < 0)
        {
            for (final String line : Files.readAllLines(log, StandardCharsets.US_ASCII))
            {
                if (line.startsWith("IDLE_CPU "))
                {
                    return Double.parseDouble(line.substring("IDLE_CPU ".length()));
                }
            }
            idle.idle();
        }
        return Double.NaN;
    }

    /** Node B in its own process: applies every message, reports its idle CPU when asked, exits on EOF. */
    private static void runPeer(final int localPort, final int peerPort, final Path dir, final long parkNsMax)
        throws IOException
    {
        final RecordingHandler handler = new RecordingHandler();
        handler.record = false;
        final Link link = new Link(LinkTestSupport.context(dir, 1, localPort, peerPort), handler);
        final AgentRunner runner = new AgentRunner(idle(parkNsMax), Throwable::printStackTrace, null, new LinkAgent(link));
        AgentRunner.startOnThread(runner);
        try (BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.US_ASCII)))
        {
            long cpuStartNs = 0;
            long wallStartNs = 0;
            String line;
            while ((line = in.readLine()) != null)
            {
                if ("mark".equals(line))
                {
                    cpuStartNs = processCpuNs();
                    wallStartNs = System.nanoTime();
                }
                else if ("report".equals(line))
                {
                    System.out.println("IDLE_CPU " + 100.0 * (processCpuNs() - cpuStartNs) / (System.nanoTime() - wallStartNs));
                    System.out.flush();
                }
            }
        }
        finally
        {
            runner.close();
        }
    }
}
