package io.afasim.utmd;

/**
 * Result of {@link TaskManager#submit}. Refusals are answers to a bad or conflicting request, not errors of the controller.
 */
public enum SubmitStatus implements StateCode
{
    ACCEPTED(0),
    REFUSED_CONFLICT(1),
    REFUSED_TASKS_FULL(2),
    REFUSED_BAD_REQUEST(3),
    REFUSED_NOT_RECOVERED(4);

    private static final SubmitStatus[] BY_CODE = new SubmitStatus[64];

    static
    {
        for (final SubmitStatus value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    SubmitStatus(final int code)
    {
        this.code = code;
    }

    public int code()
    {
        return code;
    }

    /**
     * @return the constant with that code, or null.
     */
    public static SubmitStatus fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
