package io.afasim.controller;

import java.util.function.LongConsumer;

import org.agrona.concurrent.IdleStrategy;

/**
 * Agrona's backoff (spin, then yield, then park with a period doubling up to {@code maxParkPeriodNs}), except
 * that the park is the agent's {@link Doorbell}: work handed over by another thread wakes the agent at once.
 * The default idle strategy of the controller's agents (no busy spin: the park period bounds idle CPU). The link
 * thread's parks on its {@link io.afasim.mirror.LinkWakeup} instead, which its sockets also end.
 */
final class DoorbellIdleStrategy implements IdleStrategy
{
    private final Doorbell doorbell;
    private final LongConsumer park;
    private final long maxSpins;
    private final long maxYields;
    private final long minParkPeriodNs;
    private final long maxParkPeriodNs;
    private long spins;
    private long yields;
    private long parkPeriodNs;

    DoorbellIdleStrategy(
        final Doorbell doorbell,
        final long maxSpins,
        final long maxYields,
        final long minParkPeriodNs,
        final long maxParkPeriodNs)
    {
        this(doorbell, doorbell::park, maxSpins, maxYields, minParkPeriodNs, maxParkPeriodNs);
    }

    /** Parks with {@code park} (a period in ns; it returns early when woken) instead of a doorbell. */
    DoorbellIdleStrategy(
        final LongConsumer park,
        final long maxSpins,
        final long maxYields,
        final long minParkPeriodNs,
        final long maxParkPeriodNs)
    {
        this(null, park, maxSpins, maxYields, minParkPeriodNs, maxParkPeriodNs);
    }

    private DoorbellIdleStrategy(
        final Doorbell doorbell,
        final LongConsumer park,
        final long maxSpins,
        final long maxYields,
        final long minParkPeriodNs,
        final long maxParkPeriodNs)
    {
        if (park == null || maxSpins < 0 || maxYields < 0 || minParkPeriodNs < 1 ||
            maxParkPeriodNs < minParkPeriodNs)
        {
            throw new IllegalArgumentException("doorbell idle strategy: spins=" + maxSpins + " yields=" + maxYields +
                " park " + minParkPeriodNs + ".." + maxParkPeriodNs + " ns");
        }
        this.doorbell = doorbell;
        this.park = park;
        this.maxSpins = maxSpins;
        this.maxYields = maxYields;
        this.minParkPeriodNs = minParkPeriodNs;
        this.maxParkPeriodNs = maxParkPeriodNs;
        this.parkPeriodNs = minParkPeriodNs;
    }

    @Override
    public void idle(final int workCount)
    {
        if (workCount > 0)
        {
            reset();
        }
        else
        {
            idle();
        }
    }

    @Override
    public void idle()
    {
        if (spins < maxSpins)
        {
            spins++;
            Thread.onSpinWait();
        }
        else if (yields < maxYields)
        {
            yields++;
            Thread.yield();
        }
        else
        {
            park.accept(parkPeriodNs);
            parkPeriodNs = Math.min(parkPeriodNs << 1, maxParkPeriodNs);
        }
    }

    @Override
    public void reset()
    {
        spins = 0;
        yields = 0;
        parkPeriodNs = minParkPeriodNs;
    }

    /** The doorbell it parks on; null when it parks some other way. */
    Doorbell doorbell()
    {
        return doorbell;
    }

    @Override
    public String alias()
    {
        return "doorbell-backoff";
    }
}
