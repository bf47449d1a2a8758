package io.afasim.controller;

import java.util.concurrent.locks.LockSupport;

/**
 * Cuts an idle agent's park short: a thread that hands the agent work (a request, a command, a durable
 * batch) rings the bell, and the agent, if parked by its {@link DoorbellIdleStrategy}, is unparked at once
 * instead of at the end of its park period (up to {@code afasim.idle.parkNsMax}). An agent that is busy or
 * spinning costs the ringer one volatile store and load, no syscall.
 *
 * <p>No lost wake-up: the agent publishes itself as parked and then checks the bell; the ringer rings and
 * then checks for a parked thread (both volatile, so at least one sees the other). A ring that finds the
 * agent awake makes its next park attempt return at once; it then runs another duty cycle.
 */
final class Doorbell implements Runnable
{
    private volatile Thread parkedThread;
    private volatile boolean rung;
    private volatile Runnable hostWakeup;

    /** Any thread, after handing the agent work. */
    void ring()
    {
        rung = true;
        final Runnable wakeup = hostWakeup;
        if (wakeup != null)
        {
            wakeup.run();
            return;
        }
        final Thread thread = parkedThread;
        if (thread != null)
        {
            LockSupport.unpark(thread);
        }
    }

    /**
     * The agent runs on a thread it shares with other agents ({@code afasim.threading=shared}), which parks on
     * {@code wakeup}, not on this bell: a ring runs {@code wakeup} (a {@code LinkWakeup}: a volatile store and a
     * load while the thread is awake, a selector wake-up when it waits).
     */
    void hostedBy(final Runnable wakeup)
    {
        hostWakeup = wakeup;
    }

    /** Offers {@code item} to the agent's queue and rings when the queue took it; false when the queue is full. */
    <E> boolean offer(final java.util.Queue<E> queue, final E item)
    {
        if (!queue.offer(item))
        {
            return false;
        }
        ring();
        return true;
    }

    /** {@link #ring()}, as a preallocated callback (e.g. a redo batch's durable listener). */
    @Override
    public void run()
    {
        ring();
    }

    /** Agent thread: parks for at most {@code parkNs} unless the bell rang since the last park. */
    void park(final long parkNs)
    {
        parkedThread = Thread.currentThread();
        if (!rung)
        {
            LockSupport.parkNanos(parkNs);
        }
        parkedThread = null;
        rung = false;
    }
}
