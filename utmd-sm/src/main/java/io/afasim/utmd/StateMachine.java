package io.afasim.utmd;

import java.util.Objects;

/**
 * A state machine over observed parameters (the seed's "订阅-通知" state machine).
 * <p>
 * In its constructor a machine declares its parameters:
 * <ul>
 *   <li>{@link #subscribe(Parameter)}: a subscribed input; a change of it triggers the machine;</li>
 *   <li>{@link #observe(Parameter)}: a non-subscribed input; only read, its change triggers nothing;</li>
 *   <li>{@link #output(Parameter, boolean)}: an output the machine writes; if {@code triggersOnChange}, a
 *       change of it (by anyone, including the machine) triggers the machine. This is the seed's second kind
 *       of machine, whose inputs are only read and which runs later, when its outputs change.</li>
 * </ul>
 * Reading or writing an undeclared parameter is a broken invariant.
 * <p>
 * The {@link StateMachineRunner} calls {@link #onTrigger(long, int)} with the cause (a parameter id,
 * {@link #CAUSE_INITIAL} or {@link #CAUSE_TIMER}); the machine computes and calls
 * {@link #transitionTo(Enum, long)}, the one place where the state changes, which traces the transition and
 * runs {@link #onEntry(Enum, long)}. Time comes only from the {@code nowNs} the runner passes in; a machine
 * asks to be triggered again later with {@link #armTimer(long)}.
 *
 * @param <S> the states: an enum with stable codes.
 */
public abstract class StateMachine<S extends Enum<S> & StateCode>
{
    /** Cause of the first trigger, delivered once after registration. */
    public static final int CAUSE_INITIAL = -1;
    /** Cause of a trigger by an armed timer whose deadline passed. */
    public static final int CAUSE_TIMER = -2;

    private final int machineId;
    private final String name;
    private final long subjectId;
    private final int[] subscribedIds = new int[UtmdLimits.MACHINE_PARAMETERS_MAX];
    private final int[] observedIds = new int[UtmdLimits.MACHINE_PARAMETERS_MAX];
    private final int[] outputIds = new int[UtmdLimits.MACHINE_PARAMETERS_MAX];
    private final boolean[] outputTriggers = new boolean[UtmdLimits.MACHINE_PARAMETERS_MAX];
    private int subscribedCount;
    private int observedCount;
    private int outputCount;
    private S state;
    private long correlationId;
    private boolean timerArmed;
    private long timerDeadlineNs;
    private boolean inTransition;
    private ParameterSet parameters;
    private EventTrace trace;

    /**
     * @param machineId stable id in [0, {@link UtmdLimits#MACHINES_MAX}); also the delivery order tie-break.
     * @param name      for traces and {@code afactl}.
     * @param subjectId what the machine is about (e.g. a volume id) for trace filtering; 0 = none.
     * @param initialState the state before the first trigger.
     */
    protected StateMachine(final int machineId, final String name, final long subjectId, final S initialState)
    {
        Verify.argument(machineId >= 0 && machineId < UtmdLimits.MACHINES_MAX, "machine id " + machineId);
        this.machineId = machineId;
        this.name = Objects.requireNonNull(name, "name");
        this.subjectId = subjectId;
        this.state = Objects.requireNonNull(initialState, "initialState");
    }

    /**
     * React to a trigger: read inputs, maybe write outputs, maybe {@link #transitionTo(Enum, long)}.
     *
     * @param nowNs the runner's time.
     * @param cause the parameter id that changed, {@link #CAUSE_INITIAL} or {@link #CAUSE_TIMER}.
     */
    protected abstract void onTrigger(long nowNs, int cause);

    /**
     * Entry action of {@code entered}; runs inside {@link #transitionTo(Enum, long)}. Default: nothing.
     */
    protected void onEntry(final S entered, final long nowNs)
    {
    }

    protected final void subscribe(final Parameter parameter)
    {
        declare(parameter);
        subscribedIds[subscribedCount++] = parameter.id();
    }

    protected final void observe(final Parameter parameter)
    {
        declare(parameter);
        observedIds[observedCount++] = parameter.id();
    }

    protected final void output(final Parameter parameter, final boolean triggersOnChange)
    {
        declare(parameter);
        outputTriggers[outputCount] = triggersOnChange;
        outputIds[outputCount++] = parameter.id();
    }

    private void declare(final Parameter parameter)
    {
        Verify.argument(null == parameters, "machine " + name + " declares " + parameter + " after registration");
        Verify.argument(subscribedCount + observedCount + outputCount < UtmdLimits.MACHINE_PARAMETERS_MAX,
            "machine " + name + " declares more than " + UtmdLimits.MACHINE_PARAMETERS_MAX + " parameters");
        Verify.argument(!contains(subscribedIds, subscribedCount, parameter.id()) &&
            !contains(observedIds, observedCount, parameter.id()) &&
            !contains(outputIds, outputCount, parameter.id()),
            "machine " + name + " declares " + parameter + " twice");
    }

