package io.afasim.controller;

import java.util.concurrent.TimeUnit;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;

/** An idle agent parked on its doorbell wakes when work is handed over, not at the end of its park. */
class DoorbellTest
{
    static final long PARK_NS = TimeUnit.MINUTES.toNanos(10);

    @Test
    void aRingWakesAParkedAgent() throws Exception
    {
        final Doorbell doorbell = new Doorbell();
        final Thread agent = new Thread(() -> doorbell.park(PARK_NS), "doorbell-agent");
        agent.start();
        for (int i = 0; i < 60_000 && agent.getState() != Thread.State.TIMED_WAITING; i++)
        {
            Thread.onSpinWait(); // bounded: until the agent is parked
            if (i % 1_000 == 999)
            {
                Thread.yield();
            }
        }
        doorbell.ring();
        agent.join(TimeUnit.MINUTES.toMillis(1));
        assertFalse(agent.isAlive(), "the ring was lost: the agent is still parked");
    }

    @Test
    void aRingBeforeTheParkIsNotLost()
    {
        final Doorbell doorbell = new Doorbell();
        doorbell.ring(); // work handed over while the agent was busy
        final long startNs = System.nanoTime();
        doorbell.park(PARK_NS); // returns at once (else this test would hang for ten minutes)
        doorbell.ring();
        final DoorbellIdleStrategy idle = new DoorbellIdleStrategy(doorbell, 0, 0, PARK_NS, PARK_NS);
        idle.idle(0); // parks on the doorbell: returns at once as well
        assertFalse(System.nanoTime() - startNs > PARK_NS);
    }
}
