package io.afasim.harness;

import io.afasim.controller.NbdClient;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The steps scenarios share, on one {@link ControllerPair}, each through a user's interface (afactl, the admin
 * endpoint, NBD) and each failing with both controllers' log tails. A scenario reads as the operator's and the
 * host's actions:
 * <pre>
 *   scenario.createVolume(pair.a(), "va", 16 &lt;&lt; 20);
 *   try (LedgerWriter load = scenario.writeThrough(ledger, 16, pair.a(), pair.b()))   // owner + non-owner paths
 *   {
 *       load.awaitProgress(2_000, Scenario.AWAIT_TIMEOUT_MS, scenario.diagnostics());
 *       scenario.moveVolume(pair.a(), "va", "B");
 *       load.awaitProgress(2_000, Scenario.AWAIT_TIMEOUT_MS, scenario.diagnostics());
 *       load.stop(scenario.diagnostics()).assertNoHostErrors(scenario.diagnostics());
 *   }
 *   scenario.verifyFrom(ledger, pair.a(), pair.b());
 * </pre>
 */
public final class Scenario
{
    /** Bound of every wait of a scenario step (generous: two controllers and the host share 2 cores). */
    public static final long AWAIT_TIMEOUT_MS = 120_000;

    private final ControllerPair pair;
    private final long startedNs = System.nanoTime();

    private Scenario(final ControllerPair pair)
    {
        this.pair = pair;
    }

    public static Scenario on(final ControllerPair pair)
    {
        return new Scenario(pair);
    }

    public ControllerPair pair()
    {
        return pair;
    }

    /** Prints {@code [harness] +MS ms: what}: the scenario's steps with their time, beside the controllers' logs. */
    public void note(final String what)
    {
        System.out.println("[harness] +" + (System.nanoTime() - startedNs) / 1_000_000 + " ms: " + what);
    }

    /** Both controllers' states and log tails, computed when a failure message needs them. */
    public Supplier<String> diagnostics()
    {
        return pair::logTails;
    }

    /**
     * Writes the evidence of a failure beside the logs, for each node that runs and is not frozen: its threads
     * ({@code jstack}) to {@code <array>/evidence-X-jstack.txt} and {@code afactl --json stats} and {@code status} to
     * {@code evidence-X-stats.json} and {@code evidence-X-status.json}. Returns what it wrote, one path a line. Never
     * throws: a failing scenario must still report its own failure.
     */
    public String captureEvidence()
    {
        final StringBuilder written = new StringBuilder();
        for (final ControllerNode node : pair.nodes())
        {
            if (!node.isAlive() || node.isFrozen())
            {
                continue;
            }
            try
            {
                final Path dir = pair.arrayDir();
                written.append(write(dir.resolve("evidence-" + node.name() + "-jstack.txt"), node.threadDump()));
                written.append(write(dir.resolve("evidence-" + node.name() + "-stats.json"),
                    node.afactl("--json", "stats").toString()));
                written.append(write(dir.resolve("evidence-" + node.name() + "-status.json"),
                    node.afactl("--json", "status").toString()));
            }
            catch (final IOException | RuntimeException ex)
            {
                written.append("(evidence of controller ").append(node.name()).append(" incomplete: ").append(ex)
                    .append(")\n");
            }
        }
        return written.toString();
    }

    private static String write(final Path file, final String text) throws IOException
    {
        Files.writeString(file, text, StandardCharsets.UTF_8);
        return file + "\n";
    }

    /** Runs afactl on {@code node} and fails (with its output and the logs) unless it exits 0. */
    public AfactlResult afactlOk(final ControllerNode node, final String... args)
    {
        final AfactlResult result = node.afactl(args);
        if (!result.ok())
        {
            throw new AssertionError("afactl " + String.join(" ", args) + " on controller " + node.name() + ": " +
                result + "\n" + pair.logTails());
        }
        return result;
    }

    /** {@code afactl volume create NAME --size BYTES} on {@code owner}, in the controller's default mode. */
    public void createVolume(final ControllerNode owner, final String volume, final long sizeBytes)
    {
        afactlOk(owner, "volume", "create", volume, "--size", Long.toString(sizeBytes));
    }

    /** {@code afactl volume create NAME --size BYTES --mode MODE} on {@code owner}. */
    public void createVolume(final ControllerNode owner, final String volume, final long sizeBytes, final String mode)
    {
        afactlOk(owner, "volume", "create", volume, "--size", Long.toString(sizeBytes), "--mode", mode);
    }

    /** The volume's NBD URI on each node, in order (one host path per controller). */
    public static String[] nbdUris(final String volume, final ControllerNode... nodes)
    {
        final String[] uris = new String[nodes.length];
        for (int i = 0; i < nodes.length; i++)
        {
            uris[i] = nodes[i].nbdUri(volume);
        }
        return uris;
    }