    /**
     * The one transition method: trace, change state, run the entry action. A transition to the current
     * state does nothing and returns false.
     */
    protected final boolean transitionTo(final S next, final long nowNs)
    {
        Objects.requireNonNull(next, "next");
        if (inTransition)
        {
            throw new AssertionError("machine " + name + ": transition to " + next + " from an entry action");
        }
        if (next == state)
        {
            return false;
        }
        final S previous = state;
        trace.record(nowNs, TraceKind.MACHINE_TRANSITION, correlationId, 0, subjectId, machineId,
            previous.code(), next.code(), -1, 0);
        state = next;
        inTransition = true;
        try
        {
            onEntry(next, nowNs);
        }
        finally
        {
            inTransition = false;
        }
        return true;
    }

    protected final long read(final Parameter parameter)
    {
        checkReadable(parameter);
        return parameters.getLong(parameter);
    }

    protected final int readInt(final Parameter parameter)
    {
        checkReadable(parameter);
        return parameters.getInt(parameter);
    }

    protected final <E extends Enum<E> & StateCode> E readEnum(final EnumParameter<E> parameter)
    {
        checkReadable(parameter);
        return parameters.getEnum(parameter);
    }

    protected final boolean write(final Parameter parameter, final long value, final long nowNs)
    {
        checkWritable(parameter);
        return parameters.setLong(parameter, value, nowNs);
    }

    protected final boolean writeInt(final Parameter parameter, final int value, final long nowNs)
    {
        checkWritable(parameter);
        return parameters.setInt(parameter, value, nowNs);
    }

    protected final <E extends Enum<E> & StateCode> boolean writeEnum(
        final EnumParameter<E> parameter, final E value, final long nowNs)
    {
        checkWritable(parameter);
        return parameters.setEnum(parameter, value, nowNs);
    }

    /**
     * Ask to be triggered with {@link #CAUSE_TIMER} once {@code deadlineNs - nowNs <= 0}. Re-arming
     * replaces the previous deadline.
     */
    protected final void armTimer(final long deadlineNs)
    {
        timerArmed = true;
        timerDeadlineNs = deadlineNs;
    }

    protected final void cancelTimer()
    {
        timerArmed = false;
    }

    /**
     * Correlation id stamped on this machine's trace events from now on (e.g. the task that drives it).
     */
    protected final void correlationId(final long correlationId)
    {
        this.correlationId = correlationId;
    }

    public final S state()
    {
        return state;
    }

    public final int machineId()
    {
        return machineId;
    }

    public final String name()
    {
        return name;
    }

    public final long subjectId()
    {
        return subjectId;
    }

    public final long correlationId()
    {
        return correlationId;
    }

    public final boolean isTimerArmed()
    {
        return timerArmed;
    }

    public final long timerDeadlineNs()
    {
        return timerDeadlineNs;
    }

    /**
     * @return the name of the state with that code, for the trace formatter; null if unknown.
     */
    public final String stateName(final int code)
    {
        for (final S constant : state.getDeclaringClass().getEnumConstants())
        {
            if (constant.code() == code)
            {
                return constant.name();
            }
        }
        return null;
    }

    // ---- used by the runner ----

    final void bind(final ParameterSet parameters, final EventTrace trace)
    {
        Verify.argument(null == this.parameters, "machine " + name + " registered twice");
        for (int i = 0; i < subscribedCount; i++)
        {
            Verify.argument(parameters.parameter(subscribedIds[i]) != null, "machine " + name + ": unknown input");
        }
        this.parameters = parameters;
        this.trace = trace;
    }

    final int subscribedCount()
    {
        return subscribedCount;
    }

    final int subscribedId(final int i)
    {
        return subscribedIds[i];
    }

    final int outputCount()
    {
        return outputCount;
    }

    final int outputId(final int i)
    {
        return outputIds[i];
    }

    final boolean outputTriggers(final int i)
    {
        return outputTriggers[i];
    }

    final boolean timerDue(final long nowNs)
    {
        return timerArmed && timerDeadlineNs - nowNs <= 0;
    }

    final void timerFired()
    {
        timerArmed = false;
    }

    final int stateCode()
    {
        return state.code();
    }

    private void checkReadable(final Parameter parameter)
    {
        final int id = parameter.id();
        if (!contains(subscribedIds, subscribedCount, id) &&
            !contains(observedIds, observedCount, id) &&
            !contains(outputIds, outputCount, id))
        {
            throw new AssertionError("machine " + name + " reads undeclared parameter " + parameter);
        }
    }

    private void checkWritable(final Parameter parameter)
    {
        if (!contains(outputIds, outputCount, parameter.id()))
        {
            throw new AssertionError("machine " + name + " writes parameter " + parameter + " not declared as output");
        }
    }

    private static boolean contains(final int[] ids, final int count, final int id)
    {
        for (int i = 0; i < count; i++)
        {
            if (ids[i] == id)
            {
                return true;
            }
        }
        return false;
    }
}
