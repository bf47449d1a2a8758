package io.afasim.utmd;

/**
 * A parameter whose values are the constants of an enum with stable codes; the set stores the code.
 *
 * @param <E> the enum.
 */
public final class EnumParameter<E extends Enum<E> & StateCode> extends Parameter
{
    private final E[] constants;

    EnumParameter(final int id, final String name, final Class<E> type)
    {
        super(id, name, ParameterKind.ENUM);
        this.constants = type.getEnumConstants();
    }

    /**
     * @param code a stable code.
     * @return the constant with that code, or null if none has it. Does not allocate.
     */
    public E decode(final long code)
    {
        for (final E constant : constants)
        {
            if (constant.code() == code)
            {
                return constant;
            }
        }
        return null;
    }
}