    /**
     * A {@link LedgerWriter} on the ledger's volume with one connection through each node: through the owner and
     * the non-owner once forwarding exists, or twice through one node (multi-conn).
     */
    public LedgerWriter writeThrough(final Ledger ledger, final int queueDepth, final ControllerNode... nodes)
        throws IOException
    {
        for (final ControllerNode node : nodes)
        {
            awaitExport(node, ledger.volume());
        }
        return LedgerWriter.start(ledger, queueDepth, nbdUris(ledger.volume(), nodes));
    }

    /**
     * Waits (bounded) until {@code node} lists {@code volume} among its NBD exports (NBD_OPT_LIST): at once on the
     * owner; on the non-owner once it has learnt of the peer's volume.
     */
    public void awaitExport(final ControllerNode node, final String volume)
    {
        final AtomicReference<String> lastAnswer = new AtomicReference<>("none");
        Poll.until("controller " + node.name() + " exports " + volume + " over NBD", AWAIT_TIMEOUT_MS, () ->
        {
            try
            {
                final NbdUri address = NbdUri.parse(node.nbdUri(volume));
                final List<String> exports = NbdClient.listExports(address.host(), address.port());
                lastAnswer.set(exports.toString());
                return exports.contains(volume);
            }
            catch (final IOException ex)
            {
                lastAnswer.set(ex.toString());
                return false;
            }
        }, () -> "last export list: " + lastAnswer.get() + "\n" + pair.logTails());
    }

    /** Verifies the ledger by reading the volume through each node; fails on the first inconsistent report. */
    public List<LedgerReport> verifyFrom(final Ledger ledger, final ControllerNode... nodes) throws IOException
    {
        final List<LedgerReport> reports = new ArrayList<>();
        for (final ControllerNode node : nodes)
        {
            final LedgerReport report = ledger.verify(node.nbdUri(ledger.volume()));
            report.assertConsistent(() -> "(read through controller " + node.name() + ")\n" + pair.logTails());
            System.out.println("[harness] " + report.summary());
            reports.add(report);
        }
        return reports;
    }

    /**
     * Waits (bounded) until {@code volume show} on {@code node} reports {@code field} = {@code value}, e.g. owner B
     * after a move or a failover, mode wb after the peer is back. Returns the volume record.
     */
    public Map<String, String> awaitVolume(
        final ControllerNode node, final String volume, final String field, final String value)
    {
        return awaitVolume(node, volume, field, value, AWAIT_TIMEOUT_MS);
    }

    /** {@link #awaitVolume(ControllerNode, String, String, String)} within {@code timeoutMs}. */
    public Map<String, String> awaitVolume(
        final ControllerNode node, final String volume, final String field, final String value, final long timeoutMs)
    {
        return awaitRecord("controller " + node.name() + " reports volume " + volume + " " + field + "=" + value,
            () -> node.volume(volume), field, value, timeoutMs);
    }

    /** Waits (bounded) until {@code node}'s status reports {@code field} = {@code value}. Returns the node record. */
    public Map<String, String> awaitStatus(final ControllerNode node, final String field, final String value)
    {
        final String what = "controller " + node.name() + " status " + field + "=" + value;
        return awaitRecord(what, node::status, field, value, AWAIT_TIMEOUT_MS);
    }

    /** Waits (bounded) until {@code node} reports its peer in {@code state} (up, suspect, down, alone). */
    public Map<String, String> awaitPeerState(final ControllerNode node, final String state)
    {
        return awaitStatus(node, "peerState", state);
    }

    /** Waits (bounded) until {@code node} runs {@code volume} in {@code mode} (wb, 1wb, wt): field runningMode. */
    public Map<String, String> awaitRunningMode(final ControllerNode node, final String volume, final String mode)
    {
        return awaitVolume(node, volume, "runningMode", mode);
    }

    /** {@link #awaitRunningMode(ControllerNode, String, String)} within {@code timeoutMs}. */
    public Map<String, String> awaitRunningMode(
        final ControllerNode node, final String volume, final String mode, final long timeoutMs)
    {
        return awaitVolume(node, volume, "runningMode", mode, timeoutMs);
    }

    /** The link epoch {@code node}'s status reports now (field {@code linkEpoch}). */
    public long linkEpoch(final ControllerNode node)
    {
        try
        {
            return Long.parseLong(node.status().get("linkEpoch"));
        }
        catch (final IOException | RuntimeException ex)
        {
            throw new AssertionError("no link epoch in the status of controller " + node.name() + ": " + ex + "\n" +
                pair.logTails(), ex);
        }
    }

