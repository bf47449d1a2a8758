package io.afasim.harness;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;

/**
 * The issue-5 scenarios of a linked pair: forwarding, volume move, peer loss, a hung peer, return to WB, failover. Each
 * is one method here, so that its system test is three lines ({@code PairScenariosSystemTest}):
 * <pre>
 *   &#64;Test
 *   void writesThroughTheNonOwnerAreForwarded() throws Exception
 *   {
 *       try (ControllerPair pair = ControllerPair.create(dir.resolve("array")))
 *       {
 *           PairScenarios.writesThroughTheNonOwner(pair, Seeds.seed("writesThroughTheNonOwner"));
 *       }
 *   }
 * </pre>
 * {@link #peerHungUnderLoad} freezes B (SIGSTOP) for twice the peer timeout and continues it, and
 * {@link #peerLongHangUnderLoad} for longer than the link's Aeron client tolerates (their tests:
 * {@code HungControllerSystemTest}). One has no test yet because the controller fails it:
 * {@link #peerKillFailsItsVolumesOver} (no takeover of a dead peer's volumes: writes forwarded to it fail with errno
 * 108). What the
 * scenarios use from the controller: admin {@code status} fields {@code peerState} (up, suspect, down, alone),
 * {@code link} and {@code linkEpoch}, {@code volume show} fields {@code owner} and {@code runningMode} (wb, 1wb, wt),
 * the peer's volumes exported over NBD by the non-owner. After each scenario every acknowledged write reads back
 * through both controllers (through the survivor alone while the peer is down).
 */
public final class PairScenarios
{
    public static final long VOLUME_BYTES = 8L << 20;
    public static final int QUEUE_DEPTH = 16;
    public static final long ACKS_PER_PHASE = 1_500;
    /** A hung controller stays frozen for at least this many peer timeouts ({@code afasim.peer.timeoutMs}). */
    public static final long FREEZE_PEER_TIMEOUTS = 2;
    /** A hang past the link's Aeron client timeout (10 s) ({@link #peerLongHangUnderLoad}). */
    public static final long LONG_FREEZE_PEER_TIMEOUTS = 12;
    /** Bound of the pair's return after a hang: peer up in a new link epoch, volumes back in WB. */
    public static final long RECOVERY_TIMEOUT_MS = 60_000;

    private PairScenarios()
    {
    }

