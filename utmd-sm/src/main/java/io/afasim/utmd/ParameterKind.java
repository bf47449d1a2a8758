package io.afasim.utmd;

/**
 * Value type of a {@link Parameter}. Every value is held as a long; the kind decides the range.
 */
public enum ParameterKind implements StateCode
{
    LONG(1),
    INT(2),
    ENUM(3);

    private final int code;

    ParameterKind(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }
}
