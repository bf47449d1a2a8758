package io.afasim.journal;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Fault-injection seam of one drive: fail, delay or corrupt the next N reads or writes; fail the
 * next N syncs, or hold every sync until released.
 * Armed from any thread (tests, the fault harness); consumed by the thread doing the I/O.
 * When nothing is armed the data path pays one volatile read.
 */
public final class DriveFaults
{
    private final AtomicInteger failReads = new AtomicInteger();
    private final AtomicInteger failWrites = new AtomicInteger();
    private final AtomicInteger corruptReads = new AtomicInteger();
    private final AtomicInteger corruptWrites = new AtomicInteger();
    private final AtomicInteger failSyncs = new AtomicInteger();
    private final AtomicInteger delayed = new AtomicInteger();
    private final AtomicLong delayNs = new AtomicLong();
    private final AtomicLong injectedCount = new AtomicLong();
    private volatile boolean armed;
    private volatile boolean syncsHeld; // changed under this object's monitor (wait/notify)

    /** The next {@code count} reads fail with {@link IoStatus#MEDIA_ERROR}. */
    public void failNextReads(final int count)
    {
        failReads.set(checkCount(count));
        rearm();
    }

    /** The next {@code count} writes fail with {@link IoStatus#MEDIA_ERROR} and write nothing. */
    public void failNextWrites(final int count)
    {
        failWrites.set(checkCount(count));
        rearm();
    }

    /** The next {@code count} reads return data with one flipped bit per 4 KiB block. */
    public void corruptNextReads(final int count)
    {
        corruptReads.set(checkCount(count));
        rearm();
    }

    /** The next {@code count} writes store data with one flipped bit per 4 KiB block (the caller's buffer is untouched). */
    public void corruptNextWrites(final int count)
    {
        corruptWrites.set(checkCount(count));
        rearm();
    }

    /** The next {@code count} syncs (fdatasync) fail with {@link IoStatus#MEDIA_ERROR}. */
    public void failNextSyncs(final int count)
    {
        failSyncs.set(checkCount(count));
        rearm();
    }

    /** Every sync (fdatasync) waits, before it runs, until {@link #releaseSyncs()}: a drive that is slow to flush. */
    public synchronized void holdSyncs()
    {
        syncsHeld = true;
        rearm();
    }

    public synchronized void releaseSyncs()
    {
        syncsHeld = false;
        notifyAll();
        rearm();
    }

    /** The next {@code count} reads or writes are delayed by {@code delayNs} each. */
    public void delayNext(final int count, final long delayNs)
    {
        if (delayNs < 0)
        {
            throw new IllegalArgumentException("delayNs=" + delayNs + " must be >= 0");
        }
        this.delayNs.set(delayNs);
        delayed.set(checkCount(count));
        rearm();
    }

    public void clear()
    {
        failReads.set(0);
        failWrites.set(0);
        corruptReads.set(0);
        corruptWrites.set(0);
        failSyncs.set(0);
        delayed.set(0);
        releaseSyncs();
        armed = false;
    }

    /** How many faults have been injected so far. */
    public long injectedCount()
    {
        return injectedCount.get();
    }

    boolean armed()
    {
        return armed;
    }

    boolean takeFailRead()
    {
        return take(failReads);
    }

    boolean takeFailWrite()
    {
        return take(failWrites);
    }

    boolean takeFailSync()
    {
        return take(failSyncs);
    }

    /** The syncing thread: waits while syncs are held. */
    synchronized void awaitSyncRelease()
    {
        boolean interrupted = false;
        while (syncsHeld)
        {
            try
            {
                wait();
            }
            catch (final InterruptedException ex)
            {
                interrupted = true;
            }
        }
        if (interrupted)
        {
            Thread.currentThread().interrupt();
        }
    }

    boolean takeCorruptRead()
    {
        return take(corruptReads);
    }

    boolean takeCorruptWrite()
    {
        return take(corruptWrites);
    }

    /** Delay to apply to this I/O, 0 when none. */
    long takeDelayNs()
    {
        return take(delayed) ? delayNs.get() : 0;
    }

    private boolean take(final AtomicInteger counter)
    {
        while (true)
        {
            final int remaining = counter.get();
            if (remaining <= 0)
            {
                return false;
            }
            if (counter.compareAndSet(remaining, remaining - 1))
            {
                injectedCount.incrementAndGet();
                if (remaining == 1)
                {
                    rearm();
                }
                return true;
            }
        }
    }

    private void rearm()
    {
        armed = failReads.get() > 0 || failWrites.get() > 0 || corruptReads.get() > 0 ||
            corruptWrites.get() > 0 || failSyncs.get() > 0 || delayed.get() > 0 || syncsHeld;
    }

    private static int checkCount(final int count)
    {
        if (count < 0)
        {
            throw new IllegalArgumentException("count=" + count + " must be >= 0");
        }
        return count;
    }
}