    /** Host writes through the owner and through the non-owner (forwarded) to one volume. */
    public static void writesThroughTheNonOwner(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) -> { });
    }

    /**
     * {@code afactl volume move va --to B} under load on connections to both controllers: no host error, B reports
     * itself the owner, every acknowledged write reads back through both.
     */
    public static void volumeMoveUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) ->
        {
            scenario.moveVolume(pair.a(), "va", "B");
            scenario.note("va moved to B");
            scenario.progress(ACKS_PER_PHASE, load);
        });
    }

    /** {@link #volumeMoveUnderLoad}, then {@code --to A} sent to the new owner B, still under load on both. */
    public static void volumeMoveThereAndBackUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        underLoadOnBoth(pair, seed, (scenario, load) ->
        {
            scenario.moveVolume(pair.a(), "va", "B");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.moveVolume(pair.b(), "va", "A");
            scenario.progress(ACKS_PER_PHASE, load);
        });
    }

    /**
     * A hung controller: va (owned by A) written through A and through B (forwarded), vb (owned by B) through B, both
     * in WB; B is frozen with SIGSTOP for {@link #FREEZE_PEER_TIMEOUTS} times the peer timeout
     * ({@code afasim.peer.timeoutMs}) or longer, then continued with SIGCONT. While B is frozen, A reports its peer
     * down, va runs 1-way-WB and keeps acknowledging writes through A; the connections through B only wait (the
     * process is stopped: no reply, no error). After SIGCONT both report the peer up in a new link epoch, va and vb
     * run WB again within {@link #RECOVERY_TIMEOUT_MS}, and the paths through B acknowledge writes again. No host
     * error on any connection; every acknowledged write of both volumes, before, during and after the freeze, reads
     * back through A and through B. vb is not written through A: a write forwarded to an owner declared down fails
     * (no takeover yet, see {@link #peerKillFailsItsVolumesOver}).
     */
    public static void peerHungUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        peerHungUnderLoad(pair, seed, FREEZE_PEER_TIMEOUTS);
    }

    /**
     * {@link #peerHungUnderLoad(ControllerPair, long)} with B frozen for {@link #LONG_FREEZE_PEER_TIMEOUTS} peer
     * timeouts (12 s by default): longer than the link's embedded Aeron client tolerates between two duty cycles
     * (10 s), shorter than the host's NBD socket timeout (30 s). When B continues, the Aeron client of its link
     * terminates itself ({@code ConductorServiceTimeoutException}); the link relaunches its media driver and client
     * in a new epoch (before it did not, and both volumes stayed in 1-way-WB until a restart).
     */
    public static void peerLongHangUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        peerHungUnderLoad(pair, seed, LONG_FREEZE_PEER_TIMEOUTS);
    }

    /** {@link #peerHungUnderLoad(ControllerPair, long)} with B frozen for {@code freezePeerTimeouts} peer timeouts. */
    public static void peerHungUnderLoad(final ControllerPair pair, final long seed, final long freezePeerTimeouts)
        throws IOException
    {
        if (freezePeerTimeouts < 2)
        {
            throw new IllegalArgumentException("a hang must outlast the peer timeout: freezePeerTimeouts=" +
                freezePeerTimeouts + " must be >= 2");
        }
        underLoadOnBoth(pair, seed, (scenario, loadA) ->
        {
            scenario.createVolume(pair.b(), "vb", VOLUME_BYTES);
            scenario.awaitRunningMode(pair.a(), "va", "wb");
            scenario.awaitRunningMode(pair.b(), "vb", "wb");
            final Ledger ledgerB = new Ledger("vb", VOLUME_BYTES, seed + 1);
            try (LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.b()))
            {
                scenario.progress(ACKS_PER_PHASE, loadA, loadB);
                freezeAndThaw(scenario, pair.b(), freezePeerTimeouts, loadA, loadB);
                scenario.progressThrough(pair.b(), ACKS_PER_PHASE / 3, loadA, loadB);
                scenario.progress(ACKS_PER_PHASE, loadA, loadB);
                scenario.stopCleanly(loadB);
            }
            scenario.verifyFrom(ledgerB, pair.a(), pair.b());
        });
    }

    /**
     * The hang of {@link #peerHungUnderLoad}: SIGSTOP of {@code hung}, its peer's checks while it is frozen, SIGCONT,
     * and the pair's return: the peer link up in a new epoch on both, every WB volume in WB again.
     */
    private static void freezeAndThaw(
        final Scenario scenario, final ControllerNode hung, final long freezePeerTimeouts, final LedgerWriter... loads)
    {
        final ControllerPair pair = scenario.pair();
        final ControllerNode survivor = pair.peerOf(hung);
        final String survivorVolume = "v" + survivor.name().toLowerCase(Locale.ROOT);
        final String hungVolume = "v" + hung.name().toLowerCase(Locale.ROOT);
        final long freezeMs = freezePeerTimeouts * hung.context().peerTimeoutMs();
        final long survivorEpoch = scenario.linkEpoch(survivor);
        final long hungEpoch = scenario.linkEpoch(hung);
        final String survivorAddress = survivor.nbdAddress();

        hung.freeze();
        final long frozenNs = System.nanoTime();
        scenario.note(hung.name() + " frozen (SIGSTOP) in link epoch " + survivorEpoch + "/" + hungEpoch +
            ", for at least " + freezeMs + " ms");
        scenario.awaitPeerState(survivor, "down");
        scenario.awaitRunningMode(survivor, survivorVolume, "1wb");
        scenario.note(survivor.name() + " reports peer down, " + survivorVolume + " runs 1wb");
        final LedgerWriter[] survivorLoads = loadsThrough(survivorAddress, loads);
        scenario.progressThrough(survivor, ACKS_PER_PHASE / 3, survivorLoads);
        final String what = hung.name() + " frozen for " + freezeMs + " ms, no host error through " + survivor.name();
        Poll.until(what, freezeMs + Scenario.AWAIT_TIMEOUT_MS, () ->
        {
            for (final LedgerWriter load : survivorLoads)
            {
                load.assertNoHostErrors(scenario.diagnostics());
            }
            return System.nanoTime() - frozenNs >= TimeUnit.MILLISECONDS.toNanos(freezeMs);
        }, scenario.diagnostics());
        for (final LedgerWriter load : loads)
        {
            load.assertNoHostErrors(scenario.diagnostics()); // the paths through the frozen node only wait
        }

        hung.thaw();
        scenario.note(hung.name() + " continued (SIGCONT) after " +
            TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - frozenNs) + " ms frozen");
        final Map<String, String> survivorStatus;
        final Map<String, String> hungStatus;
        try
        {
            survivorStatus = scenario.awaitPeerBack(survivor, survivorEpoch, RECOVERY_TIMEOUT_MS);
            hungStatus = scenario.awaitPeerBack(hung, hungEpoch, RECOVERY_TIMEOUT_MS);
            scenario.awaitRunningMode(survivor, survivorVolume, "wb", RECOVERY_TIMEOUT_MS);
            scenario.awaitRunningMode(hung, hungVolume, "wb", RECOVERY_TIMEOUT_MS);
        }
        catch (final AssertionError ex)
        {
            throw new AssertionError("the pair did not come back after the hang; evidence:\n" +
                scenario.captureEvidence() + ex.getMessage(), ex);
        }
        scenario.note("peer up again in link epoch " + survivorStatus.get("linkEpoch") + "/" +
            hungStatus.get("linkEpoch") + ", " + survivorVolume + " and " + hungVolume + " back in WB");
    }

    /** The loads with a connection through {@code address}. */
    private static LedgerWriter[] loadsThrough(final String address, final LedgerWriter... loads)
    {
        final List<LedgerWriter> through = new ArrayList<>();
        for (final LedgerWriter load : loads)
        {
            if (load.connectionsThrough(address) > 0)
            {
                through.add(load);
            }
        }
        return through.toArray(new LedgerWriter[0]);
    }

    /** What a scenario does while its load runs (after a first phase of acknowledged writes). */
    private interface Steps
    {
        void run(Scenario scenario, LedgerWriter load) throws IOException;
    }

    /**
     * Volume va on A, written through A and through B (forwarded) for a phase, then {@code steps}, then stopped
     * cleanly: every acknowledged write reads back through both controllers.
     */
    private static void underLoadOnBoth(final ControllerPair pair, final long seed, final Steps steps)
        throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.a(), "va", VOLUME_BYTES);
        final Ledger ledger = new Ledger("va", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            steps.run(scenario, load);
            scenario.stopCleanly(load);
        }
        scenario.verifyFrom(ledger, pair.a(), pair.b());
    }

    /** A peer-loss scenario's state: its steps, the survivor A's volume's ledger and the lost peer B's volume's. */
    public record PeerLoss(Scenario scenario, Ledger survivorVolume, Ledger peerVolume)
    {
    }

    /**
     * SIGKILL of B under load: va (owned by A, WB) is written through A and through B (forwarded), vb (owned by B)
     * through B. A reports its peer down; va stays writable through A with no host error (it runs 1-way-WB); the
     * connections through B only dropped. Every acknowledged write of va reads back through A.
     */
    public static PeerLoss peerKillUnderLoad(final ControllerPair pair, final long seed) throws IOException
    {
        final Scenario scenario = startLinked(pair);
        final Ledger ledgerA = wbVolume(scenario, pair.a(), "va", seed);
        final Ledger ledgerB = wbVolume(scenario, pair.b(), "vb", seed + 1);
        try (LedgerWriter loadA = scenario.writeThrough(ledgerA, QUEUE_DEPTH, pair.a(), pair.b());
             LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            final String victim = pair.b().nbdAddress();
            pair.b().kill();
            scenario.note("B killed");
            scenario.awaitPeerState(pair.a(), "down");
            scenario.awaitRunningMode(pair.a(), "va", "1wb");
            scenario.progress(ACKS_PER_PHASE, loadA);
            loadA.stop(scenario.diagnostics());
            loadB.awaitEnded(Scenario.AWAIT_TIMEOUT_MS, scenario.diagnostics());
            scenario.assertOnlyVictimPathsFailed(loadA, victim);
            scenario.assertOnlyVictimPathsFailed(loadB, victim);
        }
        scenario.verifyFrom(ledgerA, pair.a());
        return new PeerLoss(scenario, ledgerA, ledgerB);
    }

    /**
     * {@link #peerKillUnderLoad}, then B restarts (T1) while va is written through A: both report the peer up, va
     * and vb run WB again; then both volumes are written through both controllers with no host error, and every
     * acknowledged write of both reads back through A and through B.
     */
    public static void peerRestartReturnsToWb(final ControllerPair pair, final long seed) throws IOException
    {
        final PeerLoss loss = peerKillUnderLoad(pair, seed);
        final Scenario scenario = loss.scenario();
        try (LedgerWriter loadA = scenario.writeThrough(loss.survivorVolume(), QUEUE_DEPTH, pair.a()))
        {
            scenario.progress(ACKS_PER_PHASE / 3, loadA);
            pair.b().restart();
            scenario.note("B up again");
            awaitBothSides(scenario, pair, "up", "wb");
            scenario.progress(ACKS_PER_PHASE / 3, loadA);
            scenario.stopCleanly(loadA);
        }
        try (LedgerWriter loadA = scenario.writeThrough(loss.survivorVolume(), QUEUE_DEPTH, pair.a(), pair.b());
             LedgerWriter loadB = scenario.writeThrough(loss.peerVolume(), QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.stopCleanly(loadA, loadB);
        }
        scenario.verifyFrom(loss.survivorVolume(), pair.a(), pair.b());
        scenario.verifyFrom(loss.peerVolume(), pair.a(), pair.b());
    }

    /**
     * Failover (DESIGN §7): vb (owned by B) written through A and through B; SIGKILL of B: A takes vb over and the
     * connection through A keeps working with no host error (only B's connection drops); vb reads back through A.
     */
    public static void peerKillFailsItsVolumesOver(final ControllerPair pair, final long seed) throws IOException
    {
        final Scenario scenario = startLinked(pair);
        scenario.createVolume(pair.b(), "vb", VOLUME_BYTES);
        scenario.awaitRunningMode(pair.b(), "vb", "wb");
        final Ledger ledger = new Ledger("vb", VOLUME_BYTES, seed);
        try (LedgerWriter load = scenario.writeThrough(ledger, QUEUE_DEPTH, pair.a(), pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, load);
            final String victim = pair.b().nbdAddress();
            pair.b().kill();
            scenario.awaitPeerState(pair.a(), "down");
            scenario.progress(ACKS_PER_PHASE, load);
            scenario.awaitVolume(pair.a(), "vb", "owner", "A");
            load.stop(scenario.diagnostics());
            scenario.assertOnlyVictimPathsFailed(load, victim);
        }
        scenario.verifyFrom(ledger, pair.a());
    }

    /**
     * A link fault under load ({@code afactl fault link FAULT} on A; {@code partition}: A sends and hears nothing,
     * {@code deaf}: A sends but hears nothing). {@code va} (A) and {@code vb} (B), both {@code wb}, are written
     * through their owners. The disk heartbeat goes on, so each side reports its peer {@code suspect}, not down, and
     * runs its own volume in {@code 1wb}; writes go on being acknowledged on both sides with no host error. After
     * {@code afactl fault link heal} both report the peer {@code up} and run {@code wb} again (a new epoch and a
     * resync); more writes, then every acknowledged write of both volumes reads back through A and through B.
     */
    public static void linkFaultUnderLoad(final ControllerPair pair, final long seed, final String fault)
        throws IOException
    {
        final Scenario scenario = startLinked(pair);
        final Ledger ledgerA = wbVolume(scenario, pair.a(), "va", seed);
        final Ledger ledgerB = wbVolume(scenario, pair.b(), "vb", seed + 1);
        try (LedgerWriter loadA = scenario.writeThrough(ledgerA, QUEUE_DEPTH, pair.a());
             LedgerWriter loadB = scenario.writeThrough(ledgerB, QUEUE_DEPTH, pair.b()))
        {
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.afactlOk(pair.a(), "fault", "link", fault);
            scenario.note("A's link: " + fault);
            awaitBothSides(scenario, pair, "suspect", "1wb");
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.afactlOk(pair.a(), "fault", "link", "heal");
            scenario.note("A's link healed");
            awaitBothSides(scenario, pair, "up", "wb");
            scenario.progress(ACKS_PER_PHASE, loadA, loadB);
            scenario.stopCleanly(loadA, loadB);
        }
        scenario.verifyFrom(ledgerA, pair.a(), pair.b());
        scenario.verifyFrom(ledgerB, pair.a(), pair.b());
    }

    /** Waits until A and B both report the peer {@code peerState} and run their own volume (va, vb) {@code mode}. */
    private static void awaitBothSides(
        final Scenario scenario, final ControllerPair pair, final String peerState, final String mode)
    {
        scenario.awaitPeerState(pair.a(), peerState);
        scenario.awaitPeerState(pair.b(), peerState);
        scenario.awaitRunningMode(pair.a(), "va", mode);
        scenario.awaitRunningMode(pair.b(), "vb", mode);
        scenario.note("both report the peer " + peerState + " and run their volume " + mode);
    }

    /** Creates {@code volume} on its owner {@code owner} and waits until it runs WB; its ledger, seeded. */
    private static Ledger wbVolume(
        final Scenario scenario, final ControllerNode owner, final String volume, final long seed)
    {
        scenario.createVolume(owner, volume, VOLUME_BYTES);
        scenario.awaitRunningMode(owner, volume, "wb");
        return new Ledger(volume, VOLUME_BYTES, seed);
    }

    /** Starts both controllers and waits until each sees the other (link and disk heartbeat). */
    private static Scenario startLinked(final ControllerPair pair)
    {
        pair.start();
        final Scenario scenario = Scenario.on(pair);
        scenario.awaitPeerState(pair.a(), "up");
        scenario.awaitPeerState(pair.b(), "up");
        return scenario;
    }
}
