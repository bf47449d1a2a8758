package io.afasim.controller;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import io.afasim.mirror.LinkWakeup;
import org.agrona.concurrent.Agent;
import org.agrona.concurrent.SystemNanoClock;
import org.junit.jupiter.api.Test;

/**
 * The shared I/O thread: agents added and removed while it runs, and one agent's failure does not stop the others
 * (with shared threading, one volume's bug must not stall the other volumes, the NBD server or the link).
 */
class IoThreadTest
{
    private static final long DEADLINE_MS = 10_000;

    private final List<Throwable> errors = new CopyOnWriteArrayList<>();

    @Test
    void anAgentThatThrowsIsReportedAndTheAgentsAfterItKeepRunning() throws Exception
    {
        try (LinkWakeup wakeup = new LinkWakeup(); IoThread io = start(wakeup))
        {
            final Counting failing = new Counting("failing", () -> new IllegalStateException("a bug"));
            final Counting healthy = new Counting("healthy", null);
            io.add(failing);
            io.add(healthy);
            final long before = healthy.cycles.get();
            awaitTrue(() -> healthy.cycles.get() > before + 100 && errors.size() > 10, "the healthy agent runs on");
            assertTrue(failing.cycles.get() > 10, "the failing agent is still run: " + failing.cycles.get());
            assertTrue(errors.stream().allMatch(e -> "a bug".equals(e.getMessage())), errors.toString());
        }
    }

    @Test
    void anAgentThatFailsWithAnErrorStopsAloneAsItsOwnThreadWould() throws Exception
    {
        try (LinkWakeup wakeup = new LinkWakeup(); IoThread io = start(wakeup))
        {
            final Counting dying = new Counting("dying", () -> new AssertionError("broken invariant"));
            final Counting healthy = new Counting("healthy", null);
            io.add(dying);
            io.add(healthy);
            awaitTrue(() -> errors.size() == 1 && healthy.cycles.get() > 100, "the healthy agent runs on");
            assertEquals(1, dying.cycles.get(), "the dying agent ran once and no more");
            assertTrue(errors.get(0).getMessage().contains("dying stopped on an error"), errors.toString());
        }
    }

    @Test
    void aRemovedAgentNoLongerRunsAndIsClosedThere() throws Exception
    {
        try (LinkWakeup wakeup = new LinkWakeup(); IoThread io = start(wakeup))
        {
            final Counting agent = new Counting("volume-x", null);
            io.add(agent);
            awaitTrue(() -> agent.cycles.get() > 0, "the agent runs");
            io.remove(agent);
            final long after = agent.cycles.get();
            final Counting other = new Counting("other", null);
            io.add(other);
            awaitTrue(() -> other.cycles.get() > 100, "the thread goes on");
            assertEquals(after, agent.cycles.get(), "no duty cycle after remove returned");
            assertEquals(1, agent.closes.get());
            assertTrue(errors.isEmpty(), errors.toString());
        }
    }

    @Test
    void anAgentOfTheThreadCannotAddAnotherFromIt() throws Exception
    {
        final AtomicReference<Throwable> refused = new AtomicReference<>();
        try (LinkWakeup wakeup = new LinkWakeup(); IoThread io = start(wakeup))
        {
            io.add(new Counting("adder", null)
            {
                @Override
                public int doWork()
                {
                    if (refused.get() == null)
                    {
                        refused.set(assertThrows(IllegalStateException.class, () -> io.add(new Counting("x", null))));
                    }
                    return super.doWork();
                }
            });
            awaitTrue(() -> refused.get() != null, "the add from the I/O thread is refused");
            assertTrue(refused.get().getMessage().contains("cannot be added or removed from it"));
        }
    }

    private IoThread start(final LinkWakeup wakeup)
    {
        return new IoThread("T", null, new DoorbellIdleStrategy(wakeup::park, 0, 0, 1_000_000, 1_000_000), wakeup,
            errors::add, SystemNanoClock.INSTANCE, DEADLINE_MS);
    }

    private static void awaitTrue(final BooleanSupplier condition, final String what) throws InterruptedException
    {
        final long deadline = System.currentTimeMillis() + DEADLINE_MS;
        while (!condition.getAsBoolean())
        {
            assertTrue(System.currentTimeMillis() < deadline, "not within " + DEADLINE_MS + " ms: " + what);
            Thread.onSpinWait();
        }
    }

    /** Counts its duty cycles (each is work, so the thread does not wait); throws what {@code failure} makes. */
    private static class Counting implements Agent
    {
        final String name;
        final java.util.function.Supplier<Throwable> failure;
        final AtomicLong cycles = new AtomicLong();
        final AtomicLong closes = new AtomicLong();

        Counting(final String name, final java.util.function.Supplier<Throwable> failure)
        {
            this.name = name;
            this.failure = failure;
        }

        @Override
        public int doWork()
        {
            cycles.incrementAndGet();
            if (failure != null)
            {
                final Throwable thrown = failure.get();
                if (thrown instanceof Error)
                {
                    throw (Error)thrown;
                }
                throw (RuntimeException)thrown;
            }
            return 1;
        }

        @Override
        public void onClose()
        {
            closes.incrementAndGet();
        }

        @Override
        public String roleName()
        {
            return name;
        }
    }
}
