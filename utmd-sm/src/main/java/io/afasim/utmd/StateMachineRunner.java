package io.afasim.utmd;

import org.agrona.ErrorHandler;

import java.util.Objects;

/**
 * Delivers triggers to registered {@link StateMachine}s. Owned by one agent, driven by
 * {@link #doWork(long)}; not thread safe.
 * <p>
 * Order is deterministic: machines are triggered in the order they became dirty; a machine dirtied again
 * before it runs runs once (with its first cause); within one parameter change, subscribers are dirtied in
 * registration order; due timers are collected in registration order at the start of {@code doWork}. At most
 * {@link UtmdLimits#TRIGGERS_PER_DO_WORK_MAX} triggers run per call; the rest wait for the next call.
 * <p>
 * Storms: a machine triggered more than {@link UtmdLimits#STORM_TRIGGERS_MAX} times without the runner
 * going quiet in between (its queue empty at the end of a {@code doWork}) is re-triggering itself, directly
 * through its own outputs or through a cycle of machines. It is suspended (its triggers are dropped), a
 * {@link TraceKind#MACHINE_STORM} event is traced and {@link #stormCount()} counts it; an operator (or the
 * controller) may {@link #resume(int, long)} it. It is never an infinite loop.
 * <p>
 * An unexpected exception from a machine goes to the error handler and {@link #errorCount()}; an
 * {@link AssertionError} (broken invariant) is not caught.
 */
public final class StateMachineRunner implements ParameterListener
{
    private final ParameterSet parameters;
    private final EventTrace trace;
    private final ErrorHandler errorHandler;
    private final StateMachine<?>[] machines = new StateMachine<?>[UtmdLimits.MACHINES_MAX];
    private final int[] registrationOrder = new int[UtmdLimits.MACHINES_MAX];
    private final int[][] subscribers = new int[UtmdLimits.PARAMETERS_MAX][];
    private final int[] subscriberCounts = new int[UtmdLimits.PARAMETERS_MAX];
    private final int[] queue = new int[UtmdLimits.MACHINES_MAX];
    private final boolean[] queued = new boolean[UtmdLimits.MACHINES_MAX];
    private final int[] pendingCause = new int[UtmdLimits.MACHINES_MAX];
    private final int[] triggersSinceQuiet = new int[UtmdLimits.MACHINES_MAX];
    private final boolean[] suspended = new boolean[UtmdLimits.MACHINES_MAX];
    private int machineCount;
    private int queueHead;
    private int queueSize;
    private long triggerCount;
    private long stormCount;
    private long errorCount;

    public StateMachineRunner(final ParameterSet parameters, final EventTrace trace, final ErrorHandler errorHandler)
    {
        this.parameters = Objects.requireNonNull(parameters, "parameters");
        this.trace = Objects.requireNonNull(trace, "trace");
        this.errorHandler = Objects.requireNonNull(errorHandler, "errorHandler");
        parameters.addListener(this);
    }

    /**
     * Register a machine: wire its subscribed inputs and triggering outputs, and queue its initial trigger.
     */
    public void register(final StateMachine<?> machine)
    {
        final int id = machine.machineId();
        Verify.argument(machines[id] == null, "machine id " + id + " already registered as " + machines[id]);
        machine.bind(parameters, trace);
        for (int i = 0; i < machine.subscribedCount(); i++)
        {
            addSubscriber(machine.subscribedId(i), id);
        }
        for (int i = 0; i < machine.outputCount(); i++)
        {
            if (machine.outputTriggers(i))
            {
                addSubscriber(machine.outputId(i), id);
            }
        }
        machines[id] = machine;
        registrationOrder[machineCount++] = id;
        enqueue(id, StateMachine.CAUSE_INITIAL);
    }

    private void addSubscriber(final int parameterId, final int machineId)
    {
        Verify.argument(parameters.parameter(parameterId) != null, "parameter id " + parameterId + " not defined");
        if (subscribers[parameterId] == null)
        {
            subscribers[parameterId] = new int[UtmdLimits.SUBSCRIBERS_PER_PARAMETER_MAX];
        }
        Verify.argument(subscriberCounts[parameterId] < UtmdLimits.SUBSCRIBERS_PER_PARAMETER_MAX,
            "parameter id " + parameterId + " has " + UtmdLimits.SUBSCRIBERS_PER_PARAMETER_MAX + " subscribers");
        subscribers[parameterId][subscriberCounts[parameterId]++] = machineId;
    }

