package io.afasim.utmd;

/**
 * What a step's apply or undo returns. An operating result, never an exception: DONE (the step's effect is in place and durable), WAIT_PRECONDITION (a precondition such as "peer online" does not hold; the step called {@link TaskContext#waitFor(Parameter)} and the task parks in WAITING until that parameter changes; the step must have left no effect), FAILED (a hard failure; the task rolls back if it can, else ends FAILED).
 */
public enum StepOutcome implements StateCode
{
    DONE(1),
    WAIT_PRECONDITION(2),
    FAILED(3);

    private static final StepOutcome[] BY_CODE = new StepOutcome[64];

    static
    {
        for (final StepOutcome value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    StepOutcome(final int code)
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
    public static StepOutcome fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
