package io.afasim.harness;

import java.util.concurrent.TimeUnit;
import java.util.concurrent.locks.LockSupport;
import java.util.function.BooleanSupplier;
import java.util.function.Supplier;

/**
 * Bounded polling: a condition is checked every {@link #INTERVAL_MS} until it holds or its deadline passes, then the
 * wait fails with what it waited for and the diagnostics (controller log tails). No scenario waits by sleeping a
 * guessed time.
 */
public final class Poll
{
    public static final long INTERVAL_MS = 10;

    private Poll()
    {
    }

    /** Returns when {@code done} holds; throws {@link AssertionError} after {@code timeoutMs}. */
    public static void until(
        final String what, final long timeoutMs, final BooleanSupplier done, final Supplier<String> diagnostics)
    {
        if (timeoutMs < 1)
        {
            throw new IllegalArgumentException("timeoutMs must be positive: " + timeoutMs);
        }
        final long deadlineNs = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(timeoutMs);
        while (!done.getAsBoolean())
        {
            if (deadlineNs - System.nanoTime() < 0)
            {
                throw new AssertionError("not within " + timeoutMs + " ms: " + what + "\n" + diagnostics.get());
            }
            LockSupport.parkNanos(TimeUnit.MILLISECONDS.toNanos(INTERVAL_MS));
        }
    }
}
