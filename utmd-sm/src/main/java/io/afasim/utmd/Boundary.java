package io.afasim.utmd;

/**
 * Points between the durable actions of a task where a crash can happen. The {@link BoundaryHook} is called at each one; tests throw from it to simulate a crash there.
 */
public enum Boundary implements StateCode
{
    AFTER_STARTED_RECORD(1),
    BEFORE_STEP_BEGIN_RECORD(2),
    AFTER_STEP_BEGIN_RECORD(3),
    AFTER_APPLY(4),
    AFTER_STEP_DONE_RECORD(5),
    AFTER_WAITING_RECORD(6),
    AFTER_ROLLING_BACK_RECORD(7),
    BEFORE_UNDO(8),
    AFTER_UNDO(9),
    AFTER_UNDO_DONE_RECORD(10),
    BEFORE_FINAL_RECORD(11),
    AFTER_FINAL_RECORD(12),
    AFTER_RECOVERED_RECORD(13),
    BEFORE_COMPACT_RENAME(14),
    AFTER_COMPACT_RENAME(15);

    private static final Boundary[] BY_CODE = new Boundary[64];

    static
    {
        for (final Boundary value : values())
        {
            BY_CODE[value.code] = value;
        }
    }

    private final int code;

    Boundary(final int code)
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
    public static Boundary fromCode(final int code)
    {
        return code >= 0 && code < BY_CODE.length ? BY_CODE[code] : null;
    }
}