    /**
     * Waits (bounded by {@code timeoutMs}) until {@code node} reports its peer back in a new link epoch: status
     * {@code peerState=up}, {@code link=up} and a {@code linkEpoch} other than {@code epochBefore} (the one before
     * the fault). Returns the node record.
     */
    public Map<String, String> awaitPeerBack(final ControllerNode node, final long epochBefore, final long timeoutMs)
    {
        final AtomicReference<Map<String, String>> record = new AtomicReference<>();
        final AtomicReference<String> lastAnswer = new AtomicReference<>("none");
        final String what = "controller " + node.name() + " status peerState=up, link=up, linkEpoch other than " +
            epochBefore;
        Poll.until(what, timeoutMs, () ->
        {
            try
            {
                final Map<String, String> answer = node.status();
                lastAnswer.set(answer.toString());
                record.set(answer);
                return "up".equals(answer.get("peerState")) && "up".equals(answer.get("link")) &&
                    !Long.toString(epochBefore).equals(answer.get("linkEpoch"));
            }
            catch (final IOException ex)
            {
                lastAnswer.set(ex.toString());
                return false;
            }
        }, () -> "last answer: " + lastAnswer.get() + "\n" + pair.logTails());
        return record.get();
    }

    /**
     * {@code afactl volume move NAME --to NODE} sent to {@code via}; then waits until the new owner reports itself
     * as the volume's owner.
     */
    public void moveVolume(final ControllerNode via, final String volume, final String to)
    {
        afactlOk(via, "volume", "move", volume, "--to", to);
        awaitVolume(pair.node(to), volume, "owner", to);
    }

    /** Waits (bounded) until every load has acknowledged {@code moreAcknowledged} writes beyond its count now. */
    public void progress(final long moreAcknowledged, final LedgerWriter... loads)
    {
        final long[] targets = new long[loads.length];
        for (int i = 0; i < loads.length; i++)
        {
            targets[i] = loads[i].acknowledged() + moreAcknowledged;
        }
        for (int i = 0; i < loads.length; i++)
        {
            loads[i].awaitAcknowledged(targets[i], AWAIT_TIMEOUT_MS, diagnostics());
        }
    }

    /**
     * Waits (bounded) until every load's connections through {@code node} have acknowledged {@code moreAcknowledged}
     * writes beyond their count now: that controller's host paths make progress, whatever the others do.
     */
    public void progressThrough(final ControllerNode node, final long moreAcknowledged, final LedgerWriter... loads)
    {
        final String address = node.nbdAddress();
        final long[] targets = new long[loads.length];
        for (int i = 0; i < loads.length; i++)
        {
            targets[i] = loads[i].acknowledgedThrough(address) + moreAcknowledged;
        }
        for (int i = 0; i < loads.length; i++)
        {
            loads[i].awaitAcknowledgedThrough(address, targets[i], AWAIT_TIMEOUT_MS, diagnostics());
        }
    }

    /** Stops every load (each drains what it sent) and fails if any of them saw a host error. */
    public void stopCleanly(final LedgerWriter... loads)
    {
        for (final LedgerWriter load : loads)
        {
            load.stop(diagnostics());
        }
        for (final LedgerWriter load : loads)
        {
            load.assertNoHostErrors(diagnostics());
        }
    }

    /**
     * After {@code victim} was killed: the load's connections through {@code victimAddress} (its
     * {@link ControllerNode#nbdAddress()} before the kill) dropped, with no error reply; every other connection of the
     * load saw no host error at all.
     */
    public void assertOnlyVictimPathsFailed(final LedgerWriter load, final String victimAddress)
    {
        final int victimConnections = load.connectionsThrough(victimAddress);
        if (load.connectionDropsThrough(victimAddress) != victimConnections ||
            load.errorRepliesThrough(victimAddress) != 0 ||
            load.hostErrors() != victimConnections)
        {
            throw new AssertionError("only the " + victimConnections + " connection(s) through " + victimAddress +
                " may fail, and only by dropping: " + load.describe() + "\n" + pair.logTails());
        }
    }

    private interface AdminQuery
    {
        Map<String, String> ask() throws IOException;
    }

    /** Polls an admin record until {@code field} = {@code value}; the last answer (or error) goes in the failure. */
    private Map<String, String> awaitRecord(
        final String what, final AdminQuery query, final String field, final String value, final long timeoutMs)
    {
        final AtomicReference<Map<String, String>> record = new AtomicReference<>();
        final AtomicReference<String> lastAnswer = new AtomicReference<>("none");
        Poll.until(what, timeoutMs, () ->
        {
            try
            {
                final Map<String, String> answer = query.ask();
                lastAnswer.set(answer.toString());
                record.set(answer);
                return Objects.equals(answer.get(field), value);
            }
            catch (final IOException ex)
            {
                lastAnswer.set(ex.toString());
                return false;
            }
        }, () -> "last answer: " + lastAnswer.get() + "\n" + pair.logTails());
        return record.get();
    }
}
