package io.afasim.utmd;

/**
 * A named, observed value with a stable id (e.g. {@code peer.online}, {@code volume.7.writeMode}).
 * The value itself lives in the {@link ParameterSet} that defined the parameter.
 */
public class Parameter
{
    private final int id;
    private final String name;
    private final ParameterKind kind;

    Parameter(final int id, final String name, final ParameterKind kind)
    {
        this.id = id;
        this.name = name;
        this.kind = kind;
    }

    /**
     * @return the stable id, in [0, {@link UtmdLimits#PARAMETERS_MAX}).
     */
    public final int id()
    {
        return id;
    }

    public final String name()
    {
        return name;
    }

    public final ParameterKind kind()
    {
        return kind;
    }

    public String toString()
    {
        return name + "#" + id;
    }
}
