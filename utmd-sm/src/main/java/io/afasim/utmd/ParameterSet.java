package io.afasim.utmd;

import java.util.Objects;

/**
 * Registry of observed parameters. Owned by one agent (the controller's cluster agent); not thread safe.
 * <p>
 * A {@code set*} that changes the value records a {@link TraceKind#PARAMETER_CHANGED} event and tells
 * every listener, which marks subscribed machines dirty or re-triggers waiting tasks. Setting the same
 * value is not a change. Values are longs in a preallocated array: no allocation per change.
 */
public final class ParameterSet
{
    private final Parameter[] parameters = new Parameter[UtmdLimits.PARAMETERS_MAX];
    private final long[] values = new long[UtmdLimits.PARAMETERS_MAX];
    private final long[] changeCounts = new long[UtmdLimits.PARAMETERS_MAX];
    private final ParameterListener[] listeners = new ParameterListener[UtmdLimits.PARAMETER_LISTENERS_MAX];
    private final EventTrace trace;
    private int listenerCount;
    private int parameterCount;
    private boolean notifying;

    public ParameterSet(final EventTrace trace)
    {
        this.trace = Objects.requireNonNull(trace, "trace");
    }

    public Parameter defineLong(final int id, final String name, final long initialValue)
    {
        return define(new Parameter(id, name, ParameterKind.LONG), initialValue);
    }

    public Parameter defineInt(final int id, final String name, final int initialValue)
    {
        return define(new Parameter(id, name, ParameterKind.INT), initialValue);
    }

    public <E extends Enum<E> & StateCode> EnumParameter<E> defineEnum(
        final int id, final String name, final Class<E> type, final E initialValue)
    {
        Objects.requireNonNull(initialValue, "initialValue");
        return define(new EnumParameter<>(id, name, type), initialValue.code());
    }

    private <P extends Parameter> P define(final P parameter, final long initialValue)
    {
        final int id = parameter.id();
        Verify.argument(id >= 0 && id < UtmdLimits.PARAMETERS_MAX,
            "parameter id " + id + " outside [0, " + UtmdLimits.PARAMETERS_MAX + ")");
        Verify.argument(parameters[id] == null, "parameter id " + id + " already defined as " + parameters[id]);
        Verify.argument(find(parameter.name()) == null, "parameter name '" + parameter.name() + "' already defined");
        parameters[id] = parameter;
        values[id] = initialValue;
        parameterCount++;
        return parameter;
    }

    public void addListener(final ParameterListener listener)
    {
        Verify.argument(listenerCount < listeners.length, "listeners full: " + listeners.length);
        listeners[listenerCount++] = Objects.requireNonNull(listener, "listener");
    }

    /**
     * @return the parameter with that id, or null.
     */
    public Parameter parameter(final int id)
    {
        return id >= 0 && id < parameters.length ? parameters[id] : null;
    }

    /**
     * @return the parameter with that name, or null. Linear scan: for commands, not the data path.
     */
    public Parameter find(final String name)
    {
        for (final Parameter parameter : parameters)
        {
            if (parameter != null && parameter.name().equals(name))
            {
                return parameter;
            }
        }
        return null;
    }

    public int parameterCount()
    {
        return parameterCount;
    }

    public long getLong(final Parameter parameter)
    {
        return values[checked(parameter).id()];
    }

    public int getInt(final Parameter parameter)
    {
        checkKind(parameter, ParameterKind.INT);
        return (int)values[checked(parameter).id()];
    }

    public <E extends Enum<E> & StateCode> E getEnum(final EnumParameter<E> parameter)
    {
        final E value = parameter.decode(values[checked(parameter).id()]);
        if (null == value)
        {
            throw new AssertionError("enum parameter " + parameter + " holds unknown code");
        }
        return value;
    }

    /**
     * @return how many times the value changed since definition (a version number for the parameter).
     */
    public long changeCount(final Parameter parameter)
    {
        return changeCounts[checked(parameter).id()];
    }

    /**
     * @return true if the value changed.
     */
    public boolean setLong(final Parameter parameter, final long value, final long nowNs)
    {
        checkKind(parameter, ParameterKind.LONG);
        return set(parameter, value, nowNs);
    }

    public boolean setInt(final Parameter parameter, final int value, final long nowNs)
    {
        checkKind(parameter, ParameterKind.INT);
        return set(parameter, value, nowNs);
    }

    public <E extends Enum<E> & StateCode> boolean setEnum(final EnumParameter<E> parameter, final E value, final long nowNs)
    {
        Objects.requireNonNull(value, "value");
        return set(parameter, value.code(), nowNs);
    }

    private boolean set(final Parameter parameter, final long value, final long nowNs)
    {
        final int id = checked(parameter).id();
        if (notifying)
        {
            throw new AssertionError("listener set parameter " + parameter + " while being notified");
        }
        final long oldValue = values[id];
        if (oldValue == value)
        {
            return false;
        }
        values[id] = value;
        changeCounts[id]++;
        trace.record(nowNs, TraceKind.PARAMETER_CHANGED, 0, 0, 0, -1,
            (int)oldValue, (int)value, -1, id);
        notifying = true;
        try
        {
            for (int i = 0; i < listenerCount; i++)
            {
                listeners[i].onParameterChanged(id);
            }
        }
        finally
        {
            notifying = false;
        }
        return true;
    }

    private Parameter checked(final Parameter parameter)
    {
        final int id = parameter.id();
        if (id < 0 || id >= parameters.length || parameters[id] != parameter)
        {
            throw new IllegalArgumentException("parameter " + parameter + " not defined in this set");
        }
        return parameter;
    }

    private static void checkKind(final Parameter parameter, final ParameterKind kind)
    {
        if (parameter.kind() != kind)
        {
            throw new IllegalArgumentException(parameter + " is " + parameter.kind() + ", not " + kind);
        }
    }
}