    public void onParameterChanged(final int parameterId)
    {
        final int count = subscriberCounts[parameterId];
        final int[] ids = subscribers[parameterId];
        for (int i = 0; i < count; i++)
        {
            enqueue(ids[i], parameterId);
        }
    }

    private void enqueue(final int machineId, final int cause)
    {
        if (queued[machineId] || suspended[machineId])
        {
            return;
        }
        Verify.invariant(queueSize < queue.length, "trigger queue overflow");
        queue[(queueHead + queueSize) % queue.length] = machineId;
        queueSize++;
        queued[machineId] = true;
        pendingCause[machineId] = cause;
    }

    /**
     * Fire due timers, then deliver up to {@link UtmdLimits#TRIGGERS_PER_DO_WORK_MAX} triggers.
     *
     * @return triggers delivered (work count for an idle strategy).
     */
    public int doWork(final long nowNs)
    {
        for (int i = 0; i < machineCount; i++)
        {
            final StateMachine<?> machine = machines[registrationOrder[i]];
            if (machine.timerDue(nowNs))
            {
                machine.timerFired();
                enqueue(machine.machineId(), StateMachine.CAUSE_TIMER);
            }
        }

        int delivered = 0;
        while (queueSize > 0 && delivered < UtmdLimits.TRIGGERS_PER_DO_WORK_MAX)
        {
            final int id = queue[queueHead];
            queueHead = (queueHead + 1) % queue.length;
            queueSize--;
            queued[id] = false;
            if (deliver(id, nowNs))
            {
                delivered++;
            }
        }

        if (0 == queueSize)
        {
            for (int i = 0; i < machineCount; i++)
            {
                triggersSinceQuiet[registrationOrder[i]] = 0;
            }
        }
        return delivered;
    }

    private boolean deliver(final int id, final long nowNs)
    {
        final StateMachine<?> machine = machines[id];
        final int cause = pendingCause[id];
        if (++triggersSinceQuiet[id] > UtmdLimits.STORM_TRIGGERS_MAX)
        {
            suspended[id] = true;
            stormCount++;
            trace.record(nowNs, TraceKind.MACHINE_STORM, machine.correlationId(), 0, machine.subjectId(), id,
                machine.stateCode(), machine.stateCode(), -1, triggersSinceQuiet[id]);
            return false;
        }

        triggerCount++;
        trace.record(nowNs, TraceKind.MACHINE_TRIGGERED, machine.correlationId(), 0, machine.subjectId(), id,
            machine.stateCode(), machine.stateCode(), -1, cause);
        try
        {
            machine.onTrigger(nowNs, cause);
        }
        catch (final RuntimeException ex)
        {
            errorCount++;
            trace.record(nowNs, TraceKind.MACHINE_ERROR, machine.correlationId(), 0, machine.subjectId(), id,
                machine.stateCode(), machine.stateCode(), -1, cause);
            errorHandler.onError(ex);
        }
        return true;
    }

    /**
     * Lift a storm suspension and trigger the machine once more (cause {@link StateMachine#CAUSE_INITIAL}).
     */
    public void resume(final int machineId, final long nowNs)
    {
        Verify.argument(machines[machineId] != null, "machine id " + machineId + " not registered");
        suspended[machineId] = false;
        triggersSinceQuiet[machineId] = 0;
        enqueue(machineId, StateMachine.CAUSE_INITIAL);
    }

    public boolean isSuspended(final int machineId)
    {
        return suspended[machineId];
    }

    /**
     * @return the machine with that id, or null.
     */
    public StateMachine<?> machine(final int machineId)
    {
        return machineId >= 0 && machineId < machines.length ? machines[machineId] : null;
    }

    public int machineCount()
    {
        return machineCount;
    }

    /**
     * @return true if no trigger is queued (timers may still be armed).
     */
    public boolean isQuiet()
    {
        return 0 == queueSize;
    }

    public long triggerCount()
    {
        return triggerCount;
    }

    public long stormCount()
    {
        return stormCount;
    }

    public long errorCount()
    {
        return errorCount;
    }
}
