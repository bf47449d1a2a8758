package io.afasim.controller;

import java.nio.ByteBuffer;
import java.util.function.Consumer;

import io.afasim.dedup.DedupVolume;
import io.afasim.dedup.VolumeRedo;
import io.afasim.journal.IoStatus;
import io.afasim.journal.RedoBatch;
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
    /** Worst-case redo bytes one 4 KiB block adds: WRITE_NEW + a share of segment allocation/seal, with headers. */
    static final int REDO_BYTES_PER_BLOCK_MAX = 128;
    static final int BLOCK_SIZE_BYTES = 4096;
    static final int BLOCK_SHIFT = 12;

    private final VolumeState state;
    private final DedupVolume volume;
    private final VolumeRedo redo;
    private final JournalAgent journal;
    private final NanoClock clock;
    private final ManyToOneConcurrentArrayQueue<HostRequest> requests =
        new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(256);
    private final Consumer<HostRequest> requestHandler = this::onRequest;
    private final Layer[] layers = new Layer[LayerId.TOP_DOWN.length];
    private final Layer forwarding;
    private final Layer volumeLayer;
    private final Layer pool;
    private final PendingQueue awaitingNext = new PendingQueue(PENDING_CAPACITY);
    private final PendingQueue awaitingInFlight = new PendingQueue(PENDING_CAPACITY);
    private final PendingQueue retry = new PendingQueue(PENDING_CAPACITY);
    private final UnsafeBuffer scratch = new UnsafeBuffer(ByteBuffer.allocateDirect(BLOCK_SIZE_BYTES));
    private RedoBatch spare;
    private RedoBatch inFlight;
    private long inFlightSinceNs;
    private Quiesce quiesce;
    private volatile boolean pauseRequested;
    private volatile boolean paused;
    private long nowNs;
    private long errorCount;

    VolumeAgent(
        final VolumeState state,
        final DedupVolume volume,
        final VolumeRedo redo,
        final int redoBatchBytes,
        final JournalAgent journal,
        final NanoClock clock)
    {
        this.state = state;
        this.volume = volume;
        this.redo = redo;
        this.journal = journal;
        this.clock = clock;
        this.spare = new RedoBatch(redoBatchBytes);
        for (final LayerId id : LayerId.TOP_DOWN)
        {
            layers[id.ordinal()] = new Layer(id);
        }
        forwarding = layers[LayerId.FORWARDING.ordinal()];
        volumeLayer = layers[LayerId.VOLUME.ordinal()];
        pool = layers[LayerId.POOL.ordinal()];
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

    /** From any thread (the NBD network thread): false when the queue is full. */
    boolean offer(final HostRequest request)
    {
        return requests.offer(request);
    }

    /** Runs {@code command} on this agent's thread; false when the command queue is full. */
    boolean execute(final Runnable command)
    {
        return commands.offer(command);
    }

    @Override
    public int doWork()
    {
        nowNs = clock.nanoTime();
        int work = 0;
        if (pauseRequested)
        {
            paused = true;
            return 0;
        }
        paused = false;
        work += commands.drain(Runnable::run, COMMANDS_PER_DO_WORK_MAX);
        work += checkDurable();
        work += redriveRetries();
        work += requests.drain(requestHandler, REQUESTS_PER_DO_WORK_MAX);
        work += handOff();
        if (quiesce != null)
        {
            work += quiesce.advance();
        }
        return work;
    }

    // ---------------------------------------------------------------- checkpoint pause (journal agent)

    /** Asks the agent to stop between requests (journal agent, before a checkpoint). */
    void requestPause()
    {
        pauseRequested = true;
    }

    /** True once the agent has stopped and touches nothing until {@link #resume()}. */
    boolean isPaused()
    {
        return paused;
    }

    void resume()
    {
        pauseRequested = false;
    }

    // ---------------------------------------------------------------- host requests

    private void onRequest(final HostRequest request)
    {
        if (!forwarding.admit(request))
        {
            return;
        }
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
                if (!hasRedoRoom(length))
                {
                    retry.add(request, nowNs);
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
                return;

            case HostRequest.FLUSH:
                // WT acknowledges a write only once it is durable: every write completed before this
                // flush already meets the rule
                volumeLayer.enter();
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

    private void completeNow(final HostRequest request, final int errno)
    {
        volumeLayer.exit(nowNs, nowNs);
        request.complete(errno);
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
                status = volume.readBlock(lba, data, at);
            }
            else
            {
                status = volume.readBlock(lba, scratch, 0);
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
                }
                else
                {
                    // whole blocks: a run of them is one unmap (thin: zeroes read back from holes)
                    final long blocks = (end - offset) >>> BLOCK_SHIFT;
                    status = volume.trim(lba, blocks);
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
                // part of a block: read, modify, write
                status = volume.readBlock(lba, scratch, 0);
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
                    status = volume.write(lba, scratch, 0);
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
        boolean runHole = volume.read(lba) == DedupVolume.HOLE;
        lba++;
        while (lba < endLba)
        {
            final boolean hole = volume.read(lba) == DedupVolume.HOLE;
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

    private int redriveRetries()
    {
        int work = 0;
        while (!retry.isEmpty() && hasRedoRoom(retry.peek().lengthBytes()))
        {
            final HostRequest request = retry.peek();
            retry.remove();
            process(request);
            work++;
        }
        return work;
    }

    // ---------------------------------------------------------------- durability (WT)

    /** Hands the current batch to the journal agent when requests wait on it and none is in flight. */
    private int handOff()
    {
        if (inFlight != null || (awaitingNext.isEmpty() && retry.isEmpty()) || journal.isStopped())
        {
            return 0;
        }
        final int synced = volume.segmentLog().sync();
        if (synced != IoStatus.OK)
        {
            failAwaiting(awaitingNext, HostRequest.EIO);
            errorCount++;
            return 1;
        }
        final RedoBatch batch = redo.swap(spare);
        spare = null;
        batch.durableLsn(0);
        if (!journal.offer(batch))
        {
            spare = redo.swap(batch); // journal queue full: try again next duty cycle
            return 0;
        }
        inFlight = batch;
        inFlightSinceNs = nowNs;
        awaitingNext.moveAllTo(awaitingInFlight);
        return 1;
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
        spare = inFlight;
        spare.clear();
        inFlight = null;
        return work + 1;
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
        return inFlight == null && awaitingNext.isEmpty() && awaitingInFlight.isEmpty() && retry.isEmpty();
    }

    // ---------------------------------------------------------------- quiesce

    /**
     * Starts a quiesce (on this thread): gates close top down, trackers drain, then {@code change} runs
     * here, gates reopen bottom up, parked requests are re-driven in order, and {@code done} is told
     * the outcome. Only one at a time.
     */
    void quiesce(final String reason, final long timeoutNs, final Runnable change, final Consumer<String> done)
    {
        if (quiesce != null)
        {
            done.accept("refused: volume " + state.name() + " is already quiescing for " + quiesce.reason);
            return;
        }
        quiesce = new Quiesce(reason, nowNs + timeoutNs, change, done);
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
        final Runnable change;
        final Consumer<String> done;

        Quiesce(final String reason, final long deadlineNs, final Runnable change, final Consumer<String> done)
        {
            this.reason = reason;
            this.deadlineNs = deadlineNs;
            this.change = change;
            this.done = done;
        }

        int advance()
        {
            boolean drained = true;
            for (final Layer layer : layers)
            {
                drained &= layer.isDrained();
            }
            drained &= isIdle();
            if (!drained)
            {
                if (deadlineNs - nowNs < 0)
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
            for (int i = layers.length - 1; i >= 0; i--)
            {
                layers[i].open();
            }
            for (final Layer layer : layers)
            {
                Object parkedRequest;
                while ((parkedRequest = layer.pollParked()) != null)
                {
                    if (layer == forwarding)
                    {
                        onRequest((HostRequest)parkedRequest);
                    }
                    else
                    {
                        process((HostRequest)parkedRequest);
                    }
                }
            }
            done.accept(outcome);
        }
    }

    private String describeInFlight()
    {
        final StringBuilder builder = new StringBuilder();
        for (final Layer layer : layers)
        {
            builder.append(layer.id().label()).append('=').append(layer.inFlight()).append(' ');
        }
        return builder.append("awaiting=").append(awaitingNext.size() + awaitingInFlight.size()).toString();
    }
}
