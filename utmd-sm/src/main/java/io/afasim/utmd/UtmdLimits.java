package io.afasim.utmd;

/**
 * Named maxima of the utmd framework (TigerStyle {@code constants.zig}). Every table and queue below is
 * preallocated from these at construction; nothing grows afterwards.
 */
public final class UtmdLimits
{
    /** Parameters in one {@link ParameterSet}; parameter ids are in [0, PARAMETERS_MAX). */
    public static final int PARAMETERS_MAX = 1024;
    /** Listeners of one {@link ParameterSet} (the runner, the task manager, a few more). */
    public static final int PARAMETER_LISTENERS_MAX = 8;
    /** State machines in one {@link StateMachineRunner}; machine ids are in [0, MACHINES_MAX). */
    public static final int MACHINES_MAX = 256;
    /** Parameters a machine may declare (inputs and outputs together). */
    public static final int MACHINE_PARAMETERS_MAX = 32;
    /** Machines that may be triggered by one parameter. */
    public static final int SUBSCRIBERS_PER_PARAMETER_MAX = 32;
    /** Triggers delivered by one {@link StateMachineRunner#doWork(long)} call. */
    public static final int TRIGGERS_PER_DO_WORK_MAX = 64;
    /**
     * Triggers of one machine without the runner going quiet in between; beyond this the machine is
     * re-triggering itself (directly or through a cycle) and is suspended as a trigger storm.
     */
    public static final int STORM_TRIGGERS_MAX = 32;

    /** Task types in one {@link TaskTypeRegistry}; type ids are in [1, TASK_TYPES_MAX). */
    public static final int TASK_TYPES_MAX = 256;
    /** Unfinished tasks (running, waiting, rolling back) at once. */
    public static final int TASKS_ACTIVE_MAX = 64;
    /** Finished tasks remembered for {@code task list} (and kept across journal compaction). */
    public static final int TASK_HISTORY_MAX = 128;
    /** Steps in one task type. */
    public static final int TASK_STEPS_MAX = 32;
    /** Argument bytes of one task (journalled with every record of the task). */
    public static final int TASK_ARGS_BYTES_MAX = 1024;
    /** Conflict keys one task may declare. */
    public static final int CONFLICT_KEYS_PER_TASK_MAX = 8;
    /** Step actions (apply, undo, complete) run by one {@link TaskManager#doWork(long)} call. */
    public static final int TASK_ACTIONS_PER_DO_WORK_MAX = 16;
    /** Journal size beyond which it is compacted once no task is unfinished. */
    public static final long JOURNAL_COMPACT_THRESHOLD_BYTES = 1024 * 1024;

    private UtmdLimits()
    {
    }
}
