package io.afasim.utmd;

/**
 * What recovery decided for an unfinished task (journalled in a RECOVERED record, traced as TASK_RECOVERED).
 */
public enum RecoveryAction implements StateCode
{
    REDO(1),
    ROLL_BACK(2),
    CONTINUE_ROLL_BACK(3),
    COMPLETE(4),
    FAIL_UNKNOWN_TYPE(5);

    private static final RecoveryAction[] BY_CODE = new RecoveryAction[64];

    static
    {
        for (final RecoveryAction value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    RecoveryAction(final int code)
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
    public static RecoveryAction fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
