package io.afasim.utmd;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;

/**
 * One simulated controller process: fresh memory (parameters, trace, manager) over a journal file and an
 * effects directory that survive "crashes".
 */
final class Harness
{
    static final class Crash extends Error
    {
        private static final long serialVersionUID = 1L;

        Crash(final String message)
        {
            super(message, null, false, false);
        }
    }

    final ManualClock clock;
    final EventTrace trace = new EventTrace(4096);
    final ParameterSet parameters = new ParameterSet(trace);
    final ExampleTasks tasks;
    final TaskJournal journal;
    final TaskManager manager;
    final List<Throwable> errors = new ArrayList<>();
    final SubmitResult result = new SubmitResult();

    Harness(final Path dir, final ManualClock clock, final BoundaryHook hook, final long compactThresholdBytes)
    {
        this.clock = clock;
        this.tasks = new ExampleTasks(dir.resolve("effects"), parameters);
        try
        {
            this.journal = TaskJournal.open(dir.resolve("tasks.journal"), true);
        }
        catch (final IOException ex)
        {
            throw new UncheckedIOException(ex);
        }
        this.manager = new TaskManager(new TaskManager.Context()
            .journal(journal)
            .types(tasks.registry)
            .parameters(parameters)
            .trace(trace)
            .epochClock(clock)
            .errorHandler(errors::add)
            .boundaryHook(hook)
            .compactThresholdBytes(compactThresholdBytes));
    }

    Harness(final Path dir, final ManualClock clock, final BoundaryHook hook)
    {
        this(dir, clock, hook, UtmdLimits.JOURNAL_COMPACT_THRESHOLD_BYTES);
    }

    SubmitResult submit(final TaskType type, final String args, final long correlationId)
    {
        return manager.submit(type, ExampleTasks.args(args), correlationId, clock.advance(1000), result);
    }

    /**
     * Run doWork until no action is taken (everything finished or waiting).
     */
    int drain()
    {
        int total = 0;
        for (int i = 0; i < 1000; i++)
        {
            final int actions = manager.doWork(clock.advance(1000));
            total += actions;
            if (0 == actions)
            {
                return total;
            }
        }
        throw new AssertionError("task manager did not settle");
    }

    /**
     * Simulated process death: drop everything in memory; only the fd is released.
     */
    void kill()
    {
        journal.close();
    }

    /** Throws {@link Crash} at the n-th boundary (1-based); counts boundaries either way. */
    static final class CrashAt implements BoundaryHook
    {
        final int crashAt;
        int count;
        Boundary crashedAt;

        CrashAt(final int crashAt)
        {
            this.crashAt = crashAt;
        }

        public void onBoundary(final Boundary boundary, final long taskId, final int step)
        {
            if (++count == crashAt)
            {
                crashedAt = boundary;
                throw new Crash("crash at " + boundary + " task " + taskId + " step " + step);
            }
        }
    }
}
