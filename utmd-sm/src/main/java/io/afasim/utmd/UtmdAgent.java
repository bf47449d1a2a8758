package io.afasim.utmd;

import org.agrona.concurrent.Agent;
import org.agrona.concurrent.NanoClock;

import java.util.Objects;

/**
 * Agrona {@link Agent} that drives a {@link StateMachineRunner} and a {@link TaskManager} from one clock
 * reading per duty cycle. A controller may run it on its own thread or compose its two {@code doWork(nowNs)}
 * calls into its cluster agent instead. {@link #onStart()} runs task recovery.
 */
public final class UtmdAgent implements Agent
{
    private final NanoClock clock;
    private final StateMachineRunner runner;
    private final TaskManager taskManager;

    public UtmdAgent(final NanoClock clock, final StateMachineRunner runner, final TaskManager taskManager)
    {
        this.clock = Objects.requireNonNull(clock, "clock");
        this.runner = Objects.requireNonNull(runner, "runner");
        this.taskManager = Objects.requireNonNull(taskManager, "taskManager");
    }

    public void onStart()
    {
        if (!taskManager.isRecovered())
        {
            taskManager.recover(clock.nanoTime());
        }
    }

    public int doWork()
    {
        final long nowNs = clock.nanoTime();
        int work = runner.doWork(nowNs);
        work += taskManager.doWork(nowNs);
        // Tasks may have changed parameters that trigger machines: let them react in the same cycle.
        work += runner.doWork(nowNs);
        return work;
    }

    public String roleName()
    {
        return "utmd";
    }
}
