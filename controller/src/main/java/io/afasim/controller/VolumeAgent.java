package io.afasim.controller;

import java.nio.ByteBuffer;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Consumer;
import java.util.function.LongSupplier;

import io.afasim.dedup.DedupVolume;
import io.afasim.dedup.VolumeRedo;
import io.afasim.journal.IoStatus;
import io.afasim.journal.RedoBatch;
import io.afasim.journal.SegmentLog;
import io.afasim.mirror.CacheStatus;
import io.afasim.mirror.DestageConsumer;
import io.afasim.mirror.MirrorSink;
import io.afasim.mirror.WriteCache;
import io.afasim.mirror.WriteMode;
import org.HdrHistogram.Histogram;
import org.agrona.DirectBuffer;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;
import org.agrona.concurrent.NanoClock;
import org.agrona.concurrent.UnsafeBuffer;

/**
 * The one thread that owns a volume: its dedup engine (mapping trees, fingerprint index, reference
 * counts), its segment log and its redo batches. Host requests arrive from the NBD network thread
 * through a bounded queue ({@link #offer}); everything else (quiesce, mode change, stats, checkpoint
 * pause) arrives as commands and runs here, between requests. No locks on the data path.
 *
 * <p>Write-through (WT): a write is applied to the dedup engine at once and acknowledged when its
 * redo records are durable: the agent syncs its segment log (data and summaries), hands the batch
 * to the {@link JournalAgent}, which group-commits batches of all volumes with one fdatasync, and
 * completes every request that was waiting on that batch. One batch is in flight at a time; requests
 * arriving meanwhile wait for the next one (natural group commit).
 *
 * <p>1-way write-back (1WB): a write goes into the volume's NVMe {@link WriteCache} (page + checksummed
 * descriptor in memory that survives a process kill) and is acknowledged at once; when the cache is
 * full the request parks (with every later mutation behind it, so order holds) until destage makes
 * room. Destage runs eagerly on this thread, in small chunks (at most {@link #DESTAGE_CHUNK_CHANGES_MAX} changes
 * per duty cycle, so requests are served between them): the oldest cached changes go through the dedup engine
 * into the segment log and the redo batch, forming an open commit group (the cache's batches applied since the
 * last hand-off). A group rides the same hand-off as WT writes, but only once it is worth a commit (see
 * {@link #isGroupDue}): each commit costs a segment log fdatasync and a journal fdatasync. On a shared I/O thread
 * ({@link #syncBehind}) the segment log's sync runs on the segment writer's thread, which hands the batch to the
 * journal agent itself, while this thread goes on serving. While one group is with the journal agent the next one
 * grows. When a group's batch is durable on the shelf its changes are freed from the
 * cache, oldest batch first (a failed commit fails them newest first, and they are destaged again later). Reads
 * consult the cache first.
 *
 * <p>Quiesce: {@link #quiesce} closes the layer gates top down (new requests park, none fails),
 * waits until every layer's tracker is drained, runs the change on this thread, reopens bottom up and
 * re-drives the parked requests in order.
 */
final class VolumeAgent implements Agent
{
    static final int REQUESTS_PER_DO_WORK_MAX = 64;
    static final int COMMANDS_PER_DO_WORK_MAX = 16;
    static final int QUEUE_CAPACITY = 16 * 1024;
    static final int PENDING_CAPACITY = 16 * 1024;
    /**
     * WB writes waiting for the peer up to which the agent yields rather than parks ({@link #isAwaitingPeer}): one,
     * a host at iodepth 1 (measured: 0 took its p50 from 75 to 93 µs; 4 yielded at iodepth 32 too, for nothing).
     */
    static final int AWAITING_PEER_YIELD_MAX = 1;
    /** Worst-case redo bytes one 4 KiB block adds: WRITE_NEW + a share of segment allocation/seal, with headers. */
    static final int REDO_BYTES_PER_BLOCK_MAX = 128;
    static final int BLOCK_SIZE_BYTES = 4096;
    static final int BLOCK_SHIFT = 12;
    /** Cached changes one destage chunk moves (one cache batch, one duty cycle; requests are served between). */
    static final int DESTAGE_CHUNK_CHANGES_MAX = 64;
    /**
     * Cache batches in flight: those of the group being committed by the journal agent plus those of the open
     * group (chunks of at most {@link #DESTAGE_CHUNK_CHANGES_MAX}); when the open group holds what is left of them,
     * it is committed as soon as the previous commit ends.
     */
    static final int DESTAGE_BATCHES_IN_FLIGHT_MAX = WriteCache.DESTAGE_BATCHES_IN_FLIGHT_LIMIT;
    /**
     * Changes in an open commit group that make it worth a commit of its own (one segment and one journal sync). At
     * {@link #REDO_BYTES_PER_BLOCK_MAX} that is 128 KiB of redo at most, well inside a redo batch (the volume's 4 MiB
     * by default, {@link ControllerContext#REDO_BATCH_BYTES_PROP_NAME}, and the store's first one of 1 MiB); a
     * smaller batch only makes groups commit earlier (nearly full: {@link #isGroupDue}).
     */
    static final int GROUP_COMMIT_CHANGES = 1024;
    /** Victims one cleaning step moves out of at most (see {@link #clean()}). */
    static final int CLEAN_SEGMENTS_PER_STEP = 4;
    /** Redo a cleaned segment needs at most per data block: a RELOCATE pair (16 bytes) and a share of headers. */
    static final int CLEAN_REDO_BYTES_PER_BLOCK_MAX = 32;
    /** Cleaning runs while the segments host writes may still take are at most this many (or a destage ran out). */
    static final int CLEAN_FREE_SEGMENTS_LOW = 8;
    /** Age of an open commit group after which it commits anyway: an idle volume becomes clean promptly. */
    static final long GROUP_COMMIT_AGE_NS_MAX = 10_000_000L;

