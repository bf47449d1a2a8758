package io.afasim.controller;

import java.util.Collection;
import java.util.function.Consumer;
import java.util.function.Supplier;

import io.afasim.dedup.DedupStore;
import io.afasim.journal.IoStatus;
import io.afasim.journal.RedoBatch;
import org.agrona.ErrorHandler;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.ManyToOneConcurrentArrayQueue;

/**
 * Owns one pool's ({@link Pool}) shared parts ({@link DedupStore}: metadata journal, checkpoint store,
 * allocator persistence) and is the only thread that touches them. Volume agents hand it their redo
 * batches ({@link #offer}); it drains every batch that has arrived into the journal and commits
 * them with ONE fdatasync (group commit across volumes), then marks each batch durable (or failed:
 * a negative LSN).
 *
 * <p>When the journal is past {@link #CHECKPOINT_FILL_PERCENT} full, or has no room for the batches,
 * it checkpoints: it asks every volume agent to pause between requests, and once all are paused
 * writes the image (absorbing the batches in hand), marks those batches durable and resumes the
 * volumes. Host I/O pauses meanwhile; it never fails.
 *
 * <p>Volume create and delete run here too ({@link #execute}), since they change the store.
 */
final class JournalAgent implements Agent
{
    /** Each volume has at most one batch in flight, so every batch handed over fits at once. */
    static final int BATCHES_PER_COMMIT_MAX = DedupStore.VOLUMES_MAX;
    static final int QUEUE_CAPACITY = DedupStore.VOLUMES_MAX;
    static final int CHECKPOINT_FILL_PERCENT = 50;

    private final String roleName;
    private final DedupStore store;
    private final Supplier<Collection<VolumeAgent>> volumes;
    private final ErrorHandler errorHandler;
    private final ManyToOneConcurrentArrayQueue<RedoBatch> batches = new ManyToOneConcurrentArrayQueue<>(QUEUE_CAPACITY);
    private final ManyToOneConcurrentArrayQueue<Runnable> commands = new ManyToOneConcurrentArrayQueue<>(256);
    private final RedoBatch[] pending = new RedoBatch[BATCHES_PER_COMMIT_MAX];
    private final Consumer<RedoBatch> collector = this::collect;
    /** Rung when work is handed over; the doorbell of this agent's idle strategy, set before it starts. */
    private volatile Doorbell doorbell = new Doorbell();
    private int pendingCount;
    private boolean pausing;
    private long pauseEpoch;
    private volatile boolean stopped;
    private volatile long commitCount;
    private volatile long batchCount;
    private volatile long checkpointCount;

    JournalAgent(
        final DedupStore store, final Supplier<Collection<VolumeAgent>> volumes, final ErrorHandler errorHandler,
        final int poolId)
    {
        this.roleName = "journal-" + poolId;
        this.store = store;
        this.volumes = volumes;
        this.errorHandler = errorHandler;
    }

    @Override
    public String roleName()
    {
        return roleName;
    }

    /** From a volume agent: false when the queue is full (the agent retries). */
    boolean offer(final RedoBatch batch)
    {
        return doorbell.offer(batches, batch);
    }

    /** Runs {@code command} on this agent's thread; false when the queue is full. */
    boolean execute(final Runnable command)
    {
        return doorbell.offer(commands, command);
    }

    /** The doorbell this agent's idle strategy parks on (see {@link DoorbellIdleStrategy}); before it starts. */
    void doorbell(final Doorbell doorbell)
    {
        this.doorbell = doorbell;
    }

    /** True once the store is fenced after a failed commit: nothing more becomes durable. */
    boolean isStopped()
    {
        return stopped;
    }

    long commitCount()
    {
        return commitCount;
    }

    long batchCount()
    {
        return batchCount;
    }

    long checkpointCount()
    {
        return checkpointCount;
    }

    DedupStore store()
    {
        return store;
    }

    @Override
    public int doWork()
    {
        int work = commands.drain(Runnable::run, 16);
        if (pausing)
        {
            return work + advanceCheckpoint();
        }
        if (pendingCount < BATCHES_PER_COMMIT_MAX)
        {
            work += batches.drain(collector, BATCHES_PER_COMMIT_MAX - pendingCount);
        }
        if (pendingCount > 0 && stopped)
        {
            complete(-1); // the store is fenced: nothing more becomes durable, and what waits on them fails
            work++;
        }
        else if (pendingCount > 0)
        {
            final long lsn = store.commitBatches(pending, pendingCount);
            if (lsn == IoStatus.NO_SPACE)
            {
                startPause();
                return work + 1;
            }
            complete(lsn > 0 ? lsn : (lsn == 0 ? 1 : -1));
            commitCount++;
            work++;
            if (lsn < 0)
            {
                stopped = true;
                errorHandler.onError(new IllegalStateException(
                    "journal commit failed (" + IoStatus.name(lsn) + "): store fenced, nothing more is acknowledged"));
            }
        }
        if (!pausing && !stopped && journalFillPercent() >= CHECKPOINT_FILL_PERCENT)
        {
            startPause();
            work++;
        }
        return work;
    }

    int journalFillPercent()
    {
        final long size = store.shelf().layout().journalSizeBytes();
        return (int)(100 - store.journal().freeBytes() * 100 / size);
    }

    private void collect(final RedoBatch batch)
    {
        pending[pendingCount++] = batch;
        batchCount++;
    }

    private void complete(final long lsn)
    {
        for (int i = 0; i < pendingCount; i++)
        {
            pending[i].durableLsn(lsn);
            pending[i] = null;
        }
        pendingCount = 0;
    }

    private void startPause()
    {
        pausing = true;
        pauseEpoch++;
        for (final VolumeAgent volume : volumes.get())
        {
            volume.requestPause(pauseEpoch);
        }
    }

    private int advanceCheckpoint()
    {
        boolean allPaused = true;
        for (final VolumeAgent volume : volumes.get())
        {
            // asked again on every check: a volume created while the pause is under way must pause too
            volume.requestPause(pauseEpoch);
            allPaused &= volume.isPaused(pauseEpoch);
        }
        if (!allPaused)
        {
            return 0;
        }
        // The image covers every batch in flight: those handed over before the volumes paused, and those still
        // waiting for their segment log sync. Syncing every log first finishes the syncs in flight, whose segment
        // writer may hand a batch over until then; the batches still waiting are taken before the queue is drained,
        // so none is handed over after the drain. A volume has one batch in flight at most, so they fit.
        final int synced = store.syncLogs();
        for (final VolumeAgent volume : volumes.get())
        {
            final RedoBatch syncing = volume.takeSyncingBatch();
            if (syncing != null)
            {
                collect(syncing);
            }
        }
        batches.drain(collector, BATCHES_PER_COMMIT_MAX - pendingCount);
        final int status = synced != IoStatus.OK ? synced : store.checkpoint(pending, pendingCount);
        checkpointCount++;
        if (status == IoStatus.OK)
        {
            complete(Math.max(1, store.journal().durableLsn()));
        }
        else
        {
            complete(-1);
            stopped = true;
            errorHandler.onError(new IllegalStateException(
                "checkpoint failed (" + IoStatus.name(status) + "): store fenced, nothing more is acknowledged"));
        }
        pausing = false;
        for (final VolumeAgent volume : volumes.get())
        {
            volume.resume(pauseEpoch);
        }
        return 1;
    }
}