    private final VolumeState state;
    private final DedupVolume volume;
    private final WriteCache cache;
    private final ReadCache readCache;
    private final VolumeRedo redo;
    private final JournalAgent journal;
    private final NanoClock clock;
    private final ManyToOneConcurrentArrayQueue<HostRequest> requests =
        new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(256);
    private final Consumer<HostRequest> requestHandler = this::onRequest;
    private final Doorbell doorbell = new Doorbell();
    /** What a resync does while the link's outbound queue is full ({@link #whileLinkFull}). */
    private Runnable linkFullWait = Thread::yield;
    /** Run before the duty cycle's cleaning and destage, which may block in drive I/O ({@link #beforeBlocking}). */
    private Runnable beforeBlocking = () -> { };
    /** Where requests go once the agent's thread has stopped ({@link #stopped}); null while it runs. */
    private volatile Consumer<HostRequest> afterStop;
    private final Layer[] layers = new Layer[LayerId.TOP_DOWN.length];
    private final Layer forwarding;
    private final Layer volumeLayer;
    private final Layer cacheLayer;
    private final Layer pool;
    private final PendingQueue blocked = new PendingQueue(PENDING_CAPACITY);
    private final DestageConsumer destager = new Destager();
    /** Open commit group: cache batches applied since the last hand-off (the newest in flight), their changes. */
    private int groupBatchCount;
    private int groupChangeCount;
    private long groupOpenedNs;
    /** Committing group: the oldest cache batches in flight, whose records ride {@link #inFlight}. */
    private int committingBatchCount;
    private long committingOpenedNs;
    private long groupCommitCount;
    /** A destage chunk failed with records in the redo batch: commit it even without an open group. */
    private boolean commitWanted;
    private int destageStatus;
    private long destageErrorCount;
    /** The status of the last failed destage chunk, reported when it changes (0: the last chunk succeeded). */
    private int reportedDestageStatus;
    /** The redo batch holding the RELOCATE records of the segments cleaned and not yet released (or null). */
    private RedoBatch cleanedIn;
    private long cleanedSegmentCount;
    /** A WT write waits for segments ({@link #hasSpaceFor}): clean now, whatever the low-water mark. */
    private boolean spaceWanted;
    /** {@link #redriveRetries} is processing the head of {@link #retry}: it may pass the requests behind it. */
    private boolean redriving;
    /** The status of the last failed cleaning step, reported when it changes (OK: the last step succeeded). */
    private int reportedCleanStatus;
    /** No victim was found: the next look is not before this time. */
    private long cleanNotBeforeNs = Long.MIN_VALUE / 2;
    /** {@link #cleanedIn} is durable: its victims are released when the redo batch has room. */
    private boolean releaseWanted;
    private long corruptPageCount;
    private final PendingQueue awaitingNext = new PendingQueue(PENDING_CAPACITY);
    private final PendingQueue awaitingInFlight = new PendingQueue(PENDING_CAPACITY);
    private final PendingQueue retry = new PendingQueue(PENDING_CAPACITY);
    /** WB writes in local NVMe memory waiting for the peer's acknowledgement of their mirror copies, in order. */
    private final PendingQueue awaitingMirror = new PendingQueue(PENDING_CAPACITY);
    private final VolumeMirror mirror;
    private final PeerLink link;
    /** Mirror wait of acknowledged WB writes; sampled by admin threads like a layer's ({@link LatencyRecorder}). */
    private final LatencyRecorder mirrorLatency = new LatencyRecorder();
    private final UnsafeBuffer scratch = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK_SIZE_BYTES));
    private RedoBatch spare;
    private RedoBatch inFlight;
    /**
     * {@link #inFlight} while it waits for its segment log sync before it goes to the journal. Whoever takes it from
     * here hands it over: the segment writer's thread when the sync is done ({@link #onSegmentSyncDone}), this
     * agent if that could not, or the journal agent's checkpoint ({@link #takeSyncingBatch}).
     */
    private final AtomicReference<RedoBatch> syncing = new AtomicReference<>();
    private boolean syncBehind;
    private long inFlightSinceNs;
    private Quiesce quiesce;
    /** Being handed to the peer: quiesced, clean, gates kept closed ({@link #holdForMove}). */
    private boolean moveHeld;
    /**
     * Set when the volume's segment log failed to sync: the log dropped every block since its last good
     * sync, and redo records in the current batch may reference them, so nothing more of this volume is
     * committed; its I/O gets EIO until the controller restarts and recovers the committed state.
     */
    private boolean fenced;
    /** Test seam ({@link ControllerContext#TEST_DESTAGE_PAUSED_PROP_NAME}): no destage at all. */
    private final boolean destagePaused = Boolean.getBoolean(ControllerContext.TEST_DESTAGE_PAUSED_PROP_NAME);
    /** Checkpoint pause handshake: pause N is requested, acknowledged and ended by epoch N (never a stale flag). */
    private volatile long pauseEpoch;
    private volatile long resumeEpoch;
    private volatile long pausedEpoch;
    private long nowNs;
    private long errorCount;

    VolumeAgent(
        final VolumeState state,
        final DedupVolume volume,
        final WriteCache cache,
        final long readCacheBytes,
        final VolumeRedo redo,
        final int redoBatchBytes,
        final JournalAgent journal,
        final PeerLink link,
        final NanoClock clock)
    {
        this.state = state;
        this.mirror = new VolumeMirror(link);
        this.link = link;
        cache.mirrorSink(mirror);
        this.volume = volume;
        this.cache = cache;
        this.readCache = new ReadCache(Math.min(readCacheBytes, state.sizeBytes()) / BLOCK_SIZE_BYTES);
        this.redo = redo;
        this.journal = journal;
        this.clock = clock;
        this.spare = new RedoBatch(redoBatchBytes);
        spare.durableListener(doorbell); // the journal agent wakes this agent when a batch is durable
        redo.batch().durableListener(doorbell);
        // the segment writer hands a synced batch over, then wakes this agent to apply the sync to the log
        volume.segmentLog().syncListener(this::onSegmentSyncDone, doorbell);
        for (final LayerId id : LayerId.TOP_DOWN)
        {
            layers[id.ordinal()] = new Layer(id);
        }
        forwarding = layers[LayerId.FORWARDING.ordinal()];
        volumeLayer = layers[LayerId.VOLUME.ordinal()];
        cacheLayer = layers[LayerId.CACHE.ordinal()];
        pool = layers[LayerId.POOL.ordinal()];
        if (state.mode() == WriteModeSetting.WT && !cache.isClean())
        {
            // T1: changes acknowledged in 1WB before a crash were recovered into the cache of a volume that is
            // now WT (a mode switch was interrupted): destage them all before serving, so that no WT write can
            // be overtaken by an older cached change
            cache.writeMode(WriteMode.ONE_WAY_WB);
            quiesce = new Quiesce("recovery destage", Long.MAX_VALUE, true,
                () -> cache.writeMode(WriteMode.WT), outcome -> { });
            closeGates();
        }
        else
        {
            if (state.mode() == WriteModeSetting.WB)
            {
                state.mode(WriteModeSetting.ONE_WAY_WB); // WB only once the mirror is resynchronised (membership)
            }
            cache.writeMode(toCacheMode(state.mode()));
        }
        // group commit: chunks of the next group go through the dedup engine while the previous group is committed
        cache.destageBatchesInFlightMax(DESTAGE_BATCHES_IN_FLIGHT_MAX);
    }

    VolumeMirror mirror()
    {
        return mirror;
    }

    static WriteMode toCacheMode(final WriteModeSetting mode)
    {
        switch (mode)
        {
            case WT: return WriteMode.WT;
            case WB: return WriteMode.WB;
            default: return WriteMode.ONE_WAY_WB;
        }
    }

    WriteCache cache()
    {
        return cache;
    }

    ReadCache readCache()
    {
        return readCache;
    }

    long corruptPageCount()
    {
        return corruptPageCount;
    }

    long destageErrorCount()
    {
        return destageErrorCount;
    }

    /** Segments the cleaner emptied and freed. */
    long cleanedSegmentCount()
    {
        return cleanedSegmentCount;
    }

    /** Commit groups of destaged changes handed to the journal agent. */
    long groupCommitCount()
    {
        return groupCommitCount;
    }

    @Override
    public String roleName()
    {
        return "volume-" + state.name();
    }

    VolumeState state()
    {
        return state;
    }

    DedupVolume volume()
    {
        return volume;
    }

    Layer layer(final LayerId id)
    {
        return layers[id.ordinal()];
    }

    long errorCount()
    {
        return errorCount;
    }

    /**
     * From any thread (an NBD loop, the link thread): false when the queue is full. After the agent's thread stopped
     * ({@link #stopped}), the request goes where the stop sent the others: a request offered by a thread that looked the
     * agent up just before it stopped is not stranded in a queue nobody drains.
     */
    boolean offer(final HostRequest request)
    {
        if (!doorbell.offer(requests, request))
        {
            return false;
        }
        if (afterStop != null)
        {
            drainAfterStop();
        }
        return true;
    }

    /**
     * Its thread has stopped (any thread): every request parked at a gate or still queued, and any offered from now on,
     * goes to {@code to} (the forwarder after a move; an ESHUTDOWN answer after a delete), in order.
     */
    void stopped(final Consumer<HostRequest> to)
    {
        afterStop = to;
        drainAfterStop();
    }

    /** One drainer at a time once the agent's thread, the queue's consumer, has stopped. */
    private synchronized void drainAfterStop()
    {
        handOffParked(afterStop);
    }

    /** Runs {@code command} on this agent's thread; false when the command queue is full. */
    boolean execute(final Runnable command)
    {
        return doorbell.offer(commands, command);
    }

    /**
     * Agent thread (its idle strategy): WB writes (at most {@link #AWAITING_PEER_YIELD_MAX}) wait for the peer's
     * acknowledgement, due within a link round trip; the agent then yields rather than parks (see
     * {@link ConversationIdleStrategy}). With more in flight the volume is streaming: it parks, and the link
     * thread's doorbell wakes it when acknowledgements advance (yielding then took CPU from the threads feeding it:
     * iodepth 32 at half the IOPS).
     */
    boolean isAwaitingPeer()
    {
        final int awaiting = awaitingMirror.size();
        return awaiting > 0 && awaiting <= AWAITING_PEER_YIELD_MAX;
    }

    /** Rung by the threads that hand this agent work (see {@link DoorbellIdleStrategy}). */
    Doorbell doorbell()
    {
        return doorbell;
    }

    @Override
    public int doWork()
    {
        nowNs = clock.nanoTime();
        int work = 0;
        final long pause = pauseEpoch;
        if (pause != resumeEpoch)
        {
            pausedEpoch = pause; // stopped between requests: touches nothing until resumed
            return 0;
        }
        work += commands.drain(Runnable::run, COMMANDS_PER_DO_WORK_MAX);
        work += offerSynced();
        work += checkDurable();
        work += checkMirrored();
        work += redriveRetries();
        work += redriveBlocked();
        work += requests.drain(requestHandler, REQUESTS_PER_DO_WORK_MAX);
        if (work > 0)
        {
            beforeBlocking.run(); // shared threading: the hosts get their answers before this cycle's commit I/O
        }
        work += clean();
        work += destage();
        work += handOff();
        if (quiesce != null)
        {
            work += quiesce.advance();
        }
        // reads may be answered on the network thread only while every gate is open (not quiescing, not held for a
        // move to the peer) and the volume serves (online, not fenced)
        readCache.sharedReads(quiesce == null && !moveHeld && !fenced && state.online());
        return work;
    }

    // ---------------------------------------------------------------- checkpoint pause (journal agent)

    /** Asks the agent to stop between requests for pause {@code epoch} (journal agent, before a checkpoint). */
    void requestPause(final long epoch)
    {
        if (pauseEpoch != epoch)
        {
            pauseEpoch = epoch;
            doorbell.ring(); // asked again while the journal waits: rung once
        }
    }

    /** True once the agent has stopped for pause {@code epoch} and touches nothing until {@link #resume}. */
    boolean isPaused(final long epoch)
    {
        return pausedEpoch == epoch;
    }

    void resume(final long epoch)
    {
        resumeEpoch = epoch;
        doorbell.ring();
    }

    // ---------------------------------------------------------------- host requests

    private void onRequest(final HostRequest request)
    {
        if (!forwarding.admit(request))
        {
            return;
        }
        pastForwardingGate(request);
    }

    /** A request admitted by the forwarding gate (or re-driven from behind it after a quiesce). */
    private void pastForwardingGate(final HostRequest request)
    {
        forwarding.enter();
        forwarding.exit(nowNs, nowNs); // this controller owns the volume: pass through
        if (!volumeLayer.admit(request))
        {
            return;
        }
        process(request);
    }

    private void process(final HostRequest request)
    {
        if (!state.online())
        {
            request.complete(HostRequest.ESHUTDOWN);
            return;
        }
        if (fenced)
        {
            request.complete(HostRequest.EIO);
            return;
        }
        final long offset = request.offsetBytes();
        final long length = request.lengthBytes();
        if (request.command() != HostRequest.FLUSH &&
            (offset < 0 || length < 0 || offset + length > state.sizeBytes()))
        {
            request.complete(HostRequest.EINVAL);
            return;
        }
        switch (request.command())
        {
            case HostRequest.READ:
                volumeLayer.enter();
                completeNow(request, read(request));
                return;

            case HostRequest.WRITE:
            case HostRequest.TRIM:
            case HostRequest.WRITE_ZEROES:
                if (state.mode() == WriteModeSetting.WT)
                {
                    mutateWriteThrough(request);
                }
                else
                {
                    mutateCached(request);
                }
                return;

            case HostRequest.FLUSH:
                // WT acknowledges a write only once it is durable, so every write completed before this flush
                // already meets the rule; in 1WB the writes are in NVMe memory: msync it (free on tmpfs)
                volumeLayer.enter();
                if (state.mode() != WriteModeSetting.WT)
                {
                    cache.flush();
                }
                completeNow(request, HostRequest.OK);
                return;

            case HostRequest.BLOCK_STATUS:
                volumeLayer.enter();
                blockStatus(request);
                completeNow(request, HostRequest.OK);
                return;

            default:
                request.complete(HostRequest.EINVAL);
        }
    }

    /** WT: applied to the dedup engine now, acknowledged when its redo batch is durable. */
    private void mutateWriteThrough(final HostRequest request)
    {
        if ((!redriving && !retry.isEmpty()) || !hasRedoRoom(request.lengthBytes()) || !hasSpaceFor(request))
        {
            retry.add(request, nowNs); // re-driven in order when the batch or the cleaner made room
            return;
        }
        volumeLayer.enter();
        pool.enter();
        final int status = mutate(request);
        if (status != HostRequest.OK)
        {
            pool.exit(nowNs, nowNs);
            completeNow(request, status);
            return;
        }
        awaitingNext.add(request, nowNs);
    }

    /** 1-way-WB: acknowledged once the change is in NVMe memory; parked in order while the cache is full. */
    private void mutateCached(final HostRequest request)
    {
        if (!blocked.isEmpty())
        {
            blocked.add(request, nowNs); // keep mutations in order behind a parked one
            return;
        }
        mirror.beginRequest();
        final int status = cacheMutate(request);
        if (status == CacheStatus.BACK_PRESSURE || mirror.sendRefused())
        {
            blocked.add(request, nowNs); // NVMe full, or the link's queue full: re-driven in order
            return;
        }
        acknowledgeCached(request, status, nowNs);
    }

    private void acknowledgeCached(final HostRequest request, final int status, final long enteredNs)
    {
        volumeLayer.enter();
        if (status == HostRequest.OK && request.hasFlag(HostRequest.FUA))
        {
            cache.forceUnitAccess();
        }
        if (status == HostRequest.OK && mirror.isActive() && request.command() != HostRequest.FLUSH)
        {
            // WB: in local NVMe memory; acknowledged once the peer has acknowledged its copy
            request.mirrorTicket(mirror.lastTicket());
            awaitingMirror.add(request, enteredNs);
            return;
        }
        volumeLayer.exit(enteredNs, clock.nanoTime());
        request.complete(status);
    }

    /** Completes, in order, the WB writes whose mirror copies the peer has acknowledged. */
    private int checkMirrored()
    {
        int completed = 0;
        while (!awaitingMirror.isEmpty() && mirror.isAcknowledged(awaitingMirror.peek().mirrorTicket()))
        {
            final HostRequest request = awaitingMirror.peek();
            final long enteredNs = awaitingMirror.peekEnteredNs();
            awaitingMirror.remove();
            final long now = clock.nanoTime();
            volumeLayer.exit(enteredNs, now);
            mirrorLatency.recordValue(Math.max(0, now - enteredNs));
            request.complete(HostRequest.OK);
            completed++;
        }
        return completed;
    }

    /**
     * Leaving WB (peer lost) or resynchronising (under a quiesce that allows it): the writes waiting for the
     * peer are in local NVMe memory, which from this moment is the volume's rule, so they are acknowledged.
     */
    private void releaseMirrorWaits()
    {
        while (!awaitingMirror.isEmpty())
        {
            final HostRequest request = awaitingMirror.peek();
            final long enteredNs = awaitingMirror.peekEnteredNs();
            awaitingMirror.remove();
            volumeLayer.exit(enteredNs, nowNs);
            request.complete(HostRequest.OK);
        }
    }

    /** Switches the running mode (on this thread, inside a quiesce's change). */
    void applyRunningMode(final WriteModeSetting mode, final long mirrorEpoch)
    {
        releaseMirrorWaits();
        if (mode == WriteModeSetting.WB)
        {
            mirror.activate(mirrorEpoch);
        }
        else
        {
            mirror.deactivate();
        }
        cache.writeMode(toCacheMode(mode));
        state.mode(mode);
    }

    /**
     * The mirror resync, under quiesce on this thread: the peer drops whatever copies of this volume it still
     * holds (from an earlier epoch), then receives every change cached here (written in 1-way-WB meanwhile, or
     * before the link was up), oldest first, then the volume runs WB in {@code epoch}. The link is ordered, so the
     * peer drops the stale copies before the first replayed one arrives, and any later write's acknowledgement
     * covers the replay. Nothing is destaged for it: a resync works even when destage cannot run (a full pool).
     * A full outbound queue is waited out (the link drains it: {@link #whileLinkFull}) up to {@code timeoutNs}.
     *
     * @throws IllegalStateException when the link leaves {@code epoch} or stays full: the task fails, and the
     *         membership duty tries again.
     */
    void resyncMirror(final long epoch, final long timeoutNs)
    {
        final int volumeId = state.volumeId();
        final long deadlineNs = clock.nanoTime() + timeoutNs;
        send(epoch, deadlineNs, () -> link.mirrorDiscardVolume(volumeId));
        cache.replayTo(new MirrorSink()
        {
            @Override
            public void onPageWritten(
                final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset,
                final DirectBuffer page, final int pageOffset)
            {
                send(epoch, deadlineNs, () -> link.mirrorPage(volumeId, sequence, entry, entryOffset, page, pageOffset));
            }

            @Override
            public void onRecordWritten(
                final int volumeId, final long sequence, final DirectBuffer entry, final int entryOffset)
            {
                send(epoch, deadlineNs, () -> link.mirrorRecord(volumeId, sequence, entry, entryOffset));
            }

            @Override
            public void onReleased(final int volumeId, final long sequence)
            {
            }
        });
        applyRunningMode(WriteModeSetting.WB, epoch);
    }

    /**
     * Before it starts: what to do while a resync waits for room in the link's outbound queue. By default it yields
     * to the link thread, which drains the queue; with shared threading the link runs on this very thread, so the
     * controller passes one duty cycle of the link agent.
     */
    void whileLinkFull(final Runnable wait)
    {
        linkFullWait = wait;
    }

    /**
     * Before it starts: what to run after each duty cycle's completions and requests, before its cleaning and destage
     * (which may still block: a segment's open and seal write its summary and fdatasync on this thread, and a
     * full write-behind queue waits). With shared threading, the hosted NBD server's
     * {@link NbdServer#hostedFlush()}: replies already complete go out before the thread blocks.
     */
    void beforeBlocking(final Runnable hook)
    {
        beforeBlocking = hook;
    }

    /**
     * Before it starts: sync destage group commits on the segment writer's thread rather than this one. For an agent
     * on a shared I/O thread, where its fdatasync would also hold up NBD, the link and the other volumes. A dedicated
     * agent blocked in fdatasync holds up nobody, and the writer's wake-up costs more than it saves there: 1WB and
     * WB iodepth 32 were 5-10 % slower with it (docs/performance.md, session 6).
     */
    void syncBehind(final boolean behind)
    {
        syncBehind = behind;
    }

    /** Sends, waiting out QUEUE_FULL (the link drains the queue) until the deadline; fails on a link down. */
    private void send(final long epoch, final long deadlineNs, final LongSupplier message)
    {
        long result = message.getAsLong();
        while (result == PeerLink.QUEUE_FULL && clock.nanoTime() - deadlineNs < 0)
        {
            linkFullWait.run();
            result = message.getAsLong();
        }
        if (result < 0 || link.epoch() != epoch)
        {
            throw new IllegalStateException("the link " + (result == PeerLink.QUEUE_FULL ? "stayed full" :
                "left epoch " + epoch) + " during the resync");
        }
    }

    /** Mirror round trips of acknowledged WB writes (NVMe write to the peer's acknowledgement). */
    Histogram mirrorLatencySnapshot()
    {
        return mirrorLatency.snapshot();
    }

    /**
     * Puts a WRITE, TRIM or WRITE_ZEROES into the cache. A re-drive after BACK_PRESSURE repeats the blocks
     * already cached, which is harmless: each supersedes its own earlier copy.
     *
     * @return {@link HostRequest#OK}, {@link CacheStatus#BACK_PRESSURE} or an NBD errno.
     */
    private int cacheMutate(final HostRequest request)
    {
        cacheLayer.enter();
        final int command = request.command();
        final UnsafeBuffer data = request.data();
        long offset = request.offsetBytes();
        final long end = offset + request.lengthBytes();
        int at = 0;
        int status = CacheStatus.OK;
        while (offset < end && status == CacheStatus.OK)
        {
            final long lba = offset >>> BLOCK_SHIFT;
            final int inBlock = (int)(offset & (BLOCK_SIZE_BYTES - 1));
            final int chunk = (int)Math.min(BLOCK_SIZE_BYTES - inBlock, end - offset);
            if (inBlock == 0 && chunk == BLOCK_SIZE_BYTES)
            {
                if (command == HostRequest.WRITE)
                {
                    status = cache.write(lba, data, at);
                    readCache.invalidate(lba); // the NVMe cache serves it until it is destaged
                }
                else
                {
                    final int blocks = (int)Math.min((end - offset) >>> BLOCK_SHIFT, 1 << 20);
                    status = command == HostRequest.TRIM ? cache.trim(lba, blocks) : cache.writeZeroes(lba, blocks);
                    readCache.invalidateRange(lba, blocks);
                    if (status == CacheStatus.OK)
                    {
                        offset += (long)blocks << BLOCK_SHIFT;
                    }
                    continue;
                }
            }
            else
            {
                if (mergePartialBlock(command, lba, inBlock, chunk, data, at) != IoStatus.OK)
                {
                    cacheLayer.exit(nowNs, nowNs);
                    errorCount++;
                    return HostRequest.EIO;
                }
                status = cache.write(lba, scratch, 0);
                readCache.invalidate(lba);
            }
            offset += chunk;
            at += chunk;
        }
        cacheLayer.exit(nowNs, clock.nanoTime());
        return status == CacheStatus.OK ? HostRequest.OK : status;
    }

    /**
     * Part of a block (an unaligned WRITE, TRIM or WRITE_ZEROES): reads the whole block into {@link #scratch}
     * and applies the change to it; the caller writes {@code scratch} back where its write mode says.
     */
    private int mergePartialBlock(
        final int command, final long lba, final int inBlock, final int chunk, final UnsafeBuffer data, final int at)
    {
        final int status = readBlock(lba, scratch, 0);
        if (status == IoStatus.OK)
        {
            if (command == HostRequest.WRITE)
            {
                scratch.putBytes(inBlock, data, at, chunk);
            }
            else
            {
                scratch.setMemory(inBlock, chunk, (byte)0);
            }
        }
        return status;
    }

    /** One block through the cache: a cached page or trim, else the pool. */
    private int readBlock(final long lba, final UnsafeBuffer dst, final int offset)
    {
        if (!cache.isClean())
        {
            final int status = cache.read(lba, dst, offset);
            if (status == CacheStatus.HIT)
            {
                return IoStatus.OK;
            }
            if (status == CacheStatus.CHECKSUM_MISMATCH)
            {
                return IoStatus.CHECKSUM_MISMATCH;
            }
        }
        if (readCache.read(lba, dst, offset))
        {
            return IoStatus.OK;
        }
        final int status = volume.readBlock(lba, dst, offset);
        if (status == IoStatus.OK)
        {
            readCache.put(lba, dst, offset);
        }
        return status;
    }

    private int redriveBlocked()
    {
        int work = 0;
        while (!blocked.isEmpty())
        {
            final HostRequest request = blocked.peek();
            if (state.mode() == WriteModeSetting.WT)
            {
                blocked.remove();
                process(request); // the mode changed under quiesce: the WT path takes it now
                work++;
                continue;
            }
            final int status = cacheMutate(request);
            if (status == CacheStatus.BACK_PRESSURE)
            {
                return work;
            }
            final long enteredNs = blocked.peekEnteredNs();
            blocked.remove();
            acknowledgeCached(request, status, enteredNs);
            work++;
        }
        return work;
    }

    // ---------------------------------------------------------------- destage

    /**
     * Moves the oldest cached changes not yet in flight (one chunk) through the dedup engine into the open commit
     * group; they are freed when the group's redo batch is durable ({@link #handOff}, {@link #checkDurable}).
     */
    private int destage()
    {
        if (destagePaused || cache.changeCount() == cache.inFlightCount() || fenced || journal.isStopped() ||
            !hasRedoRoom((long)DESTAGE_CHUNK_CHANGES_MAX * BLOCK_SIZE_BYTES))
        {
            return 0;
        }
        destageStatus = IoStatus.OK;
        final int inFlightBefore = cache.inFlightCount();
        final long batch = cache.destageBatch(DESTAGE_CHUNK_CHANGES_MAX, destager);
        if (batch == WriteCache.NO_BATCH)
        {
            return 0; // every batch of the ring is in flight: the open group commits next
        }
        if (destageStatus != IoStatus.OK)
        {
            // what was applied stays applied (its records commit with the batch); the cache keeps every change of
            // the chunk (the newest batch in flight) and destages it again later. Records in the batch are committed
            // even without a group: among them may be the segment frees that make room for the retry (NO_SPACE)
            cache.onDestageFailed(batch);
            commitWanted = !redo.batch().isEmpty();
            destageErrorCount++;
            errorCount++;
            if (destageStatus != reportedDestageStatus)
            {
                reportedDestageStatus = destageStatus;
                System.err.println("[afasim] volume " + state.name() + ": destage failed with " +
                    IoStatus.name(destageStatus) + "; the cache keeps the changes and destages them again" +
                    (destageStatus == IoStatus.NO_SPACE ? " once cleaning frees segments" : ""));
            }
            return 1;
        }
        reportedDestageStatus = IoStatus.OK;
        if (groupBatchCount == 0)
        {
            pool.enter(); // one pool passage per commit group
            groupOpenedNs = nowNs;
        }
        groupBatchCount++;
        groupChangeCount += cache.inFlightCount() - inFlightBefore;
        return 1;
    }

    /**
     * Segment cleaning, on the volume thread like the destage it makes room for: while the disk group is nearly
     * out of segments for host writes (or the last chunk ran out), moves the live blocks of up to
     * {@value #CLEAN_SEGMENTS_PER_STEP} victims to the open segment ({@link DedupVolume#clean}; their RELOCATE
     * records go into the open commit group) and asks for a commit. The victims are released only once that
     * batch is durable ({@link #releaseCleaned()}), and the next step waits for it: a cleaned victim is empty
     * and would be picked again.
     */
    private int clean()
    {
        if (moveHeld || fenced)
        {
            return 0; // the pool is being handed to the peer (or must not be written): victims are cleaned again there
        }
        if (releaseWanted && hasRedoRoom((long)CLEAN_SEGMENTS_PER_STEP * BLOCK_SIZE_BYTES))
        {
            releaseWanted = false;
            releaseCleaned();
            return 1;
        }
        if (cleanedIn != null || releaseWanted || volume.cleanedSegmentCount() > 0 || journal.isStopped() || nowNs - cleanNotBeforeNs < 0 || (reportedDestageStatus != IoStatus.NO_SPACE &&
            !spaceWanted && volume.segmentLog().freeSegmentsForHost() > CLEAN_FREE_SEGMENTS_LOW))
        {
            return 0;
        }
        spaceWanted = false;
        final long redoPerSegment =
            (long)volume.segmentLog().layout().dataBlocksPerSegment() * CLEAN_REDO_BYTES_PER_BLOCK_MAX + 256;
        final int victims = (int)Math.min(CLEAN_SEGMENTS_PER_STEP, redo.batch().remainingBytes() / redoPerSegment);
        if (victims == 0)
        {
            commitWanted = true; // the next batch has room
            return 0;
        }
        final int moved = volume.clean(victims);
        if (moved < 0)
        {
            errorCount++;
            if (moved != reportedCleanStatus) // once per status: a failure with no victim cleaned recurs every 10 ms
            {
                reportedCleanStatus = moved;
                System.err.println("[afasim] volume " + state.name() + ": segment cleaning failed with " +
                    IoStatus.name(moved) + " after " + volume.cleanedSegmentCount() + " victims");
            }
        }
        else
        {
            reportedCleanStatus = IoStatus.OK;
        }
        if (volume.cleanedSegmentCount() == 0)
        {
            cleanNotBeforeNs = nowNs + GROUP_COMMIT_AGE_NS_MAX; // every sealed segment is full of live blocks
            return moved < 0 ? 1 : 0;
        }
        cleanedIn = redo.batch();
        commitWanted = true;
        return 1;
    }

    /** After the RELOCATE records are durable: frees the victims (SEGMENT_FREED records, committed next). */
    private void releaseCleaned()
    {
        final int released = volume.releaseCleaned();
        if (released < 0)
        {
            // part of the victims may be released already: the engine's state cannot be trusted to go on
            fence("releasing cleaned segments failed: " + IoStatus.name(released));
            return;
        }
        cleanedSegmentCount += released;
        commitWanted = true;
    }

    private final class Destager implements DestageConsumer
    {
        @Override
        public void onPage(
            final int volumeId, final long lba, final long sequence, final DirectBuffer block, final int blockOffset)
        {
            if (destageStatus == IoStatus.OK)
            {
                destageStatus = volume.write(lba, block, blockOffset);
                // the page is the block's current content: the write cache hands over only pages that are the
                // newest change of their LBA at that moment (a later write or trim invalidates the entry again)
                if (destageStatus == IoStatus.OK)
                {
                    readCache.put(lba, block, blockOffset);
                }
                else
                {
                    readCache.invalidate(lba);
                }
            }
        }

        @Override
        public void onUnmap(
            final int volumeId, final long lba, final int blockCount, final long sequence, final boolean zeroes)
        {
            if (destageStatus == IoStatus.OK)
            {
                destageStatus = volume.trim(lba, blockCount);
                readCache.invalidateRange(lba, blockCount);
            }
        }

        @Override
        public void onCorruptPage(final int volumeId, final long lba, final long sequence)
        {
            // an acknowledged write whose page no longer matches its checksum in NVMe memory: it cannot be
            // destaged; the block keeps its older content. Counted and reported, never written as data.
            corruptPageCount++;
            errorCount++;
            System.err.println("[afasim] volume " + state.name() + ": NVMe page of lba " + lba + " (sequence " +
                sequence + ") is corrupt; the write is lost");
        }
    }

    /** Completes a request that entered the volume layer in this duty cycle (at {@link #nowNs}). */
    private void completeNow(final HostRequest request, final int errno)
    {
        volumeLayer.exit(nowNs, clock.nanoTime());
        request.complete(errno);
    }

    /**
     * A WT write waits (in {@link #retry}, never failed) while its blocks do not fit in the segments left for host
     * writes and the cleaner may still free some: applied now it would fail part-way with ENOSPC. When the last look
     * found nothing to clean (every sealed segment live), it goes ahead and the host gets ENOSPC: the pool is full.
     */
    private boolean hasSpaceFor(final HostRequest request)
    {
        if (request.command() != HostRequest.WRITE)
        {
            return true;
        }
        final long blocks = (request.lengthBytes() + BLOCK_SIZE_BYTES - 1) / BLOCK_SIZE_BYTES + 1; // + 1: unaligned
        if (volume.segmentLog().hasRoomForHostBlocks(blocks))
        {
            return true;
        }
        spaceWanted = true;
        return nowNs - cleanNotBeforeNs < 0 && cleanedIn == null && !releaseWanted;
    }

    private boolean hasRedoRoom(final long lengthBytes)
    {
        final long blocks = (lengthBytes + BLOCK_SIZE_BYTES - 1) / BLOCK_SIZE_BYTES + 2;
        return redo.batch().remainingBytes() >= blocks * REDO_BYTES_PER_BLOCK_MAX;
    }

    private int read(final HostRequest request)
    {
        final UnsafeBuffer data = request.data();
        long offset = request.offsetBytes();
        final long end = offset + request.lengthBytes();
        int at = 0;
        while (offset < end)
        {
            final long lba = offset >>> BLOCK_SHIFT;
            final int inBlock = (int)(offset & (BLOCK_SIZE_BYTES - 1));
            final int chunk = (int)Math.min(BLOCK_SIZE_BYTES - inBlock, end - offset);
            final int status;
            if (inBlock == 0 && chunk == BLOCK_SIZE_BYTES)
            {
                status = readBlock(lba, data, at);
            }
            else
            {
                status = readBlock(lba, scratch, 0);
                data.putBytes(at, scratch, inBlock, chunk);
            }
            if (status != IoStatus.OK)
            {
                errorCount++;
                return HostRequest.EIO;
            }
            offset += chunk;
            at += chunk;
        }
        return HostRequest.OK;
    }

    /** Applies a WRITE, TRIM or WRITE_ZEROES to the dedup engine (durable once its batch commits). */
    private int mutate(final HostRequest request)
    {
        final int command = request.command();
        final UnsafeBuffer data = request.data();
        long offset = request.offsetBytes();
        final long end = offset + request.lengthBytes();
        int at = 0;
        while (offset < end)
        {
            final long lba = offset >>> BLOCK_SHIFT;
            final int inBlock = (int)(offset & (BLOCK_SIZE_BYTES - 1));
            final int chunk = (int)Math.min(BLOCK_SIZE_BYTES - inBlock, end - offset);
            int status;
            if (inBlock == 0 && chunk == BLOCK_SIZE_BYTES)
            {
                if (command == HostRequest.WRITE)
                {
                    status = volume.write(lba, data, at);
                    if (status == IoStatus.OK)
                    {
                        readCache.put(lba, data, at);
                    }
                }
                else
                {
                    // whole blocks: a run of them is one unmap (thin: zeroes read back from holes)
                    final long blocks = (end - offset) >>> BLOCK_SHIFT;
                    status = volume.trim(lba, blocks);
                    readCache.invalidateRange(lba, blocks);
                    offset += blocks << BLOCK_SHIFT;
                    if (status != IoStatus.OK)
                    {
                        return toErrno(status);
                    }
                    continue;
                }
            }
            else
            {
                status = mergePartialBlock(command, lba, inBlock, chunk, data, at);
                if (status == IoStatus.OK)
                {
                    status = volume.write(lba, scratch, 0);
                    readCache.invalidate(lba);
                }
            }
            if (status != IoStatus.OK)
            {
                return toErrno(status);
            }
            offset += chunk;
            at += chunk;
        }
        return HostRequest.OK;
    }

    private int toErrno(final int status)
    {
        errorCount++;
        return status == IoStatus.NO_SPACE ? HostRequest.ENOSPC : HostRequest.EIO;
    }

    private void blockStatus(final HostRequest request)
    {
        final BlockStatusSink sink = request.blockStatus();
        long lba = request.offsetBytes() >>> BLOCK_SHIFT;
        final long endLba = (request.offsetBytes() + request.lengthBytes() + BLOCK_SIZE_BYTES - 1) >>> BLOCK_SHIFT;
        long runStart = request.offsetBytes();
        boolean runHole = isHole(lba);
        lba++;
        while (lba < endLba)
        {
            final boolean hole = isHole(lba);
            if (hole != runHole)
            {
                final long runEnd = lba << BLOCK_SHIFT;
                if (!sink.add(runEnd - runStart, runHole ? BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO : 0))
                {
                    return;
                }
                runStart = runEnd;
                runHole = hole;
            }
            lba++;
        }
        final long end = request.offsetBytes() + request.lengthBytes();
        sink.add(end - runStart, runHole ? BlockStatusSink.STATE_HOLE | BlockStatusSink.STATE_ZERO : 0);
    }

    /** True when the block reads as zeroes and holds no data: unmapped and not cached, or a cached trim. */
    private boolean isHole(final long lba)
    {
        if (!cache.isClean())
        {
            final int status = cache.read(lba, scratch, 0);
            if (status == CacheStatus.HIT)
            {
                return Blocks.isZero(scratch);
            }
            if (status == CacheStatus.CHECKSUM_MISMATCH)
            {
                return false;
            }
        }
        return volume.read(lba) == DedupVolume.HOLE;
    }

    private int redriveRetries()
    {
        int work = 0;
        while (!retry.isEmpty() && hasRedoRoom(retry.peek().lengthBytes()) && hasSpaceFor(retry.peek()))
        {
            final HostRequest request = retry.peek();
            retry.remove();
            redriving = true;
            try
            {
                process(request);
            }
            finally
            {
                redriving = false;
            }
            work++;
        }
        return work;
    }

    // ---------------------------------------------------------------- durability (WT)

    /**
     * Commits the current redo batch when none is in flight and requests wait on it (WT writes, retries: never
     * delayed), or the open commit group is due ({@link #isGroupDue}): syncs the segment log (or starts its sync on
     * the segment writer) and swaps the batch out; the batch goes to the journal agent once the sync is done
     * ({@link #onSegmentSyncDone}, {@link #offerSynced}).
     */
    private int handOff()
    {
        if (inFlight != null || fenced || journal.isStopped() ||
            (awaitingNext.isEmpty() && retry.isEmpty() && !isGroupDue()))
        {
            return 0;
        }
        // hosts wait on a WT batch (and on retries): its sync runs here, where on the segment writer it would add
        // that thread's wake-up to their latency; a destage group nobody waits on is synced behind when this
        // thread is shared ({@link #syncBehind})
        final boolean behind = syncBehind && awaitingNext.isEmpty() && retry.isEmpty();
        final SegmentLog log = volume.segmentLog();
        final int started = behind ? log.syncStart() : log.sync();
        if (started != IoStatus.OK)
        {
            fence("segment log sync failed: " + IoStatus.name(started));
            return 1;
        }
        final RedoBatch batch = redo.swap(spare);
        spare = null;
        batch.durableLsn(0);
        inFlight = batch;
        syncing.set(batch);
        inFlightSinceNs = nowNs;
        awaitingNext.moveAllTo(awaitingInFlight);
        commitWanted = false;
        if (groupBatchCount > 0)
        {
            committingBatchCount = groupBatchCount;
            committingOpenedNs = groupOpenedNs;
            groupBatchCount = 0;
            groupChangeCount = 0;
            groupCommitCount++;
        }
        return 1 + offerSynced();
    }

    /**
     * The segment writer's thread, when a sync of this volume's log is done: hands the batch waiting on it to the
     * journal agent at once (waking this agent to do it would add its wake-up and the rest of its duty cycle to every
     * commit). A failed sync, a stopped journal or a full journal queue leave the batch to {@link #offerSynced}; the
     * writer then rings this agent's doorbell in any case, once the result can be polled.
     */
    private void onSegmentSyncDone(final int status)
    {
        final RedoBatch batch = syncing.get();
        if (status == IoStatus.OK && batch != null && !journal.isStopped() && syncing.compareAndSet(batch, null) &&
            !journal.offer(batch))
        {
            syncing.set(batch);
        }
    }

    /**
     * This agent's side of {@link #onSegmentSyncDone}: hands the batch in flight to the journal agent once its
     * segment log sync is done, if the writer did not. A failed sync dropped the blocks the batch's records name:
     * the batch is never committed, what waits on it fails and the volume is fenced.
     */
    private int offerSynced()
    {
        final SegmentLog log = volume.segmentLog();
        if (syncing.get() == null)
        {
            // handed over by the writer: apply the sync's result to the log now (durable marks, its buffers)
            if (log.isSyncInFlight())
            {
                final int synced = log.pollSync();
                if (synced != SegmentLog.SYNC_PENDING && synced != IoStatus.OK)
                {
                    fence("segment log sync failed: " + IoStatus.name(synced));
                }
            }
            return 0;
        }
        final int synced = log.pollSync();
        if (synced == SegmentLog.SYNC_PENDING)
        {
            return 0;
        }
        final RedoBatch batch = syncing.getAndSet(null);
        if (batch == null)
        {
            return 0; // the writer's thread handed it over meanwhile
        }
        if (synced != IoStatus.OK || journal.isStopped())
        {
            batch.durableLsn(-1); // checkDurable fails what waits on it
            if (synced != IoStatus.OK)
            {
                fence("segment log sync failed: " + IoStatus.name(synced));
            }
            return 1;
        }
        if (!journal.offer(batch))
        {
            syncing.set(batch);
            return 0; // journal queue full: again next duty cycle
        }
        return 1;
    }

    /**
     * Journal agent, while this agent is paused for a checkpoint and after it has synced every segment log (so no
     * sync of this volume is in flight): the batch in flight that still waits to be handed over, or null. The
     * checkpoint absorbs it into its image (journaled after the image it would be replayed twice), then marks it
     * durable as the ones the journal agent already held.
     */
    RedoBatch takeSyncingBatch()
    {
        return syncing.getAndSet(null);
    }

    /**
     * True when the open commit group should be committed now (the caller checks that no commit is in flight):
     * it is large enough to be worth its syncs, or something needs the cache clean or emptier soon (urgent
     * destage, parked writes, a quiesce), or it cannot grow (redo batch or batch ring nearly full), or it is old.
     * Also true, group or not, after a failed chunk left records in the redo batch or cleaning moved blocks
     * ({@link #commitWanted}).
     */
    private boolean isGroupDue()
    {
        if (groupBatchCount == 0 || commitWanted)
        {
            return commitWanted;
        }
        return groupChangeCount >= GROUP_COMMIT_CHANGES ||
            cache.isDestageUrgent() ||
            !blocked.isEmpty() ||
            quiesce != null ||
            !hasRedoRoom(2L * DESTAGE_CHUNK_CHANGES_MAX * BLOCK_SIZE_BYTES) ||
            cache.destageBatchesInFlight() >= DESTAGE_BATCHES_IN_FLIGHT_MAX ||
            nowNs - groupOpenedNs - GROUP_COMMIT_AGE_NS_MAX >= 0;
    }

    private int checkDurable()
    {
        if (inFlight == null)
        {
            return 0;
        }
        final long lsn = inFlight.durableLsn();
        if (lsn == 0)
        {
            return 0;
        }
        final int errno = lsn > 0 ? HostRequest.OK : HostRequest.EIO;
        int work = 0;
        while (!awaitingInFlight.isEmpty())
        {
            final HostRequest request = awaitingInFlight.peek();
            final long enteredNs = awaitingInFlight.peekEnteredNs();
            awaitingInFlight.remove();
            pool.exit(enteredNs, nowNs);
            volumeLayer.exit(enteredNs, nowNs);
            if (errno != HostRequest.OK)
            {
                errorCount++;
            }
            request.complete(errno);
            work++;
        }
        if (committingBatchCount > 0)
        {
            if (errno == HostRequest.OK)
            {
                pool.exit(committingOpenedNs, nowNs);
                for (int i = committingBatchCount; i > 0; i--)
                {
                    cache.onDestaged(cache.oldestBatchInFlight()); // the committing group's batches are the oldest
                }
                assert cache.destageBatchesInFlight() == groupBatchCount;
            }
            else
            {
                // nothing more is committed: the open group (the newest batches) fails first, then this one
                failOpenGroup();
                failBatches(committingBatchCount, committingOpenedNs);
            }
            committingBatchCount = 0;
        }
        if (inFlight == cleanedIn)
        {
            cleanedIn = null;
            releaseWanted = errno == HostRequest.OK; // a failed commit keeps the victims: never released, no more cleaning
        }
        spare = inFlight;
        spare.clear();
        inFlight = null;
        return work + 1;
    }

    private void fence(final String reason)
    {
        fenced = true;
        readCache.sharedReads(false);
        errorCount++;
        System.err.println("[afasim] volume " + state.name() + " fenced: " + reason +
            "; its I/O fails until the controller restarts (recovery restores the committed state; " +
            "1WB writes acknowledged from NVMe memory are replayed from it)");
        failAwaiting(awaitingNext, HostRequest.EIO);
        failWaitingOutside(retry);
        failWaitingOutside(blocked);
        failOpenGroup(); // the group being committed (if any) ends with its batch
    }

    /** Fails requests parked before entering the layers (retry, back-pressure). */
    private static void failWaitingOutside(final PendingQueue queue)
    {
        while (!queue.isEmpty())
        {
            final HostRequest request = queue.peek();
            queue.remove();
            request.complete(HostRequest.EIO);
        }
    }

    boolean isFenced()
    {
        return fenced;
    }

    /** Fails the open commit group's batches, newest first (they are the newest in flight). */
    private void failOpenGroup()
    {
        failBatches(groupBatchCount, groupOpenedNs);
        groupBatchCount = 0;
        groupChangeCount = 0;
    }

    /** Fails the {@code batchCount} newest cache batches in flight, newest first: they are destaged again later. */
    private void failBatches(final int batchCount, final long enteredNs)
    {
        if (batchCount == 0)
        {
            return;
        }
        assert cache.destageBatchesInFlight() >= batchCount;
        pool.exit(enteredNs, nowNs);
        for (int i = batchCount; i > 0; i--)
        {
            cache.onDestageFailed(cache.newestBatchInFlight());
            destageErrorCount++;
        }
    }

    private void failAwaiting(final PendingQueue queue, final int errno)
    {
        while (!queue.isEmpty())
        {
            final HostRequest request = queue.peek();
            final long enteredNs = queue.peekEnteredNs();
            queue.remove();
            pool.exit(enteredNs, nowNs);
            volumeLayer.exit(enteredNs, nowNs);
            request.complete(errno);
        }
    }

    /** True when nothing is inside the volume: no request waiting for durability, none in flight. */
    boolean isIdle()
    {
        return isIdle(0);
    }

    /** {@link #isIdle()}, with {@code mirrorWaits} WB writes allowed to wait for the peer. */
    private boolean isIdle(final int mirrorWaits)
    {
        return inFlight == null && awaitingNext.isEmpty() && awaitingInFlight.isEmpty() && retry.isEmpty() &&
            awaitingMirror.size() == mirrorWaits &&
            blocked.isEmpty() && groupBatchCount == 0 && committingBatchCount == 0;
    }

    // ---------------------------------------------------------------- quiesce

    /**
     * Starts a quiesce (on this thread): gates close top down, trackers drain, then {@code change} runs
     * here, gates reopen bottom up, parked requests are re-driven in order, and {@code done} is told
     * the outcome. Only one at a time.
     */
    void quiesce(
        final String reason,
        final long timeoutNs,
        final boolean requiresCleanCache,
        final Runnable change,
        final Consumer<String> done)
    {
        quiesce(reason, timeoutNs, requiresCleanCache, false, change, done);
    }

    /**
     * As above; with {@code releasesMirrorWaits} the drain does not wait for WB writes waiting on the peer (a
     * peer that is gone never answers): {@code change} must leave WB or resynchronise, which acknowledges them
     * ({@link #applyRunningMode}).
     */
    void quiesce(
        final String reason,
        final long timeoutNs,
        final boolean requiresCleanCache,
        final boolean releasesMirrorWaits,
        final Runnable change,
        final Consumer<String> done)
    {
        if (quiesce != null)
        {
            done.accept("refused: volume " + state.name() + " is already quiescing for " + quiesce.reason);
            return;
        }
        quiesce = new Quiesce(reason, nowNs + timeoutNs, requiresCleanCache, change, done);
        quiesce.releasesMirrorWaits = releasesMirrorWaits;
        closeGates();
    }

    private void closeGates()
    {
        readCache.sharedReads(false); // the network thread sends every read here again until the gates reopen
        for (final Layer layer : layers)
        {
            layer.close();
        }
    }

    boolean isQuiescing()
    {
        return quiesce != null;
    }

    private final class Quiesce
    {
        final String reason;
        final long deadlineNs;
        final boolean requiresCleanCache;
        final Runnable change;
        final Consumer<String> done;
        boolean releasesMirrorWaits;

        Quiesce(
            final String reason,
            final long deadlineNs,
            final boolean requiresCleanCache,
            final Runnable change,
            final Consumer<String> done)
        {
            this.reason = reason;
            this.deadlineNs = deadlineNs;
            this.requiresCleanCache = requiresCleanCache;
            this.change = change;
            this.done = done;
        }

        int advance()
        {
            boolean drained = true;
            final int mirrorWaits = releasesMirrorWaits ? awaitingMirror.size() : 0;
            for (final Layer layer : layers)
            {
                drained &= layer == volumeLayer ? layer.inFlight() == mirrorWaits : layer.isDrained();
            }
            drained &= isIdle(mirrorWaits);
            drained &= !requiresCleanCache || cache.isClean();
            if (!drained)
            {
                if (deadlineNs != Long.MAX_VALUE && deadlineNs - nowNs < 0)
                {
                    finish("timed out: layers did not drain (" + describeInFlight() + ")");
                    return 1;
                }
                return 0;
            }
            String outcome = null;
            try
            {
                change.run();
            }
            catch (final RuntimeException ex)
            {
                outcome = "failed: " + ex.getMessage();
            }
            finish(outcome);
            return 1;
        }

        private void finish(final String outcome)
        {
            quiesce = null;
            if (moveHeld && outcome == null)
            {
                done.accept(null); // handed to the peer next: gates stay closed, requests stay parked
                return;
            }
            moveHeld = false;
            reopen();
            done.accept(outcome);
        }
    }

    /** Gates open bottom up; parked requests are re-driven in order, each past the gate it waited at. */
    private void reopen()
    {
        {
            for (int i = layers.length - 1; i >= 0; i--)
            {
                layers[i].open();
            }
            for (final Layer layer : layers)
            {
                Object parkedRequest;
                while ((parkedRequest = layer.pollParked()) != null)
                {
                    // continue past the gate it was parked at: admitting it again would park it behind the
                    // requests still queued there
                    if (layer == forwarding)
                    {
                        pastForwardingGate((HostRequest)parkedRequest);
                    }
                    else
                    {
                        process((HostRequest)parkedRequest);
                    }
                }
            }
        }
    }

    // ---------------------------------------------------------------- ownership move

    /**
     * Inside a quiesce's change: keep the gates closed when the quiesce ends, so requests park until the volume
     * is handed over ({@link #handOffParked}) or the move is undone ({@link #releaseHold}).
     */
    void holdForMove()
    {
        moveHeld = true;
    }

    boolean isHeldForMove()
    {
        return moveHeld;
    }

    /** The move failed: the volume serves here again (this thread). */
    void releaseHold()
    {
        if (moveHeld && quiesce == null)
        {
            moveHeld = false;
            reopen();
        }
    }

    /**
     * The peer owns the volume now (this thread, after the controller stopped routing requests here): every
     * request parked at a gate or still queued goes to {@code to} (the forwarder), in order.
     */
    int handOffParked(final Consumer<HostRequest> to)
    {
        int handed = 0;
        for (final Layer layer : layers)
        {
            Object parkedRequest;
            while ((parkedRequest = layer.takeParked()) != null)
            {
                to.accept((HostRequest)parkedRequest);
                handed++;
            }
        }
        HostRequest queued;
        while ((queued = requests.poll()) != null)
        {
            to.accept(queued);
            handed++;
        }
        return handed;
    }

    private String describeInFlight()
    {
        final StringBuilder builder = new StringBuilder();
        for (final Layer layer : layers)
        {
            builder.append(layer.id().label()).append('=').append(layer.inFlight()).append(' ');
        }
        return builder.append("awaiting=").append(awaitingNext.size() + awaitingInFlight.size())
            .append(" destageGroups=").append(groupBatchCount).append('/').append(committingBatchCount)
            .append(" awaitingMirror=").append(awaitingMirror.size())
            .append(" blocked=").append(blocked.size()).append(" cachedChanges=").append(cache.changeCount()).toString();
    }
}
